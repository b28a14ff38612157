#include "server/session/limits.h"

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>

namespace xsmb::session {
namespace {

using Clock = std::chrono::steady_clock;

// The bucket's depth: this long at the entry's rate.
constexpr double kDepthSeconds = 0.05;

uint64_t loadU64(const __u64& v) {
  return std::atomic_ref<const __u64>(v).load(std::memory_order_relaxed);
}

// Refills `tokens` for `elapsed` at `rate`, takes `cost`; returns the time until the debt (if
// any) is paid.
double take(double* tokens, double rate, double elapsed, double cost) {
  *tokens = std::min(rate * kDepthSeconds, *tokens + elapsed * rate) - cost;
  return *tokens < 0 ? -*tokens / rate : 0;
}

}  // namespace

Limits::Limits(xsmb_limit* entries)
    : entries_(entries), buckets_(std::make_unique<std::array<Bucket, XSMB_MAX_LIMITS>>()) {
  if (entries_ == nullptr) {
    own_ = std::make_unique<xsmb_limit[]>(XSMB_MAX_LIMITS);
    std::memset(own_.get(), 0, sizeof(xsmb_limit) * XSMB_MAX_LIMITS);
    entries_ = own_.get();
  }
}

int Limits::slot(uint32_t kind, std::string_view name, uint32_t id, uint64_t default_bps,
                 uint64_t default_rps) {
  std::lock_guard<std::mutex> lock(slots_mu_);
  int free_slot = -1;
  const size_t n = std::min(name.size(), static_cast<size_t>(XSMB_LIMIT_NAME - 1));
  for (int i = 0; i < XSMB_MAX_LIMITS; ++i) {
    const xsmb_limit& e = entries_[i];
    if (e.kind == XSMB_LIMIT_FREE) {
      if (free_slot < 0) free_slot = i;
      continue;
    }
    if (e.kind == kind && strlen(e.name) == n && strncasecmp(e.name, name.data(), n) == 0) {
      return i;
    }
  }
  if (free_slot < 0) return -1;
  xsmb_limit& e = entries_[free_slot];
  e.id = id;
  e.bytes_per_sec = default_bps;
  e.requests_per_sec = default_rps;
  e.rate_bps = 0;
  e.throttled_ns = 0;
  std::memset(e.name, 0, sizeof(e.name));
  for (size_t i = 0; i < n; ++i) e.name[i] = static_cast<char>(std::tolower(name[i]));
  std::atomic_ref<__u32>(e.kind).store(kind, std::memory_order_release);  // last: now in use
  return free_slot;
}

// The entry's measured rate: bytes added lock-free, the window closed by whoever gets the lock
// first once a second went by.
void Limits::measure(int slot, Bucket& b, uint64_t bytes, Clock::time_point now) {
  b.window_bytes.fetch_add(bytes, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(b.mu, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (b.window_start == Clock::time_point{}) b.window_start = now;
  const auto w = now - b.window_start;
  if (w < std::chrono::seconds(1)) return;
  const double secs = std::chrono::duration<double>(w).count();
  const uint64_t got = b.window_bytes.exchange(0, std::memory_order_relaxed);
  std::atomic_ref<__u64>(entries_[slot].rate_bps)
      .store(static_cast<uint64_t>(static_cast<double>(got) / secs), std::memory_order_relaxed);
  b.window_start = now;
}

std::chrono::nanoseconds Limits::chargeOne(int slot, uint64_t bytes, uint32_t requests,
                                           Clock::time_point now) {
  xsmb_limit& e = entries_[slot];
  Bucket& b = (*buckets_)[slot];
  measure(slot, b, bytes, now);
  const double bps = static_cast<double>(loadU64(e.bytes_per_sec));
  const double rps = static_cast<double>(loadU64(e.requests_per_sec));
  // No limit: no lock (a limit set later finds the bucket refilled by the time since `last`).
  if (bps == 0 && rps == 0) return std::chrono::nanoseconds(0);
  std::lock_guard<std::mutex> lock(b.mu);
  if (b.last == Clock::time_point{}) {
    b.last = now;
    b.bytes = bps * kDepthSeconds;
    b.requests = rps * kDepthSeconds;
  }
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.last = now;
  double wait = 0;
  if (bps > 0) wait = std::max(wait, take(&b.bytes, bps, elapsed, static_cast<double>(bytes)));
  if (rps > 0) wait = std::max(wait, take(&b.requests, rps, elapsed, requests));
  auto held = std::chrono::nanoseconds(static_cast<int64_t>(wait * 1e9));
  if (held.count() > 0) {
    std::atomic_ref<__u64>(e.throttled_ns)
        .fetch_add(static_cast<uint64_t>(held.count()), std::memory_order_relaxed);
  }
  return held;
}

std::chrono::nanoseconds Limits::charge(int user, int share, uint64_t bytes, uint32_t requests) {
  const auto now = Clock::now();
  std::chrono::nanoseconds held{0};
  if (user >= 0 && user < XSMB_MAX_LIMITS) held = chargeOne(user, bytes, requests, now);
  if (share >= 0 && share < XSMB_MAX_LIMITS) {
    held = std::max(held, chargeOne(share, bytes, requests, now));
  }
  return held;
}

void Limits::setLimits(int slot, uint64_t bytes_per_sec, uint64_t requests_per_sec) {
  if (slot < 0 || slot >= XSMB_MAX_LIMITS) return;
  std::atomic_ref<__u64>(entries_[slot].bytes_per_sec)
      .store(bytes_per_sec, std::memory_order_relaxed);
  std::atomic_ref<__u64>(entries_[slot].requests_per_sec)
      .store(requests_per_sec, std::memory_order_relaxed);
}

bool RateMeter::add(uint64_t bytes, std::chrono::nanoseconds held) {
  const auto now = Clock::now();
  if (window_start == Clock::time_point{}) window_start = now;
  window_bytes += bytes;
  throttled_ns += static_cast<uint64_t>(held.count());
  const auto w = now - window_start;
  if (w < std::chrono::seconds(1)) return false;
  rate_bps = static_cast<uint64_t>(static_cast<double>(window_bytes) /
                                   std::chrono::duration<double>(w).count());
  window_bytes = 0;
  window_start = now;
  return true;
}

}  // namespace xsmb::session
