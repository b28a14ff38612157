#include "rpc/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifdef XSMB_HAVE_SECCOMP
#include <seccomp.h>
#endif

namespace xsmb::rpc {

namespace {

// Sanitizer builds (-DXSMBD_SANITIZE): the runtime probes memory through a pipe of its own
// (pipe2, then read/write on it) when it walks stacks and prints reports, so the filter lets
// those calls through for any descriptor there; release builds keep the narrow filter.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif

absl::Status errnoError(const char* what) {
  return absl::InternalError(std::string(what) + ": " + std::strerror(errno));
}

absl::Status dropPrivileges(const std::string& user) {
  if (geteuid() != 0) return absl::OkStatus();  // already unprivileged: nothing to drop
  struct passwd pwd_buf;
  struct passwd* pw = nullptr;
  char buf[4096];
  if (getpwnam_r(user.c_str(), &pwd_buf, buf, sizeof(buf), &pw) != 0 || pw == nullptr) {
    return absl::NotFoundError("sandbox user '" + user + "' does not exist");
  }
  if (pw->pw_uid == 0 || pw->pw_gid == 0) {
    return absl::InvalidArgumentError("sandbox user '" + user + "' is root");
  }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  if (setgroups(0, nullptr) != 0) return errnoError("setgroups");
  if (setresgid(gid, gid, gid) != 0) return errnoError("setresgid");
  if (setresuid(uid, uid, uid) != 0) return errnoError("setresuid");
  // Verify: no id is 0 any more and root cannot be regained.
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0) return errnoError("getres*id");
  if (r == 0 || e == 0 || s == 0 || rg == 0 || eg == 0 || sg == 0) {
    return absl::InternalError("still holding a root id after dropping privileges");
  }
  if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
    return absl::InternalError("root could be regained after dropping privileges");
  }
  if (getgroups(0, nullptr) != 0) return absl::InternalError("supplementary groups remain");
  return absl::OkStatus();
}

void closeOtherFds(int keep) {
  // close_range(2) is in Linux 5.9+; the loop is the fallback for older kernels.
  if (syscall(SYS_close_range, keep + 1, ~0U, 0) == 0) return;
  for (int fd = keep + 1; fd < 65536; ++fd) close(fd);
}

absl::Status setLimit(int resource, rlim_t value, const char* what) {
  struct rlimit rl = {value, value};
  if (setrlimit(resource, &rl) != 0) return errnoError(what);
  return absl::OkStatus();
}

#ifdef XSMB_HAVE_SECCOMP
absl::Status installSeccomp(int fd) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!ctx) return absl::InternalError("seccomp_init failed");
  int rc = 0;
  auto allow = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  };
  auto allowOnFd = [&](int nr, int allowed_fd) {
    if (kSanitizerBuild) {
      if (rc == 0 && (nr == SCMP_SYS(read) || nr == SCMP_SYS(write))) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc == -EEXIST) rc = 0;  // already allowed for every descriptor
        return;
      }
    }
    if (rc == 0) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                            SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(allowed_fd)));
    }
  };
  auto deny = [&](int nr, int err) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
  };
  // I/O: only the channel to xsmbd (and stderr for the log line of a fatal error).
  allowOnFd(SCMP_SYS(read), fd);
  allowOnFd(SCMP_SYS(recvfrom), fd);
  allowOnFd(SCMP_SYS(recvmsg), fd);
  allowOnFd(SCMP_SYS(write), fd);
  allowOnFd(SCMP_SYS(sendto), fd);
  allowOnFd(SCMP_SYS(sendmsg), fd);
  allowOnFd(SCMP_SYS(write), 2);
  // Memory management for malloc, never executable mappings.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  }
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  }
  allow(SCMP_SYS(munmap));
  allow(SCMP_SYS(mremap));
  allow(SCMP_SYS(brk));
  allow(SCMP_SYS(madvise));
  // Process and time basics (exit paths, abort(), clocks, the C library's own needs).
  allow(SCMP_SYS(exit));
  allow(SCMP_SYS(exit_group));
  allow(SCMP_SYS(futex));
  allow(SCMP_SYS(clock_gettime));
  allow(SCMP_SYS(gettimeofday));
  allow(SCMP_SYS(rt_sigreturn));
  allow(SCMP_SYS(rt_sigprocmask));
  allow(SCMP_SYS(getpid));
  allow(SCMP_SYS(gettid));
  allow(SCMP_SYS(tgkill));
  allow(SCMP_SYS(getuid));
  allow(SCMP_SYS(geteuid));
  allow(SCMP_SYS(getgid));
  allow(SCMP_SYS(getrandom));
  allow(SCMP_SYS(fstat));
  allow(SCMP_SYS(newfstatat));
  // Opening files fails cleanly (the helper has no business with any file; tests check it).
  deny(SCMP_SYS(open), EPERM);
  deny(SCMP_SYS(openat), EPERM);
  deny(SCMP_SYS(openat2), EPERM);
  deny(SCMP_SYS(creat), EPERM);
  allow(SCMP_SYS(close));
  if (kSanitizerBuild) allow(SCMP_SYS(pipe2));
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return absl::InternalError(std::string("seccomp: ") + std::strerror(-rc));
  return absl::OkStatus();
}
#endif

}  // namespace

bool sandboxHasSeccomp() {
#ifdef XSMB_HAVE_SECCOMP
  return true;
#else
  return false;
#endif
}

absl::Status enterSandbox(const SandboxOptions& opts) {
  // Resolve the account before anything is closed (NSS may open files).
  if (auto st = dropPrivileges(opts.user); !st.ok()) return st;
  if (chdir("/") != 0) return errnoError("chdir");
  closeOtherFds(opts.channel_fd);
  if (auto st = setLimit(RLIMIT_NOFILE, opts.channel_fd + 4, "RLIMIT_NOFILE"); !st.ok()) return st;
  if (auto st = setLimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC"); !st.ok()) return st;
  if (auto st = setLimit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !st.ok()) return st;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errnoError("PR_SET_NO_NEW_PRIVS");
#ifdef XSMB_HAVE_SECCOMP
  return installSeccomp(opts.channel_fd);
#else
  return absl::OkStatus();
#endif
}

}  // namespace xsmb::rpc
