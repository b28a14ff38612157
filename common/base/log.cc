#include "common/base/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace xsmb {

std::atomic<int> g_log_level{1};

LogLine::~LogLine() {
  static const char* kNames[] = {"E", "W", "I", "D"};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
  std::string line = std::string(kNames[static_cast<int>(level_)]) + " " + ts + "." +
                     std::to_string(1000 + ms).substr(1) + " " + out_.str() + "\n";
  // One write per line so lines from several threads do not interleave.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace xsmb
