#include "server/metrics/exposition.h"

#include <array>
#include <charconv>
#include <cmath>

namespace xsmb::metrics {
namespace {

void appendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// The shortest text that reads back as `v`; +Inf, -Inf and NaN as Prometheus spells them.
std::string formatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc() ? std::string(buf.data(), end) : "NaN";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

struct BpfGroup {
  std::string_view prefix;  // counter name prefix, e.g. "XDP_PASS_"
  std::string_view hook;
  std::string_view family;
};

constexpr std::array<BpfGroup, 4> kBpfGroups = {{
    {"XDP_PASS_", "xdp", "xsmbd_bpf_pass_total"},
    {"XDP_DROP_", "xdp", "xsmbd_bpf_drop_total"},
    {"SK_DROP_", "sk_skb", "xsmbd_bpf_drop_total"},
    {"XDP_REDIRECT_", "xdp", "xsmbd_bpf_redirect_total"},
}};

const BpfGroup* groupOf(std::string_view counter) {
  for (const BpfGroup& g : kBpfGroups) {
    if (counter.substr(0, g.prefix.size()) == g.prefix) return &g;
  }
  return nullptr;
}

}  // namespace

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  appendEscaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::head(std::string_view name, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      appendEscaped(out_, labels[i].second, true);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::sample(std::string_view name, const Labels& labels, uint64_t value) {
  head(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
  head(name, labels);
  out_ += formatDouble(value);
  out_ += '\n';
}

void Exposition::counter(std::string_view name, std::string_view help, uint64_t value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

void Exposition::gauge(std::string_view name, std::string_view help, double value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void writeRequestMetrics(const RequestSnapshot& s, Exposition& e) {
  e.family("xsmbd_requests_total", "counter",
           "SMB2 requests answered, by MS-SMB2 command (compound elements counted singly)");
  for (size_t i = 0; i < kCommandSlots; ++i) {
    if (s.commands[i].count == 0) continue;
    e.sample("xsmbd_requests_total", {{"command", commandName(i)}}, s.commands[i].count);
  }
  e.family("xsmbd_request_duration_seconds", "histogram",
           "time from reading an SMB2 request to its final response, by command");
  for (size_t i = 0; i < kCommandSlots; ++i) {
    const CommandSnapshot& c = s.commands[i];
    if (c.count == 0) continue;
    const std::string_view cmd = commandName(i);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < c.buckets.size(); ++b) {
      cumulative += c.buckets[b];
      const std::string le = b < kLatencyBounds.size() ? formatDouble(kLatencyBounds[b]) : "+Inf";
      e.sample("xsmbd_request_duration_seconds_bucket", {{"command", cmd}, {"le", le}}, cumulative);
    }
    e.sample("xsmbd_request_duration_seconds_sum", {{"command", cmd}},
             static_cast<double>(c.sum_ns) / 1e9);
    // The +Inf bucket, so that _count and the buckets agree within one scrape.
    e.sample("xsmbd_request_duration_seconds_count", {{"command", cmd}}, cumulative);
  }
  e.counter("xsmbd_read_bytes_total", "payload bytes returned by READ (DataLength)", s.read_bytes);
  e.counter("xsmbd_written_bytes_total", "payload bytes written by WRITE (Count)", s.written_bytes);
}

void writeBpfCounters(const std::vector<std::pair<std::string, uint64_t>>& values, Exposition& e) {
  std::vector<std::string_view> families = {"xsmbd_bpf_pass_total", "xsmbd_bpf_drop_total",
                                            "xsmbd_bpf_redirect_total"};
  std::vector<std::string_view> help = {
      "packets the XDP program passed to the kernel stack, by reason",
      "packets (xdp) or messages (sk_skb) the BPF programs dropped, by reason",
      "packets the XDP program redirected, by reason"};
  for (size_t f = 0; f < families.size(); ++f) {
    e.family(families[f], "counter", help[f]);
    for (const auto& [name, value] : values) {
      const BpfGroup* g = groupOf(name);
      if (!g || g->family != families[f]) continue;
      const std::string reason = lower(std::string_view(name).substr(g->prefix.size()));
      e.sample(families[f], {{"hook", g->hook}, {"reason", reason}}, value);
    }
  }
  e.family("xsmbd_bpf_events_total", "counter",
           "other events the BPF programs counted (XSMB_COUNTERS in bpf/include/xsmb_abi.h)");
  for (size_t i = 0; i < values.size(); ++i) {
    if (groupOf(values[i].first)) continue;
    const std::string counter = lower(values[i].first);
    e.sample("xsmbd_bpf_events_total", {{"counter", counter}}, values[i].second);
  }
}

}  // namespace xsmb::metrics
