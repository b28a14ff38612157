// The confinement xsmb-rpcd puts itself in before it reads a single byte from xsmbd: no root,
// no file descriptors but 0-3, small resource limits, no_new_privs and a seccomp filter
// that leaves only I/O on its socket and memory management (no open/openat at all).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace xsmb::rpc {

struct SandboxOptions {
  std::string user = "nobody";  // account to become when started as root
  int channel_fd = 3;           // the socketpair end to xsmbd: the only fd read or written
};

// In this order: drop to `user` when root (setgroups(0), setresgid, setresuid, then checks
// that root cannot be regained), chdir("/"), close every fd above channel_fd, RLIMIT_NOFILE
// and RLIMIT_NPROC small, RLIMIT_CORE 0, PR_SET_NO_NEW_PRIVS, seccomp filter. Returns an
// error (and the caller exits) when any step fails. open/openat/openat2/creat fail with
// EPERM under the filter; any syscall not listed kills the process.
absl::Status enterSandbox(const SandboxOptions& opts);

// Whether this build has the seccomp filter (libseccomp was found).
bool sandboxHasSeccomp();

}  // namespace xsmb::rpc
