// Per-thread Unix identity for filesystem access, so the kernel enforces permissions for the
// session user while the daemon stays root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xsmb::vfs {

struct UnixIdentity {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;  // supplementary groups, including the primary one
};

// Looks up a Unix account by name (getpwnam_r + getgrouplist). NotFound if absent, Internal on
// a lookup failure (NSS error).
absl::StatusOr<UnixIdentity> lookupUnixIdentity(const std::string& name);

// While alive, the CALLING THREAD touches the filesystem as `id`: raw syscalls SYS_setgroups,
// SYS_setfsgid, SYS_setfsuid act on this thread's credentials only (glibc's wrappers would
// change every thread). With fsuid != 0 the kernel also drops CAP_DAC_OVERRIDE and the other
// filesystem capabilities for this thread. Restores the previous fsuid, fsgid and groups on
// destruction. Threads created while it is alive start with its identity (clone copies the
// creator's credentials). No-op when the process is not root (geteuid() != 0). Not movable: it must
// end on the thread that made it.
// Makes the calling thread touch the filesystem as `id` from now on (no restore), issuing the
// setgroups/setfsgid/setfsuid syscalls only when the thread's identity differs from the one it
// assumed last: threads that serve request after request for the same user switch once.
// False when not root or when the kernel refused (the thread's identity is then unknown and the
// caller must not touch the filesystem).
bool assumeIdentity(const UnixIdentity& id);
// geteuid() == 0, asked once per process.
bool runningAsRoot();
// The calling thread's fsuid: what assumeIdentity() last set, without a system call, else the
// kernel's answer.
uid_t threadFsuid();

class ScopedIdentity {
 public:
  explicit ScopedIdentity(const UnixIdentity& id);
  ~ScopedIdentity();
  ScopedIdentity(const ScopedIdentity&) = delete;
  ScopedIdentity& operator=(const ScopedIdentity&) = delete;

  // False when the identity could not be assumed (not root, or a syscall failed); the thread
  // then keeps its previous identity.
  bool active() const { return active_; }

 private:
  bool active_ = false;
  uid_t saved_fsuid_ = 0;
  gid_t saved_fsgid_ = 0;
  std::vector<gid_t> saved_groups_;
};

}  // namespace xsmb::vfs
