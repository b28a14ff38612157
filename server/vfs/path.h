// Client path handling: splitting SMB paths, resolving them beneath a share root without any
// possible escape, errno -> NTSTATUS, and MS-FSCC wildcard matching for QUERY_DIRECTORY.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/smb2/ntstatus.h"
#include "server/vfs/fd.h"

namespace xsmb::vfs {

// Longest component (bytes of UTF-8, Linux NAME_MAX) and whole path (Linux PATH_MAX) accepted.
constexpr size_t kMaxComponentBytes = 255;
constexpr size_t kMaxPathBytes = 4096;

// Splits an SMB path ("dir\\sub\\file.txt", MS-SMB2 2.2.13 Buffer, already UTF-8) into components.
// One leading and one trailing '\\' are dropped, "" is the share root (zero components). '/' is
// NOT a separator (a name character that Windows rejects). Errors, as Windows returns them:
// an empty component (double '\\') -> STATUS_OBJECT_NAME_INVALID; "." or ".." component ->
// STATUS_OBJECT_NAME_INVALID (no client path may climb); characters < > : " | ? * / or any
// control char < 0x20 -> STATUS_OBJECT_NAME_INVALID; a component longer than 255 bytes ->
// STATUS_OBJECT_NAME_INVALID; total > 4096 bytes -> STATUS_NAME_TOO_LONG. Wildcards are allowed
// by matchWildcard patterns only, not here. ':' is rejected too: named streams are not supported,
// so the caller strips a "::$DATA" suffix before calling. `components` is cleared first.
NtStatus splitPath(std::string_view smb_path, std::vector<std::string>* components);

// True if `name` is acceptable as one on-disk path component by the rules of splitPath.
bool isValidComponent(std::string_view name);

// openat2(dirfd, name, {flags | O_CLOEXEC, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS}).
// Returns the new fd, or -1 with errno set (EXDEV when the path would leave `dirfd`, also via
// a symlink or ".."). Use name "." to reopen `dirfd` itself with other flags.
int openBeneath(int dirfd, const char* name, int flags, mode_t mode = 0);

struct Resolved {
  DirFd parent;           // O_PATH|O_DIRECTORY fd of the directory holding the last component;
                          // the share root's own fd (borrowed, not duplicated) when that
                          // directory is the root, and for the share root itself
  std::string name;       // on-disk name of the last component (the requested spelling if it
                          // does not exist); empty for the share root itself (open it with
                          // openBeneath(parent, ".", ...))
  std::string disk_path;  // on-disk path relative to the share root, '/'-separated, "" = root
  bool exists = false;
  struct statx stx {};  // valid when exists (statx with AT_SYMLINK_NOFOLLOW of the entry)
};

// Resolves `components` under the share root `root_fd` (O_PATH|O_DIRECTORY). Each intermediate
// component must be a directory: exact name first, then a case-insensitive match
// (equalsIgnoreCase; among several, the smallest byte-wise name) by scanning the directory.
// All opens use openBeneath, so a symlink that points outside the share (absolute or via ..)
// fails: STATUS_ACCESS_DENIED (EXDEV), or STATUS_OBJECT_PATH_NOT_FOUND for a missing, looping or
// non-directory intermediate. A missing last component -> STATUS_SUCCESS with exists=false (the
// caller decides). The last component is not followed (statx AT_SYMLINK_NOFOLLOW): opening it
// with openBeneath(parent, name) enforces the same rule. A component that isValidComponent
// rejects -> STATUS_OBJECT_NAME_INVALID. Other errors via ntStatusFromErrno.
// Cost: one openat2 for all intermediate components when each is spelled as on disk (else one
// per component; none for a name directly under the root),
// one statx for the last; a directory scan only for a name that misses its exact spelling.
NtStatus resolvePath(int root_fd, const std::vector<std::string>& components, Resolved* out);
// resolvePath in two steps, for a caller that tries an open of the last component before
// looking at it: resolveParent walks the intermediate components (errors as above) and leaves
// `parent`, `name` = the last component as requested ("" for the share root), `disk_path` = the
// parent's path, exists = false; resolveLast then does the rest of resolvePath (the statx, the
// case-insensitive match, `disk_path` completed) on that result.
NtStatus resolveParent(int root_fd, const std::vector<std::string>& components, Resolved* out);
NtStatus resolveLast(Resolved* out);

// errno -> NTSTATUS, as a Windows client expects it:
//   ENOENT -> STATUS_OBJECT_NAME_NOT_FOUND      ENOTDIR -> STATUS_OBJECT_PATH_NOT_FOUND
//   EACCES, EPERM, EXDEV (escape caught by RESOLVE_BENEATH) -> STATUS_ACCESS_DENIED
//   EEXIST -> STATUS_OBJECT_NAME_COLLISION      ENOTEMPTY -> STATUS_DIRECTORY_NOT_EMPTY
//   EISDIR -> STATUS_FILE_IS_A_DIRECTORY        ENOSPC, EDQUOT -> STATUS_DISK_FULL
//   EROFS -> STATUS_MEDIA_WRITE_PROTECTED       ENAMETOOLONG -> STATUS_NAME_TOO_LONG
//   ELOOP -> STATUS_OBJECT_PATH_NOT_FOUND (clients do not handle STATUS_STOPPED_ON_SYMLINK)
//   EMFILE, ENFILE -> STATUS_TOO_MANY_OPENED_FILES   EBADF -> STATUS_INVALID_HANDLE
//   EINVAL -> STATUS_INVALID_PARAMETER          ENOMEM -> STATUS_NO_MEMORY
//   EBUSY, ETXTBSY -> STATUS_SHARING_VIOLATION  EOPNOTSUPP, ENOTSUP -> STATUS_NOT_SUPPORTED
//   EFBIG -> STATUS_DISK_FULL                   EAGAIN, EWOULDBLOCK -> STATUS_LOCK_NOT_GRANTED
//   EIO -> STATUS_DATA_ERROR                    0 -> STATUS_SUCCESS
//   anything else -> STATUS_UNSUCCESSFUL
NtStatus ntStatusFromErrno(int err);

// MS-FSCC 2.1.4.4 / FsRtlIsNameInExpression: case-insensitive (upcaseUtf8) match of `name`
// against `pattern` with '*', '?', and the DOS wildcards '<' (DOS_STAR), '>' (DOS_QM),
// '"' (DOS_DOT). Compares code points, not bytes. As Win32 does, the pattern "*.*" matches
// every name (FsRtl alone would require a '.'). Time O(|pattern| * |name|), memory O(|pattern|).
bool matchWildcard(std::string_view pattern, std::string_view name);
// True if the pattern contains any wildcard character (* ? < > ").
bool hasWildcard(std::string_view pattern);

}  // namespace xsmb::vfs
