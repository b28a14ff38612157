#include "server/vfs/path.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/base/log.h"
#include "common/base/unicode.h"

namespace xsmb::vfs {
namespace {

bool isForbiddenChar(unsigned char c) {
  if (c < 0x20) return true;
  switch (c) {
    case '<':
    case '>':
    case ':':
    case '"':
    case '|':
    case '?':
    case '*':
    case '/':
    case '\\':
      return true;
    default:
      return false;
  }
}

// Finds the entry of directory `dirfd` equal to `name` ignoring case. Among several such
// entries (names that differ only in case) the byte-wise smallest wins, so the choice does not
// depend on readdir order. nullopt when none matches or the directory cannot be read.
std::optional<std::string> findIgnoreCase(int dirfd, const std::string& name) {
  int fd = openBeneath(dirfd, ".", O_RDONLY | O_DIRECTORY);
  if (fd < 0) return std::nullopt;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return std::nullopt;
  }
  std::optional<std::string> best;
  while (struct dirent* de = readdir(dir)) {
    std::string_view entry(de->d_name);
    if (entry == "." || entry == "..") continue;
    if (!equalsIgnoreCase(entry, name)) continue;
    if (!best || entry < *best) best = std::string(entry);
  }
  closedir(dir);
  return best;
}

int statxNoFollow(int dirfd, const char* name, struct statx* stx) {
  return statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_BTIME,
               stx);
}

}  // namespace

bool isValidComponent(std::string_view name) {
  if (name.empty() || name.size() > kMaxComponentBytes) return false;
  if (name == "." || name == "..") return false;
  for (char c : name) {
    if (isForbiddenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

NtStatus splitPath(std::string_view smb_path, std::vector<std::string>* components) {
  components->clear();
  if (smb_path.size() > kMaxPathBytes) return STATUS_NAME_TOO_LONG;
  std::string_view rest = smb_path;
  if (!rest.empty() && rest.front() == '\\') rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '\\') rest.remove_suffix(1);
  if (rest.empty()) return STATUS_SUCCESS;
  std::vector<std::string> parts;
  while (true) {
    size_t sep = rest.find('\\');
    std::string_view comp = rest.substr(0, sep);
    if (!isValidComponent(comp)) return STATUS_OBJECT_NAME_INVALID;
    parts.emplace_back(comp);
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 1);
  }
  *components = std::move(parts);
  return STATUS_SUCCESS;
}

int openBeneath(int dirfd, const char* name, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  // The kernel rejects a mode without O_CREAT/O_TMPFILE.
  how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
  } while (fd < 0 && errno == EINTR);
  return static_cast<int>(fd);
}

NtStatus resolveParent(int root_fd, const std::vector<std::string>& components, Resolved* out) {
  *out = Resolved{};
  for (const std::string& c : components) {
    if (!isValidComponent(c)) return STATUS_OBJECT_NAME_INVALID;
  }
  DirFd cur = DirFd::borrowed(root_fd);
  if (components.empty()) {
    out->parent = std::move(cur);
    return STATUS_SUCCESS;
  }

  std::string disk_path;
  size_t first = 0;  // the first intermediate component still to walk
  if (components.size() > 2) {
    // The usual case, every directory spelled as on disk: one openat2 for the whole way (the
    // kernel applies RESOLVE_BENEATH to each step just the same). Any failure walks the
    // components one by one, which finds other spellings and names the error.
    std::string joined = components[0];
    for (size_t i = 1; i + 1 < components.size(); ++i) joined += "/" + components[i];
    int fd = openBeneath(cur.get(), joined.c_str(), O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      cur = DirFd::owned(fd);
      disk_path = std::move(joined);
      first = components.size() - 1;
    }
  }
  for (size_t i = first; i + 1 < components.size(); ++i) {
    const std::string& want = components[i];
    std::string disk_name = want;
    int fd = openBeneath(cur.get(), want.c_str(), O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      if (auto found = findIgnoreCase(cur.get(), want); found && *found != want) {
        disk_name = *found;
        fd = openBeneath(cur.get(), disk_name.c_str(), O_PATH | O_DIRECTORY);
      } else {
        errno = ENOENT;
      }
    }
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR || err == ELOOP) return STATUS_OBJECT_PATH_NOT_FOUND;
      return ntStatusFromErrno(err);
    }
    cur = DirFd::owned(fd);
    if (!disk_path.empty()) disk_path += '/';
    disk_path += disk_name;
  }
  out->parent = std::move(cur);
  out->name = components.back();
  out->disk_path = std::move(disk_path);
  return STATUS_SUCCESS;
}

NtStatus resolveLast(Resolved* out) {
  if (out->name.empty()) {  // the share root itself
    if (statx(out->parent.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &out->stx) !=
        0) {
      return ntStatusFromErrno(errno);
    }
    out->exists = true;
    return STATUS_SUCCESS;
  }
  const std::string last = out->name;
  std::string disk_name = last;
  struct statx stx {};
  bool exists = false;
  if (statxNoFollow(out->parent.get(), last.c_str(), &stx) == 0) {
    exists = true;
  } else if (errno == ENOENT) {
    if (auto found = findIgnoreCase(out->parent.get(), last); found && *found != last) {
      if (statxNoFollow(out->parent.get(), found->c_str(), &stx) == 0) {
        exists = true;
        disk_name = *found;
      } else if (errno != ENOENT) {
        return ntStatusFromErrno(errno);
      }
    }
  } else {
    return ntStatusFromErrno(errno);
  }
  if (!out->disk_path.empty()) out->disk_path += '/';
  out->disk_path += disk_name;
  out->name = std::move(disk_name);
  out->exists = exists;
  if (exists) out->stx = stx;
  return STATUS_SUCCESS;
}

NtStatus resolvePath(int root_fd, const std::vector<std::string>& components, Resolved* out) {
  if (NtStatus st = resolveParent(root_fd, components, out); st != STATUS_SUCCESS) return st;
  return resolveLast(out);
}

NtStatus ntStatusFromErrno(int err) {
  switch (err) {
    case 0:
      return STATUS_SUCCESS;
    case ENOENT:
      return STATUS_OBJECT_NAME_NOT_FOUND;
    case ENOTDIR:
    case ELOOP:
      return STATUS_OBJECT_PATH_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EXDEV:
      return STATUS_ACCESS_DENIED;
    case EEXIST:
      return STATUS_OBJECT_NAME_COLLISION;
    case ENOTEMPTY:
      return STATUS_DIRECTORY_NOT_EMPTY;
    case EISDIR:
      return STATUS_FILE_IS_A_DIRECTORY;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return STATUS_DISK_FULL;
    case EROFS:
      return STATUS_MEDIA_WRITE_PROTECTED;
    case ENAMETOOLONG:
      return STATUS_NAME_TOO_LONG;
    case EMFILE:
    case ENFILE:
      return STATUS_TOO_MANY_OPENED_FILES;
    case EBADF:
      return STATUS_INVALID_HANDLE;
    case EINVAL:
      return STATUS_INVALID_PARAMETER;
    case ENOMEM:
      return STATUS_NO_MEMORY;
    case EBUSY:
    case ETXTBSY:
      return STATUS_SHARING_VIOLATION;
    case EOPNOTSUPP:
      return STATUS_NOT_SUPPORTED;
    case EAGAIN:
      return STATUS_LOCK_NOT_GRANTED;
    case EIO:
      return STATUS_DATA_ERROR;
    default:
      // An errno with no NTSTATUS of its own: named in the log, since the client only sees
      // STATUS_UNSUCCESSFUL.
      XLOG(WARNING) << "unexpected error " << err << " (" << std::strerror(err)
                    << "), answered as STATUS_UNSUCCESSFUL";
      return STATUS_UNSUCCESSFUL;
  }
}

// ---- MS-FSCC 2.1.4.4 wildcard matching ----

namespace {

constexpr char32_t kDosStar = '<';
constexpr char32_t kDosQm = '>';
constexpr char32_t kDosDot = '"';

// Decodes UTF-8 to code points; malformed bytes become U+FFFD (they then match only '?'-likes).
std::u32string decodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    int extra;
    char32_t cp;
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (s.size() - i <= static_cast<size_t>(extra)) {
      out.push_back(0xFFFD);
      break;
    }
    bool bad = false;
    for (int k = 1; k <= extra; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) {
        bad = true;
        i += k;
        break;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    if (bad) {
      out.push_back(0xFFFD);
      continue;
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

}  // namespace

bool hasWildcard(std::string_view pattern) {
  return pattern.find_first_of("*?<>\"") != std::string_view::npos;
}

bool matchWildcard(std::string_view pattern, std::string_view name) {
  if (pattern == "*" || pattern == "*.*") return true;
  const std::u32string p = decodeUtf8(upcaseUtf8(pattern));
  const std::u32string n = decodeUtf8(upcaseUtf8(name));
  const size_t plen = p.size();
  // Position of the last '.' in the name: DOS_STAR may not consume it.
  const size_t last_dot = n.rfind(U'.');

  // Simulates the pattern as an NFA: states[i] means "pattern[0, i) matched the name so far".
  std::vector<uint8_t> states(plen + 1, 0), next(plen + 1, 0);
  // Adds state i and everything reachable from it without consuming a name character.
  // `at` is the index of the next name character (n.size() when the name is finished).
  auto close = [&](std::vector<uint8_t>& set, size_t i, size_t at) {
    while (i <= plen && !set[i]) {
      set[i] = 1;
      if (i == plen) return;
      char32_t t = p[i];
      bool finished = at >= n.size();
      if (t == U'*' || t == kDosStar) {
        ++i;  // both match zero characters
      } else if (t == kDosQm && (finished || n[at] == U'.')) {
        ++i;  // DOS_QM matches nothing at a '.' or past the end
      } else if (t == kDosDot && finished) {
        ++i;  // DOS_DOT matches zero characters past the end
      } else {
        return;
      }
    }
  };

  close(states, 0, 0);
  for (size_t at = 0; at < n.size(); ++at) {
    std::fill(next.begin(), next.end(), 0);
    const char32_t c = n[at];
    bool any = false;
    for (size_t i = 0; i < plen; ++i) {
      if (!states[i]) continue;
      const char32_t t = p[i];
      size_t to = SIZE_MAX;
      if (t == U'*') {
        to = i;
      } else if (t == kDosStar) {
        if (c != U'.' || at != last_dot) to = i;
      } else if (t == U'?') {
        to = i + 1;
      } else if (t == kDosQm) {
        if (c != U'.') to = i + 1;
      } else if (t == kDosDot) {
        if (c == U'.') to = i + 1;
      } else if (t == c) {
        to = i + 1;
      }
      if (to != SIZE_MAX) {
        close(next, to, at + 1);
        any = true;
      }
    }
    if (!any) return false;
    states.swap(next);
  }
  return states[plen] != 0;
}

}  // namespace xsmb::vfs
