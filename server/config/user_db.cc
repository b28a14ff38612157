#include "server/config/user_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/unicode.h"

namespace xsmb::config {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parseHash(std::string_view hex, crypto::Key16* out) {
  if (hex.size() != 32) return false;
  for (size_t i = 0; i < 16; ++i) {
    int hi = hexValue(hex[2 * i]);
    int lo = hexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string hashHex(const crypto::Key16& h) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (uint8_t b : h) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

absl::Status validateUnixName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty unix user name");
  for (char c : name) {
    if (c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat("unix user name \"", std::string(name),
                                                     "\" contains ':' or a control character"));
    }
  }
  return absl::OkStatus();
}

// Creates the missing directories of `dir` (like mkdir -p) with mode 0700.
absl::Status makeParents(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot create directory ", prefix));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status UserDb::validateName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty user name");
  if (name.size() > 256) return absl::InvalidArgumentError("user name longer than 256 bytes");
  if (name.front() == ' ' || name.back() == ' ') {
    return absl::InvalidArgumentError("user name starts or ends with a space");
  }
  for (char c : name) {
    // The characters Windows does not allow in account names, plus ':' (our separator).
    if (strchr("\"/\\[]:;|=,+*?<>", c) != nullptr || static_cast<unsigned char>(c) < 0x20 ||
        c == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrCat("user name \"", std::string(name),
                       "\" contains a character not allowed in user names (\"/\\[]:;|=,+*?<> or "
                       "control characters)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UserDb> UserDb::parse(std::string_view text) {
  UserDb db;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;

    auto bad = [line_no](std::string what) {
      return absl::InvalidArgumentError(absl::StrCat("user database line ", line_no, ": ", what));
    };
    std::string_view fields[4];
    size_t count = 0;
    size_t start = 0;
    for (;;) {
      size_t colon = line.find(':', start);
      if (count == 4) return bad("more than 4 ':'-separated fields");
      fields[count++] = line.substr(
          start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
      if (colon == std::string_view::npos) break;
      start = colon + 1;
    }
    if (count != 4) return bad("expected name:unix_name:NTHASH:flags");
    UserEntry entry;
    entry.name = std::string(fields[0]);
    entry.unix_name = std::string(fields[1]);
    if (absl::Status s = validateName(entry.name); !s.ok()) return bad(std::string(s.message()));
    if (absl::Status s = validateUnixName(entry.unix_name); !s.ok()) {
      return bad(std::string(s.message()));
    }
    if (!parseHash(fields[2], &entry.nt_hash)) return bad("NT hash is not 32 hex digits");
    for (char f : fields[3]) {
      if (f == 'D') {
        entry.disabled = true;
      } else {
        return bad(absl::StrCat("unknown flag '", std::string(1, f), "'"));
      }
    }
    if (db.find(entry.name) != nullptr) {
      return bad(absl::StrCat("user \"", entry.name, "\" listed twice"));
    }
    db.users_.push_back(std::move(entry));
  }
  return db;
}

absl::StatusOr<UserDb> UserDb::load(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return UserDb();
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open user database ", path));
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read user database ", path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  absl::StatusOr<UserDb> db = parse(text);
  if (!db.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", db.status().message()));
  }
  return db;
}

std::string UserDb::serialize() const {
  std::string out = "# xsmbd user database: name:unix_name:NTHASH:flags (D = disabled)\n";
  for (const UserEntry& u : users_) {
    absl::StrAppend(&out, u.name, ":", u.unix_name, ":", hashHex(u.nt_hash), ":",
                    u.disabled ? "D" : "", "\n");
  }
  return out;
}

absl::Status UserDb::save(const std::string& path) const {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (absl::Status s = makeParents(dir); !s.ok()) return s;

  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot create temporary file next to ", path));
  }
  auto fail = [&](const char* what) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat(what, " ", tmp));
  };
  // mkostemp already creates 0600; fchmod makes it independent of that detail.
  if (fchmod(fd, 0600) != 0) return fail("cannot chmod");
  std::string text = serialize();
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot sync");
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot close ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  // Make the rename itself durable.
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

UserEntry* UserDb::findMutable(std::string_view name) {
  for (UserEntry& u : users_) {
    if (equalsIgnoreCase(u.name, name)) return &u;
  }
  return nullptr;
}

const UserEntry* UserDb::find(std::string_view name) const {
  return const_cast<UserDb*>(this)->findMutable(name);
}

absl::Status UserDb::add(UserEntry entry) {
  if (absl::Status s = validateName(entry.name); !s.ok()) return s;
  if (absl::Status s = validateUnixName(entry.unix_name); !s.ok()) return s;
  if (find(entry.name) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("user \"", entry.name, "\" already exists"));
  }
  users_.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status UserDb::remove(std::string_view name) {
  for (auto it = users_.begin(); it != users_.end(); ++it) {
    if (equalsIgnoreCase(it->name, name)) {
      users_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("no user \"", std::string(name), "\""));
}

absl::Status UserDb::setHash(std::string_view name, const crypto::Key16& nt_hash) {
  UserEntry* u = findMutable(name);
  if (!u) return absl::NotFoundError(absl::StrCat("no user \"", std::string(name), "\""));
  u->nt_hash = nt_hash;
  return absl::OkStatus();
}

absl::Status UserDb::setDisabled(std::string_view name, bool disabled) {
  UserEntry* u = findMutable(name);
  if (!u) return absl::NotFoundError(absl::StrCat("no user \"", std::string(name), "\""));
  u->disabled = disabled;
  return absl::OkStatus();
}

const std::vector<UserEntry>& UserDb::users() const { return users_; }

}  // namespace xsmb::config
