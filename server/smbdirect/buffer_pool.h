// Registered memory for the RDMA channels of READ and WRITE (MS-SMBD 3.1.4.3 / 3.1.4.4): a
// per-connection pool of buffers of MaxReadWriteSize bytes each, registered with the
// connection's verbs the first time one is needed and reused from then on, so that a stream
// of 1 MiB READs registers memory once rather than per request (registration pins pages and
// is the costly part). Thread-safe: handlers acquire buffers on pool threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/smbd/rdma_channel.h"
#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // Up to `max_buffers` buffers of `buffer_size` bytes, registered with `verbs` (kept alive
  // until the last buffer is returned: deregistration needs it).
  BufferPool(std::shared_ptr<Verbs> verbs, size_t buffer_size, size_t max_buffers);
  ~BufferPool();  // deregisters every buffer
  // A buffer of at least `size` bytes, nullptr when `size` exceeds buffer_size, all buffers
  // are in use, or registration failed. It returns to the pool when released.
  std::shared_ptr<smbd::RegisteredBuffer> acquire(size_t size);
  size_t registered() const;  // buffers registered so far (at most max_buffers)
  size_t inUse() const;

 private:
  struct Slot {
    std::unique_ptr<uint8_t[]> memory;
    smbd::RegisteredBuffer buffer;
  };
  void release(size_t index);

  std::shared_ptr<Verbs> verbs_;
  const size_t buffer_size_, max_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<size_t> free_;
};

}  // namespace xsmb::smbdirect
