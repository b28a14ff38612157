// Extended attributes (xattr(7)) of an open file, by descriptor, for every kind of descriptor the
// VFS holds. The f*xattr system calls refuse O_PATH descriptors with EBADF; for those the calls
// go through "/proc/self/fd/N", which names the same inode without walking a path from the share
// (no symlink of the share is followed). Return values and errno are those of the system calls
// (getxattr(2), setxattr(2), removexattr(2), listxattr(2)).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace xsmb::vfs {

// Whether a descriptor was opened with O_PATH: kPath goes straight to /proc/self/fd (one system
// call instead of a refused one first); kAny tries the f*xattr call, then /proc on EBADF.
enum class FdKind { kAny, kPath };

std::string procFdPath(int fd);  // "/proc/self/fd/N"

ssize_t fdGetXattr(int fd, const char* name, void* buf, size_t size, FdKind kind = FdKind::kAny);
int fdSetXattr(int fd, const char* name, const void* value, size_t size, int flags);  // 0 or -1
int fdRemoveXattr(int fd, const char* name);                                        // 0 or -1
ssize_t fdListXattr(int fd, char* buf, size_t size, FdKind kind = FdKind::kAny);
// chmod(2) of the file open as `fd`, O_PATH descriptors too: 0 or an errno value.
int fdChmod(int fd, mode_t mode);

// The names of a file's xattrs, read with one listxattr(2) of at most 4 KiB (names are
// NUL-separated; ENOTSUP, a file system without xattrs, gives a complete empty list).
// `complete` is false when the list could not be read whole (a longer list, other errors): the
// caller then asks for each name it needs, as without a list.
struct XattrNames {
  std::string list;       // NUL-separated names, as listxattr returns them
  bool complete = false;  // `list` holds every name of the file
  // Whether `name` may exist: listed, or the list is incomplete.
  bool mayHave(std::string_view name) const;
};
XattrNames listXattrNames(int fd, FdKind kind = FdKind::kAny);
// The same for entry `name` (one path component, "" = the directory itself) of the directory
// open as `dirfd`, without opening it: listxattr("/proc/self/fd/<dirfd>/<name>"), which follows
// a symlink as an open of the entry would. One system call.
XattrNames listXattrNamesAt(int dirfd, const std::string& name);

}  // namespace xsmb::vfs
