// The CPU time a server spends, read from /proc: for xsmb-bench's server CPU per request. A
// server is its processes (xsmbd, Samba's smbd) and every live process below them; each one's
// /proc/PID/stat counts all its threads, and its cutime/cstime the children it has reaped (smbd
// forks one per connection), so a child's time moves from its own line to its parent's when it
// exits and is counted once either way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::bench {

// The fields of one /proc/PID/stat line (proc(5)) that the sampler needs. Times are in clock
// ticks (sysconf(_SC_CLK_TCK), 100 per second on Linux).
struct ProcStat {
  pid_t pid = 0;
  std::string comm;  // without the parentheses; may itself contain spaces and ')'
  char state = 0;
  pid_t ppid = 0;
  uint64_t utime = 0, stime = 0;    // the whole thread group, exited threads included
  uint64_t cutime = 0, cstime = 0;  // children it has waited for (and theirs)
};

// Parses one /proc/PID/stat line: "pid (comm) state ppid ... utime stime cutime cstime ...".
// comm is whatever lies between the first '(' and the last ')', since a process may name
// itself "a) b (c". nullopt when the line is cut short or a number does not parse.
std::optional<ProcStat> parseProcStat(std::string_view line);

// CPU seconds, user and system apart.
struct CpuTimes {
  double user = 0, system = 0;
  double total() const { return user + system; }
};

// One reading of a server's CPU.
struct CpuSample {
  CpuTimes cpu;         // utime+cutime and stime+cstime summed over the processes
  int processes = 0;    // the roots still alive and their live descendants
  int64_t mono_ns = 0;  // CLOCK_MONOTONIC when the reading was taken
};

// Reads the CPU of `roots` and of every live process below them, found through the ppid of
// each /proc/*/stat (`proc_dir` for tests). A root that is gone counts nothing.
class ServerCpu {
 public:
  explicit ServerCpu(std::vector<pid_t> roots, std::string proc_dir = "/proc");

  CpuSample sample() const;
  const std::vector<pid_t>& roots() const { return roots_; }

 private:
  std::vector<pid_t> roots_;
  std::string proc_dir_;
  double tick_ = 0.01;  // seconds per clock tick
};

// Server CPU per request, microseconds: the CPUs busy between two samples (CPU seconds per
// wall second) over the requests per second measured across about the same interval. Rates,
// so that a reading taken a little late at either end does not count. Zeros when the samples
// are not in order or no request was answered.
struct CpuPerRequest {
  double user_us = 0, system_us = 0;
  double total_us() const { return user_us + system_us; }
};
CpuPerRequest cpuPerRequest(const CpuSample& before, const CpuSample& after,
                            double requests_per_sec);

}  // namespace xsmb::bench
