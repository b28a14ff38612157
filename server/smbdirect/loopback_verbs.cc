#include "server/smbdirect/loopback_verbs.h"

#include <algorithm>
#include <cstring>

namespace xsmb::smbdirect {

std::pair<std::unique_ptr<LoopbackVerbs>, std::unique_ptr<LoopbackVerbs>> LoopbackVerbs::pair() {
  auto a = std::make_unique<LoopbackVerbs>();
  auto b = std::make_unique<LoopbackVerbs>();
  a->peer_ = b.get();
  b->peer_ = a.get();
  return {std::move(a), std::move(b)};
}

LoopbackVerbs::~LoopbackVerbs() {
  if (peer_) peer_->peer_ = nullptr;
}

void LoopbackVerbs::disconnect() {
  down_ = true;
  if (peer_) peer_->down_ = true;
}

bool LoopbackVerbs::postRecv(uint64_t wr_id, std::span<uint8_t> buffer) {
  if (down_) return false;
  recvs_.push_back({wr_id, buffer});
  return true;
}

bool LoopbackVerbs::postSend(uint64_t wr_id, ByteSpan message) {
  if (down_ || !peer_) return false;
  ++sends_;
  Completion done{Completion::Kind::kSend, wr_id, true, 0};
  if (peer_->recvs_.empty() || peer_->recvs_.front().buffer.size() < message.size()) {
    // Receiver not ready (or its buffer too small): the connection breaks on both sides.
    done.ok = false;
    completions_.push_back(done);
    if (!peer_->recvs_.empty()) {
      peer_->completions_.push_back(
          {Completion::Kind::kRecv, peer_->recvs_.front().wr_id, false, 0});
      peer_->recvs_.pop_front();
    }
    disconnect();
    return true;
  }
  PostedRecv r = peer_->recvs_.front();
  peer_->recvs_.pop_front();
  std::memcpy(r.buffer.data(), message.data(), message.size());
  peer_->completions_.push_back(
      {Completion::Kind::kRecv, r.wr_id, true, static_cast<uint32_t>(message.size())});
  completions_.push_back(done);
  return true;
}

size_t LoopbackVerbs::poll(std::span<Completion> out) {
  size_t n = std::min(out.size(), completions_.size());
  for (size_t i = 0; i < n; ++i) {
    out[i] = completions_.front();
    completions_.pop_front();
  }
  return n;
}

}  // namespace xsmb::smbdirect
