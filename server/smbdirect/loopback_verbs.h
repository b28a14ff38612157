// An in-process verbs provider: two endpoints joined back to back, a send on one landing in
// the oldest receive posted on the other (copied, as the wire would), completions queued on
// both sides. A send with no receive posted on the peer fails both ways, as receiver-not-ready
// does on a reliable connection once its retries run out. For the engine's tests: no device.
#pragma once

#include <deque>
#include <memory>
#include <utility>

#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

class LoopbackVerbs : public Verbs {
 public:
  // Two joined endpoints.
  static std::pair<std::unique_ptr<LoopbackVerbs>, std::unique_ptr<LoopbackVerbs>> pair();
  ~LoopbackVerbs() override;

  bool postRecv(uint64_t wr_id, std::span<uint8_t> buffer) override;
  bool postSend(uint64_t wr_id, ByteSpan message) override;
  size_t poll(std::span<Completion> out) override;

  size_t postedReceives() const { return recvs_.size(); }
  uint64_t sends() const { return sends_; }
  void disconnect();  // both sides' later operations fail

 private:
  struct PostedRecv {
    uint64_t wr_id;
    std::span<uint8_t> buffer;
  };
  LoopbackVerbs* peer_ = nullptr;
  bool down_ = false;
  std::deque<PostedRecv> recvs_;
  std::deque<Completion> completions_;
  uint64_t sends_ = 0;
};

}  // namespace xsmb::smbdirect
