#include "server/config/smb_conf_smbdirect.h"

#include <cctype>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace xsmb::config::internal {
namespace {

struct Numeric {
  const char* name;
  uint32_t SmbDirectConfig::*field;
  uint32_t min, max;
  const char* unit;
};

const Numeric kParams[] = {
    {"smb direct receive credit max", &SmbDirectConfig::receive_credit_max, 1, 65535, "credits"},
    {"smb direct send credit target", &SmbDirectConfig::send_credit_target, 1, 65535, "credits"},
    {"smb direct max send size", &SmbDirectConfig::max_send_size, 128, 65536, "bytes"},
    {"smb direct max receive size", &SmbDirectConfig::max_receive_size, 128, 65536, "bytes"},
    {"smb direct max fragmented size", &SmbDirectConfig::max_fragmented_size, 131072, 16 << 20,
     "bytes"},
    {"smb direct max read write size", &SmbDirectConfig::max_read_write_size, 4096, 8 << 20,
     "bytes"},
    {"smb direct idle timeout", &SmbDirectConfig::idle_timeout_secs, 0, 86400, "seconds"},
    {"smb direct keepalive timeout", &SmbDirectConfig::keepalive_timeout_secs, 1, 600, "seconds"},
    {"smb direct negotiate timeout", &SmbDirectConfig::negotiate_timeout_secs, 1, 600, "seconds"},
};

}  // namespace

const std::vector<const char*>& smbDirectParamNames() {
  static const auto* names = new std::vector<const char*>([] {
    std::vector<const char*> v;
    for (const Numeric& p : kParams) v.push_back(p.name);
    return v;
  }());
  return *names;
}

bool applySmbDirect(std::string_view name, std::string_view value, SmbDirectConfig* c,
                    std::string* error) {
  for (const Numeric& p : kParams) {
    if (name != p.name) continue;
    uint64_t n = 0;
    bool ok = !value.empty() && value.size() <= 10;
    for (char ch : value) {
      ok = ok && std::isdigit(static_cast<unsigned char>(ch));
      if (ok) n = n * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (!ok || n < p.min || n > p.max) {
      *error = absl::StrCat("invalid value \"", std::string(value), "\" for \"", p.name, "\" (",
                            p.min, " to ", p.max, " ", p.unit, ")");
      return false;
    }
    c->*p.field = static_cast<uint32_t>(n);
    return true;
  }
  *error = absl::StrCat("unknown SMB Direct parameter \"", std::string(name), "\"");
  return false;
}

void renderSmbDirect(const SmbDirectConfig& c,
                     const std::function<void(const char*, const std::string&)>& line) {
  for (const Numeric& p : kParams) line(p.name, std::to_string(c.*p.field));
}

}  // namespace xsmb::config::internal
