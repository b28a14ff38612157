// xsmb-bench workloads: each runs C connections spread over T threads (one epoll loop per
// thread), keeps Q requests in flight per connection, and measures ops/s, MB/s and latency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/xsmb-bench/client.h"
#include "tools/xsmb-bench/histogram.h"
#include "tools/xsmb-bench/server_cpu.h"

namespace xsmb::bench {

enum class Workload {
  kEcho,    // ECHO
  kCreate,  // CREATE (open-if) + CLOSE of a file name per slot (or one shared name)
  kOpen,    // CREATE (FILE_OPEN, FILE_READ_ATTRIBUTES, FILE_OPEN_REPARSE_POINT, all sharing) +
            // CLOSE of one path that exists, by every slot (default: the share root): the
            // requests of smbtorture's smb2.bench.path-contention-shared
  kStat,    // QUERY_INFO FileAllInformation on an open handle
  kList,    // CREATE dir + QUERY_DIRECTORY until STATUS_NO_MORE_FILES + CLOSE
  kSeqRead,
  kRandRead,
  kSeqWrite,
  kRandWrite,
  kSessions,     // N sessions (connection + logon + tree connect) held open, idle
  kConnections,  // N connections NEGOTIATEd (or logged on) at once, each proven served by ECHO
};
bool parseWorkload(const std::string& name, Workload* out);
const char* workloadName(Workload w);

struct BenchOptions {
  ClientOptions client;
  int connections = 1;
  int threads = 1;
  int queue_depth = 1;             // requests in flight per connection
  uint32_t block_size = 65536;     // READ/WRITE size, bytes
  uint64_t file_size = 64u << 20;  // bytes of the file the I/O workloads use
  std::string path;                // file (I/O, stat), directory (list) or create name
  bool shared_path = false;        // create: every slot opens the same name
  bool mxac = false;               // create, open: ask the maximal access (MxAc), as Windows does
  double duration = 10;            // seconds measured
  double warmup = 1;               // seconds run before measuring
  int sessions = 0;                // kSessions: how many
  double hold = 0;                 // kSessions: seconds to hold them (0 = until SIGINT/SIGTERM)
  bool progress = true;
  bool reconnect = true;     // log on again when a connection drops, and go on
  int connect_window = 256;  // kConnections: connects + NEGOTIATEs in flight at once (all threads)
  bool logon = false;        // kConnections: SESSION_SETUP + TREE_CONNECT on each connection too
  // The server's processes (with everything below them) whose CPU is read at the start and the
  // end of each measured interval; empty: not read. Not for kSessions and kConnections.
  std::vector<pid_t> server_pids;
};

struct WorkloadResult {
  std::string name;
  std::string dialect;
  bool signing = false;
  int connections = 0, queue_depth = 0;
  uint32_t block_size = 0;
  double seconds = 0;
  uint64_t ops = 0, bytes = 0, entries = 0, errors = 0, reconnects = 0;
  // SMB2 requests answered within the interval, of operations that succeeded or failed (a
  // create op is a CREATE and a CLOSE, a listing a CREATE, its QUERY_DIRECTORYs and a CLOSE).
  uint64_t requests = 0;
  uint64_t soft_timeouts = 0, hard_timeouts = 0, out_of_order = 0;
  // With BenchOptions::server_pids: the server's CPU when the measured interval started and
  // when it ended.
  bool server_cpu_measured = false;
  CpuSample server_cpu_before, server_cpu_after;
  Histogram latency;         // per operation (a create+close or a listing is one operation)
  double setup_seconds = 0;  // kSessions, kConnections: time to establish them all
  // kConnections: connections NEGOTIATEd (logged on with --logon); closed by the server before
  // any reply; failed otherwise (connect error, timeout, error status); answering an ECHO right
  // after the setup, and again after the hold.
  uint64_t accepted = 0, refused = 0, failed = 0, served = 0, served_after_hold = 0;
  std::string first_error;  // kConnections: the first failure other than a refusal
};

// Runs one workload to completion. Errors: the first connection could not log on, or the
// workload's files could not be prepared.
absl::StatusOr<WorkloadResult> runWorkload(Workload w, const BenchOptions& opts);

// Human table (one row per result) and JSON (an array of objects) renderings.
std::string formatTable(const std::vector<WorkloadResult>& results);
std::string formatJson(const std::vector<WorkloadResult>& results);

}  // namespace xsmb::bench
