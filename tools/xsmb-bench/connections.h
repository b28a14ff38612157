// xsmb-bench's connections workload: how many concurrent connections a server accepts and
// serves, from one process (non-blocking connects and one epoll loop per thread).
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "tools/xsmb-bench/workloads.h"

namespace xsmb::bench {

// Opens opts.connections TCP connections with at most opts.connect_window connects and
// NEGOTIATEs in flight (all threads together), NEGOTIATEs on each (MS-SMB2 3.2.4.2.1; with
// opts.logon also SESSION_SETUP and TREE_CONNECT, one blocking logon at a time per thread),
// keeps every one open, sends one ECHO (MS-SMB2 2.2.28) on each accepted connection, holds
// them opts.hold seconds (0: until `interrupted()` says so), ECHOes on each again and closes
// them all. Result: ops = accepted connections, seconds = setup time, latency = connect to
// NEGOTIATE (or logon) reply, plus the accepted / refused / failed / served counts. A
// connection the server closes before any reply counts as refused. Errors: the server address
// does not resolve.
absl::StatusOr<WorkloadResult> runConnections(const BenchOptions& opts,
                                              const std::function<bool()>& interrupted);

}  // namespace xsmb::bench
