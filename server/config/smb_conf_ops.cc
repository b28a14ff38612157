#include "server/config/smb_conf_ops.h"

#include <arpa/inet.h>

#include <cctype>

#include "absl/strings/str_cat.h"

namespace xsmb::config {

bool parseHostPort(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return false;
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (p.size() > 5) return false;
  uint32_t n = 0;
  for (char c : p) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n > 65535) return false;
  const bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
  if (bracketed) h = h.substr(1, h.size() - 2);
  std::string literal(h);
  in6_addr a6{};
  in_addr a4{};
  if (bracketed ? inet_pton(AF_INET6, literal.c_str(), &a6) != 1
                : inet_pton(AF_INET, literal.c_str(), &a4) != 1) {
    return false;
  }
  *host = literal;
  *port = static_cast<uint16_t>(n);
  return true;
}

namespace internal {

const std::vector<const char*>& opsParamNames() {
  static const auto* names = new std::vector<const char*>{"metrics address", "shutdown timeout"};
  return *names;
}

bool applyOps(std::string_view name, std::string_view value, OpsConfig* c, std::string* error) {
  if (name == "metrics address") {
    std::string host;
    uint16_t port = 0;
    if (!value.empty() && !parseHostPort(value, &host, &port)) {
      *error = absl::StrCat("invalid value \"", std::string(value),
                            "\" for \"metrics address\" (IPv4:PORT or [IPv6]:PORT, e.g. "
                            "127.0.0.1:9445; empty for none)");
      return false;
    }
    c->metrics_address = std::string(value);
    return true;
  }
  if (name == "shutdown timeout") {
    uint32_t n = 0;
    bool ok = !value.empty() && value.size() <= 4;
    for (char ch : value) {
      ok = ok && std::isdigit(static_cast<unsigned char>(ch));
      if (ok) n = n * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (!ok || n > 3600) {
      *error = absl::StrCat("invalid value \"", std::string(value),
                            "\" for \"shutdown timeout\" (0 to 3600 seconds)");
      return false;
    }
    c->shutdown_timeout_secs = n;
    return true;
  }
  *error = absl::StrCat("unknown operations parameter \"", std::string(name), "\"");
  return false;
}

void renderOps(const OpsConfig& c,
               const std::function<void(const char*, const std::string&)>& line) {
  line("metrics address", c.metrics_address);
  line("shutdown timeout", std::to_string(c.shutdown_timeout_secs));
}

}  // namespace internal
}  // namespace xsmb::config
