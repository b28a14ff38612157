// The worker's record of one QUIC connection (quic_worker.h): its QuicSession, the SMB side
// (the ConnectionCallbacks, the messages waiting for the pool, a held reply) and the
// transport::Connection the protocol layer holds. Private to quic_worker*.cc; everything here
// is used on the worker's thread only, except Handle's methods, which post to it.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/transport/quic/quic_worker.h"
#include "server/transport/quic/stream_framer.h"

namespace xsmb::transport::quic {

// What the protocol layer holds; every call posts to the worker, and does nothing once the
// connection is gone.
class QuicWorker::Handle : public Connection {
 public:
  Handle(QuicWorker* w, uint64_t id, std::string peer) : w_(w), id_(id), peer_(std::move(peer)) {}
  TransportKind kind() const override { return TransportKind::kQuic; }
  const std::string& peer() const override { return peer_; }
  uint32_t loopIndex() const override { return w_->loop_index_; }
  void send(OutMessage m) override;
  void runInStrand(std::function<Reply()> task) override;
  void close() override;
  bool sendsFileByReference() const override { return false; }

 private:
  QuicWorker* const w_;
  const uint64_t id_;
  const std::string peer_;
};

struct QuicWorker::Conn : public QuicSession::Owner {
  Conn(QuicWorker* worker, uint64_t conn_id, std::string from, size_t first_max_message)
      : w(worker), id(conn_id), peer(std::move(from)), framer(first_max_message) {}

  // QuicSession::Owner. Callbacks from inside ngtcp2: they only record what happened; the
  // worker acts on it once ngtcp2 returned (afterEvent).
  void sendPacket(const ngtcp2_path& path, ByteSpan data, size_t segment) override;
  void cidIssued(const ngtcp2_cid& cid) override;
  void cidRetired(const ngtcp2_cid& cid) override;
  void handshakeDone() override { handshake = true; }
  void streamData(ByteSpan bytes) override;
  void streamEnded(const char* why) override;
  void pathMigrated() override;

  QuicWorker* const w;
  const uint64_t id;
  const std::string peer;
  std::unique_ptr<QuicSession> session;
  std::vector<std::string> cids;  // keys of w->cids_ that name this connection
  StreamFramer framer;
  std::shared_ptr<Handle> handle;
  std::shared_ptr<ConnectionCallbacks> cb;  // once the handshake is done
  bool handshake = false;
  bool established = false;  // an authenticated session exists (Reply::established)
  std::chrono::steady_clock::time_point accepted{};  // when the protocol layer took it
  std::optional<StreamFramer::Error> framing_error;
  std::string ended;     // why the client ended the stream ("" while it is open)
  bool busy = false;     // a message or task of this connection is on the pool
  bool closing = false;  // close once what is queued has been sent and acknowledged
  std::deque<Work> pending;
  uint64_t pending_bytes = 0;  // of the messages in `pending`
  uint64_t unconsumed = 0;     // stream bytes received, not yet given back as window
  // Pacing (Reply::not_before): a reply held back until `hold_until`; the next message waits.
  std::optional<Reply> held;
  std::chrono::steady_clock::time_point hold_until{};
};

}  // namespace xsmb::transport::quic
