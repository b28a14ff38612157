// Server-side request metrics for the Prometheus endpoint (docs/operations.md): requests and
// their latency per MS-SMB2 2.2.1.2 Command, READ/WRITE payload bytes, configuration reloads,
// and the lifecycle flags /readyz answers from. Recording is wait-free: each thread adds to its
// own stripe with relaxed atomic increments (no lock, no shared cache line between two workers
// in the common case); a scrape sums the stripes.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xsmb::metrics {

// Command slots: MS-SMB2 2.2.1.2 Command values 0x00..0x12, then kOtherCommand for a value
// above (a request answered with an error).
inline constexpr size_t kCommandSlots = 20;
inline constexpr size_t kOtherCommand = kCommandSlots - 1;
// The name of a slot as MS-SMB2 spells the command ("READ", "QUERY_DIRECTORY"; "OTHER").
std::string_view commandName(size_t slot);

// Upper bounds (seconds, Prometheus "le") of the latency histogram's finite buckets; a
// sample above the last falls in +Inf only.
inline constexpr std::array<double, 16> kLatencyBounds = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};

// One command's totals as a scrape sees them. buckets[i] counts samples <= kLatencyBounds[i]
// and above the bound before (not cumulative); buckets[kLatencyBounds.size()] those above all.
struct CommandSnapshot {
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  std::array<uint64_t, kLatencyBounds.size() + 1> buckets{};
};

struct RequestSnapshot {
  std::array<CommandSnapshot, kCommandSlots> commands{};
  uint64_t read_bytes = 0;     // READ response DataLength, summed (named pipes included)
  uint64_t written_bytes = 0;  // WRITE response Count, summed (named pipes included)
};

class RequestMetrics {
 public:
  RequestMetrics() = default;
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // One answered request: its Command (any value; above 0x12 counts as OTHER) and the time
  // from reading it to its final response (ns). Any thread; wait-free.
  void record(uint16_t command, uint64_t nanoseconds);
  // Payload bytes a READ returned / a WRITE wrote. Any thread; wait-free.
  void addRead(uint64_t bytes);
  void addWritten(uint64_t bytes);
  // The sums over all stripes (each value read once, relaxed: a scrape may see a request's
  // count before its bytes; counters never go back).
  RequestSnapshot snapshot() const;

 private:
  static constexpr size_t kStripes = 8;
  struct alignas(64) Command {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
    std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> buckets{};
  };
  struct alignas(64) Stripe {
    std::array<Command, kCommandSlots> commands;
    std::atomic<uint64_t> read_bytes{0};
    std::atomic<uint64_t> written_bytes{0};
  };
  Stripe& mine();
  std::array<Stripe, kStripes> stripes_;
};

// What the process is doing, for /readyz and the metrics; set by the daemon (main.cc).
struct Lifecycle {
  std::atomic<bool> listening{false};  // every listening socket is open and its loop runs
  std::atomic<bool> draining{false};   // SIGTERM: no new connections, in-flight ones finish
  // A newer generation (xsmbd --takeover) serves: this one only finishes its connections.
  std::atomic<bool> taken_over{false};
  // "bpf = yes" and no data plane: not ready until xsmb-loader has pinned the maps.
  std::atomic<bool> bpf_missing{false};
  // SMB Direct serves (set by its start-up once its listener runs).
  std::atomic<bool> rdma_active{false};
  std::atomic<uint64_t> reloads_ok{0};           // SIGHUP reloads applied
  std::atomic<uint64_t> reloads_failed{0};       // SIGHUP reloads refused (old configuration kept)
  std::atomic<uint64_t> last_reload_ok_unix{0};  // seconds since 1970 of the last applied one
  // Ready for traffic: listening, not draining, BPF attached where configured.
  bool ready() const { return listening && !draining && !taken_over && !bpf_missing; }
  // One word or phrase for `xsmbctl ready` and the status report's "state:" line: "ready",
  // "starting", "waiting for the BPF data plane", "taken over" or "draining".
  const char* state() const {
    if (taken_over) return "taken over";
    if (draining) return "draining";
    if (!listening) return "starting";
    if (bpf_missing) return "waiting for the BPF data plane";
    return "ready";
  }
};

// The server's metrics, one per ServerContext.
struct ServerMetrics {
  RequestMetrics requests;
  Lifecycle lifecycle;
};

}  // namespace xsmb::metrics
