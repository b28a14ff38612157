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
    enum class Kind { kRecv, kSend };
    Kind kind = Kind::kRecv;
    uint64_t wr_id = 0;   // the id the operation was posted with
    bool ok = true;       // false: the operation failed (IBV_WC_* other than success)
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
};

}  // namespace xsmb::smbdirect
