// Live limits: per-user and per-share pacing of READ/WRITE bytes and of requests (the
// look-aside state of docs/bpf.md "Live limits"). Each user and share xsmbd meets has an entry
// (struct xsmb_limit, bpf/include/xsmb_abi.h): in the pinned, mmapped xsmb_limits array when
// the BPF data plane is there (operators change it live: xsmbctl limit, bpftool map update),
// else in a private array with the same layout. smb.conf gives the defaults of new entries
// ("bandwidth limit", "request rate limit").
//
// Pacing is a token bucket per entry, refilled at the entry's rate (read on every charge, so a
// change applies to the next request), 50 ms deep: a charge beyond the tokens leaves a debt,
// and the reply that caused it is held back until the debt is paid at the rate. Over time a
// session then gets exactly the rate, whatever its queue depth.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "xsmb_abi.h"

namespace xsmb::session {

class Limits {
 public:
  // `entries`: XSMB_MAX_LIMITS entries shared with other processes (the mmapped map), or
  // nullptr for a private array.
  explicit Limits(xsmb_limit* entries = nullptr);

  // The entry of a user (kind XSMB_LIMIT_USER) or share (XSMB_LIMIT_SHARE) named `name`
  // (compared case-insensitively), created with the given defaults (bytes/s, requests/s; 0 =
  // none) when absent; an existing entry keeps its limits (an operator's change survives a
  // restart). -1 when every entry is taken.
  int slot(uint32_t kind, std::string_view name, uint32_t id, uint64_t default_bytes_per_sec,
           uint64_t default_requests_per_sec);

  // Charges `bytes` of READ/WRITE payload and `requests` requests to the entries `user` and
  // `share` (-1: none). Returns how long the reply must be held back: 0 while within the
  // limits. Also updates the entries' measured rate and throttled time.
  std::chrono::nanoseconds charge(int user, int share, uint64_t bytes, uint32_t requests);

  // Sets an entry's limits (what xsmbctl limit does through the map).
  void setLimits(int slot, uint64_t bytes_per_sec, uint64_t requests_per_sec);

  const xsmb_limit& entry(int slot) const { return entries_[slot]; }

 private:
  struct Bucket {
    std::mutex mu;
    double bytes = 0, requests = 0;  // tokens (negative: a debt)
    std::chrono::steady_clock::time_point last{};
    std::atomic<uint64_t> window_bytes{0};
    std::chrono::steady_clock::time_point window_start{};  // under mu
  };
  void measure(int slot, Bucket& b, uint64_t bytes, std::chrono::steady_clock::time_point now);
  std::chrono::nanoseconds chargeOne(int slot, uint64_t bytes, uint32_t requests,
                                     std::chrono::steady_clock::time_point now);

  std::unique_ptr<xsmb_limit[]> own_;
  xsmb_limit* entries_;
  std::mutex slots_mu_;  // guards creating entries
  std::unique_ptr<std::array<Bucket, XSMB_MAX_LIMITS>> buckets_;
};

// A session's traffic over one-second windows, for its sessions map entry (rate_bps,
// throttled_ns). add() returns true when a window closed: time to publish.
struct RateMeter {
  bool add(uint64_t bytes, std::chrono::nanoseconds held);
  uint64_t rate_bps = 0;      // bytes/s of the last closed window
  uint64_t throttled_ns = 0;  // total
  uint64_t window_bytes = 0;
  std::chrono::steady_clock::time_point window_start{};
};

}  // namespace xsmb::session
