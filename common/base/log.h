// Minimal leveled logging to stderr (Abseil's logging library is newer than Debian 12's Abseil).
// XLOG(INFO) << "text"; levels follow Samba's "log level" numbers: 0 errors, 1 warnings,
// 2 notices (connections, logons), 3+ debug detail.
#pragma once

#include <atomic>
#include <sstream>

namespace xsmb {

enum class LogLevel : int { ERROR = 0, WARNING = 1, INFO = 2, DEBUG = 3 };

extern std::atomic<int> g_log_level;

class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream out_;
};

inline bool logEnabled(LogLevel l) {
  return static_cast<int>(l) <= g_log_level.load(std::memory_order_relaxed);
}

}  // namespace xsmb

#define XLOG(level)                                   \
  if (!::xsmb::logEnabled(::xsmb::LogLevel::level)) { \
  } else                                              \
    ::xsmb::LogLine(::xsmb::LogLevel::level)
