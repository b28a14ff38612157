// xsmb-bench's output: the results of the workloads as a table or as JSON, with the server's
// CPU per request beside them (when --server_pid was given).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/xsmb-bench/workloads.h"

namespace xsmb::bench {

namespace {
double perSec(uint64_t n, double s) { return s > 0 ? n / s : 0; }

std::string jsonEscape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out;
}

double us(uint64_t ns) { return ns / 1000.0; }

double seconds(const WorkloadResult& r) {
  return r.name == "sessions" || r.name == "connections" ? r.setup_seconds : r.seconds;
}

CpuPerRequest serverCpuPerRequest(const WorkloadResult& r) {
  return cpuPerRequest(r.server_cpu_before, r.server_cpu_after, perSec(r.requests, seconds(r)));
}

// CPUs the server kept busy over the measured interval.
double serverCpus(const WorkloadResult& r) {
  double wall = (r.server_cpu_after.mono_ns - r.server_cpu_before.mono_ns) / 1e9;
  return wall > 0 ? (r.server_cpu_after.cpu.total() - r.server_cpu_before.cpu.total()) / wall : 0;
}

// The table's line for the server's CPU, under the workload's row.
std::string serverCpuLine(const WorkloadResult& r) {
  CpuPerRequest c = serverCpuPerRequest(r);
  return absl::StrFormat(
      "%-10s requests/s %.0f, server CPU per request: user %.2f us, sys %.2f us, total %.2f us "
      "(%.2f CPUs busy, %d processes)\n",
      "", perSec(r.requests, seconds(r)), c.user_us, c.system_us, c.total_us(), serverCpus(r),
      r.server_cpu_after.processes);
}

// The JSON members for requests and the server's CPU (null when it was not read).
std::string serverCpuJson(const WorkloadResult& r) {
  std::string out =
      absl::StrFormat(", \"requests\": %llu, \"requests_per_sec\": %.1f",
                      static_cast<unsigned long long>(r.requests), perSec(r.requests, seconds(r)));
  if (!r.server_cpu_measured) {
    return out +
           ", \"server_cpu_user_us_per_req\": null, \"server_cpu_sys_us_per_req\": null, "
           "\"server_cpu_us_per_req\": null";
  }
  CpuPerRequest c = serverCpuPerRequest(r);
  const CpuSample &a = r.server_cpu_before, &b = r.server_cpu_after;
  return out + absl::StrFormat(
                   ", \"server_cpu_user_us_per_req\": %.3f, \"server_cpu_sys_us_per_req\": %.3f, "
                   "\"server_cpu_us_per_req\": %.3f, \"server_cpus\": %.3f, "
                   "\"server_cpu_user_s\": %.2f, \"server_cpu_sys_s\": %.2f, "
                   "\"server_cpu_wall_s\": %.3f, \"server_processes\": %d",
                   c.user_us, c.system_us, c.total_us(), serverCpus(r), b.cpu.user - a.cpu.user,
                   b.cpu.system - a.cpu.system, (b.mono_ns - a.mono_ns) / 1e9, b.processes);
}
}  // namespace

std::string formatTable(const std::vector<WorkloadResult>& results) {
  std::string out =
      absl::StrFormat("%-10s %5s %4s %8s %12s %10s %10s %10s %10s %7s\n", "workload", "conns", "qd",
                      "block", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "errors");
  for (const auto& r : results) {
    double s = r.name == "sessions" || r.name == "connections" ? r.setup_seconds : r.seconds;
    out += absl::StrFormat("%-10s %5d %4d %8u %12.0f %10.1f %10.1f %10.1f %10.1f %7llu\n", r.name,
                           r.connections, r.queue_depth, r.block_size, perSec(r.ops, s),
                           perSec(r.bytes, s) / 1e6, us(r.latency.percentile(0.5)),
                           us(r.latency.percentile(0.99)), us(r.latency.percentile(0.999)),
                           static_cast<unsigned long long>(r.errors));
    if (r.entries) {
      out += absl::StrFormat("%-10s entries/s %.0f\n", "", perSec(r.entries, s));
    }
    if (r.server_cpu_measured) out += serverCpuLine(r);
    if (r.name == "connections") {
      out += absl::StrFormat(
          "%-10s accepted %llu refused %llu failed %llu served %llu served after hold %llu%s\n", "",
          static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.refused),
          static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.served),
          static_cast<unsigned long long>(r.served_after_hold),
          r.first_error.empty() ? "" : absl::StrCat(" (first error: ", r.first_error, ")"));
    }
  }
  return out;
}

std::string formatJson(const std::vector<WorkloadResult>& results) {
  std::string out = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    double s = r.name == "sessions" || r.name == "connections" ? r.setup_seconds : r.seconds;
    out += absl::StrFormat(
        "%s\n  {\"workload\": \"%s\", \"dialect\": \"%s\", \"signing\": %s, "
        "\"connections\": %d, \"queue_depth\": %d, \"block_size\": %u, \"seconds\": %.3f, "
        "\"ops\": %llu, \"ops_per_sec\": %.1f, \"bytes\": %llu, \"mb_per_sec\": %.2f, "
        "\"entries\": %llu, \"entries_per_sec\": %.1f, "
        "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f, "
        "\"mean\": %.1f}, \"errors\": %llu, \"reconnects\": %llu, \"soft_timeouts\": %llu, "
        "\"hard_timeouts\": %llu, \"out_of_order\": %llu}",
        i ? "," : "", r.name, r.dialect, r.signing ? "true" : "false", r.connections, r.queue_depth,
        r.block_size, s, static_cast<unsigned long long>(r.ops), perSec(r.ops, s),
        static_cast<unsigned long long>(r.bytes), perSec(r.bytes, s) / 1e6,
        static_cast<unsigned long long>(r.entries), perSec(r.entries, s),
        us(r.latency.percentile(0.5)), us(r.latency.percentile(0.99)),
        us(r.latency.percentile(0.999)), us(r.latency.max()), r.latency.mean() / 1000.0,
        static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.reconnects),
        static_cast<unsigned long long>(r.soft_timeouts),
        static_cast<unsigned long long>(r.hard_timeouts),
        static_cast<unsigned long long>(r.out_of_order));
    out.pop_back();  // the closing brace: more members go inside the object
    out += serverCpuJson(r);
    if (r.name == "connections") {
      out += absl::StrFormat(
          ", \"accepted\": %llu, \"refused\": %llu, \"failed\": %llu, \"served\": %llu, "
          "\"served_after_hold\": %llu, \"first_error\": \"%s\"",
          static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.refused),
          static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.served),
          static_cast<unsigned long long>(r.served_after_hold), jsonEscape(r.first_error));
    }
    out += "}";
  }
  out += "\n]\n";
  return out;
}

}  // namespace xsmb::bench
