// The SMB side of the QUIC worker's connections: stream bytes to SMB2 messages (StreamFramer),
// messages to the pool and replies back onto the stream with their Direct TCP header
// (MS-SMB2 2.1), the protocol layer's Connection handle, and closing.
#include <cstring>

#include "common/base/log.h"
#include "common/smb2/netbios.h"
#include "server/transport/quic/quic_conn.h"
#include "server/vfs/file_io.h"

namespace xsmb::transport::quic {
namespace {

std::string cidKey(const ngtcp2_cid& cid) {
  return std::string(reinterpret_cast<const char*>(cid.data), cid.datalen);
}

constexpr size_t kMaxFrameLength = 0xFFFFFF;  // the 24-bit StreamProtocolLength (MS-SMB2 2.1)

}  // namespace

// --- the protocol layer's handle -------------------------------------------------------------

void QuicWorker::Handle::send(OutMessage m) {
  w_->post([w = w_, id = id_, m = std::move(m)]() mutable {
    if (Conn* c = w->find(id)) {
      w->sendOut(*c, std::move(m));
      w->flush(*c);
    }
  });
}

void QuicWorker::Handle::runInStrand(std::function<Reply()> task) {
  w_->post([w = w_, id = id_, task = std::move(task)]() mutable {
    Conn* c = w->find(id);
    if (!c) return;
    // After the work in progress, before the messages waiting (as over TCP).
    c->pending.push_front(Work{{}, std::move(task)});
    w->submitNext(*c);
  });
}

void QuicWorker::Handle::close() {
  w_->post([w = w_, id = id_] {
    if (Conn* c = w->find(id)) {
      c->closing = true;
      c->pending.clear();  // messages not yet processed are dropped
      c->pending_bytes = 0;
      w->maybeFinish(*c);
    }
  });
}

// --- QuicSession::Owner ----------------------------------------------------------------------

void QuicWorker::Conn::sendPacket(const ngtcp2_path& path, ByteSpan data, size_t segment) {
  w->sendTo(reinterpret_cast<uintptr_t>(path.user_data), path.remote.addr, path.remote.addrlen,
            data, segment);
}

void QuicWorker::Conn::cidIssued(const ngtcp2_cid& cid) {
  std::string k = cidKey(cid);
  w->cids_[k] = id;
  cids.push_back(std::move(k));
  if (w->cid_listener_) w->cid_listener_->cidIssued(ByteSpan(cid.data, cid.datalen));
}

void QuicWorker::Conn::cidRetired(const ngtcp2_cid& cid) {
  const std::string k = cidKey(cid);
  auto it = w->cids_.find(k);
  if (it != w->cids_.end() && it->second == id) w->cids_.erase(it);
  if (std::erase(cids, k) > 0) w->retireCids({k});
}

void QuicWorker::Conn::streamData(ByteSpan bytes) {
  unconsumed += bytes.size();
  if (framing_error || closing || !ended.empty()) return;
  std::deque<Message> messages;
  if (StreamFramer::Error e = framer.feed(bytes, &messages); e != StreamFramer::Error::kNone) {
    framing_error = e;
  }
  for (Message& m : messages) {
    pending_bytes += m.size;
    pending.push_back(Work{std::move(m), {}});
  }
}

void QuicWorker::Conn::streamEnded(const char* why) {
  if (ended.empty()) ended = why;
}

void QuicWorker::Conn::pathMigrated() {
  w->stats_.migrations++;
  XLOG(INFO) << "quic " << peer << ": path migrated (RFC 9000 9), the connection goes on";
}

// --- the worker's side -----------------------------------------------------------------------

// What ngtcp2 recorded during a read or a timer, acted on in order: a closed session, the
// handshake's end (the protocol layer accepts the connection), a framing error, the stream's
// end, then the messages that arrived; then whatever is ready is sent.
void QuicWorker::afterEvent(Conn& c, QuicSession::State st) {
  const uint64_t id = c.id;
  if (st == QuicSession::State::kClosed) {
    if (!c.session->handshakeCompleted()) {
      stats_.handshake_failures++;
      if (c.session->tlsAlert() == GNUTLS_A_NO_APPLICATION_PROTOCOL) stats_.alpn_refusals++;
    }
    return closeConn(id, c.session->failure());
  }
  if (c.handshake && !c.cb) {
    stats_.handshakes++;
    c.handle = std::make_shared<Handle>(this, id, c.peer);
    size_t max_message = 0;
    c.cb = acceptor_->onAccept(c.handle, -1, &max_message);
    if (!c.cb) {
      c.session->close("refused");
      return closeConn(id, "refused by the acceptor");
    }
    if (max_message) c.framer.setMaxMessage(max_message);
    c.accepted = std::chrono::steady_clock::now();
  }
  if (c.framing_error) {
    const bool oversized = *c.framing_error == StreamFramer::Error::kTooLarge;
    stats_.framing_errors++;
    acceptor_->onFramingError(oversized);
    c.session->close(StreamFramer::describe(*c.framing_error));
    return closeConn(id, StreamFramer::describe(*c.framing_error));
  }
  if (!c.ended.empty() && !c.closing) {
    c.closing = true;  // the client sends nothing more: answer what came, then close
  }
  submitNext(c);
  if (batching_) {
    touched_.push_back(id);
    return;
  }
  if (Conn* again = find(id)) flush(*again);
}

void QuicWorker::flush(Conn& c) {
  const uint64_t id = c.id;
  extendWindow(c);
  if (c.session->write() == QuicSession::State::kClosed) {
    return closeConn(id, c.session->failure());
  }
  maybeFinish(c);
}

// RFC 9000 4.1: the client may send as much more as the worker took in, unless the messages
// waiting for the pool already hold "max pending request bytes" (then it waits for them).
void QuicWorker::extendWindow(Conn& c) {
  if (c.pending_bytes >= options_->max_pending_bytes || c.unconsumed == 0) return;
  c.session->consumed(c.unconsumed);
  c.unconsumed = 0;
}

void QuicWorker::maybeFinish(Conn& c) {
  if (!c.closing || c.busy || !c.pending.empty() || c.held || c.session->unacked() > 0) return;
  c.session->close("");
  closeConn(c.id, c.ended.empty() ? "" : c.ended);
}

// The connection's next message or task: answered here on the loop when the protocol layer
// can (onMessageInline; the loop goes on to the next one), else run on the pool, whose reply
// comes back through applyReply(). The caller flushes what was queued on the stream.
void QuicWorker::submitNext(Conn& c) {
  while (!c.busy && !c.pending.empty() && c.cb && !c.held) {
    Work& next = c.pending.front();
    if (next.task) break;
    Reply r;
    if (!c.cb->onMessageInline(next.msg, &r)) break;
    c.pending_bytes -= std::min<uint64_t>(c.pending_bytes, next.msg.size);
    c.pending.pop_front();  // the reply holds what it needs (a deferred WRITE its own copy)
    if (!takeReply(c, std::move(r))) return;  // paced: releaseHeld() goes on
  }
  if (c.busy || c.pending.empty() || !c.cb || c.held) return;
  c.busy = true;
  Work work = std::move(c.pending.front());
  c.pending.pop_front();
  c.pending_bytes -= std::min<uint64_t>(c.pending_bytes, work.msg.size);
  pool_->submit([this, id = c.id, cb = c.cb, work = std::move(work)] {
    Reply r = work.task ? work.task() : cb->onMessage(work.msg);
    post([this, id, r = std::move(r)]() mutable { applyReply(id, std::move(r)); });
  });
}

bool QuicWorker::takeReply(Conn& c, Reply r) {
  if (r.not_before > std::chrono::steady_clock::now()) {  // paced: releaseHeld() sends it
    c.hold_until = std::exchange(r.not_before, {});
    c.held = std::move(r);
    return false;
  }
  c.busy = false;
  c.established |= r.established;
  if (r.max_message) c.framer.setMaxMessage(r.max_message);
  sendOut(c, std::move(r.out));
  if (r.close) {
    c.closing = true;
    c.pending.clear();  // messages not yet processed are dropped
    c.pending_bytes = 0;
  }
  return true;
}

void QuicWorker::applyReply(uint64_t id, Reply r) {
  Conn* c = find(id);
  if (!c || !takeReply(*c, std::move(r))) return;
  submitNext(*c);
  flush(*c);
}

void QuicWorker::releaseHeld(std::chrono::steady_clock::time_point now) {
  std::vector<uint64_t> due;
  for (const auto& [id, c] : conns_) {
    if (c->held && c->hold_until <= now) due.push_back(id);
  }
  for (uint64_t id : due) {
    Conn* c = find(id);
    if (!c || !c->held) continue;
    Reply r = std::move(*c->held);
    c->held.reset();
    applyReply(id, std::move(r));
  }
}

// One reply on the stream: the Direct TCP header (MS-SMB2 2.1), the message, and the file
// data that follows it (read here: QUIC sends from memory).
void QuicWorker::sendOut(Conn& c, OutMessage m) {
  const vfs::FileSegment& f = m.file;
  const size_t length = m.bytes.size() + f.length;
  if (length == 0) return;
  if (length > kMaxFrameLength) {
    c.closing = true;
    XLOG(ERROR) << "quic " << c.peer << ": reply of " << length << " bytes does not fit a frame";
    return;
  }
  Bytes frame(netbios::kNetBiosHeaderSize + length);
  netbios::writeFrameHeader(static_cast<uint32_t>(length), frame.data());
  if (!m.bytes.empty()) std::memcpy(frame.data() + 4, m.bytes.data(), m.bytes.size());
  if (f.length > 0) {
    uint8_t* at = frame.data() + 4 + m.bytes.size();
    if (f.data) {
      std::memcpy(at, f.data.get(), f.length);
    } else if (!f.fd || vfs::preadFull(f.fd->get(), at, f.length, f.offset, 0) !=
                            static_cast<ssize_t>(f.length)) {
      c.closing = true;
      XLOG(ERROR) << "quic " << c.peer << ": file data of a reply could not be read";
      return;
    }
  }
  c.session->queue(std::move(frame));
}

}  // namespace xsmb::transport::quic
