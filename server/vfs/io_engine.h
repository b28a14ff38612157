// Asynchronous file I/O for an event loop: each owner thread (a worker) has one IoEngine, submits
// reads, writes and syncs on open file descriptors, and runs their callbacks from its own loop
// when the engine's eventfd becomes readable. Two implementations: io_uring where the kernel
// permits it, and a thread-pool fallback with the same behaviour, chosen once at start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/vfs/io_pool.h"

namespace xsmb::vfs {

// One file operation. Buffers are owned by the caller and must stay alive until the callback.
// kRead/kWrite use offset, data and length (bytes); kFsync/kFdatasync use only fd.
struct FileIo {
  enum class Op : uint8_t { kRead, kWrite, kFsync, kFdatasync };
  Op op = Op::kRead;
  int fd = -1;
  uint64_t offset = 0;      // bytes from the start of the file; above INT64_MAX is -EINVAL
  uint8_t* data = nullptr;  // read target or write source
  size_t length = 0;
  // kWrite: the data is on stable storage when the write completes (RWF_DSYNC), as a
  // write-through WRITE requires (MS-SMB2 2.2.21 SMB2_WRITEFLAG_WRITE_THROUGH).
  bool datasync = false;
};

// Result: bytes transferred (a read stops early only at end of file; a write is complete), or
// -errno. Short transfers are continued inside the engine; an error after partial progress is
// reported as that error, not as a short count. Syncs return 0 or -errno.
using FileIoDone = std::function<void(int64_t result)>;

// Not thread-safe: every call happens on the owner thread (the one that runs the event loop).
// Callbacks run only inside reap(), never inside submit(); they may call submit() again.
// Destroying the engine waits for the operations the kernel (or the pool) already holds, so no
// buffer is touched afterwards, and drops all callbacks that have not run without calling them.
// Destroy it on the owner thread or after that thread has ended (io_uring completion work runs
// on the owner thread).
class IoEngine {
 public:
  virtual ~IoEngine() = default;
  virtual std::string_view name() const = 0;  // "io_uring" or "threads"
  // Starts `io` (or queues it when the engine is at capacity); `done` runs later in reap().
  virtual void submit(const FileIo& io, FileIoDone done) = 0;  // owner thread only
  // Readable (EPOLLIN) when completions wait for reap(); owned by the engine. Level-style:
  // reap() clears it, and a completion that arrives afterwards makes it readable again.
  virtual int eventFd() const = 0;
  // Runs waiting callbacks on the owner thread and issues queued operations; never blocks.
  virtual void reap() = 0;
};

// io_uring with `entries` SQEs (rounded up to a power of two by the kernel), or nullptr (with the
// reason in *why, which may be null) when the kernel refuses (io_uring_disabled sysctl, seccomp,
// ENOSYS, EPERM) or lacks read/write/fsync. Uses IORING_SETUP_SINGLE_ISSUER | COOP_TASKRUN
// where supported; the ring binds to the thread of the first submit(), so the engine may be
// created on another thread (e.g. in a worker's constructor) as long as all calls come from one
// thread afterwards. More than `entries` operations in flight are queued inside the engine.
std::unique_ptr<IoEngine> makeIoUringEngine(unsigned entries, std::string* why);

// Runs each operation on `pool` (server/vfs/io_pool.h IoPool) and hands the result back through
// an eventfd; callbacks still run on the owner thread in reap(). `pool` must outlive the engine,
// and its threads must not block waiting for this engine's results (that would deadlock).
// nullptr only when no eventfd can be created (EMFILE).
std::unique_ptr<IoEngine> makeThreadEngine(IoPool* pool);

namespace internal {
// The same engines, but each kernel call moves at most `max_chunk` bytes (default 1 GiB), so
// that tests can make every transfer take the path of a short read or write.
std::unique_ptr<IoEngine> makeIoUringEngine(unsigned entries, size_t max_chunk, std::string* why);
std::unique_ptr<IoEngine> makeThreadEngine(IoPool* pool, size_t max_chunk);
}  // namespace internal

}  // namespace xsmb::vfs
