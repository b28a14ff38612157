// xsmb-bench: a load generator for SMB2/3 servers (xsmbd, Samba, Windows) on its own small
// client transport. Runs one or more workloads in turn and prints ops/s, MB/s and latency
// percentiles as a table, or as JSON with --json; with --server_pid also the server's CPU per
// request, user and system apart.
//
//   xsmb-bench --port 4450 --user bench --password secret --share bench \
//       --workload randread --block 4096 --qd 32 --duration 10
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/base/manual.h"
#include "common/base/manual_flags.h"
#include "tools/xsmb-bench/quic_tunnels.h"
#include "tools/xsmb-bench/workloads.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "server address");
ABSL_FLAG(int, port, 445, "server TCP port");
ABSL_FLAG(std::string, transport, "tcp",
          "tcp, or quic: SMB 3.1.1 over QUIC (MS-SMB2 2.1), each connection its own QUIC "
          "connection to --quic_port, SMB2_TRANSPORT_CAPABILITIES offered");
ABSL_FLAG(int, quic_port, 443, "--transport quic: the server's UDP port");
ABSL_FLAG(std::string, quic_ca, "", "--transport quic: PEM file of the server certificate's CA");
ABSL_FLAG(bool, quic_insecure, false, "--transport quic: accept any server certificate");
ABSL_FLAG(std::string, quic_sni, "localhost", "--transport quic: TLS server name");
ABSL_FLAG(bool, quic_gso, false,
          "--transport quic: send packets of one size in UDP GSO batches (UDP_SEGMENT)");
ABSL_FLAG(std::string, user, "", "user name (empty: anonymous)");
ABSL_FLAG(std::string, password, "", "password (or the environment variable XSMB_BENCH_PASSWORD)");
ABSL_FLAG(std::string, domain, "", "NTLM domain");
ABSL_FLAG(std::string, share, "", "share name");
ABSL_FLAG(std::string, max_dialect, "3.1.1", "highest dialect offered: 2.0.2 2.1 3.0 3.0.2 3.1.1");
ABSL_FLAG(bool, sign, false, "sign requests even when the server does not require it");
ABSL_FLAG(std::string, workload, "echo",
          "comma-separated: echo create open stat list seqread randread seqwrite randwrite "
          "sessions connections");
ABSL_FLAG(int, connections, 1,
          "connections (each its own session and tree connect; the connections workload: "
          "how many to open at once)");
ABSL_FLAG(int, threads, 1, "client threads (each an epoll loop over its connections)");
ABSL_FLAG(int, qd, 1, "requests in flight per connection");
ABSL_FLAG(std::string, block, "64k", "READ/WRITE size (suffix k or m)");
ABSL_FLAG(std::string, file_size, "64m", "size of the file the I/O workloads use");
ABSL_FLAG(std::string, path, "",
          "file (I/O, stat), directory (list) or name prefix (create), relative to the share");
ABSL_FLAG(bool, shared_path, false, "create: every slot opens the same --path");
ABSL_FLAG(bool, mxac, false, "create, open: each CREATE asks the maximal access (MxAc context)");
ABSL_FLAG(double, duration, 10, "seconds measured per workload");
ABSL_FLAG(double, warmup, 1, "seconds run before measuring");
ABSL_FLAG(int, sessions, 100, "sessions workload: number of sessions held open");
ABSL_FLAG(double, hold, 0,
          "sessions and connections workloads: seconds to hold them (0: until SIGINT/SIGTERM)");
ABSL_FLAG(int, connect_window, 256,
          "connections workload: connects and NEGOTIATEs in flight at once (keep it below the "
          "server's listen backlog)");
ABSL_FLAG(bool, logon, false,
          "connections workload: also SESSION_SETUP and TREE_CONNECT on each connection");
ABSL_FLAG(int, credits, 512, "credits to ask the server for");
ABSL_FLAG(int, soft_timeout_ms, 2000, "unanswered this long: send an ECHO probe (0 = off)");
ABSL_FLAG(int, hard_timeout_ms, 30000, "unanswered this long: drop and reconnect (0 = off)");
ABSL_FLAG(int, echo_interval_ms, 0, "idle connections send an ECHO this often (0 = never)");
ABSL_FLAG(bool, reconnect, true, "log on again when a connection drops");
ABSL_FLAG(bool, json, false, "print JSON instead of the table");
ABSL_FLAG(std::string, out, "",
          "also write the JSON to this file and plots beside it (FILE.png, FILE.svg; by "
          "xsmb-bench-plot next to this binary, which needs python3-matplotlib)");
ABSL_FLAG(bool, progress, true, "progress line on stderr while running");
ABSL_FLAG(std::vector<std::string>, server_pid, {},
          "the server's process ids, comma-separated or the flag repeated: their CPU (user and "
          "system, every thread, reaped children and live descendants, from /proc) is read as "
          "each measured interval starts and ends, and reported per request");

namespace {

bool parseSize(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t mult = 1;
  std::string num = s;
  char last = s.back();
  if (last == 'k' || last == 'K') mult = 1024;
  if (last == 'm' || last == 'M') mult = 1024 * 1024;
  if (last == 'g' || last == 'G') mult = 1024ULL * 1024 * 1024;
  if (mult != 1) num.pop_back();
  uint64_t v;
  if (!absl::SimpleAtoi(num, &v)) return false;
  *out = v * mult;
  return true;
}

bool parseDialect(const std::string& s, uint16_t* out) {
  static const std::pair<const char*, uint16_t> kNames[] = {
      {"2.0.2", 0x0202}, {"2.1", 0x0210}, {"3.0", 0x0300}, {"3.0.2", 0x0302}, {"3.1.1", 0x0311}};
  for (auto& [n, d] : kNames) {
    if (s == n) {
      *out = d;
      return true;
    }
  }
  return false;
}

// Thousands of connections need thousands of descriptors: the soft limit goes to the hard one,
// and as root the hard limit to `want` (capped by /proc/sys/fs/nr_open). Warns when `want`
// descriptors are still not allowed.
void raiseFileLimit(rlim_t want) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (want > rl.rlim_max && geteuid() == 0) {
    rlim_t cap = want;
    if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
      unsigned long long v = 0;
      if (std::fscanf(f, "%llu", &v) == 1) cap = static_cast<rlim_t>(v);
      std::fclose(f);
    }
    rlimit raised{std::min(want, cap), std::min(want, cap)};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    std::fprintf(
        stderr, "xsmb-bench: RLIMIT_NOFILE is %llu, %llu wanted: connections beyond it fail\n",
        static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(want));
  }
}

// Every value of `--name` / `-name` on the command line (absl keeps only the last), each split
// at commas.
std::vector<std::string> allValuesOf(int argc, char** argv, std::string_view name) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    a.remove_prefix(a.starts_with("--") ? 2 : a.starts_with("-") ? 1 : 0);
    if (!a.starts_with(name)) continue;
    a.remove_prefix(name.size());
    std::string_view v;
    if (a.starts_with("=")) {
      v = a.substr(1);
    } else if (a.empty() && i + 1 < argc) {
      v = argv[++i];
    } else {
      continue;
    }
    std::vector<std::string> parts = absl::StrSplit(std::string(v), ',', absl::SkipEmpty());
    values.insert(values.end(), parts.begin(), parts.end());
  }
  return values;
}

// --server_pid as pids; false (after saying why) when one is not a positive number.
bool serverPids(int argc, char** argv, std::vector<pid_t>* out) {
  for (const std::string& v : allValuesOf(argc, argv, "server_pid")) {
    int pid = 0;
    if (!absl::SimpleAtoi(v, &pid) || pid <= 0) {
      std::fprintf(stderr, "xsmb-bench: bad --server_pid %s\n", v.c_str());
      return false;
    }
    out->push_back(pid);
  }
  return true;
}

// The options the flags give; false (after saying why) when one does not parse.
bool optionsFromFlags(int argc, char** argv, xsmb::bench::BenchOptions* o) {
  o->client.host = absl::GetFlag(FLAGS_host);
  o->client.port = static_cast<uint16_t>(absl::GetFlag(FLAGS_port));
  o->client.credentials.user = absl::GetFlag(FLAGS_user);
  o->client.credentials.password = absl::GetFlag(FLAGS_password);
  if (o->client.credentials.password.empty()) {
    if (const char* p = std::getenv("XSMB_BENCH_PASSWORD")) o->client.credentials.password = p;
  }
  o->client.credentials.domain = absl::GetFlag(FLAGS_domain);
  o->client.share = absl::GetFlag(FLAGS_share);
  o->client.sign = absl::GetFlag(FLAGS_sign);
  if (!parseDialect(absl::GetFlag(FLAGS_max_dialect), &o->client.max_dialect)) {
    std::fprintf(stderr, "xsmb-bench: unknown dialect %s\n",
                 absl::GetFlag(FLAGS_max_dialect).c_str());
    return false;
  }
  o->client.transport.credit_target = static_cast<uint16_t>(absl::GetFlag(FLAGS_credits));
  o->client.transport.soft_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_soft_timeout_ms));
  o->client.transport.hard_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_hard_timeout_ms));
  o->client.transport.echo_interval =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_echo_interval_ms));
  o->connections = absl::GetFlag(FLAGS_connections);
  o->threads = absl::GetFlag(FLAGS_threads);
  o->queue_depth = std::max(1, absl::GetFlag(FLAGS_qd));
  uint64_t block = 0, file_size = 0;
  if (!parseSize(absl::GetFlag(FLAGS_block), &block) || block == 0 || block > (8u << 20) ||
      !parseSize(absl::GetFlag(FLAGS_file_size), &file_size)) {
    std::fprintf(stderr, "xsmb-bench: bad --block or --file_size\n");
    return false;
  }
  o->block_size = static_cast<uint32_t>(block);
  o->file_size = file_size;
  o->path = absl::GetFlag(FLAGS_path);
  o->shared_path = absl::GetFlag(FLAGS_shared_path);
  o->mxac = absl::GetFlag(FLAGS_mxac);
  o->duration = absl::GetFlag(FLAGS_duration);
  o->warmup = absl::GetFlag(FLAGS_warmup);
  o->sessions = absl::GetFlag(FLAGS_sessions);
  o->hold = absl::GetFlag(FLAGS_hold);
  o->reconnect = absl::GetFlag(FLAGS_reconnect);
  o->progress = absl::GetFlag(FLAGS_progress);
  o->connect_window = std::max(1, absl::GetFlag(FLAGS_connect_window));
  o->logon = absl::GetFlag(FLAGS_logon);
  return serverPids(argc, argv, &o->server_pids);
}

// --transport: nothing for tcp; for quic the tunnels started and o->client pointed at them.
// false (after saying why) for another name or when the tunnels cannot start.
bool startTransport(xsmb::bench::BenchOptions* o,
                    std::unique_ptr<xsmb::bench::QuicTunnels>* quic) {
  const std::string t = absl::GetFlag(FLAGS_transport);
  if (t == "tcp") return true;
  if (t != "quic") {
    std::fprintf(stderr, "xsmb-bench: unknown --transport %s (tcp, quic)\n", t.c_str());
    return false;
  }
  xsmb::bench::QuicTunnelOptions q;
  q.host = o->client.host;
  q.port = static_cast<uint16_t>(absl::GetFlag(FLAGS_quic_port));
  q.ca = absl::GetFlag(FLAGS_quic_ca);
  q.insecure = absl::GetFlag(FLAGS_quic_insecure);
  q.sni = absl::GetFlag(FLAGS_quic_sni);
  q.gso = absl::GetFlag(FLAGS_quic_gso);
  auto started = xsmb::bench::QuicTunnels::start(q);
  if (!started.ok()) {
    std::fprintf(stderr, "xsmb-bench: %s\n", started.status().ToString().c_str());
    return false;
  }
  *quic = std::move(*started);
  o->client.host = "127.0.0.1";
  o->client.port = (*quic)->port();
  o->client.transport_security = true;
  return true;
}

// --out: the JSON in `path`, then xsmb-bench-plot (tools/bench/plot.py, installed beside this
// binary) draws it into path.png and path.svg. false when the JSON cannot be written; a missing
// plotter or matplotlib is reported and not an error.
bool writeJsonAndPlot(const std::string& path, const std::vector<xsmb::bench::WorkloadResult>& r) {
  FILE* f = std::fopen(path.c_str(), "w");
  std::string json = xsmb::bench::formatJson(r);
  if (!f || std::fwrite(json.data(), 1, json.size(), f) != json.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "xsmb-bench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::error_code ec;
  std::filesystem::path plot =
      std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "xsmb-bench-plot";
  if (access(plot.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "xsmb-bench: %s missing: no plots\n", plot.c_str());
    return true;
  }
  pid_t pid = fork();
  if (pid == 0) {
    execl(plot.c_str(), plot.c_str(), path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  return true;
}

xsmb::Manual benchManual() {
  xsmb::Manual m;
  m.name = "xsmb-bench - load generator for SMB2/SMB3 servers";
  m.synopsis =
      "xsmb-bench --port P --share S [--user U --password W] [--workload LIST] [--json] ...\n"
      "xsmb-bench --help";
  m.description =
      "xsmb-bench drives an SMB2/3 server (xsmbd, Samba, Windows) from its own small client "
      "transport: it connects, negotiates, logs on (NTLMv2, or anonymously), connects the tree, "
      "and runs each workload of --workload in turn for --duration seconds after --warmup "
      "seconds. It prints operations per second, MB/s and latency percentiles per workload, as "
      "a table or, with --json, as JSON; with --server_pid also the server's CPU per request. "
      "tools/bench/run.sh runs it against xsmbd and Samba and compares them.\n\n"
      "Workloads: echo, create, stat, list, seqread, randread, seqwrite, randwrite (on a file "
      "of --file_size, --block bytes per request, --qd in flight per connection), sessions and "
      "connections (how many a server holds).";
  m.entries = xsmb::flagEntries("xsmb-bench/main.cc", false);
  m.sections = {
      {"EXAMPLE", "xsmb-bench --port 4450 --user bench --password secret --share bench "
                  "--workload randread --block 4096 --qd 32 --duration 10"},
      {"ENVIRONMENT", "XSMB_BENCH_PASSWORD: the password when --password is empty."},
      {"EXIT STATUS", "0 when every workload ran; 1 when one failed (the others still report); "
                      "2 for a usage error."},
      {"SEE ALSO", "xsmbd(8), smbtorture(1); docs/performance.md."}};
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (xsmb::wantsManual(argc, argv)) {
    std::fputs(xsmb::renderManual(benchManual()).c_str(), stdout);
    return 0;
  }
  absl::SetProgramUsageMessage("SMB2/3 load generator: xsmb-bench --port P --share S ...");
  absl::ParseCommandLine(argc, argv);
  using namespace xsmb::bench;

  BenchOptions o;
  if (!optionsFromFlags(argc, argv, &o)) return 2;
  std::vector<std::string> names =
      absl::StrSplit(absl::GetFlag(FLAGS_workload), ',', absl::SkipEmpty());
  // Only NEGOTIATE-only connections go without a tree.
  bool needs_share = o.logon || std::any_of(names.begin(), names.end(),
                                            [](const auto& n) { return n != "connections"; });
  if (needs_share && o.client.share.empty()) {
    std::fprintf(stderr, "xsmb-bench: --share is required\n");
    return 2;
  }
  // Connections plus the epoll descriptors, the standard streams and some slack.
  // Connections (twice and a UDP socket each over QUIC) plus the epoll descriptors, the
  // standard streams and some slack.
  raiseFileLimit(static_cast<rlim_t>(std::max({o.connections, o.sessions, 0})) * 4 + 64);
  std::unique_ptr<QuicTunnels> quic;
  if (!startTransport(&o, &quic)) return 2;

  std::vector<WorkloadResult> results;
  int rc = 0;
  for (const std::string& name : names) {
    Workload w;
    if (!parseWorkload(name, &w)) {
      std::fprintf(stderr, "xsmb-bench: unknown workload %s\n", name.c_str());
      return 2;
    }
    auto r = runWorkload(w, o);
    if (!r.ok()) {
      std::fprintf(stderr, "xsmb-bench: %s: %s\n", name.c_str(), r.status().ToString().c_str());
      rc = 1;
      continue;
    }
    results.push_back(std::move(*r));
  }
  std::string out = absl::GetFlag(FLAGS_json) ? formatJson(results) : formatTable(results);
  std::fputs(out.c_str(), stdout);
  if (!absl::GetFlag(FLAGS_out).empty() && !writeJsonAndPlot(absl::GetFlag(FLAGS_out), results)) {
    rc = 1;
  }
  return rc;
}
