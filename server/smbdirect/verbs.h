// The verbs operations the SMB Direct engine uses on one reliable connection (a queue pair
// and its completion queue), as an interface: the rdma-core backend maps them onto
// ibv_post_recv / ibv_post_send / ibv_poll_cq, the loopback provider (loopback_verbs.h) onto
// memory copies between two in-process endpoints, so that the engine is tested without a
// device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/base/bytes.h"

namespace xsmb::smbdirect {

class Verbs {
 public:
  // One work completion (ibv_wc): which posted operation ended, how, and for a receive how
  // many bytes arrived in its buffer.
  struct Completion {
    // kRdmaRead / kRdmaWrite: IBV_WC_RDMA_READ / IBV_WC_RDMA_WRITE (added for the READ/WRITE
    // channels; a provider without them never reports them).
    enum class Kind { kRecv, kSend, kRdmaRead, kRdmaWrite };
    Kind kind = Kind::kRecv;
    uint64_t wr_id = 0;  // the id the operation was posted with
    bool ok = true;      // false: the operation failed (IBV_WC_* other than success)
    uint32_t byte_len = 0;
  };
  virtual ~Verbs() = default;
  // Posts a receive into `buffer`, which stays the engine's until its completion. False: the
  // provider refused (queue full, connection down).
  virtual bool postRecv(uint64_t wr_id, std::span<uint8_t> buffer) = 0;
  // Posts a send of `message`, which stays valid until its completion. A send that finds no
  // receive posted by the peer fails (the receiver-not-ready error of a reliable connection
  // that has exhausted its retries): credits exist so that this never happens.
  virtual bool postSend(uint64_t wr_id, ByteSpan message) = 0;
  // Up to `out.size()` completions, oldest first; 0 when none is ready. One call reaps a batch.
  virtual size_t poll(std::span<Completion> out) = 0;

  // --- Added by branch smbdxport (defaults keep a provider without them compiling) ---

  // A descriptor that becomes readable when completions may be ready (the completion
  // channel's fd, ibv_comp_channel::fd; an eventfd in the loopback), for an event loop to wait
  // on; -1: none, the loop polls. Reading it is the provider's business: ackEvents() re-arms.
  virtual int completionFd() const { return -1; }
  virtual void ackEvents() {}

  // Memory registration (ibv_reg_mr with local write, remote read and remote write access):
  // `memory` stays registered until deregisterMemory(token). Returns the token that names it
  // to the peer (the rkey; also the lkey for local use), 0 when the provider refused.
  virtual uint32_t registerMemory(std::span<uint8_t> /*memory*/) { return 0; }
  virtual void deregisterMemory(uint32_t /*token*/) {}
  // RDMA Write (IBV_WR_RDMA_WRITE): `local` (inside memory registered here) into the peer's
  // registered memory `remote_token` at address `remote_offset`. RDMA Read (IBV_WR_RDMA_READ):
  // `local.size()` bytes from the peer into `local`. Each ends in one completion (kRdmaWrite,
  // kRdmaRead); an address or token the peer did not register fails it. False: not posted.
  virtual bool postRdmaWrite(uint64_t /*wr_id*/, ByteSpan /*local*/, uint64_t /*remote_offset*/,
                             uint32_t /*remote_token*/) {
    return false;
  }
  virtual bool postRdmaRead(uint64_t /*wr_id*/, std::span<uint8_t> /*local*/,
                            uint64_t /*remote_offset*/, uint32_t /*remote_token*/) {
    return false;
  }
  // Send with Invalidate (IBV_WR_SEND_WITH_INV, MS-SMBD 3.1.4.2 / MS-SMB2 3.3.5.12): as
  // postSend, and the peer's registration `invalidate_token` ends when the message lands.
  // Default: a plain send (the peer then invalidates the registration itself).
  virtual bool postSendInvalidate(uint64_t wr_id, ByteSpan message, uint32_t /*invalidate_token*/) {
    return postSend(wr_id, message);
  }
  // Ends the connection (rdma_disconnect): both sides' later operations fail and what is
  // posted completes with an error. Called once the engine has failed or the upper layer closed.
  virtual void disconnect() {}
};

}  // namespace xsmb::smbdirect
