// The bytes written to one QUIC stream, kept until the peer acknowledges them: a sender must
// be able to send stream data again until it is acknowledged (RFC 9000 2.2, 13.3). Used by the
// server's QUIC sessions and by xsmb-quic-bridge. Offsets are stream offsets in bytes, from 0;
// acknowledgements arrive in order (ngtcp2's acked_stream_data_offset callback reports the
// newly acknowledged contiguous prefix). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace xsmb::quic {

class StreamSendQueue {
 public:
  // Appends `bytes` (nothing when empty) behind what is queued.
  void push(std::vector<uint8_t> bytes) {
    if (bytes.empty()) return;
    queued_ += bytes.size();
    chunks_.push_back(std::move(bytes));
  }
  // `n` more bytes went out in STREAM frames (they stay queued until acknowledged).
  void sent(uint64_t n) { sent_ += n; }
  // The next `n` bytes were acknowledged: chunks wholly acknowledged are freed.
  void acked(uint64_t n) {
    acked_ += n;
    front_acked_ += n;
    while (!chunks_.empty() && front_acked_ >= chunks_.front().size()) {
      front_acked_ -= chunks_.front().size();
      chunks_.pop_front();
    }
  }
  // The bytes not yet sent, as at most `max` pieces pointing into the queue (valid until the
  // next push or acked). Vec: a struct with `base` (uint8_t*) and `len`, such as ngtcp2_vec.
  template <class Vec>
  size_t pendingVecs(Vec* v, size_t max) const {
    uint64_t skip = sent_ - acked_ + front_acked_;  // into chunks_, from the front chunk's start
    size_t n = 0;
    for (const std::vector<uint8_t>& c : chunks_) {
      if (n == max) break;
      if (skip >= c.size()) {
        skip -= c.size();
        continue;
      }
      v[n].base = const_cast<uint8_t*>(c.data()) + skip;
      v[n].len = c.size() - skip;
      skip = 0;
      ++n;
    }
    return n;
  }
  uint64_t queued() const { return queued_; }  // stream offset after the last byte queued
  uint64_t sentOffset() const { return sent_; }
  uint64_t unacked() const { return queued_ - acked_; }
  bool allAcked() const { return acked_ == queued_; }

 private:
  std::deque<std::vector<uint8_t>> chunks_;
  uint64_t front_acked_ = 0;  // acknowledged bytes at the start of chunks_.front()
  uint64_t queued_ = 0, acked_ = 0, sent_ = 0;
};

}  // namespace xsmb::quic
