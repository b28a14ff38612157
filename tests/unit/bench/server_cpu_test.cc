#include "tools/xsmb-bench/server_cpu.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace xsmb::bench {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ParseProcStatTest, RealSelfStat) {
  auto st = parseProcStat(readFile("/proc/self/stat"));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, getpid());
  EXPECT_EQ(st->ppid, getppid());
  std::string comm = readFile("/proc/self/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  EXPECT_EQ(st->comm, comm);
  EXPECT_EQ(st->state, 'R');  // reading its own stat, it runs
}

// proc(5) fields 1-17 and a few after: pid (comm) state ppid pgrp session tty_nr tpgid flags
// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice ...
struct StatCase {
  const char* description;
  std::string line;
  bool ok;
  ProcStat expected;
};

TEST(ParseProcStatTest, Table) {
  const std::string tail = " 20 0 1 0 123 4096 1 18446744073709551615\n";
  const StatCase cases[] = {
      {"plain",
       "42 (smbd) S 1 42 42 0 -1 4194560 10 20 0 0 150 75 30 12" + tail,
       true,
       {42, "smbd", 'S', 1, 150, 75, 30, 12}},
      {"comm with spaces and parentheses",
       "7 (a) b (c) R 3 7 7 0 -1 0 0 0 0 0 5 6 7 8" + tail,
       true,
       {7, "a) b (c", 'R', 3, 5, 6, 7, 8}},
      {"comm that looks like fields",
       "9 () S 1 2 3) Z 4 9 9 0 -1 0 0 0 0 0 1 2 3 4" + tail,
       true,
       {9, ") S 1 2 3", 'Z', 4, 1, 2, 3, 4}},
      {"empty comm",
       "5 () S 2 5 5 0 -1 0 0 0 0 0 0 0 0 0" + tail,
       true,
       {5, "", 'S', 2, 0, 0, 0, 0}},
      {"large tick counts",
       "1 (x) S 0 1 1 0 -1 0 0 0 0 0 4294967296 8589934592 1 2" + tail,
       true,
       {1, "x", 'S', 0, 4294967296ull, 8589934592ull, 1, 2}},
      {"no closing parenthesis", "5 (smbd S 1 5 5 0 -1 0 0 0 0 0 1 2 3 4", false, {}},
      {"no opening parenthesis", "5 smbd) S 1 5 5 0 -1 0 0 0 0 0 1 2 3 4", false, {}},
      {"utime not a number", "5 (x) S 1 5 5 0 -1 0 0 0 0 0 1x 2 3 4", false, {}},
      {"negative cstime", "5 (x) S 1 5 5 0 -1 0 0 0 0 0 1 2 3 -4", false, {}},
      {"state of two letters", "5 (x) SS 1 5 5 0 -1 0 0 0 0 0 1 2 3 4", false, {}},
      {"pid not a number", "p5 (x) S 1 5 5 0 -1 0 0 0 0 0 1 2 3 4", false, {}},
      {"empty", "", false, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto st = parseProcStat(c.line);
    ASSERT_EQ(st.has_value(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(st->pid, c.expected.pid);
    EXPECT_EQ(st->comm, c.expected.comm);
    EXPECT_EQ(st->state, c.expected.state);
    EXPECT_EQ(st->ppid, c.expected.ppid);
    EXPECT_EQ(st->utime, c.expected.utime);
    EXPECT_EQ(st->stime, c.expected.stime);
    EXPECT_EQ(st->cutime, c.expected.cutime);
    EXPECT_EQ(st->cstime, c.expected.cstime);
  }
}

// Cut anywhere before its last needed number starts, a line does not parse.
TEST(ParseProcStatTest, TruncatedLines) {
  const std::string line = "7 (a) b (c) R 3 7 7 0 -1 0 0 0 0 0 5 6 7 8 20 0 1\n";
  size_t last = line.find(" 8 20") + 1;
  for (size_t n = 0; n < last; ++n) {
    EXPECT_FALSE(parseProcStat(line.substr(0, n)).has_value()) << n;
  }
  EXPECT_TRUE(parseProcStat(line.substr(0, last + 1)).has_value());
}

// A /proc of its own: a server (100) with a child (101) and a grandchild (102), an unrelated
// process (200), and an entry that is not a process.
class FakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/server_cpu_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    add(100, "smbd", 1, 100, 10, 1000, 100);
    add(101, "smbd[conn]", 100, 20, 30, 0, 0);
    add(102, "a) b (c", 101, 1, 2, 3, 4);
    add(200, "other", 1, 5000, 5000, 5000, 5000);
    std::filesystem::create_directories(dir_ + "/self");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void add(int pid, const std::string& comm, int ppid, int utime, int stime, int cutime,
           int cstime) {
    std::string d = dir_ + "/" + std::to_string(pid);
    std::filesystem::create_directories(d);
    std::ofstream(d + "/stat") << pid << " (" << comm << ") S " << ppid << " " << pid << " " << pid
                               << " 0 -1 0 0 0 0 0 " << utime << " " << stime << " " << cutime
                               << " " << cstime << " 20 0 1 0 1 1 1\n";
  }

  std::string dir_;
  double tick_ = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
};

TEST_F(FakeProcTest, SumsTheTreeBelowTheRoots) {
  struct Case {
    const char* description;
    std::vector<pid_t> roots;
    int processes;
    uint64_t user_ticks, system_ticks;
  };
  const Case cases[] = {
      {"the server and its descendants",
       {100},
       3,
       100 + 1000 + 20 + 0 + 1 + 3,
       10 + 100 + 30 + 0 + 2 + 4},
      {"a child as root", {101}, 2, 20 + 1 + 3, 30 + 2 + 4},
      {"two roots, one below the other: counted once", {100, 102}, 3, 1124, 146},
      {"a root that is gone", {999}, 0, 0, 0},
      {"no roots", {}, 0, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    CpuSample s = ServerCpu(c.roots, dir_).sample();
    EXPECT_EQ(s.processes, c.processes);
    EXPECT_DOUBLE_EQ(s.cpu.user, static_cast<double>(c.user_ticks) * tick_);
    EXPECT_DOUBLE_EQ(s.cpu.system, static_cast<double>(c.system_ticks) * tick_);
  }
}

double cpuSecondsOfThisProcess() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A live child counts as a descendant; once reaped, its time is in the parent's cutime/cstime.
TEST(ServerCpuTest, ChildrenLiveAndReaped) {
  ServerCpu self({getpid()});
  CpuSample s0 = self.sample();
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    volatile uint64_t x = 0;
    while (cpuSecondsOfThisProcess() < 0.2) x = x + 1;
    char b = 1;
    if (write(ready[1], &b, 1) != 1) _exit(1);
    if (read(release[0], &b, 1) != 1) _exit(1);
    _exit(0);
  }
  char b;
  ASSERT_EQ(read(ready[0], &b, 1), 1);
  CpuSample s1 = self.sample();
  EXPECT_GE(s1.processes, s0.processes + 1);
  EXPECT_GE(s1.cpu.total() - s0.cpu.total(), 0.1);  // the child's 0.2 s, in 10 ms ticks
  ASSERT_EQ(write(release[1], &b, 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  CpuSample s2 = self.sample();
  EXPECT_EQ(s2.processes, s1.processes - 1);
  EXPECT_GE(s2.cpu.total(), s1.cpu.total());  // moved to cutime/cstime, not lost
  EXPECT_GT(s2.mono_ns, s1.mono_ns);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
}

TEST(CpuPerRequestTest, RatesOverTheInterval) {
  CpuSample before{{1.0, 2.0}, 1, 0};
  CpuSample after{{3.0, 6.0}, 1, 2'000'000'000};
  // 1 CPU of user and 2 of system time over 2 s, at 1000 requests/s.
  CpuPerRequest r = cpuPerRequest(before, after, 1000);
  EXPECT_DOUBLE_EQ(r.user_us, 1000);
  EXPECT_DOUBLE_EQ(r.system_us, 2000);
  EXPECT_DOUBLE_EQ(r.total_us(), 3000);
  EXPECT_EQ(cpuPerRequest(before, after, 0).total_us(), 0);
  EXPECT_EQ(cpuPerRequest(after, before, 1000).total_us(), 0);
}

}  // namespace
}  // namespace xsmb::bench
