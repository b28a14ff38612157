// SMB over QUIC's smb.conf [global] parameters (MS-SMB2 2.1), with Samba's names where Samba
// has them: "server smb transports" (Samba 4.22+: a list of tcp, nbt, quic; "+quic" adds QUIC
// to the default "tcp, nbt"), "tls certfile" and "tls keyfile" (PEM files), and xsmbd's own
// "quic port" (UDP, default 443), "quic idle timeout", and the AF_XDP receive mode's "quic xdp
// interface" / "quic xdp mode" (docs/quic.md). Kept apart from the main table, as the SMB Direct
// and hardening parameters are (smb_conf_quic.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::config {

struct QuicConfig {
  bool tcp = true;           // "server smb transports" lists tcp (xsmbd always serves TCP)
  bool quic = false;         // "server smb transports" lists quic
  std::string tls_certfile;  // "tls certfile": the server's certificate chain, PEM
  std::string tls_keyfile;   // "tls keyfile": its private key, PEM (unencrypted)
  uint32_t quic_port = 443;  // "quic port": UDP, 1..65535
  uint32_t quic_idle_timeout_secs = 120;  // "quic idle timeout": max_idle_timeout (RFC 9000
                                          // 10.1), seconds, 5..3600
  // "quic xdp interface": the interface whose receive queues get the AF_XDP sockets (one per
  // worker and queue) and the QUIC XDP program; "" (the default) = socket mode only.
  std::string quic_xdp_interface;
  // "quic xdp mode": how the XSKs bind. auto = zero-copy where the driver has it, else copy
  // (veth); copy; zerocopy = zero-copy or no AF_XDP mode (sockets only, logged).
  enum class XdpMode { kAuto, kCopy, kZeroCopy };
  XdpMode quic_xdp_mode = XdpMode::kAuto;
  bool operator==(const QuicConfig&) const = default;
};

namespace internal {
// The parameter names, as the table lists them.
const std::vector<const char*>& quicParamNames();
// Sets the parameter `name` (one of quicParamNames) from `value`; an error message when the
// value is not valid for it.
bool applyQuic(std::string_view name, std::string_view value, QuicConfig* c, std::string* error);
// What no single line can check: quic listed without both "tls certfile" and "tls keyfile".
// "" when the combination is fine.
std::string checkQuic(const QuicConfig& c);
// "auto", "copy" or "zerocopy".
const char* xdpModeName(QuicConfig::XdpMode m);
// Each parameter as "name", "value".
void renderQuic(const QuicConfig& c,
                const std::function<void(const char*, const std::string&)>& line);
}  // namespace internal

}  // namespace xsmb::config
