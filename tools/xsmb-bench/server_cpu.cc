#include "tools/xsmb-bench/server_cpu.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace xsmb::bench {
namespace {

// The contents of a small file such as /proc/PID/stat; nullopt when it cannot be read (the
// process is gone).
std::optional<std::string> readSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (n < 0) return std::nullopt;
  return out;
}

// The next blank-separated word of `s` from *pos, or "" at the end.
std::string_view nextWord(std::string_view s, size_t* pos) {
  size_t b = s.find_first_not_of(" \n", *pos);
  if (b == std::string_view::npos) {
    *pos = s.size();
    return {};
  }
  size_t e = s.find_first_of(" \n", b);
  if (e == std::string_view::npos) e = s.size();
  *pos = e;
  return s.substr(b, e - b);
}

// A whole word of decimal digits (no sign) into *out.
template <typename T>
bool parseDecimal(std::string_view s, T* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

int64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

std::optional<ProcStat> parseProcStat(std::string_view line) {
  size_t open = line.find('(');
  size_t close = line.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat st;
  int pid = 0;
  std::string_view pid_text = line.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!parseDecimal(pid_text, &pid)) return std::nullopt;
  st.pid = pid;
  st.comm = std::string(line.substr(open + 1, close - open - 1));
  // proc(5) numbers the fields from 1: (3) state (4) ppid ... (14) utime (15) stime (16) cutime
  // (17) cstime. Field 3 is the first word after the ')'.
  size_t pos = close + 1;
  std::string_view words[15];
  for (auto& w : words) {
    w = nextWord(line, &pos);
    if (w.empty()) return std::nullopt;
  }
  if (words[0].size() != 1) return std::nullopt;
  st.state = words[0][0];
  int ppid = 0;
  if (!parseDecimal(words[1], &ppid) || !parseDecimal(words[11], &st.utime) ||
      !parseDecimal(words[12], &st.stime) || !parseDecimal(words[13], &st.cutime) ||
      !parseDecimal(words[14], &st.cstime)) {
    return std::nullopt;
  }
  st.ppid = ppid;
  return st;
}

ServerCpu::ServerCpu(std::vector<pid_t> roots, std::string proc_dir)
    : roots_(std::move(roots)), proc_dir_(std::move(proc_dir)) {
  long ticks = sysconf(_SC_CLK_TCK);
  if (ticks > 0) tick_ = 1.0 / static_cast<double>(ticks);
}

CpuSample ServerCpu::sample() const {
  CpuSample out;
  out.mono_ns = monotonicNs();
  // Every process's stat, then the roots' subtrees through the ppid links.
  std::unordered_map<pid_t, ProcStat> by_pid;
  std::unordered_multimap<pid_t, pid_t> children;
  if (DIR* d = ::opendir(proc_dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      int pid = 0;
      if (!parseDecimal(std::string_view(e->d_name), &pid)) continue;
      auto text = readSmallFile(proc_dir_ + "/" + e->d_name + "/stat");
      if (!text) continue;
      auto st = parseProcStat(*text);
      if (!st) continue;
      children.emplace(st->ppid, st->pid);
      by_pid.emplace(st->pid, std::move(*st));
    }
    ::closedir(d);
  }
  std::vector<pid_t> todo(roots_.begin(), roots_.end());
  std::unordered_set<pid_t> seen;
  uint64_t user = 0, system = 0;
  while (!todo.empty()) {
    pid_t pid = todo.back();
    todo.pop_back();
    auto it = by_pid.find(pid);
    if (it == by_pid.end() || !seen.insert(pid).second) continue;
    const ProcStat& st = it->second;
    user += st.utime + st.cutime;
    system += st.stime + st.cstime;
    ++out.processes;
    auto [b, e] = children.equal_range(pid);
    for (; b != e; ++b) todo.push_back(b->second);
  }
  out.cpu.user = static_cast<double>(user) * tick_;
  out.cpu.system = static_cast<double>(system) * tick_;
  return out;
}

CpuPerRequest cpuPerRequest(const CpuSample& before, const CpuSample& after,
                            double requests_per_sec) {
  CpuPerRequest r;
  double wall = static_cast<double>(after.mono_ns - before.mono_ns) / 1e9;
  if (wall <= 0 || requests_per_sec <= 0) return r;
  r.user_us = (after.cpu.user - before.cpu.user) / wall / requests_per_sec * 1e6;
  r.system_us = (after.cpu.system - before.cpu.system) / wall / requests_per_sec * 1e6;
  return r;
}

}  // namespace xsmb::bench
