// The Prometheus text exposition format, version 0.0.4 (Content-Type "text/plain;
// version=0.0.4"): "# HELP" and "# TYPE" lines, then one "name{label="value",...} value" line
// per sample; label values escape backslash, double quote and newline; HELP text escapes
// backslash and newline. Each family is written once, its samples together.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/metrics/request_metrics.h"

namespace xsmb::metrics {

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4";

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class Exposition {
 public:
  // Starts a family: `type` is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  void sample(std::string_view name, const Labels& labels, double value);
  // A whole one-sample family.
  void counter(std::string_view name, std::string_view help, uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);
  const std::string& text() const { return out_; }

 private:
  void head(std::string_view name, const Labels& labels);
  std::string out_;
};

// Writes xsmbd_requests_total{command}, xsmbd_request_duration_seconds{command} (histogram)
// and xsmbd_read_bytes_total / xsmbd_written_bytes_total. Commands never requested are left out.
void writeRequestMetrics(const RequestSnapshot& s, Exposition& e);

// Writes the BPF data plane's counters (names and order of XSMB_COUNTERS in
// bpf/include/xsmb_abi.h): XDP_PASS_* as xsmbd_bpf_pass_total{hook="xdp",reason},
// XDP_DROP_* / SK_DROP_* as xsmbd_bpf_drop_total{hook,reason}, XDP_REDIRECT_* as
// xsmbd_bpf_redirect_total{hook="xdp",reason}, every other as
// xsmbd_bpf_events_total{counter} (lower-cased names). `values` is in XSMB_COUNTERS order.
void writeBpfCounters(const std::vector<std::pair<std::string, uint64_t>>& values, Exposition& e);

}  // namespace xsmb::metrics
