// An in-process verbs provider: two endpoints joined back to back, a send on one landing in
// the oldest receive posted on the other (copied, as the wire would), completions queued on
// both sides. A send with no receive posted on the peer fails both ways, as receiver-not-ready
// does on a reliable connection once its retries run out. RDMA Read and Write copy between
// local memory and memory the peer registered (an unknown token or a range outside the
// registration fails the operation and the connection, as a remote access error does), and a
// send with invalidate ends the peer's registration. For the engine's tests: no device.
//
// Thread-safe: the two endpoints share one mutex, so a server loop and a test client on
// different threads may drive them; each endpoint's eventfd (completionFd) is signalled when a
// completion is queued on it.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

class LoopbackVerbs : public Verbs {
 public:
  // Two joined endpoints.
  static std::pair<std::unique_ptr<LoopbackVerbs>, std::unique_ptr<LoopbackVerbs>> pair();
  LoopbackVerbs();
  ~LoopbackVerbs() override;

  bool postRecv(uint64_t wr_id, std::span<uint8_t> buffer) override;
  bool postSend(uint64_t wr_id, ByteSpan message) override;
  size_t poll(std::span<Completion> out) override;
  int completionFd() const override { return event_fd_; }
  void ackEvents() override;
  uint32_t registerMemory(std::span<uint8_t> memory) override;
  void deregisterMemory(uint32_t token) override;
  bool postRdmaWrite(uint64_t wr_id, ByteSpan local, uint64_t remote_offset,
                     uint32_t remote_token) override;
  bool postRdmaRead(uint64_t wr_id, std::span<uint8_t> local, uint64_t remote_offset,
                    uint32_t remote_token) override;
  bool postSendInvalidate(uint64_t wr_id, ByteSpan message, uint32_t invalidate_token) override;

  size_t postedReceives() const;
  uint64_t sends() const;
  size_t registrations() const;  // memory regions registered and not yet deregistered
  uint64_t rdmaReads() const;
  uint64_t rdmaWrites() const;
  void disconnect() override;  // both sides' later operations fail

 private:
  struct PostedRecv {
    uint64_t wr_id;
    std::span<uint8_t> buffer;
  };
  void pushLocked(LoopbackVerbs* to, Completion c);
  void disconnectLocked();
  bool sendLocked(uint64_t wr_id, ByteSpan message);
  // The peer's registered bytes [offset, offset + length) under `token`, or an empty span.
  std::span<uint8_t> peerRangeLocked(uint64_t offset, uint32_t token, size_t length);

  std::shared_ptr<std::mutex> mu_;
  LoopbackVerbs* peer_ = nullptr;
  bool down_ = false;
  int event_fd_ = -1;
  std::deque<PostedRecv> recvs_;
  std::deque<Completion> completions_;
  std::map<uint32_t, std::span<uint8_t>> regions_;  // by token
  uint32_t next_token_ = 0x1000;
  uint64_t sends_ = 0, rdma_reads_ = 0, rdma_writes_ = 0;
};

}  // namespace xsmb::smbdirect
