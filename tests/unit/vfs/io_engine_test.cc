// Both file I/O engines (io_uring and the thread-pool fallback) against real temporary files,
// driven the way a worker drives them: submit, wait for the eventfd with epoll, reap.
#include "server/vfs/io_engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/unique_fd.h"

namespace xsmb::vfs {
namespace {

// A byte pattern that does not repeat every 256 bytes, so a read from the wrong offset shows.
uint8_t patternByte(size_t i) { return static_cast<uint8_t>(i * 131 + i / 251 + 7); }

std::vector<uint8_t> pattern(size_t n, size_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = patternByte(start + i);
  return v;
}

// A file in a fresh temporary directory, open read-write; both are removed at the end.
class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& content = {}) {
    char tmpl[] = "/tmp/xsmb-io-XXXXXX";
    char* dir = mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    dir_ = dir != nullptr ? dir : "/tmp";
    path_ = dir_ + "/file";
    fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd_) << path_;
    if (!content.empty()) {
      EXPECT_EQ(::pwrite(fd_.get(), content.data(), content.size(), 0),
                static_cast<ssize_t>(content.size()));
    }
  }
  ~TempFile() {
    fd_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // The whole file as the kernel sees it now (independent of the engine under test).
  std::vector<uint8_t> contents() const {
    struct stat st {};
    EXPECT_EQ(::fstat(fd_.get(), &st), 0);
    std::vector<uint8_t> v(static_cast<size_t>(st.st_size));
    EXPECT_EQ(::pread(fd_.get(), v.data(), v.size(), 0), static_cast<ssize_t>(v.size()));
    return v;
  }

 private:
  std::string dir_;
  std::string path_;
  UniqueFd fd_;
};

FileIo readOf(int fd, uint64_t offset, std::vector<uint8_t>* buf) {
  return FileIo{FileIo::Op::kRead, fd, offset, buf->data(), buf->size()};
}

FileIo writeOf(int fd, uint64_t offset, std::vector<uint8_t>* buf) {
  return FileIo{FileIo::Op::kWrite, fd, offset, buf->data(), buf->size()};
}

FileIo syncOf(int fd, FileIo::Op op) { return FileIo{op, fd, 0, nullptr, 0}; }

enum class Kind { kIoUring, kThreads };

struct EngineParam {
  const char* name;
  Kind kind;
  size_t max_chunk;  // bytes per kernel call; small values force the short-transfer path
};

// The io_uring engine gets fewer SQ entries than most tests keep in flight, so its internal
// queue is always exercised.
constexpr unsigned kEntries = 8;
constexpr size_t kWholeChunk = size_t{1} << 30;

class IoEngineTest : public ::testing::TestWithParam<EngineParam> {
 protected:
  void SetUp() override {
    const EngineParam& p = GetParam();
    if (p.kind == Kind::kIoUring) {
      std::string why;
      engine_ = internal::makeIoUringEngine(kEntries, p.max_chunk, &why);
      if (engine_ == nullptr) GTEST_SKIP() << "io_uring refused by this kernel: " << why;
      EXPECT_EQ(engine_->name(), "io_uring");
    } else {
      pool_ = std::make_unique<IoPool>(3);
      engine_ = internal::makeThreadEngine(pool_.get(), p.max_chunk);
      ASSERT_NE(engine_, nullptr);
      EXPECT_EQ(engine_->name(), "threads");
    }
    epfd_.reset(epoll_create1(EPOLL_CLOEXEC));
    ASSERT_TRUE(epfd_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ASSERT_EQ(epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, engine_->eventFd(), &ev), 0);
  }

  void TearDown() override {
    EXPECT_FALSE(ran_inside_submit_) << "a callback ran inside submit()";
    EXPECT_FALSE(ran_outside_reap_) << "a callback ran outside reap()";
    engine_.reset();
    pool_.reset();
    epfd_.reset();
  }

  // submit() that records whether the callback ever runs inside submit() or outside reap().
  void submit(const FileIo& io, std::function<void(int64_t)> done) {
    bool was = in_submit_;
    in_submit_ = true;
    engine_->submit(io, [this, done = std::move(done)](int64_t r) {
      if (in_submit_) ran_inside_submit_ = true;
      if (!in_reap_) ran_outside_reap_ = true;
      done(r);
    });
    in_submit_ = was;
  }

  void reap() {
    bool was_submit = in_submit_;
    in_submit_ = false;
    in_reap_ = true;
    engine_->reap();
    in_reap_ = false;
    in_submit_ = was_submit;
  }

  // Blocks in epoll_wait (no timeout: a completion that never signals hangs the test until the
  // ctest TIMEOUT) and reaps until `finished` holds.
  void runUntil(const std::function<bool()>& finished) {
    while (!finished()) {
      epoll_event ev{};
      int n = epoll_wait(epfd_.get(), &ev, 1, -1);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_EQ(n, 1) << "epoll_wait: " << std::strerror(errno);
      ASSERT_TRUE(ev.events & EPOLLIN);
      reap();
    }
  }

  int64_t runOne(const FileIo& io) {
    std::optional<int64_t> result;
    submit(io, [&](int64_t r) { result = r; });
    runUntil([&] { return result.has_value(); });
    return result.value_or(INT64_MIN);
  }

  bool readable() {
    epoll_event ev{};
    return epoll_wait(epfd_.get(), &ev, 1, 0) == 1;
  }

  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<IoEngine> engine_;
  UniqueFd epfd_;
  bool in_submit_ = false;
  bool in_reap_ = false;
  bool ran_inside_submit_ = false;
  bool ran_outside_reap_ = false;
};

TEST_P(IoEngineTest, ReadsKnownPattern) {
  std::vector<uint8_t> content = pattern(200000);
  TempFile file(content);

  std::vector<uint8_t> all(content.size());
  EXPECT_EQ(runOne(readOf(file.fd(), 0, &all)), 200000);
  EXPECT_EQ(all, content);

  std::vector<uint8_t> slice(1000);
  EXPECT_EQ(runOne(readOf(file.fd(), 12345, &slice)), 1000);
  EXPECT_EQ(slice, pattern(1000, 12345));
}

TEST_P(IoEngineTest, ReadAcrossEndOfFileIsShort) {
  std::vector<uint8_t> content = pattern(10000);
  TempFile file(content);

  std::vector<uint8_t> buf(8192, 0xEE);
  EXPECT_EQ(runOne(readOf(file.fd(), 8000, &buf)), 2000);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + 2000), pattern(2000, 8000));
  EXPECT_EQ(std::vector<uint8_t>(buf.begin() + 2000, buf.end()),
            std::vector<uint8_t>(8192 - 2000, 0xEE))
      << "bytes past end of file were written";

  EXPECT_EQ(runOne(readOf(file.fd(), 10000, &buf)), 0);
  EXPECT_EQ(runOne(readOf(file.fd(), uint64_t{1} << 40, &buf)), 0);
}

TEST_P(IoEngineTest, WritesThenReadsBack) {
  TempFile file;
  std::vector<uint8_t> data = pattern(300000, 99);
  EXPECT_EQ(runOne(writeOf(file.fd(), 4096, &data)), 300000);

  std::vector<uint8_t> expected(4096, 0);  // the hole before the written range reads as zeros
  expected.insert(expected.end(), data.begin(), data.end());
  EXPECT_EQ(file.contents(), expected);

  std::vector<uint8_t> back(expected.size() + 100, 0xEE);
  EXPECT_EQ(runOne(readOf(file.fd(), 0, &back)), static_cast<int64_t>(expected.size()));
  back.resize(expected.size());
  EXPECT_EQ(back, expected);
}

// A write-through WRITE (RWF_DSYNC): the whole range is written and reads back (durability
// itself cannot be observed without pulling the plug; the flag reaching the kernel is what the
// engine owes, and an unsupported flag would fail the write with -EOPNOTSUPP/-EINVAL).
TEST_P(IoEngineTest, DatasyncWriteIsCompleteAndReadsBack) {
  TempFile file;
  std::vector<uint8_t> data = pattern(70000, 7);
  FileIo io = writeOf(file.fd(), 0, &data);
  io.datasync = true;
  EXPECT_EQ(runOne(io), 70000);
  EXPECT_EQ(file.contents(), data);
}

TEST_P(IoEngineTest, ZeroLengthTransfersReturnZero) {
  TempFile file(pattern(100));
  std::vector<uint8_t> empty;
  EXPECT_EQ(runOne(readOf(file.fd(), 50, &empty)), 0);
  EXPECT_EQ(runOne(writeOf(file.fd(), 50, &empty)), 0);
  EXPECT_EQ(file.contents(), pattern(100));
}

TEST_P(IoEngineTest, FsyncAndFdatasyncSucceed) {
  TempFile file;
  std::vector<uint8_t> data = pattern(5000);
  EXPECT_EQ(runOne(writeOf(file.fd(), 0, &data)), 5000);
  EXPECT_EQ(runOne(syncOf(file.fd(), FileIo::Op::kFsync)), 0);
  EXPECT_EQ(runOne(syncOf(file.fd(), FileIo::Op::kFdatasync)), 0);
  EXPECT_EQ(file.contents(), data);
}

TEST_P(IoEngineTest, BadDescriptorIsEbadf) {
  TempFile file(pattern(100));
  int read_only = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  int write_only = ::open(file.path().c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  ASSERT_GE(write_only, 0);
  // A descriptor number that was valid and is now closed (nothing below opens a file).
  int closed = ::dup(file.fd());
  ASSERT_GE(closed, 0);
  ::close(closed);

  std::vector<uint8_t> buf(64);
  for (int fd : {-1, closed}) {
    SCOPED_TRACE(fd);
    EXPECT_EQ(runOne(readOf(fd, 0, &buf)), -EBADF);
    EXPECT_EQ(runOne(writeOf(fd, 0, &buf)), -EBADF);
    EXPECT_EQ(runOne(syncOf(fd, FileIo::Op::kFsync)), -EBADF);
    EXPECT_EQ(runOne(syncOf(fd, FileIo::Op::kFdatasync)), -EBADF);
  }
  EXPECT_EQ(runOne(readOf(write_only, 0, &buf)), -EBADF);
  EXPECT_EQ(runOne(writeOf(read_only, 0, &buf)), -EBADF);
  EXPECT_EQ(file.contents(), pattern(100));
  ::close(read_only);
  ::close(write_only);
}

TEST_P(IoEngineTest, OffsetBeyondInt64IsEinval) {
  TempFile file(pattern(100));
  std::vector<uint8_t> buf(10);
  // io_uring would take offset -1 as "the file position"; the engine must not let it through.
  EXPECT_EQ(runOne(readOf(file.fd(), UINT64_MAX, &buf)), -EINVAL);
  EXPECT_EQ(runOne(readOf(file.fd(), uint64_t{1} << 63, &buf)), -EINVAL);
  EXPECT_EQ(runOne(writeOf(file.fd(), INT64_MAX - 5, &buf)), -EINVAL);
  EXPECT_EQ(file.contents(), pattern(100));
}

TEST_P(IoEngineTest, ThousandRequestsInFlight) {
  constexpr size_t kRequests = 1000;
  constexpr size_t kBlock = 512;
  std::vector<uint8_t> content = pattern(kRequests * kBlock);
  TempFile source(content);
  TempFile target;

  // Half reads of `source`, half writes to `target`, all submitted before the first reap.
  std::vector<std::vector<uint8_t>> bufs(kRequests);
  std::vector<int64_t> results(kRequests, INT64_MIN);
  size_t finished = 0;
  for (size_t i = 0; i < kRequests; ++i) {
    uint64_t offset = i * kBlock;
    if (i % 2 == 0) {
      bufs[i].assign(kBlock, 0);
      submit(readOf(source.fd(), offset, &bufs[i]), [&, i](int64_t r) {
        results[i] = r;
        ++finished;
      });
    } else {
      bufs[i] = pattern(kBlock, offset + 3);
      submit(writeOf(target.fd(), offset, &bufs[i]), [&, i](int64_t r) {
        results[i] = r;
        ++finished;
      });
    }
  }
  EXPECT_EQ(finished, 0u);
  runUntil([&] { return finished == kRequests; });

  std::vector<uint8_t> written = target.contents();
  ASSERT_EQ(written.size(), kRequests * kBlock);
  for (size_t i = 0; i < kRequests; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(results[i], static_cast<int64_t>(kBlock));
    uint64_t offset = i * kBlock;
    if (i % 2 == 0) {
      EXPECT_EQ(bufs[i], pattern(kBlock, offset));
    } else {
      EXPECT_EQ(std::vector<uint8_t>(written.begin() + offset, written.begin() + offset + kBlock),
                pattern(kBlock, offset + 3));
    }
  }
}

TEST_P(IoEngineTest, CallbacksRunOnlyInReapAndMaySubmit) {
  TempFile file(pattern(4096));
  std::vector<uint8_t> buf(100);
  int calls = 0;
  // Each callback submits the next read; none may run inside that nested submit().
  std::function<void(int64_t)> next = [&](int64_t r) {
    EXPECT_EQ(r, 100);
    EXPECT_EQ(buf, pattern(100, static_cast<size_t>(calls) * 10));
    ++calls;
    if (calls < 20) submit(readOf(file.fd(), static_cast<uint64_t>(calls) * 10, &buf), next);
  };
  submit(readOf(file.fd(), 0, &buf), next);
  EXPECT_EQ(calls, 0);
  runUntil([&] { return calls == 20; });
  // TearDown checks that no callback ran inside submit() or outside reap().
}

TEST_P(IoEngineTest, EventFdSignalsCompletionsThroughEpoll) {
  TempFile file(pattern(1000));
  std::vector<uint8_t> buf(1000);
  int calls = 0;
  submit(readOf(file.fd(), 0, &buf), [&](int64_t r) {
    EXPECT_EQ(r, 1000);
    ++calls;
  });

  // The completion arrives (eventfd readable), but its callback waits for reap().
  epoll_event ev{};
  int n;
  do {
    n = epoll_wait(epfd_.get(), &ev, 1, -1);
  } while (n < 0 && errno == EINTR);
  ASSERT_EQ(n, 1);
  EXPECT_TRUE(ev.events & EPOLLIN);
  EXPECT_EQ(calls, 0);
  runUntil([&] { return calls == 1; });
  EXPECT_EQ(buf, pattern(1000));

  // Idle: once reaped (twice, to absorb a signal that raced the first drain), not readable.
  reap();
  reap();
  EXPECT_FALSE(readable());

  // And readable again for the next completion.
  submit(syncOf(file.fd(), FileIo::Op::kFsync), [&](int64_t r) {
    EXPECT_EQ(r, 0);
    ++calls;
  });
  runUntil([&] { return calls == 2; });
}

TEST_P(IoEngineTest, DestroyingWithRequestsInFlightDropsCallbacks) {
  std::vector<uint8_t> content = pattern(64 * 1024);
  TempFile file(content);
  std::vector<std::vector<uint8_t>> bufs(100, std::vector<uint8_t>(4096));
  int calls = 0;
  for (size_t i = 0; i < bufs.size(); ++i) {
    submit(readOf(file.fd(), i * 512, &bufs[i]), [&](int64_t) { ++calls; });
  }
  engine_.reset();  // waits for what the kernel or pool holds; buffers are still alive here
  EXPECT_EQ(calls, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, IoEngineTest,
                         ::testing::Values(EngineParam{"io_uring", Kind::kIoUring, kWholeChunk},
                                           EngineParam{"io_uring_chunked", Kind::kIoUring, 333},
                                           EngineParam{"threads", Kind::kThreads, kWholeChunk},
                                           EngineParam{"threads_chunked", Kind::kThreads, 333}),
                         [](const ::testing::TestParamInfo<EngineParam>& info) {
                           return info.param.name;
                         });

// io_uring only: the ring is created on one thread (as a worker's constructor would) and used
// on another (the worker's loop); IORING_SETUP_SINGLE_ISSUER must bind to the latter.
TEST(IoUringEngineTest, CreatedOnOneThreadUsedOnAnother) {
  std::string why;
  std::unique_ptr<IoEngine> engine = makeIoUringEngine(kEntries, &why);
  if (engine == nullptr) GTEST_SKIP() << "io_uring refused by this kernel: " << why;
  std::vector<uint8_t> content = pattern(50000);
  TempFile file(content);
  std::vector<uint8_t> buf(content.size());
  std::vector<int64_t> results;

  std::thread owner([&] {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, engine->eventFd(), &ev);
    engine->submit(readOf(file.fd(), 0, &buf), [&](int64_t r) { results.push_back(r); });
    engine->submit(syncOf(file.fd(), FileIo::Op::kFsync), [&](int64_t r) { results.push_back(r); });
    while (results.size() < 2) {
      int n = epoll_wait(ep, &ev, 1, -1);
      if (n < 0 && errno != EINTR) break;
      engine->reap();
    }
    ::close(ep);
  });
  owner.join();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], 50000);
  EXPECT_EQ(results[1], 0);
  EXPECT_EQ(buf, content);
}

// io_uring only: an operation the kernel cannot finish at once (a read of an empty pipe, which
// completes when another thread writes) must make the eventfd readable while the owner sleeps
// in epoll_wait, without the owner entering the kernel for any other reason: an event loop has
// nothing else that would wake it.
TEST(IoUringEngineTest, PuntedCompletionWakesASleepingOwner) {
  std::string why;
  std::unique_ptr<IoEngine> engine = makeIoUringEngine(kEntries, &why);
  if (engine == nullptr) GTEST_SKIP() << "io_uring refused by this kernel: " << why;
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  uint8_t buf[16] = {};
  int64_t result = -1;
  int woke = -1;
  std::thread owner([&] {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, engine->eventFd(), &ev);
    FileIo io;
    io.op = FileIo::Op::kRead;
    io.fd = pipefd[0];
    io.data = buf;
    io.length = 5;
    engine->submit(io, [&](int64_t r) { result = r; });
    // Sleeps here while the writer below fills the pipe; 20 s only bounds a broken build.
    do {
      woke = epoll_wait(ep, &ev, 1, 20000);  // the completion's task work may interrupt it
    } while (woke < 0 && errno == EINTR);
    if (woke == 1) engine->reap();
    ::close(ep);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the owner fall asleep
  ASSERT_EQ(write(pipefd[1], "hello", 5), 5);
  owner.join();
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_EQ(woke, 1) << "the completion did not wake the owner";
  EXPECT_EQ(result, 5);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 5), "hello");
}

// io_uring only: the owner thread submits and ends (as a stopped worker does) with requests in
// flight; destroying the engine on another thread then neither hangs nor runs a callback.
TEST(IoUringEngineTest, DestroyedOnAnotherThreadWithRequestsInFlight) {
  std::string why;
  std::unique_ptr<IoEngine> engine = makeIoUringEngine(kEntries, &why);
  if (engine == nullptr) GTEST_SKIP() << "io_uring refused by this kernel: " << why;
  TempFile file(pattern(64 * 1024));
  std::vector<std::vector<uint8_t>> bufs(50, std::vector<uint8_t>(4096));
  int calls = 0;
  std::thread owner([&] {
    for (size_t i = 0; i < bufs.size(); ++i) {
      engine->submit(readOf(file.fd(), i * 1000, &bufs[i]), [&](int64_t) { ++calls; });
      engine->submit(syncOf(file.fd(), FileIo::Op::kFdatasync), [&](int64_t) { ++calls; });
    }
  });
  owner.join();
  engine.reset();
  EXPECT_EQ(calls, 0);
}

// io_uring only: where the kernel refuses io_uring_setup (here a seccomp filter, as a container
// runtime's default profile does), the factory returns nullptr and says why.
TEST(IoUringEngineTest, RefusedSetupReturnsNullWithReason) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      _exit(77);
    }
    std::string why;
    std::unique_ptr<IoEngine> engine = makeIoUringEngine(kEntries, &why);
    bool ok = engine == nullptr && why.find("io_uring_setup") != std::string::npos &&
              why.find(std::strerror(EPERM)) != std::string::npos;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "seccomp filters are not permitted here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "makeIoUringEngine did not refuse with a reason";
}

}  // namespace
}  // namespace xsmb::vfs
