// Limits that hold under abuse (docs/hardening.md): how many opens, sessions and async
// requests one connection may hold, and how many opens all of them together may hold so that
// the descriptors a new client needs (its socket, its first opens) are never all taken. The
// bounds come from smb.conf (config::HardeningConfig, "max connections") and RLIMIT_NOFILE;
// every refusal is STATUS_INSUFFICIENT_RESOURCES, as Windows answers (MS-SMB2 3.3.4.2 for
// async requests, MS-ERREF 2.3.1 0xC000009A).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/smb2/ntstatus.h"

namespace xsmb::config {
struct GlobalConfig;
}

namespace xsmb::session {

struct ConnState;

// A member of every Open: counts the opens that exist in the process (on connections and in
// the durable table), each of which holds up to two descriptors (its own and Open::io_fd).
class OpenFileCount {
 public:
  OpenFileCount() { count().fetch_add(1, std::memory_order_relaxed); }
  OpenFileCount(const OpenFileCount&) : OpenFileCount() {}
  OpenFileCount& operator=(const OpenFileCount&) { return *this; }
  ~OpenFileCount() { count().fetch_sub(1, std::memory_order_relaxed); }
  // The opens in the process now.
  static int64_t total() { return count().load(std::memory_order_relaxed); }

 private:
  static std::atomic<int64_t>& count();
};

// The opens all connections together may hold: (RLIMIT_NOFILE - reserve) / 2, two descriptors
// per open, where the reserve is "max connections" (their sockets) plus 1024 for the server's
// own descriptors; "max connections = 0" reserves half the limit. At least 64. The limit is
// read once, at the first call (after the daemon raised it).
int64_t openFileBudget(const config::GlobalConfig& g);

// Whether session `session_id` of `conn` may have one more open: STATUS_SUCCESS, or
// STATUS_INSUFFICIENT_RESOURCES past "max open files" (the connection's opens; never more than
// half of openFileBudget), "max open files per session" or openFileBudget (all opens of the
// process).
NtStatus admitOpen(const ConnState& conn, uint64_t session_id);
// Whether `conn` may start one more session ("max sessions per connection"):
// STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.
NtStatus admitSession(const ConnState& conn);
// Whether `conn` may have one more request answered STATUS_PENDING ("max async requests per
// connection"): STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES (MS-SMB2 3.3.4.2).
NtStatus admitAsync(const ConnState& conn);

}  // namespace xsmb::session
