#include "server/config/smb_conf_hardening.h"

#include <cstdint>
#include <variant>

#include "absl/strings/str_cat.h"
#include "server/config/smb_conf.h"

namespace xsmb::config::internal {
namespace {

struct Numeric {
  const char* name;
  std::variant<uint32_t HardeningConfig::*, uint64_t HardeningConfig::*> field;
  uint64_t min, max;
  const char* unit;
};

constexpr uint64_t kMiB = 1 << 20;

const Numeric kParams[] = {
    {"max open files", &HardeningConfig::max_open_files, 1, 1 << 20, "opens"},
    {"max open files per session", &HardeningConfig::max_open_files_per_session, 1, 1 << 20,
     "opens"},
    {"max sessions per connection", &HardeningConfig::max_sessions_per_connection, 1, 65535,
     "sessions"},
    {"max async requests per connection", &HardeningConfig::max_async_requests, 1, 65536,
     "requests"},
    {"session setup timeout", &HardeningConfig::session_setup_timeout_secs, 0, 3600, "seconds"},
    {"max pending request bytes", &HardeningConfig::max_pending_request_bytes, kMiB, 1024 * kMiB,
     "bytes"},
    {"max unsent reply bytes", &HardeningConfig::max_unsent_reply_bytes, kMiB, 1024 * kMiB,
     "bytes"},
    {"restrict anonymous", &HardeningConfig::restrict_anonymous, 0, 2, ""},
};

}  // namespace

const std::vector<const char*>& hardeningParamNames() {
  static const auto* names = new std::vector<const char*>([] {
    std::vector<const char*> v;
    for (const Numeric& p : kParams) v.push_back(p.name);
    return v;
  }());
  return *names;
}

bool applyHardening(std::string_view name, std::string_view value, HardeningConfig* c,
                    std::string* error) {
  for (const Numeric& p : kParams) {
    if (name != p.name) continue;
    // Byte counts take K/M/G suffixes (powers of 1024), the others plain numbers.
    const bool bytes = std::holds_alternative<uint64_t HardeningConfig::*>(p.field);
    std::optional<uint64_t> n = parseRate(value);
    bool digits_only = !value.empty();
    for (char ch : value) digits_only = digits_only && ch >= '0' && ch <= '9';
    if (!n || (!bytes && !digits_only) || *n < p.min || *n > p.max) {
      *error = absl::StrCat("invalid value \"", std::string(value), "\" for \"", p.name, "\" (",
                            p.min, " to ", p.max, p.unit[0] ? " " : "", p.unit, ")");
      return false;
    }
    if (bytes) {
      c->*std::get<uint64_t HardeningConfig::*>(p.field) = *n;
    } else {
      c->*std::get<uint32_t HardeningConfig::*>(p.field) = static_cast<uint32_t>(*n);
    }
    return true;
  }
  *error = absl::StrCat("unknown hardening parameter \"", std::string(name), "\"");
  return false;
}

void renderHardening(const HardeningConfig& c,
                     const std::function<void(const char*, const std::string&)>& line) {
  for (const Numeric& p : kParams) {
    std::visit([&](auto field) { line(p.name, std::to_string(c.*field)); }, p.field);
  }
}

}  // namespace xsmb::config::internal
