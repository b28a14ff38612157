#include "server/smbdirect/loopback_verbs.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace xsmb::smbdirect {

std::pair<std::unique_ptr<LoopbackVerbs>, std::unique_ptr<LoopbackVerbs>> LoopbackVerbs::pair() {
  auto a = std::make_unique<LoopbackVerbs>();
  auto b = std::make_unique<LoopbackVerbs>();
  a->peer_ = b.get();
  b->peer_ = a.get();
  b->mu_ = a->mu_;
  return {std::move(a), std::move(b)};
}

LoopbackVerbs::LoopbackVerbs()
    : mu_(std::make_shared<std::mutex>()), event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

LoopbackVerbs::~LoopbackVerbs() {
  {
    std::lock_guard<std::mutex> lock(*mu_);
    if (peer_) {
      // The peer sees the connection end, as a reliable connection's peer does.
      disconnectLocked();
      peer_->peer_ = nullptr;
    }
  }
  if (event_fd_ >= 0) close(event_fd_);
}

void LoopbackVerbs::pushLocked(LoopbackVerbs* to, Completion c) {
  to->completions_.push_back(c);
  uint64_t one = 1;
  (void)!write(to->event_fd_, &one, sizeof(one));
}

void LoopbackVerbs::disconnectLocked() {
  // The queue pairs go to the error state: what is posted completes flushed (failed), and
  // the engines see the connection end.
  for (LoopbackVerbs* v : {this, peer_}) {
    if (!v) continue;
    v->down_ = true;
    while (!v->recvs_.empty()) {
      pushLocked(v, {Completion::Kind::kRecv, v->recvs_.front().wr_id, false, 0});
      v->recvs_.pop_front();
    }
    uint64_t one = 1;
    (void)!write(v->event_fd_, &one, sizeof(one));
  }
}

void LoopbackVerbs::disconnect() {
  std::lock_guard<std::mutex> lock(*mu_);
  disconnectLocked();
}

void LoopbackVerbs::ackEvents() {
  uint64_t v;
  (void)!read(event_fd_, &v, sizeof(v));
}

bool LoopbackVerbs::postRecv(uint64_t wr_id, std::span<uint8_t> buffer) {
  std::lock_guard<std::mutex> lock(*mu_);
  if (down_) return false;
  recvs_.push_back({wr_id, buffer});
  return true;
}

bool LoopbackVerbs::sendLocked(uint64_t wr_id, ByteSpan message) {
  if (down_ || !peer_) return false;
  ++sends_;
  Completion done{Completion::Kind::kSend, wr_id, true, 0};
  if (peer_->recvs_.empty() || peer_->recvs_.front().buffer.size() < message.size()) {
    // Receiver not ready (or its buffer too small): the connection breaks on both sides.
    done.ok = false;
    pushLocked(this, done);
    if (!peer_->recvs_.empty()) {
      pushLocked(peer_, {Completion::Kind::kRecv, peer_->recvs_.front().wr_id, false, 0});
      peer_->recvs_.pop_front();
    }
    disconnectLocked();
    return true;
  }
  PostedRecv r = peer_->recvs_.front();
  peer_->recvs_.pop_front();
  std::memcpy(r.buffer.data(), message.data(), message.size());
  pushLocked(peer_,
             {Completion::Kind::kRecv, r.wr_id, true, static_cast<uint32_t>(message.size())});
  pushLocked(this, done);
  return true;
}

bool LoopbackVerbs::postSend(uint64_t wr_id, ByteSpan message) {
  std::lock_guard<std::mutex> lock(*mu_);
  return sendLocked(wr_id, message);
}

bool LoopbackVerbs::postSendInvalidate(uint64_t wr_id, ByteSpan message,
                                       uint32_t invalidate_token) {
  std::lock_guard<std::mutex> lock(*mu_);
  if (!sendLocked(wr_id, message)) return false;
  if (peer_) peer_->regions_.erase(invalidate_token);
  return true;
}

size_t LoopbackVerbs::poll(std::span<Completion> out) {
  std::lock_guard<std::mutex> lock(*mu_);
  size_t n = std::min(out.size(), completions_.size());
  for (size_t i = 0; i < n; ++i) {
    out[i] = completions_.front();
    completions_.pop_front();
  }
  return n;
}

uint32_t LoopbackVerbs::registerMemory(std::span<uint8_t> memory) {
  std::lock_guard<std::mutex> lock(*mu_);
  if (down_ || memory.empty()) return 0;
  const uint32_t token = next_token_++;
  regions_[token] = memory;
  return token;
}

void LoopbackVerbs::deregisterMemory(uint32_t token) {
  std::lock_guard<std::mutex> lock(*mu_);
  regions_.erase(token);
}

std::span<uint8_t> LoopbackVerbs::peerRangeLocked(uint64_t offset, uint32_t token, size_t length) {
  if (!peer_) return {};
  auto it = peer_->regions_.find(token);
  if (it == peer_->regions_.end()) return {};
  // Addresses are the registered memory's own (as with an ibv_mr's addr).
  const auto base = reinterpret_cast<uintptr_t>(it->second.data());
  if (offset < base || offset - base > it->second.size() ||
      length > it->second.size() - (offset - base)) {
    return {};
  }
  return it->second.subspan(offset - base, length);
}

bool LoopbackVerbs::postRdmaWrite(uint64_t wr_id, ByteSpan local, uint64_t remote_offset,
                                  uint32_t remote_token) {
  std::lock_guard<std::mutex> lock(*mu_);
  if (down_ || !peer_) return false;
  std::span<uint8_t> dst = peerRangeLocked(remote_offset, remote_token, local.size());
  if (dst.size() != local.size() || local.empty()) {
    pushLocked(this, {Completion::Kind::kRdmaWrite, wr_id, false, 0});
    disconnectLocked();  // a remote access error ends a reliable connection
    return true;
  }
  std::memcpy(dst.data(), local.data(), local.size());
  ++rdma_writes_;
  pushLocked(this,
             {Completion::Kind::kRdmaWrite, wr_id, true, static_cast<uint32_t>(local.size())});
  return true;
}

bool LoopbackVerbs::postRdmaRead(uint64_t wr_id, std::span<uint8_t> local, uint64_t remote_offset,
                                 uint32_t remote_token) {
  std::lock_guard<std::mutex> lock(*mu_);
  if (down_ || !peer_) return false;
  std::span<uint8_t> src = peerRangeLocked(remote_offset, remote_token, local.size());
  if (src.size() != local.size() || local.empty()) {
    pushLocked(this, {Completion::Kind::kRdmaRead, wr_id, false, 0});
    disconnectLocked();
    return true;
  }
  std::memcpy(local.data(), src.data(), local.size());
  ++rdma_reads_;
  pushLocked(this, {Completion::Kind::kRdmaRead, wr_id, true, static_cast<uint32_t>(local.size())});
  return true;
}

size_t LoopbackVerbs::postedReceives() const {
  std::lock_guard<std::mutex> lock(*mu_);
  return recvs_.size();
}
uint64_t LoopbackVerbs::sends() const {
  std::lock_guard<std::mutex> lock(*mu_);
  return sends_;
}
size_t LoopbackVerbs::registrations() const {
  std::lock_guard<std::mutex> lock(*mu_);
  return regions_.size();
}
uint64_t LoopbackVerbs::rdmaReads() const {
  std::lock_guard<std::mutex> lock(*mu_);
  return rdma_reads_;
}
uint64_t LoopbackVerbs::rdmaWrites() const {
  std::lock_guard<std::mutex> lock(*mu_);
  return rdma_writes_;
}

}  // namespace xsmb::smbdirect
