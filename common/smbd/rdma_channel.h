// What the SMB2 READ and WRITE handlers need of an SMB Direct connection to serve an RDMA
// channel (MS-SMB2 2.2.19 / 2.2.21 Channel SMB2_CHANNEL_RDMA_V1 and _V1_INVALIDATE, MS-SMB2
// 3.3.5.12 / 3.3.5.13, MS-SMBD 3.1.4.3 / 3.1.4.4): buffers in registered memory from a pool,
// RDMA Write of READ data into the client's memory and RDMA Read of WRITE data from it, both
// named by the request's buffer descriptor list (MS-SMBD 2.2.3.1), and Send with Invalidate of
// the response. The transport (server/smbdirect) implements it; a connection without one (TCP)
// has none, and its READ/WRITE requests with an RDMA channel fail with STATUS_INVALID_PARAMETER.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/smbd/smbd.h"

namespace xsmb::smbd {

// A buffer of registered memory, returned to its pool when the last reference goes.
struct RegisteredBuffer {
  std::span<uint8_t> bytes;  // the whole buffer (at least what was asked for)
  uint32_t token = 0;        // its registration on this side (lkey)
};

class RdmaChannel {
 public:
  virtual ~RdmaChannel() = default;
  // The largest transfer of one READ or WRITE (MaxReadWriteSize, MS-SMBD 3.1.1.1), bytes.
  virtual uint32_t maxReadWriteSize() const = 0;
  // A registered buffer of at least `size` bytes (<= maxReadWriteSize()); nullptr when the
  // pool is exhausted or the connection is gone (the request then fails, and may be retried).
  virtual std::shared_ptr<RegisteredBuffer> acquire(size_t size) = 0;
  // RDMA Write of the first `length` bytes of `buffer` into the peer's memory: the
  // descriptors in order, each filled before the next. Blocks until every write completed;
  // false when the descriptors hold fewer than `length` bytes, or a write failed (the
  // connection is then closed). Not on the transport's event loop (it would wait on itself).
  virtual bool writeToPeer(std::span<const BufferDescriptorV1> descriptors,
                           const RegisteredBuffer& buffer, size_t length) = 0;
  // RDMA Read of `length` bytes from the peer's memory named by the descriptors into `buffer`.
  virtual bool readFromPeer(std::span<const BufferDescriptorV1> descriptors,
                            RegisteredBuffer& buffer, size_t length) = 0;
  // The reply to the request being processed is sent with Send with Invalidate of the peer's
  // registration `token` (SMB2_CHANNEL_RDMA_V1_INVALIDATE). One per reply; a later call in the
  // same reply (a compound) is ignored: the client invalidates that registration itself.
  virtual void invalidateWithReply(uint32_t token) = 0;
};

}  // namespace xsmb::smbd
