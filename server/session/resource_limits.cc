#include "server/session/resource_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "common/base/log.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::session {
namespace {

using namespace smb2;

constexpr int64_t kOwnDescriptors = 1024;  // listeners, epoll, io_uring, logs, the RPC helper
constexpr int64_t kMinOpenBudget = 64;

// One line per second at most: a client hammering a limit must not flood the log.
void logRefusal(const ConnState& conn, const char* what, uint64_t limit) {
  static std::atomic<int64_t> last_ms{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) return;
  XLOG(WARNING) << conn.peer << ": " << what << " (" << limit
                << ") reached: STATUS_INSUFFICIENT_RESOURCES";
}

}  // namespace

std::atomic<int64_t>& OpenFileCount::count() {
  static std::atomic<int64_t> n{0};
  return n;
}

int64_t openFileBudget(const config::GlobalConfig& g) {
  static std::once_flag once;
  static int64_t budget = 0;
  std::call_once(once, [&g] {
    rlimit rl{};
    int64_t nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      nofile = static_cast<int64_t>(rl.rlim_cur);
    } else if (rl.rlim_cur == RLIM_INFINITY) {
      nofile = int64_t{1} << 20;
    }
    const int64_t sockets = g.max_connections ? int64_t{g.max_connections} : nofile / 2;
    budget = std::max(kMinOpenBudget, (nofile - sockets - kOwnDescriptors) / 2);
    XLOG(INFO) << "opens of all clients bounded at " << budget << " (RLIMIT_NOFILE " << nofile
               << ", " << sockets << " descriptors kept for connections)";
  });
  return budget;
}

NtStatus admitOpen(const ConnState& conn, uint64_t session_id) {
  const config::GlobalConfig& g = conn.server->config.global;
  const config::HardeningConfig& h = g.hardening;
  const int64_t budget = openFileBudget(g);
  // One connection never holds more than half of what all may hold: the rest stays for others.
  const size_t per_connection = std::min<size_t>(h.max_open_files, budget / 2);
  if (conn.opens.size() >= per_connection) {
    logRefusal(conn, "max open files", per_connection);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  // Counted only when the connection holds that many: below, no session of it can.
  if (conn.opens.size() >= h.max_open_files_per_session) {
    size_t mine = 0;
    for (const auto& [id, o] : conn.opens) mine += o->session_id == session_id;
    if (mine >= h.max_open_files_per_session) {
      logRefusal(conn, "max open files per session", h.max_open_files_per_session);
      return STATUS_INSUFFICIENT_RESOURCES;
    }
  }
  if (OpenFileCount::total() >= budget) {
    logRefusal(conn, "opens of all clients (RLIMIT_NOFILE)", static_cast<uint64_t>(budget));
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  return STATUS_SUCCESS;
}

NtStatus admitSession(const ConnState& conn) {
  const uint32_t max = conn.server->config.global.hardening.max_sessions_per_connection;
  if (conn.sessions.size() < max) return STATUS_SUCCESS;
  logRefusal(conn, "max sessions per connection", max);
  return STATUS_INSUFFICIENT_RESOURCES;
}

NtStatus admitAsync(const ConnState& conn) {
  const uint32_t max = conn.server->config.global.hardening.max_async_requests;
  if (conn.async_ops.size() < max) return STATUS_SUCCESS;
  logRefusal(conn, "max async requests per connection", max);
  return STATUS_INSUFFICIENT_RESOURCES;
}

}  // namespace xsmb::session
