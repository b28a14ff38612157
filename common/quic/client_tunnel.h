// One SMB-over-QUIC client tunnel (xsmb-quic-bridge, xsmb-bench --transport quic; the loop that
// drives many is tunnel_loop.h): a local TCP connection (an SMB client speaking Direct TCP,
// MS-SMB2 2.1) carried over its own QUIC connection (RFC 9000) to an SMB-over-QUIC server, on
// one client-initiated bidirectional stream (stream 0), bytes unchanged both ways. Built on
// ngtcp2 0.12's client API with GnuTLS (TLS 1.3, ALPN "smb" unless told otherwise). It can
// move to a new UDP source port once a number of bytes went through (RFC 9000 9: active
// migration), to test that the server keeps the connection.
#pragma once

#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/quic/stream_send_queue.h"

namespace xsmb::quic {

struct TunnelOptions {
  std::string listen = "127.0.0.1:0";  // TCP address the bridge accepts SMB clients on
  std::string server;                  // the SMB-over-QUIC server, host:port (UDP)
  std::string alpn = "smb";            // MS-SMB2 2.1; another value tests the refusal
  std::string ca;                      // PEM trust anchors; "" with insecure = no check
  bool insecure = false;               // accept any server certificate
  std::string sni = "localhost";       // TLS server name
  uint64_t migrate_after_bytes = 0;    // move to a new UDP port after this many; 0 = never
  bool probe = false;                  // one handshake, report it, exit
  bool quiet = false;                  // no "handshake done" / "ended" lines on stderr
  bool gso = false;                    // send packets of one size in UDP GSO batches
};

class Tunnel {
 public:
  // `tcp_fd` is the accepted client's socket (owned from here), -1 for a probe.
  Tunnel(const TunnelOptions& o, gnutls_certificate_credentials_t cred, int tcp_fd, int id);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Creates the UDP socket, the TLS session and the QUIC connection, sends the first flight.
  bool start(const sockaddr_storage& server, socklen_t server_len);
  void onUdpReadable();
  void onTcpReadable();
  void onTcpWritable();
  void onTimer();
  ngtcp2_tstamp expiry() const;

  int udpFd() const { return udp_fd_; }
  int tcpFd() const { return tcp_fd_; }
  bool wantTcpRead() const;
  bool wantTcpWrite() const { return !to_tcp_.empty(); }
  // The TCP side said all it will (EOF or an error): the loop stops watching it.
  bool tcpEnded() const { return tcp_eof_; }
  bool done() const { return done_; }
  bool handshakeCompleted() const { return handshake_done_; }
  // Why the tunnel ended ("" while it runs, "ok" after an orderly end).
  const std::string& outcome() const { return outcome_; }
  // Set when the UDP socket changed (migration): the loop re-registers it.
  bool takeUdpChanged();

 private:
  bool initTls();
  bool initQuic();
  void write();
  void finish(const std::string& why);
  void fail(int liberr, const char* where);
  void migrate();
  void flushToTcp();

  static ngtcp2_conn* connOf(ngtcp2_crypto_conn_ref* ref);
  static int onRecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t, uint64_t, const uint8_t* d,
                              size_t n, void* user, void*);
  static int onAcked(ngtcp2_conn*, int64_t, uint64_t, uint64_t n, void* user, void*);
  static int onHandshakeCompleted(ngtcp2_conn*, void* user);
  static int onExtendStreams(ngtcp2_conn*, uint64_t, void* user);
  static int onStreamClose(ngtcp2_conn*, uint32_t, int64_t, uint64_t, void* user, void*);
  static int onNewCid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void*);
  static void random(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*);

  const TunnelOptions& o_;
  gnutls_certificate_credentials_t cred_;
  const int id_;
  int tcp_fd_, udp_fd_ = -1;
  sockaddr_storage local_{}, remote_{};
  socklen_t local_len_ = 0, remote_len_ = 0;
  gnutls_session_t tls_ = nullptr;
  ngtcp2_conn* conn_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  ngtcp2_connection_close_error last_error_{};
  int64_t stream_id_ = -1;
  StreamSendQueue send_;  // TCP bytes for the stream, until acknowledged
  std::vector<uint8_t> to_tcp_;  // stream bytes not yet written to the TCP client
  uint64_t moved_ = 0;           // bytes carried both ways (for --migrate-after-bytes)
  bool tcp_eof_ = false, fin_sent_ = false, handshake_done_ = false, done_ = false;
  bool migrated_ = false, udp_changed_ = false, announced_ = false;
  std::string outcome_;
};

}  // namespace xsmb::quic
