#include "server/smbdirect/engine.h"

#include <algorithm>

namespace xsmb::smbdirect {
namespace {

constexpr uint64_t kSendIdBit = 1ULL << 63;  // send wr_ids; receive wr_ids index buffers_
constexpr size_t kPollBatch = 32;
constexpr uint32_t kMinFragmentedSize = 131072;  // MS-SMBD 3.1.5.7

}  // namespace

Engine::Engine(Verbs* verbs, const smbd::Limits& limits, Role role)
    : verbs_(verbs), limits_(limits), role_(role) {
  // One buffer per receive we may post, each as large as a receive we accept.
  const size_t n = std::max<uint16_t>(limits_.receive_credit_max, 1);
  buffers_.assign(n, Bytes(std::max<uint32_t>(limits_.max_receive_size,
                                              smbd::NegotiateResponse::kSize)));
  for (size_t i = n; i > 0; --i) free_buffers_.push_back(static_cast<uint32_t>(i - 1));
}

bool Engine::postReceive() {
  if (free_buffers_.empty()) return false;
  const uint32_t i = free_buffers_.back();
  if (!verbs_->postRecv(i, buffers_[i])) {
    fail();
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

bool Engine::sendRaw(Bytes message) {
  const uint64_t id = kSendIdBit | next_send_id_++;
  auto [it, _] = in_flight_.emplace(id, std::move(message));
  if (!verbs_->postSend(id, it->second)) {
    in_flight_.erase(it);
    fail();
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
      fail();
      return;
    case smbd::NegotiateOutcome::kRefuse:
      sendRaw(smbd::encodeNegotiateResponse(resp));
      fail();  // after the failure response (MS-SMBD 3.1.5.6)
      return;
    case smbd::NegotiateOutcome::kAccept:
      break;
  }
  // The receives granted in the response are posted before it leaves. The initiator grants
  // our send credits in its first data transfer message.
  uint16_t posted = 0;
  while (posted < params_.receive_credit_target && postReceive()) ++posted;
  if (state_ == State::kFailed || posted == 0) return fail();
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
    return fail();
  }
  params_.max_receive_size = std::max<uint32_t>(
      128, std::min(limits_.max_receive_size, r->preferred_send_size));
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
  if (!m || !credits_->onReceive(*m)) return fail();
  ++received_messages_;
  if (m->data_length == 0) return;
  Bytes whole;
  switch (reassembler_->feed(*m, &whole)) {
    case smbd::Reassembler::Result::kViolation:
      return fail();
    case smbd::Reassembler::Result::kComplete:
      received_.push_back(std::move(whole));
      break;
    case smbd::Reassembler::Result::kIncomplete:
      break;
  }
}

void Engine::onReceive(uint64_t wr_id, uint32_t len) {
  if (wr_id >= buffers_.size() || len > buffers_[wr_id].size()) return fail();
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
    Outgoing& o = queue_.front();
    const uint32_t size = static_cast<uint32_t>(o.message.size());
    const uint32_t room = params_.max_send_size - static_cast<uint32_t>(smbd::kDataOffset);
    const uint32_t len = std::min(room, size - o.offset);
    smbd::DataTransfer h;
    h.remaining_data_length = size - o.offset - len;
    c.onSend(&h, limits_.send_credit_target);
    if (!sendRaw(smbd::encodeDataTransfer(h, ByteSpan(o.message).subspan(o.offset, len)))) return;
    ++sent_;
    o.offset += len;
    if (o.offset == size) queue_.pop_front();
    if (uint16_t n = c.receivesToPost(!queue_.empty()); n > 0) postReceives(n);
  }
  // A keep-alive is answered at once; granted receives are announced once the peer runs low
  // (not after every message: two idle peers would grant each other credits forever).
  const bool peer_low = c.receiveCredits() < std::max<uint16_t>(1, c.receiveCreditTarget() / 4);
  if (queue_.empty() && c.canSend() && (c.responseRequested() || peer_low)) {
    smbd::DataTransfer h;
    c.onSend(&h, limits_.send_credit_target);
    if (sendRaw(smbd::encodeDataTransfer(h, {}))) ++sent_;
  }
}

bool Engine::process() {
  Verbs::Completion done[kPollBatch];
  size_t n;
  while (state_ != State::kFailed && (n = verbs_->poll(done)) > 0) {
    for (size_t i = 0; i < n && state_ != State::kFailed; ++i) {
      const Verbs::Completion& c = done[i];
      if (!c.ok) {
        fail();
        return false;
      }
      if (c.kind == Verbs::Completion::Kind::kSend) {
        in_flight_.erase(c.wr_id);
      } else {
        onReceive(c.wr_id, c.byte_len);
      }
    }
    pump();
  }
  pump();
  return state_ != State::kFailed;
}

bool Engine::send(Bytes message) {
  if (state_ == State::kFailed || message.empty()) return false;
  if (state_ == State::kConnected && message.size() > params_.max_fragmented_send_size) {
    return false;
  }
  queue_.push_back({std::move(message), 0});
  pump();
  return state_ != State::kFailed;
}

}  // namespace xsmb::smbdirect
