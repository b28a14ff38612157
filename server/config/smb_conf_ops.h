// Operations parameters of smb.conf [global] (xsmbd's own, docs/operations.md): the Prometheus
// endpoint's address and the SIGTERM drain bound. Kept apart from the main parameter table, as
// the SMB Direct ones are (smb_conf_smbdirect.h), so they are read and rendered in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::config {

struct OpsConfig {
  // "metrics address": HOST:PORT of the HTTP endpoint serving /metrics, /healthz and /readyz;
  // HOST an IPv4 literal or a bracketed IPv6 one ("[::1]:9445"), PORT 0..65535 (0: any free
  // port, logged). Empty (the default): no endpoint.
  std::string metrics_address;
  // "shutdown timeout": seconds SIGTERM waits for requests in flight to finish and their
  // connections to close before the rest are cut, 0..3600 (0: cut at once).
  uint32_t shutdown_timeout_secs = 10;
  bool operator==(const OpsConfig&) const = default;
};

// Splits "HOST:PORT" / "[HOST]:PORT" into an address literal and a port; false when the text
// has no port, a port above 65535, or a host that is not an IPv4/IPv6 literal.
bool parseHostPort(std::string_view text, std::string* host, uint16_t* port);

namespace internal {
// The parameter names, as the table lists them.
const std::vector<const char*>& opsParamNames();
// Sets the parameter `name` (one of opsParamNames) from `value`; an error message when the value
// is invalid (the field then keeps its value).
bool applyOps(std::string_view name, std::string_view value, OpsConfig* c, std::string* error);
// Each parameter as "name", "value".
void renderOps(const OpsConfig& c,
               const std::function<void(const char*, const std::string&)>& line);
}  // namespace internal

}  // namespace xsmb::config
