#include "server/vfs/identity.h"

#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace xsmb::vfs {
namespace {

// setfsuid/setfsgid return the previous value and never fail visibly; an invalid id (-1) only
// queries.
uid_t currentFsuid() { return static_cast<uid_t>(syscall(SYS_setfsuid, -1)); }
gid_t currentFsgid() { return static_cast<gid_t>(syscall(SYS_setfsgid, -1)); }

bool setThreadGroups(const std::vector<gid_t>& groups) {
  return syscall(SYS_setgroups, groups.size(), groups.empty() ? nullptr : groups.data()) == 0;
}

}  // namespace

absl::StatusOr<UnixIdentity> lookupUnixIdentity(const std::string& name) {
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
  struct passwd pw {};
  struct passwd* result = nullptr;
  int rc;
  while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH) {
    return absl::InternalError(absl::StrCat("getpwnam_r(", name, "): errno ", rc));
  }
  if (result == nullptr) return absl::NotFoundError(absl::StrCat("no Unix user ", name));

  UnixIdentity id{pw.pw_uid, pw.pw_gid, {}};
  int ngroups = 32;
  std::vector<gid_t> groups(ngroups);
  while (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &ngroups) < 0) {
    if (ngroups <= static_cast<int>(groups.size())) ngroups = static_cast<int>(groups.size()) * 2;
    if (ngroups > 65536) return absl::InternalError("getgrouplist: too many groups");
    groups.resize(ngroups);
  }
  groups.resize(ngroups);
  id.groups = std::move(groups);
  return id;
}

namespace {
// What assumeIdentity() last set on this thread (valid = false: unknown, e.g. after a
// ScopedIdentity, which changes and restores it behind the cache's back).
struct ThreadIdentity {
  bool valid = false;
  UnixIdentity id{};
};
thread_local ThreadIdentity t_identity;
}  // namespace

bool runningAsRoot() {
  static const bool root = geteuid() == 0;  // the daemon never changes its euid
  return root;
}

uid_t threadFsuid() { return t_identity.valid ? t_identity.id.uid : currentFsuid(); }

bool assumeIdentity(const UnixIdentity& id) {
  if (!runningAsRoot()) return false;
  ThreadIdentity& cur = t_identity;
  if (cur.valid && cur.id.uid == id.uid && cur.id.gid == id.gid && cur.id.groups == id.groups) {
    return true;
  }
  cur.valid = false;
  if (!setThreadGroups(id.groups)) return false;
  syscall(SYS_setfsgid, id.gid);
  syscall(SYS_setfsuid, id.uid);
  if (currentFsgid() != id.gid || currentFsuid() != id.uid) return false;
  cur.id = id;
  cur.valid = true;
  return true;
}

ScopedIdentity::ScopedIdentity(const UnixIdentity& id) {
  t_identity.valid = false;
  if (!runningAsRoot()) return;
  int n = static_cast<int>(syscall(SYS_getgroups, 0, nullptr));
  if (n < 0) return;
  saved_groups_.resize(n);
  if (n > 0 && syscall(SYS_getgroups, n, saved_groups_.data()) != n) return;
  saved_fsuid_ = currentFsuid();
  saved_fsgid_ = currentFsgid();
  // Groups and fsgid first: changing them needs CAP_SETGID, which a non-zero fsuid keeps, but
  // the order keeps the thread from ever holding the new uid with the old groups.
  if (!setThreadGroups(id.groups)) return;
  syscall(SYS_setfsgid, id.gid);
  syscall(SYS_setfsuid, id.uid);
  if (currentFsgid() != id.gid || currentFsuid() != id.uid) {
    syscall(SYS_setfsuid, saved_fsuid_);
    syscall(SYS_setfsgid, saved_fsgid_);
    setThreadGroups(saved_groups_);
    return;
  }
  active_ = true;
}

ScopedIdentity::~ScopedIdentity() {
  t_identity.valid = false;
  if (!active_) return;
  syscall(SYS_setfsuid, saved_fsuid_);
  syscall(SYS_setfsgid, saved_fsgid_);
  setThreadGroups(saved_groups_);
}

}  // namespace xsmb::vfs
