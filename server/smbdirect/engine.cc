#include "server/smbdirect/engine.h"

#include <algorithm>

namespace xsmb::smbdirect {
namespace {

constexpr uint64_t kSendIdBit = 1ULL << 63;  // send wr_ids; receive wr_ids index buffers_
constexpr uint64_t kRdmaIdBit = 1ULL << 62;  // RDMA read/write wr_ids (with kSendIdBit)
constexpr size_t kPollBatch = 32;
constexpr uint32_t kMinFragmentedSize = 131072;  // MS-SMBD 3.1.5.7

}  // namespace

Engine::Engine(Verbs* verbs, const smbd::Limits& limits, Role role, const Timeouts& timeouts)
    : verbs_(verbs), limits_(limits), role_(role), timeouts_(timeouts) {
  // One buffer per receive we may post, each as large as a receive we accept.
  const size_t n = std::max<uint16_t>(limits_.receive_credit_max, 1);
  buffers_.assign(
      n, Bytes(std::max<uint32_t>(limits_.max_receive_size, smbd::NegotiateResponse::kSize)));
  for (size_t i = n; i > 0; --i) free_buffers_.push_back(static_cast<uint32_t>(i - 1));
}

void Engine::fail(std::string why) {
  if (state_ == State::kFailed) return;
  state_ = State::kFailed;
  failure_ = std::move(why);
  // Operations still posted will not complete: their waiters learn it now.
  auto ops = std::move(rdma_ops_);
  rdma_ops_.clear();
  for (auto& [id, done] : ops) done(false);
}

bool Engine::postReceive() {
  if (free_buffers_.empty()) return false;
  const uint32_t i = free_buffers_.back();
  if (!verbs_->postRecv(i, buffers_[i])) {
    fail("receive not posted (connection down)");
    return false;
  }
  free_buffers_.pop_back();
  return true;
}

bool Engine::postReceives(uint16_t n) {
  uint16_t done = 0;
  while (done < n && postReceive()) ++done;
  if (credits_) credits_->posted(done);
  return done == n;
}

bool Engine::sendRaw(Bytes message, uint32_t invalidate_token) {
  const uint64_t id = kSendIdBit | next_send_id_++;
  auto [it, _] = in_flight_.emplace(id, std::move(message));
  const bool posted = invalidate_token
                          ? verbs_->postSendInvalidate(id, it->second, invalidate_token)
                          : verbs_->postSend(id, it->second);
  if (!posted) {
    in_flight_.erase(it);
    fail("send not posted (connection down)");
    return false;
  }
  return true;
}

bool Engine::start() {
  if (!postReceive()) return false;
  if (role_ == Role::kInitiator) {
    smbd::NegotiateRequest q;
    q.credits_requested = limits_.send_credit_target;
    q.preferred_send_size = limits_.max_send_size;
    q.max_receive_size = limits_.max_receive_size;
    q.max_fragmented_size = limits_.max_fragmented_size;
    return sendRaw(smbd::encodeNegotiateRequest(q));
  }
  return true;
}

void Engine::onNegotiateRequest(ByteSpan msg) {
  smbd::NegotiateResponse resp;
  switch (smbd::acceptNegotiate(limits_, msg, &resp, &params_)) {
    case smbd::NegotiateOutcome::kDisconnect:
      fail("negotiate request malformed or out of limits (MS-SMBD 3.1.5.6)");
      return;
    case smbd::NegotiateOutcome::kRefuse:
      sendRaw(smbd::encodeNegotiateResponse(resp));
      fail("no common version (MS-SMBD 3.1.5.6)");  // after the failure response
      return;
    case smbd::NegotiateOutcome::kAccept:
      break;
  }
  // The receives granted in the response are posted before it leaves. The initiator grants
  // our send credits in its first data transfer message.
  uint16_t posted = 0;
  while (posted < params_.receive_credit_target && postReceive()) ++posted;
  if (state_ == State::kFailed || posted == 0) return fail("receives not posted");
  credits_.emplace(limits_.receive_credit_max, 0, params_.receive_credit_target, posted);
  resp.credits_granted = posted;
  reassembler_.emplace(limits_.max_fragmented_size);
  state_ = State::kConnected;
  sendRaw(smbd::encodeNegotiateResponse(resp));
}

void Engine::onNegotiateResponse(ByteSpan msg) {
  std::optional<smbd::NegotiateResponse> r = smbd::decodeNegotiateResponse(msg);
  // MS-SMBD 3.1.5.7: anything else ends the connection.
  if (!r || r->status != 0 || r->negotiated_version != smbd::kVersion1 ||
      r->max_receive_size < 128 || r->max_fragmented_size < kMinFragmentedSize ||
      r->credits_granted == 0 || r->credits_requested == 0 ||
      r->preferred_send_size > limits_.max_receive_size) {
    return fail("negotiate response refused or out of limits (MS-SMBD 3.1.5.7)");
  }
  params_.max_receive_size =
      std::max<uint32_t>(128, std::min(limits_.max_receive_size, r->preferred_send_size));
  params_.max_send_size = std::min(limits_.max_send_size, r->max_receive_size);
  params_.max_fragmented_send_size = r->max_fragmented_size;
  params_.max_read_write_size = std::min(limits_.max_read_write_size, r->max_read_write_size);
  params_.receive_credit_target = std::min(r->credits_requested, limits_.receive_credit_max);
  params_.send_credits = r->credits_granted;
  credits_.emplace(limits_.receive_credit_max, r->credits_granted, r->credits_requested, 0);
  reassembler_.emplace(limits_.max_fragmented_size);
  state_ = State::kConnected;
}

void Engine::onDataTransfer(ByteSpan msg) {
  std::optional<smbd::DataTransfer> m = smbd::decodeDataTransfer(msg, limits_.max_fragmented_size);
  if (!m) return fail("malformed data transfer message (MS-SMBD 3.1.5.8)");
  if (!credits_->onReceive(*m)) return fail("message without a credit, or credits overflow");
  ++received_messages_;
  if (m->data_length == 0) return;
  Bytes whole;
  switch (reassembler_->feed(*m, &whole)) {
    case smbd::Reassembler::Result::kViolation:
      return fail("fragments disagree (MS-SMBD 3.1.5.8)");
    case smbd::Reassembler::Result::kComplete:
      received_.push_back(std::move(whole));
      break;
    case smbd::Reassembler::Result::kIncomplete:
      break;
  }
}

void Engine::onReceive(uint64_t wr_id, uint32_t len) {
  if (wr_id >= buffers_.size() || len > buffers_[wr_id].size()) return fail("bad receive");
  last_receive_ = Clock::now();
  keepalive_deadline_.reset();  // any message answers our keep-alive
  ByteSpan msg(buffers_[wr_id].data(), len);
  if (state_ == State::kNegotiating) {
    // Copied, so that its buffer can be posted again for the credits the answer grants.
    Bytes copy(msg.begin(), msg.end());
    free_buffers_.push_back(static_cast<uint32_t>(wr_id));
    if (role_ == Role::kListener) {
      onNegotiateRequest(copy);
    } else {
      onNegotiateResponse(copy);
    }
    return;
  }
  if (state_ == State::kConnected) onDataTransfer(msg);
  free_buffers_.push_back(static_cast<uint32_t>(wr_id));  // its data was copied out
}

void Engine::pump() {
  if (state_ != State::kConnected) return;
  smbd::Credits& c = *credits_;
  if (uint16_t n = c.receivesToPost(!queue_.empty()); n > 0 && !postReceives(n)) {
    if (state_ == State::kFailed) return;
  }
  while (!queue_.empty() && c.canSend()) {
    if (!sendFragment(queue_.front())) return;
    if (uint16_t n = c.receivesToPost(!queue_.empty()); n > 0) postReceives(n);
  }
  // A keep-alive is answered at once; granted receives are announced once the peer runs low
  // (not after every message: two idle peers would grant each other credits forever). Our own
  // keep-alive (the idle timer's) asks for an answer.
  const bool peer_low = c.receiveCredits() < std::max<uint16_t>(1, c.receiveCreditTarget() / 4);
  if (queue_.empty() && c.canSend() && (c.responseRequested() || peer_low || send_keepalive_)) {
    smbd::DataTransfer h;
    c.onSend(&h, limits_.send_credit_target);
    if (send_keepalive_) {
      h.flags |= smbd::SMB_DIRECT_RESPONSE_REQUESTED;
      send_keepalive_ = false;
      ++keepalives_sent_;
    }
    if (sendRaw(smbd::encodeDataTransfer(h, {}))) ++sent_;
  }
}

bool Engine::sendFragment(Outgoing& o) {
  const uint32_t size = static_cast<uint32_t>(o.message.size());
  const uint32_t room = params_.max_send_size - static_cast<uint32_t>(smbd::kDataOffset);
  const uint32_t len = std::min(room, size - o.offset);
  smbd::DataTransfer h;
  h.remaining_data_length = size - o.offset - len;
  credits_->onSend(&h, limits_.send_credit_target);
  const bool last = o.offset + len == size;
  if (send_keepalive_) {  // a data message carries the idle timer's keep-alive as well
    h.flags |= smbd::SMB_DIRECT_RESPONSE_REQUESTED;
    send_keepalive_ = false;
    ++keepalives_sent_;
  }
  if (!sendRaw(smbd::encodeDataTransfer(h, ByteSpan(o.message).subspan(o.offset, len)),
               last ? o.invalidate_token : 0)) {
    return false;
  }
  ++sent_;
  o.offset += len;
  if (last) queue_.pop_front();
  return true;
}

size_t Engine::reap() {
  Verbs::Completion done[kPollBatch];
  size_t n, total = 0;
  while (state_ != State::kFailed && (n = verbs_->poll(done)) > 0) {
    total += n;
    for (size_t i = 0; i < n && state_ != State::kFailed; ++i) {
      const Verbs::Completion& c = done[i];
      if (c.kind == Verbs::Completion::Kind::kRdmaRead ||
          c.kind == Verbs::Completion::Kind::kRdmaWrite) {
        onRdmaDone(c.wr_id, c.ok);
        if (!c.ok) fail("RDMA read or write failed");
        continue;
      }
      if (!c.ok) {
        fail(c.kind == Verbs::Completion::Kind::kSend ? "send failed (receiver not ready?)"
                                                      : "receive failed (connection lost)");
        break;
      }
      if (c.kind == Verbs::Completion::Kind::kSend) {
        in_flight_.erase(c.wr_id);
      } else {
        onReceive(c.wr_id, c.byte_len);
      }
    }
  }
  return total;
}

bool Engine::process() {
  // Everything already completed is taken in before receives are posted again: a peer that
  // sent its last messages and disconnected must have them delivered, not lost to the failed
  // post that its disconnect causes.
  for (;;) {
    const size_t n = reap();
    if (state_ == State::kFailed) break;
    pump();
    if (n == 0) break;
  }
  return state_ != State::kFailed;
}

bool Engine::send(Bytes message) { return send(std::move(message), 0); }

bool Engine::send(Bytes message, uint32_t invalidate_token) {
  if (state_ == State::kFailed || message.empty()) return false;
  if (state_ == State::kConnected && message.size() > params_.max_fragmented_send_size) {
    return false;
  }
  queue_.push_back({std::move(message), 0, invalidate_token});
  pump();
  return state_ != State::kFailed;
}

Engine::Clock::time_point Engine::nextTimer() const {
  if (state_ == State::kNegotiating) return started_ + timeouts_.negotiate;
  if (keepalive_deadline_) return *keepalive_deadline_;
  if (timeouts_.idle.count() <= 0) return Clock::time_point::max();
  return last_receive_ + timeouts_.idle;
}

bool Engine::onTimer(Clock::time_point now) {
  if (state_ == State::kFailed) return false;
  if (state_ == State::kNegotiating) {
    if (now >= started_ + timeouts_.negotiate) fail("negotiation timed out");
    return state_ != State::kFailed;
  }
  if (keepalive_deadline_) {
    if (now >= *keepalive_deadline_) fail("keep-alive unanswered (MS-SMBD 3.1.6.3)");
    return state_ != State::kFailed;
  }
  if (timeouts_.idle.count() > 0 && now >= last_receive_ + timeouts_.idle) {
    // MS-SMBD 3.1.6.2: ask the peer for a message; it must answer within the keep-alive time.
    send_keepalive_ = true;
    keepalive_deadline_ = now + timeouts_.keepalive;
    pump();
  }
  return state_ != State::kFailed;
}

bool Engine::rdmaWrite(ByteSpan local, uint64_t remote_offset, uint32_t remote_token,
                       std::function<void(bool)> done) {
  if (state_ != State::kConnected) return false;
  const uint64_t id = kSendIdBit | kRdmaIdBit | next_send_id_++;
  rdma_ops_.emplace(id, std::move(done));
  if (!verbs_->postRdmaWrite(id, local, remote_offset, remote_token)) {
    rdma_ops_.erase(id);
    return false;
  }
  return true;
}

bool Engine::rdmaRead(std::span<uint8_t> local, uint64_t remote_offset, uint32_t remote_token,
                      std::function<void(bool)> done) {
  if (state_ != State::kConnected) return false;
  const uint64_t id = kSendIdBit | kRdmaIdBit | next_send_id_++;
  rdma_ops_.emplace(id, std::move(done));
  if (!verbs_->postRdmaRead(id, local, remote_offset, remote_token)) {
    rdma_ops_.erase(id);
    return false;
  }
  return true;
}

void Engine::onRdmaDone(uint64_t wr_id, bool ok) {
  auto it = rdma_ops_.find(wr_id);
  if (it == rdma_ops_.end()) return;
  std::function<void(bool)> done = std::move(it->second);
  rdma_ops_.erase(it);
  done(ok);
}

}  // namespace xsmb::smbdirect
