#include "server/metrics/request_metrics.h"

#include "common/smb2/smb2_wire.h"

namespace xsmb::metrics {
namespace {

constexpr std::array<std::string_view, kCommandSlots> kNames = {
#define XSMB_X_METRIC_NAME(name, value) #name,
    XSMB_SMB2_COMMANDS(XSMB_X_METRIC_NAME)
#undef XSMB_X_METRIC_NAME
        "OTHER"};
static_assert(XSMB_SMB2_NUM_COMMANDS + 1 == kCommandSlots, "one slot per command, then OTHER");

// The bounds in nanoseconds, for the request path's comparison.
constexpr std::array<uint64_t, kLatencyBounds.size()> boundsNs() {
  std::array<uint64_t, kLatencyBounds.size()> ns{};
  for (size_t i = 0; i < ns.size(); ++i) ns[i] = static_cast<uint64_t>(kLatencyBounds[i] * 1e9);
  return ns;
}
constexpr auto kBoundsNs = boundsNs();

size_t bucketOf(uint64_t ns) {
  size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
  return i;
}

}  // namespace

std::string_view commandName(size_t slot) {
  return slot < kNames.size() ? kNames[slot] : kNames[kOtherCommand];
}

RequestMetrics::Stripe& RequestMetrics::mine() {
  // Threads take stripes round-robin as they first record; a worker keeps its stripe.
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripes_[index];
}

void RequestMetrics::record(uint16_t command, uint64_t nanoseconds) {
  const size_t slot = command < kOtherCommand ? command : kOtherCommand;
  Command& c = mine().commands[slot];
  c.count.fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(nanoseconds, std::memory_order_relaxed);
  c.buckets[bucketOf(nanoseconds)].fetch_add(1, std::memory_order_relaxed);
}

void RequestMetrics::addRead(uint64_t bytes) {
  mine().read_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void RequestMetrics::addWritten(uint64_t bytes) {
  mine().written_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

RequestSnapshot RequestMetrics::snapshot() const {
  RequestSnapshot s;
  for (const Stripe& st : stripes_) {
    for (size_t i = 0; i < kCommandSlots; ++i) {
      const Command& c = st.commands[i];
      CommandSnapshot& out = s.commands[i];
      out.count += c.count.load(std::memory_order_relaxed);
      out.sum_ns += c.sum_ns.load(std::memory_order_relaxed);
      for (size_t b = 0; b < out.buckets.size(); ++b) {
        out.buckets[b] += c.buckets[b].load(std::memory_order_relaxed);
      }
    }
    s.read_bytes += st.read_bytes.load(std::memory_order_relaxed);
    s.written_bytes += st.written_bytes.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace xsmb::metrics
