// xsmb-bench --transport quic: SMB 3.1.1 over QUIC (MS-SMB2 2.1; RFC 9000, ALPN "smb", TLS 1.3
// with RFC 9001) with the same client transport as over TCP. Every benchmark connection gets a
// QUIC connection of its own, one bidirectional stream carrying the Direct TCP 4-byte framing:
// the bench connects over loopback TCP to an in-process tunnel loop (common/quic/tunnel_loop.h,
// the client of xsmb-quic-bridge) running on a thread of its own. Its CPU is the bench's, so
// --server_pid still reports the server's CPU alone.
#pragma once

#include <gnutls/gnutls.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/quic/tunnel_loop.h"

namespace xsmb::bench {

struct QuicTunnelOptions {
  std::string host;          // the SMB-over-QUIC server (address or name)
  uint16_t port = 443;       // its UDP port ("quic port")
  std::string ca;            // PEM trust anchors for its certificate
  bool insecure = false;     // accept any certificate (ca ignored)
  std::string sni = "localhost";  // TLS server name
  bool gso = false;               // UDP GSO batches of equal-sized packets
};

class QuicTunnels {
 public:
  // Starts the tunnel loop; InvalidArgument when the CA file has no certificate or neither ca
  // nor insecure is given, Unavailable when the server does not resolve or no TCP port binds.
  static absl::StatusOr<std::unique_ptr<QuicTunnels>> start(const QuicTunnelOptions& o);
  ~QuicTunnels();  // stops the loop (every tunnel closed) and joins its thread
  QuicTunnels(const QuicTunnels&) = delete;
  QuicTunnels& operator=(const QuicTunnels&) = delete;

  // The loopback TCP port the bench connects to instead of the server's (host 127.0.0.1).
  uint16_t port() const { return loop_->port(); }

 private:
  QuicTunnels() = default;

  quic::TunnelOptions options_;
  gnutls_certificate_credentials_t cred_ = nullptr;
  std::unique_ptr<quic::TunnelLoop> loop_;
  std::thread thread_;
};

}  // namespace xsmb::bench
