#include "server/core/smb_connection.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "common/base/log.h"
#include "server/core/channel_forward.h"
#include "server/dispatch/dispatcher.h"

namespace xsmb::core {
namespace {

// session::ChannelAck mirrors transport::Connection::AckCheck (the session layer sees no
// transport).
using AckCheck = transport::Connection::AckCheck;
static_assert(static_cast<int>(session::ChannelAck::kAcknowledged) ==
              static_cast<int>(AckCheck::kAcknowledged));
static_assert(static_cast<int>(session::ChannelAck::kProgress) ==
              static_cast<int>(AckCheck::kProgress));
static_assert(static_cast<int>(session::ChannelAck::kSilent) == static_cast<int>(AckCheck::kSilent));
static_assert(static_cast<int>(session::ChannelAck::kClosed) == static_cast<int>(AckCheck::kClosed));

// Before NEGOTIATE nothing legitimate is larger than this (an SPNEGO token fits easily).
constexpr size_t kPreNegotiateMaxMessage = 256 * 1024;
// Room for headers and compounded requests above MaxWriteSize/MaxTransactSize.
constexpr size_t kMessageOverhead = 64 * 1024;
constexpr unsigned kIoUringEntries = 256;

std::unique_ptr<vfs::IoEngine> makeEngine(vfs::IoPool* pool) {
  static std::atomic<bool> uring_ok{true};
  static std::once_flag logged;
  const char* forced = getenv("XSMBD_IO_ENGINE");
  if (forced && std::string_view(forced) == "threads") uring_ok = false;
  if (uring_ok) {
    std::string why;
    if (auto e = vfs::makeIoUringEngine(kIoUringEntries, &why)) return e;
    uring_ok = false;
    std::call_once(logged, [&] { XLOG(WARNING) << "io_uring unavailable (" << why << ")"; });
  }
  return vfs::makeThreadEngine(pool);
}

transport::Reply replyOf(session::ConnState& state, Bytes message, vfs::FileSegment file = {}) {
  if (!message.empty()) state.countSent(message.size() + file.length);
  transport::Reply r{
      {std::move(message), std::move(file)}, state.disconnect, maxMessageSize(state)};
  // Live limits: what was just processed leaves no earlier than the pacing allows.
  r.not_before = std::exchange(state.hold_until, {});
  // "session setup timeout": the transport stops timing a connection once it has a session.
  r.established = std::any_of(state.sessions.begin(), state.sessions.end(), [](const auto& s) {
    return s.second->state == session::Session::State::kValid;
  });
  return r;
}

// The protocol side of one connection: its SMB2 state and the pipeline.
class SmbConnection : public transport::ConnectionCallbacks {
 public:
  SmbConnection(SmbAcceptor* acceptor, std::shared_ptr<transport::Connection> conn,
                std::shared_ptr<session::ConnState> state)
      : acceptor_(acceptor), conn_(std::move(conn)), state_(std::move(state)) {}

  bool onMessageInline(const transport::Message& msg, transport::Reply* reply) override {
    if (forwardToHome(msg)) {
      *reply = {};
      return true;
    }
    if (!dispatch::answerOnEventLoop(msg.span(), *state_)) return false;
    state_->countReceived(msg.size);
    dispatch::DeferredReply deferred;
    vfs::FileSegment segment;
    Bytes resp = dispatch::processOnEventLoop(*state_, msg.span(), &deferred, &segment);
    if (deferred.complete) {
      // Off the connection's strand: later requests are served while the disk works. The
      // message stays alive until then (a WRITE's data is written from it).
      auto d = std::make_shared<dispatch::DeferredReply>(std::move(deferred));
      acceptor_->server()->stats.engine_ios++;
      std::weak_ptr<session::ConnState> weak = state_;
      acceptor_->ioEngine().submit(d->io, [conn = conn_, holder = msg, d, weak](int64_t result) {
        Bytes out = d->complete(result);
        if (auto st = weak.lock()) st->countSent(out.size());
        conn->send(transport::OutMessage{std::move(out), {}});
      });
    }
    *reply = replyOf(*state_, std::move(resp), std::move(segment));
    return true;
  }

  transport::Reply onMessage(const transport::Message& msg) override {
    if (forwardToHome(msg)) return {};
    state_->countReceived(msg.size);
    return replyOf(*state_, dispatch::processMessage(*state_, msg.span()));
  }

  void onClose() override {
    state_->markTransportClosed();
    acceptor_->connectionClosed();
  }

 private:
  // Multichannel: a message for a session bound to this connection goes to the session's home.
  bool forwardToHome(const transport::Message& msg) {
    if (!core::forwardToHome(state_, conn_, msg)) return false;
    state_->countReceived(msg.size);
    return true;
  }

  SmbAcceptor* acceptor_;
  std::shared_ptr<transport::Connection> conn_;
  std::shared_ptr<session::ConnState> state_;
};

}  // namespace

size_t maxMessageSize(const session::ConnState& conn) {
  if (!conn.negotiated) return kPreNegotiateMaxMessage;
  return std::max(conn.max_write_size, conn.max_transact_size) + kMessageOverhead;
}

SmbAcceptor::SmbAcceptor(session::ServerContext* server, vfs::IoPool* pool, uint32_t loop_index)
    : server_(server), loop_index_(loop_index), io_(makeEngine(pool)) {}

std::shared_ptr<transport::ConnectionCallbacks> SmbAcceptor::onAccept(
    std::shared_ptr<transport::Connection> conn, int socket_fd, size_t* max_message) {
  auto state = std::make_shared<session::ConnState>(server_);
  state->peer = conn->peer();
  state->worker = loop_index_;
  state->file_by_reference = conn->sendsFileByReference();
  state->rdma = conn->rdmaChannel();
  state->over_quic = conn->kind() == transport::TransportKind::kQuic;
  server_->registerConnection(state);
  const auto& g = server_->config.global;
  if (server_->dataplane && g.bpf && socket_fd >= 0) {  // not SMB Direct (no socket)
    // Per-message policy and accounting in the kernel (sockhash verdict), only when asked.
    if (g.bpf_sockmap) server_->dataplane->addConnection(socket_fd);
    server_->dataplane->setWorkerLoad(loop_index_, ++connections_);
  }
  state->send_unsolicited = [conn](Bytes message) {
    conn->send(transport::OutMessage{std::move(message), {}});
  };
  std::weak_ptr<session::ConnState> weak = state;
  state->run_in_strand = [conn, weak](std::function<void(session::ConnState&)> task) {
    conn->runInStrand([weak, task = std::move(task)]() -> transport::Reply {
      auto s = weak.lock();
      if (!s) return {};
      task(*s);
      return replyOf(*s, {});
    });
  };
  state->set_unacked_timeout = [conn](std::chrono::milliseconds t) {
    conn->setUnackedTimeout(t);
  };
  state->check_acknowledgment = [conn](auto since, bool reset_if_silent, auto done) {
    conn->checkAcknowledgment(since, reset_if_silent, [done](transport::Connection::AckStatus st) {
      done(static_cast<session::ChannelAck>(st.state), st.rto);
    });
  };
  server_->stats.connections_accepted++;
  *max_message = maxMessageSize(*state);
  return std::make_shared<SmbConnection>(this, std::move(conn), std::move(state));
}

uint64_t SmbAcceptor::onRefused() { return ++server_->stats.connections_refused; }

void SmbAcceptor::onFramingError(bool oversized) {
  if (oversized) {
    server_->stats.oversized_frames++;
  } else {
    server_->stats.malformed_frames++;
  }
}

void SmbAcceptor::connectionClosed() {
  if (server_->dataplane && server_->config.global.bpf && connections_ > 0) {
    server_->dataplane->setWorkerLoad(loop_index_, --connections_);
  }
}

}  // namespace xsmb::core
