// One QUIC connection on the server (RFC 9000), through ngtcp2 0.12 and GnuTLS: the handshake,
// the one bidirectional stream that carries the SMB2 messages (MS-SMB2 2.1: client-initiated,
// stream 0), flow control (RFC 9000 4), loss recovery and its timers (RFC 9002; ngtcp2's
// expiry), path migration (RFC 9000 9: ngtcp2 validates a new client address when packets come
// from it, so every packet is read with the path it really arrived on), idle timeout (RFC 9000
// 10.1) and CONNECTION_CLOSE (10.2). It owns no socket: packets come in through read() and go
// out through Owner::sendPacket, on the owning worker's thread only.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/quic/stream_send_queue.h"
#include "server/transport/quic/quic_tls.h"

namespace xsmb::transport::quic {

// Nanoseconds of CLOCK_MONOTONIC (ngtcp2_tstamp).
ngtcp2_tstamp quicNow();

class QuicSession {
 public:
  // What the session tells the connection that owns it (the worker's side).
  class Owner {
   public:
    virtual ~Owner() = default;
    // Sends UDP datagrams on `path` (its user_data is the worker's socket index): `data` is
    // one datagram when `segment` is 0 or not below its size, else datagrams of `segment`
    // bytes each, the last possibly shorter (one sendmsg with UDP_SEGMENT, udp(7) GSO).
    virtual void sendPacket(const ngtcp2_path& path, ByteSpan data, size_t segment) = 0;
    // A connection ID of ours (RFC 9000 5.1) starts or stops naming this connection.
    virtual void cidIssued(const ngtcp2_cid& cid) = 0;
    virtual void cidRetired(const ngtcp2_cid& cid) = 0;
    // The TLS handshake is complete (RFC 9001 4.1.1): the connection may carry SMB.
    virtual void handshakeDone() = 0;
    // The next bytes of the SMB stream, in stream order.
    virtual void streamData(ByteSpan bytes) = 0;
    // The client ended (FIN) or reset the SMB stream.
    virtual void streamEnded(const char* why) = 0;
    // A new client address was validated (RFC 9000 8.2, 9): the connection migrated.
    virtual void pathMigrated() = 0;
  };

  struct Params {
    uint8_t worker = 0;                      // encoded in our connection IDs (quic_cid.h)
    std::chrono::seconds idle_timeout{120};  // max_idle_timeout (RFC 9000 18.2)
    uint64_t stream_window = 4u << 20;       // initial per-stream window, bytes
    uint64_t connection_window = 8u << 20;   // initial connection window, bytes
    uint64_t max_window = 32u << 20;         // ngtcp2's window auto-tuning bound, bytes
  };

  // What read(), write() and onTimer() leave behind.
  enum class State {
    kOpen,    // keep going
    kClosed,  // a CONNECTION_CLOSE was sent, or the peer's came, or the idle timer ran out:
              // delete the session
  };

  // A connection for a client's first Initial packet (`hd` from ngtcp2_accept) that came on
  // `path`. nullptr and `why` when ngtcp2 or GnuTLS refuse. The first packet itself is then
  // given to read().
  static std::unique_ptr<QuicSession> accept(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path,
                                             const TlsServerContext& tls, const Params& p,
                                             Owner* owner, std::string* why);
  ~QuicSession();
  QuicSession(const QuicSession&) = delete;
  QuicSession& operator=(const QuicSession&) = delete;

  // One datagram of this connection, received on `path`. Then call write().
  State read(const ngtcp2_path& path, ByteSpan datagram);
  // Sends what flow and congestion control allow (stream data, ACKs, retransmissions).
  State write();
  // When the next timer runs out (loss detection, ACK delay, idle timeout), ngtcp2's clock.
  ngtcp2_tstamp expiry() const;
  // The timer ran out: retransmits or gives up (idle timeout: closed without a packet).
  State onTimer();

  // Appends bytes to the SMB stream (sent in order, kept until the client acknowledges them).
  void queue(Bytes bytes);
  // Bytes queued and not yet acknowledged.
  uint64_t unacked() const { return send_.unacked(); }
  // The owner took `n` bytes of stream data out of QUIC's hands: the client may send that
  // many more (RFC 9000 4.1, stream and connection windows).
  void consumed(uint64_t n);
  // Closes with an application CONNECTION_CLOSE (RFC 9000 10.2; SMB defines no error codes,
  // so 0) carrying `reason`; the session is then kClosed.
  void close(const std::string& reason);

  // Why the session closed, for the log ("" when it closed by a normal exchange).
  const std::string& failure() const { return failure_; }
  // Whether the close was a TLS alert (the handshake failed), and which.
  uint8_t tlsAlert() const { return tls_alert_; }
  bool handshakeCompleted() const;

 private:
  QuicSession(const Params& p, Owner* owner) : params_(p), owner_(owner) {}
  bool init(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path, const TlsServerContext& tls,
            std::string* why);
  State fail(int liberr);
  State sendClose(const ngtcp2_connection_close_error& err);

  static const ngtcp2_callbacks& callbacks();
  static ngtcp2_conn* connOf(ngtcp2_crypto_conn_ref* ref);
  static int onRecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t,
                              const uint8_t* data, size_t len, void* user, void*);
  static int onStreamOpen(ngtcp2_conn*, int64_t stream_id, void* user);
  static int onAcked(ngtcp2_conn*, int64_t, uint64_t, uint64_t len, void* user, void*);
  static int onStreamClose(ngtcp2_conn*, uint32_t, int64_t stream_id, uint64_t, void* user, void*);
  static int onStreamReset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t, void* user, void*);
  static int onNewCid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void* user);
  static int onRemoveCid(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
  static int onPathValidation(ngtcp2_conn*, uint32_t, const ngtcp2_path* path,
                              ngtcp2_path_validation_result res, void* user);
  static int onHandshakeCompleted(ngtcp2_conn*, void* user);
  static void random(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*);

  Params params_;
  Owner* owner_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t tls_ = nullptr;
  ngtcp2_crypto_conn_ref ref_{};
  int64_t stream_id_ = -1;  // the SMB stream, once the client opened it
  // Stream bytes not yet acknowledged, in order: ngtcp2 keeps pointers into them until the
  // client acknowledges (RFC 9000 13.3), so a chunk never moves while it is queued.
  ::xsmb::quic::StreamSendQueue send_;  // the stream's bytes until acknowledged
  std::vector<uint8_t> batch_;  // write(): packets of one path, sent as one GSO batch
  std::string failure_;
  uint8_t tls_alert_ = 0;
  bool closed_ = false;
};

}  // namespace xsmb::transport::quic
