// The event loop of SMB-over-QUIC client tunnels (client_tunnel.h), shared by xsmb-quic-bridge
// and xsmb-bench --transport quic: it listens on a local TCP port and carries each accepted
// connection (Direct TCP framing, MS-SMB2 2.1) over a QUIC connection of its own (RFC 9000,
// ALPN "smb"), all tunnels on one thread with one epoll set. The caller connects its SMB client
// to port() as to an SMB server.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/quic/client_tunnel.h"

namespace xsmb::quic {

// Resolves "host:port" ("[v6]:port" too) for `socktype`; false when it does not resolve.
bool resolveHostPort(const std::string& hostport, int socktype, sockaddr_storage* out,
                     socklen_t* len);

class TunnelLoop {
 public:
  // `o` and `cred` (the trust anchors; none with o.insecure) must outlive the loop.
  TunnelLoop(const TunnelOptions& o, gnutls_certificate_credentials_t cred);
  ~TunnelLoop();
  TunnelLoop(const TunnelLoop&) = delete;
  TunnelLoop& operator=(const TunnelLoop&) = delete;

  // Resolves o.server and binds the TCP listener on o.listen. False with *err set ("HOST:PORT:
  // strerror") when either fails.
  bool listen(std::string* err);
  // The TCP port the listener got (host byte order), after listen().
  uint16_t port() const { return port_; }
  // Runs until stop() (from any thread); every tunnel is closed when it returns.
  void run();
  void stop();
  // One handshake with o.server, no listener: 0 when it completed, 1 if not (the reason, e.g.
  // "TLS alert 120", printed on stdout).
  int probe();

 private:
  void watch(int fd, uint32_t events, uint64_t tag, bool add);
  void acceptOne();
  void service(int id, uint32_t events, bool udp);
  void reap(int id);
  int timeoutMillis() const;

  const TunnelOptions& o_;
  gnutls_certificate_credentials_t cred_;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
  int epfd_ = -1, listen_fd_ = -1, wake_fd_ = -1;
  uint16_t port_ = 0;
  int next_id_ = 1;
  std::atomic<bool> stop_{false};
  std::map<int, std::unique_ptr<Tunnel>> tunnels_;
};

}  // namespace xsmb::quic
