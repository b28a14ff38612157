#include "server/vfs/xattr.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/xattr.h>

namespace xsmb::vfs {

std::string procFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

ssize_t fdGetXattr(int fd, const char* name, void* buf, size_t size, FdKind kind) {
  if (kind == FdKind::kAny) {
    ssize_t n = fgetxattr(fd, name, buf, size);
    if (n >= 0 || errno != EBADF) return n;
  }
  return getxattr(procFdPath(fd).c_str(), name, buf, size);
}

int fdSetXattr(int fd, const char* name, const void* value, size_t size, int flags) {
  int r = fsetxattr(fd, name, value, size, flags);
  if (r < 0 && errno == EBADF) r = setxattr(procFdPath(fd).c_str(), name, value, size, flags);
  return r;
}

int fdRemoveXattr(int fd, const char* name) {
  int r = fremovexattr(fd, name);
  if (r < 0 && errno == EBADF) r = removexattr(procFdPath(fd).c_str(), name);
  return r;
}

ssize_t fdListXattr(int fd, char* buf, size_t size, FdKind kind) {
  if (kind == FdKind::kAny) {
    ssize_t n = flistxattr(fd, buf, size);
    if (n >= 0 || errno != EBADF) return n;
  }
  return listxattr(procFdPath(fd).c_str(), buf, size);
}

int fdChmod(int fd, mode_t mode) {
  if (fchmod(fd, mode) == 0) return 0;
  if (errno != EBADF) return errno;
  return chmod(procFdPath(fd).c_str(), mode) == 0 ? 0 : errno;
}

bool XattrNames::mayHave(std::string_view name) const {
  if (!complete) return true;
  for (size_t at = 0; at < list.size();) {
    size_t end = list.find('\0', at);
    if (end == std::string::npos) end = list.size();
    if (std::string_view(list).substr(at, end - at) == name) return true;
    at = end + 1;
  }
  return false;
}

namespace {

XattrNames namesFrom(ssize_t n, const char* buf) {
  XattrNames names;
  if (n < 0) {
    names.complete = errno == ENOTSUP;  // no xattrs on this file system: none to list
    return names;                       // ERANGE (a longer list), other errors: not complete
  }
  names.list.assign(buf, static_cast<size_t>(n));
  names.complete = true;
  return names;
}

}  // namespace

XattrNames listXattrNames(int fd, FdKind kind) {
  char buf[4096];
  ssize_t n = fdListXattr(fd, buf, sizeof(buf), kind);
  return namesFrom(n, buf);
}

XattrNames listXattrNamesAt(int dirfd, const std::string& name) {
  std::string path = procFdPath(dirfd);
  if (!name.empty()) path += "/" + name;
  char buf[4096];
  ssize_t n = listxattr(path.c_str(), buf, sizeof(buf));
  return namesFrom(n, buf);
}

}  // namespace xsmb::vfs
