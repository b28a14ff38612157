#include "server/vfs/io_engine.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace xsmb::vfs {
namespace {

// One SQE (or one pread/pwrite) moves at most this much, so a length always fits the kernel's
// 32-bit length and result; longer transfers continue like short ones.
constexpr size_t kDefaultMaxChunk = size_t{1} << 30;

// -EINVAL for what the kernel would misread: an unknown op, or an offset (plus length) beyond
// INT64_MAX (io_uring takes offset -1 to mean "the file position"). 0 when the request is sane.
int64_t validate(const FileIo& io) {
  switch (io.op) {
    case FileIo::Op::kRead:
    case FileIo::Op::kWrite:
      if (io.offset > uint64_t{INT64_MAX} || io.length > uint64_t{INT64_MAX} - io.offset) {
        return -EINVAL;
      }
      return 0;
    case FileIo::Op::kFsync:
    case FileIo::Op::kFdatasync:
      return 0;
  }
  return -EINVAL;
}

void signalEventFd(int fd) {
  uint64_t one = 1;
  (void)!write(fd, &one, sizeof(one));
}

void clearEventFd(int fd) {
  uint64_t v;
  (void)!read(fd, &v, sizeof(v));
}

std::string errnoText(int err) { return std::string(std::strerror(err)); }

// ---------------------------------------------------------------------------------------------
// io_uring

// Creates the ring with the best flags this kernel accepts. EINVAL means "flag unknown" on older
// kernels, so it moves to the next set; anything else (EPERM, ENOSYS, ENOMEM) is final.
int setupRing(unsigned entries, io_uring* ring, bool* enabled) {
  struct Attempt {
    unsigned flags;
    bool enabled;
  };
  // SINGLE_ISSUER (6.0) binds the ring to one task; R_DISABLED (5.10) defers that binding to
  // IORING_REGISTER_ENABLE_RINGS on the owner thread. Not COOP_TASKRUN: with it, completion
  // work is only run when the owner enters the kernel anyway, and buffered WRITEs that had to
  // wait for writeback completed late (a 1 GiB smbclient put took 1.5-3.5 s against 0.76 s
  // without it, same binary otherwise, alternating runs).
  const Attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL, false},
      {IORING_SETUP_SUBMIT_ALL, true},
      {0, true},
  };
  int ret = -EINVAL;
  for (const Attempt& a : attempts) {
    io_uring_params params{};
    params.flags = a.flags;
    ret = io_uring_queue_init_params(entries, ring, &params);
    if (ret == 0) {
      *enabled = a.enabled;
      return 0;
    }
    if (ret != -EINVAL) return ret;
  }
  return ret;
}

std::string refusalReason(int err) {
  std::string why = "io_uring_setup: " + errnoText(err);
  if (err == EPERM || err == EACCES) {
    std::ifstream sysctl("/proc/sys/kernel/io_uring_disabled");
    int disabled = 0;
    if (sysctl >> disabled && disabled != 0) {
      why += " (kernel.io_uring_disabled=" + std::to_string(disabled) + ")";
    } else {
      why += " (seccomp or a security module)";
    }
  } else if (err == ENOSYS) {
    why += " (kernel built without io_uring)";
  }
  return why;
}

class IoUringEngine final : public IoEngine {
 public:
  // The ring lives in place (liburing's struct is not meant to be copied); nullptr with *why.
  static std::unique_ptr<IoEngine> create(unsigned entries, size_t max_chunk, std::string* why);
  explicit IoUringEngine(size_t max_chunk) : max_chunk_(max_chunk) {}
  ~IoUringEngine() override;

  std::string_view name() const override { return "io_uring"; }
  void submit(const FileIo& io, FileIoDone done) override;
  int eventFd() const override { return event_fd_; }
  void reap() override;

 private:
  struct Request {
    FileIo io;
    FileIoDone done;
    size_t transferred = 0;  // bytes already read or written by earlier pieces
  };
  struct Ready {
    std::unique_ptr<Request> request;
    int64_t result;
  };

  // Fills one SQE with the rest of `r`; false when the SQ has no free entry.
  bool prepare(Request* r);
  // Moves queued requests into the SQ while fewer than capacity_ are in the kernel, then
  // submits everything prepared.
  void pump();
  void flush();
  // Applies one CQE to its request: finished (moved to ready_) or queued for its next piece.
  void onCqe(Request* r, int res);

  io_uring ring_{};
  bool ring_ok_ = false;
  int event_fd_ = -1;
  // At most this many requests are in the kernel (the SQ size; the CQ holds twice as many), so
  // the CQ never overflows and an SQE is always free for a request that is let in.
  unsigned capacity_ = 0;
  unsigned in_kernel_ = 0;
  unsigned unsubmitted_ = 0;  // SQEs prepared but not yet accepted by io_uring_enter
  bool enabled_ = true;       // IORING_SETUP_R_DISABLED rings start disabled (see setupRing)
  size_t max_chunk_;
  std::deque<std::unique_ptr<Request>> queued_;  // waiting for room in the kernel
  std::vector<Ready> ready_;                     // finished, callbacks not yet run
};

std::unique_ptr<IoEngine> IoUringEngine::create(unsigned entries, size_t max_chunk,
                                                std::string* why) {
  auto engine = std::make_unique<IoUringEngine>(max_chunk);
  int ret = setupRing(entries, &engine->ring_, &engine->enabled_);
  if (ret < 0) {
    *why = refusalReason(-ret);
    return nullptr;
  }
  engine->ring_ok_ = true;
  engine->capacity_ = engine->ring_.sq.ring_entries;
  // READ/WRITE came in 5.6 and FSYNC in 5.1; a kernel with io_uring but without them (or a
  // filter that hides them) cannot serve us.
  if (io_uring_probe* probe = io_uring_get_probe_ring(&engine->ring_)) {
    bool ok = io_uring_opcode_supported(probe, IORING_OP_READ) &&
              io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
              io_uring_opcode_supported(probe, IORING_OP_FSYNC);
    io_uring_free_probe(probe);
    if (!ok) {
      *why = "io_uring lacks IORING_OP_READ, IORING_OP_WRITE or IORING_OP_FSYNC";
      return nullptr;
    }
  }
  engine->event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (engine->event_fd_ < 0) {
    *why = "eventfd: " + errnoText(errno);
    return nullptr;
  }
  ret = io_uring_register_eventfd(&engine->ring_, engine->event_fd_);
  if (ret < 0) {
    *why = "io_uring_register_eventfd: " + errnoText(-ret);
    return nullptr;
  }
  return engine;
}

IoUringEngine::~IoUringEngine() {
  // The kernel may still write into callers' buffers; wait for every request it holds. Cancel
  // first so requests parked in io-wq (or on a pipe) do not keep us here. From a thread other
  // than the owner the cancel is refused (SINGLE_ISSUER) and we simply wait.
  unsigned stuck = enabled_ ? unsubmitted_ : in_kernel_;  // SQEs the kernel never took
  if (in_kernel_ > 0 && enabled_) {
    bool cancel = false;
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data(sqe, nullptr);
      cancel = true;
    }
    unsigned pending = unsubmitted_ + (cancel ? 1 : 0);
    int ret = io_uring_submit(&ring_);
    unsigned taken = ret > 0 ? std::min<unsigned>(pending, static_cast<unsigned>(ret)) : 0;
    // The kernel consumes SQEs in order and the cancel is last: what is left is requests.
    stuck = std::min(unsubmitted_, pending - taken);
  }
  while (in_kernel_ > stuck) {
    io_uring_cqe* cqe = nullptr;
    int ret = io_uring_wait_cqe(&ring_, &cqe);
    if (ret == -EINTR) continue;
    if (ret < 0) break;  // nothing more will arrive; leak rather than free memory in use
    auto* r = static_cast<Request*>(io_uring_cqe_get_data(cqe));
    io_uring_cqe_seen(&ring_, cqe);
    if (r == nullptr) continue;  // the cancel request itself
    --in_kernel_;
    delete r;
  }
  // No io_uring_unregister_eventfd: a SINGLE_ISSUER ring refuses it (EEXIST) from any thread
  // but the owner, and closing the ring drops the registration anyway.
  if (ring_ok_) io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) close(event_fd_);
}

void IoUringEngine::submit(const FileIo& io, FileIoDone done) {
  auto r = std::make_unique<Request>();
  r->io = io;
  r->done = std::move(done);
  if (int64_t err = validate(io); err != 0) {
    ready_.push_back({std::move(r), err});
    signalEventFd(event_fd_);
    return;
  }
  queued_.push_back(std::move(r));
  pump();
}

bool IoUringEngine::prepare(Request* r) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return false;
  const FileIo& io = r->io;
  size_t piece = std::min(io.length - r->transferred, max_chunk_);
  uint64_t offset = io.offset + r->transferred;
  switch (io.op) {
    case FileIo::Op::kRead:
      io_uring_prep_read(sqe, io.fd, io.data + r->transferred, static_cast<unsigned>(piece),
                         offset);
      break;
    case FileIo::Op::kWrite:
      io_uring_prep_write(sqe, io.fd, io.data + r->transferred, static_cast<unsigned>(piece),
                          offset);
      if (io.datasync) sqe->rw_flags = RWF_DSYNC;
      break;
    case FileIo::Op::kFsync:
      io_uring_prep_fsync(sqe, io.fd, 0);
      break;
    case FileIo::Op::kFdatasync:
      io_uring_prep_fsync(sqe, io.fd, IORING_FSYNC_DATASYNC);
      break;
  }
  io_uring_sqe_set_data(sqe, r);
  ++in_kernel_;
  ++unsubmitted_;
  return true;
}

void IoUringEngine::pump() {
  while (in_kernel_ < capacity_ && !queued_.empty()) {
    if (!prepare(queued_.front().get())) break;
    (void)queued_.front().release();  // owned by the kernel's copy of user_data until its CQE
    queued_.pop_front();
  }
  flush();
}

void IoUringEngine::flush() {
  if (unsubmitted_ == 0) return;
  if (!enabled_) {
    // IORING_SETUP_SINGLE_ISSUER binds the ring to the thread that enables it: the owner thread.
    // liburing 2.3 declares io_uring_enable_rings() but does not export it, hence the syscall.
    if (syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) ==
        0) {
      enabled_ = true;
    }
  }
  int ret = io_uring_submit(&ring_);
  if (ret >= 0) {
    unsubmitted_ -= std::min<unsigned>(unsubmitted_, static_cast<unsigned>(ret));
  }
  if (unsubmitted_ > 0) {
    // The kernel took only part (EAGAIN/EBUSY under memory pressure). The rest stays in the SQ
    // and is handed over by the next io_uring_submit; make sure a reap() comes to do it.
    signalEventFd(event_fd_);
  }
}

void IoUringEngine::onCqe(Request* r, int res) {
  std::unique_ptr<Request> owned(r);
  const FileIo& io = r->io;
  if (res < 0 || io.op == FileIo::Op::kFsync || io.op == FileIo::Op::kFdatasync) {
    ready_.push_back({std::move(owned), res});
    return;
  }
  r->transferred += static_cast<size_t>(res);
  if (r->transferred >= io.length) {
    ready_.push_back({std::move(owned), static_cast<int64_t>(r->transferred)});
  } else if (res == 0) {
    // End of file for a read. A write that moves nothing would otherwise retry forever.
    int64_t result = io.op == FileIo::Op::kRead ? static_cast<int64_t>(r->transferred) : -EIO;
    ready_.push_back({std::move(owned), result});
  } else {
    queued_.push_front(std::move(owned));  // its next piece goes ahead of newer requests
  }
}

void IoUringEngine::reap() {
  // Clear first: a CQE posted after this read signals the eventfd again.
  clearEventFd(event_fd_);
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    auto* r = static_cast<Request*>(io_uring_cqe_get_data(cqe));
    if (r == nullptr) continue;
    --in_kernel_;
    onCqe(r, cqe->res);
  }
  io_uring_cq_advance(&ring_, seen);
  pump();

  // Callbacks may submit (adding to ready_ on validation errors), so run a detached batch.
  std::vector<Ready> batch;
  batch.swap(ready_);
  for (Ready& d : batch) {
    FileIoDone done = std::move(d.request->done);
    d.request.reset();
    if (done) done(d.result);
  }
}

// ---------------------------------------------------------------------------------------------
// Thread pool

// One pread, or one pwrite (RWF_DSYNC for a datasync write).
ssize_t transfer(const FileIo& io, uint8_t* data, size_t n, off_t offset) {
  if (io.op == FileIo::Op::kRead) return pread(io.fd, data, n, offset);
  iovec iov{data, n};
  return pwritev2(io.fd, &iov, 1, offset, io.datasync ? RWF_DSYNC : 0);
}

// pread/pwrite until done, end of file or error; the same contract as the io_uring engine.
int64_t runBlocking(const FileIo& io, size_t max_chunk) {
  if (io.op == FileIo::Op::kFsync) return fsync(io.fd) == 0 ? 0 : -errno;
  if (io.op == FileIo::Op::kFdatasync) return fdatasync(io.fd) == 0 ? 0 : -errno;
  size_t done = 0;
  while (done < io.length) {
    size_t piece = std::min(io.length - done, max_chunk);
    off_t offset = static_cast<off_t>(io.offset + done);
    ssize_t n = transfer(io, io.data + done, piece, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) {
      if (io.op == FileIo::Op::kWrite) return -EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  // A zero-length read or write still checks the descriptor, as the kernel does for io_uring.
  if (io.length == 0) {
    if (transfer(io, io.data, 0, static_cast<off_t>(io.offset)) < 0) return -errno;
  }
  return static_cast<int64_t>(done);
}

class ThreadEngine final : public IoEngine {
 public:
  ThreadEngine(IoPool* pool, int event_fd, size_t max_chunk)
      : pool_(pool), shared_(std::make_shared<Shared>(event_fd)), max_chunk_(max_chunk) {}
  ~ThreadEngine() override;

  std::string_view name() const override { return "threads"; }
  void submit(const FileIo& io, FileIoDone done) override;
  int eventFd() const override { return shared_->event_fd; }
  void reap() override;

 private:
  struct Result {
    uint64_t id;
    int64_t result;
  };
  // What pool threads touch; shared so that a task finishing after the engine is gone is safe.
  struct Shared {
    explicit Shared(int fd) : event_fd(fd) {}
    ~Shared() { close(event_fd); }
    std::mutex mu;
    std::condition_variable idle;  // outstanding reached 0
    std::vector<Result> results;   // guarded by mu
    size_t outstanding = 0;        // guarded by mu: tasks on the pool
    const int event_fd;
  };

  IoPool* pool_;
  std::shared_ptr<Shared> shared_;
  size_t max_chunk_;
  uint64_t next_id_ = 1;
  // Callbacks stay on the owner thread (they may capture state that is not thread-safe).
  std::unordered_map<uint64_t, FileIoDone> callbacks_;
  std::vector<Result> local_;  // validation failures, finished without the pool
};

ThreadEngine::~ThreadEngine() {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->idle.wait(lock, [this] { return shared_->outstanding == 0; });
}

void ThreadEngine::submit(const FileIo& io, FileIoDone done) {
  uint64_t id = next_id_++;
  callbacks_.emplace(id, std::move(done));
  if (int64_t err = validate(io); err != 0) {
    local_.push_back({id, err});
    signalEventFd(shared_->event_fd);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    ++shared_->outstanding;
  }
  pool_->submit([shared = shared_, io, id, max_chunk = max_chunk_] {
    int64_t result = runBlocking(io, max_chunk);
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->results.push_back({id, result});
      if (--shared->outstanding == 0) shared->idle.notify_all();
    }
    signalEventFd(shared->event_fd);
  });
}

void ThreadEngine::reap() {
  clearEventFd(shared_->event_fd);
  std::vector<Result> batch;
  batch.swap(local_);
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    batch.insert(batch.end(), shared_->results.begin(), shared_->results.end());
    shared_->results.clear();
  }
  for (const Result& r : batch) {
    auto it = callbacks_.find(r.id);
    if (it == callbacks_.end()) continue;
    FileIoDone done = std::move(it->second);
    callbacks_.erase(it);
    if (done) done(r.result);
  }
}

}  // namespace

namespace internal {

std::unique_ptr<IoEngine> makeIoUringEngine(unsigned entries, size_t max_chunk, std::string* why) {
  std::string ignored;
  return IoUringEngine::create(entries, std::max<size_t>(1, std::min(max_chunk, kDefaultMaxChunk)),
                               why != nullptr ? why : &ignored);
}

std::unique_ptr<IoEngine> makeThreadEngine(IoPool* pool, size_t max_chunk) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return nullptr;
  return std::make_unique<ThreadEngine>(pool, efd,
                                        std::max<size_t>(1, std::min(max_chunk, kDefaultMaxChunk)));
}

}  // namespace internal

std::unique_ptr<IoEngine> makeIoUringEngine(unsigned entries, std::string* why) {
  return internal::makeIoUringEngine(entries, kDefaultMaxChunk, why);
}

std::unique_ptr<IoEngine> makeThreadEngine(IoPool* pool) {
  return internal::makeThreadEngine(pool, kDefaultMaxChunk);
}

}  // namespace xsmb::vfs
