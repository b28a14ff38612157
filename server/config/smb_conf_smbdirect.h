// The SMB Direct (MS-SMBD) transport's smb.conf [global] parameters: the credits and sizes it
// offers in the negotiate exchange (MS-SMBD 3.1.1.1, 2.2.2) and its timers (3.1.2). Kept apart
// from the main parameter table so that the transport's settings are read and rendered in one
// place (smb_conf_smbdirect.cc); docs/smbdirect.md lists them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::config {

struct SmbDirectConfig {
  uint32_t receive_credit_max = 255;       // "smb direct receive credit max", 1..65535
  uint32_t send_credit_target = 255;       // "smb direct send credit target", 1..65535
  uint32_t max_send_size = 1364;           // "smb direct max send size", bytes, 128..65536
  uint32_t max_receive_size = 1364;        // "smb direct max receive size", bytes, 128..65536
  uint32_t max_fragmented_size = 1 << 20;  // "smb direct max fragmented size", 131072..16 MiB
  uint32_t max_read_write_size = 1 << 20;  // "smb direct max read write size", 4096..8 MiB
  uint32_t idle_timeout_secs = 120;        // "smb direct idle timeout", s, 0 = no keep-alive
  uint32_t keepalive_timeout_secs = 5;     // "smb direct keepalive timeout", s, 1..600
  uint32_t negotiate_timeout_secs = 5;     // "smb direct negotiate timeout", s, 1..600
  bool operator==(const SmbDirectConfig&) const = default;
};

namespace internal {
// The parameter names, as the table lists them.
const std::vector<const char*>& smbDirectParamNames();
// Sets the parameter `name` (one of smbDirectParamNames) from `value`; an error message when
// the value is not a number in the parameter's range.
bool applySmbDirect(std::string_view name, std::string_view value, SmbDirectConfig* c,
                    std::string* error);
// Each parameter as "name", "value".
void renderSmbDirect(const SmbDirectConfig& c,
                     const std::function<void(const char*, const std::string&)>& line);
}  // namespace internal

}  // namespace xsmb::config
