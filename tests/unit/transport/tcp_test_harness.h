// The test side of the TCP transport tests (tcp_worker_test.cc): NetBIOS frames built by hand,
// a blocking client whose every wait is bounded by poll(), a scriptable Acceptor and
// ConnectionCallbacks that record what reaches them and check the threading contract, and a
// fixture that runs one Worker on 127.0.0.1 with a port the kernel picks.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/transport/tcp_worker.h"

namespace xsmb::transport::test {

using Clock = std::chrono::steady_clock;

// How long a client waits for anything the server should send, and the test for a callback.
constexpr std::chrono::seconds kTimeout{10};

// ---------------------------------------------------------------------------------------------
// Bytes on the wire

// A NetBIOS header (MS-SMB2 2.1): type byte, 24-bit big-endian length. Written by hand here, not
// with common/smb2/netbios.h, so that the test does not share the code under test.
inline std::string header(uint8_t type, uint32_t length) {
  return {static_cast<char>(type), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length)};
}
inline std::string frame(std::string_view payload) {
  return header(0x00, static_cast<uint32_t>(payload.size())) + std::string(payload);
}
inline std::string keepAlive(std::string_view payload = {}) {
  return header(0x85, static_cast<uint32_t>(payload.size())) + std::string(payload);
}

// Bytes that do not repeat every 256, so that data from a wrong offset shows.
inline uint8_t patternByte(size_t i, size_t seed) {
  return static_cast<uint8_t>(i * 131 + i / 251 + seed);
}
inline std::string pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(patternByte(i, seed));
  return s;
}

inline std::string str(const Message& m) {
  return std::string(reinterpret_cast<const char*>(m.data.get()), m.size);
}
inline Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline Reply reply(std::string_view s, bool close = false, size_t max_message = 0) {
  return Reply{OutMessage{bytes(s), {}}, close, max_message};
}

// Compares possibly large byte strings without printing megabytes on a mismatch.
inline ::testing::AssertionResult sameBytes(const std::string& want, const std::string& got) {
  if (want == got) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  return ::testing::AssertionFailure() << "expected " << want.size() << " bytes, got " << got.size()
                                       << "; first difference at byte " << i;
}

// ---------------------------------------------------------------------------------------------
// A client on a plain blocking socket; every wait is bounded by poll().

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0) << std::strerror(errno);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    EXPECT_TRUE(connected_) << "connect to port " << port << ": " << std::strerror(errno);
  }
  ~Client() { closeNow(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  uint16_t localPort() const {
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    return ntohs(sa.sin_port);
  }
  void closeNow() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Writes all of `data` (as one write when the socket takes it), waiting for room at most
  // kTimeout at a time.
  bool send(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      if (!waitFor(POLLOUT, Clock::now() + kTimeout)) {
        ADD_FAILURE() << "client send: no room for " << kTimeout.count() << " s, " << done << " of "
                      << data.size() << " bytes written";
        return false;
      }
      ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) {
        ADD_FAILURE() << "client send: " << std::strerror(errno);
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
  // Writes `data` cut into pieces of the given sizes (the last piece takes the rest), pausing a
  // little between them so that the server is likely to read each piece on its own.
  bool sendInPieces(std::string_view data, const std::vector<size_t>& sizes) {
    size_t pos = 0;
    for (size_t i = 0; pos < data.size(); ++i) {
      size_t n = i < sizes.size() ? sizes[i] : data.size() - pos;
      n = std::min(n, data.size() - pos);
      if (!send(data.substr(pos, n))) return false;
      pos += n;
      if (pos < data.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  // Reads exactly `n` bytes before the deadline.
  bool readExact(char* out, size_t n, Clock::time_point deadline) {
    size_t got = 0;
    while (got < n) {
      if (!waitFor(POLLIN, deadline)) {
        ADD_FAILURE() << "client read: timed out with " << got << " of " << n << " bytes";
        return false;
      }
      ssize_t r = recv(fd_, out + got, n - got, MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        ADD_FAILURE() << "client read: " << (r == 0 ? "end of stream" : std::strerror(errno))
                      << " after " << got << " of " << n << " bytes";
        return false;
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }

  // One reply frame: checks the NetBIOS header (session message type) and returns its payload,
  // exactly as many bytes as the header's length says.
  std::optional<std::string> readFrame() {
    const auto deadline = Clock::now() + kTimeout;
    char h[4];
    if (!readExact(h, 4, deadline)) return std::nullopt;
    EXPECT_EQ(static_cast<uint8_t>(h[0]), 0x00) << "reply frame type";
    const size_t len = (size_t{static_cast<uint8_t>(h[1])} << 16) |
                       (size_t{static_cast<uint8_t>(h[2])} << 8) | static_cast<uint8_t>(h[3]);
    std::string payload(len, '\0');
    if (!readExact(payload.data(), len, deadline)) return std::nullopt;
    return payload;
  }
  // Reads a reply frame and returns its payload, or "<no frame>".
  std::string frameText() { return readFrame().value_or("<no frame>"); }

  // The server closed the connection: end of stream (or a reset) and no more data.
  ::testing::AssertionResult closedByServer() {
    if (!waitFor(POLLIN, Clock::now() + kTimeout)) {
      return ::testing::AssertionFailure() << "still open after " << kTimeout.count() << " s";
    }
    char c;
    ssize_t r = recv(fd_, &c, 1, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno == ECONNRESET)) return ::testing::AssertionSuccess();
    if (r > 0) return ::testing::AssertionFailure() << "unexpected data instead of end of stream";
    return ::testing::AssertionFailure() << "recv: " << std::strerror(errno);
  }

 private:
  bool waitFor(short events, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, events, 0};
      int r = poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
};

// A one-shot gate a pool thread waits on (bounded, so a failed test cannot hang the pool).
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kTimeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class TestConn;

// A pool handler that answers "re:<message>", holding the message `held` on its pool thread:
// it opens `started`, then waits until `release` opens.
inline std::function<Reply(TestConn&, const std::string&)> holdOnPool(
    std::string held, std::shared_ptr<Gate> started, std::shared_ptr<Gate> release) {
  return [held = std::move(held), started, release](TestConn&, const std::string& s) {
    if (s == held) {
      started->open();
      EXPECT_TRUE(release->wait());
    }
    return reply("re:" + s);
  };
}

// ---------------------------------------------------------------------------------------------
// The protocol side under test's control

class TestAcceptor;

// One connection's callbacks: records what reaches it and checks the threading contract
// (inline on the loop thread, onMessage on a pool thread and one at a time).
class TestConn : public ConnectionCallbacks {
 public:
  TestConn(TestAcceptor* acceptor, std::shared_ptr<Connection> conn, int fd)
      : acceptor_(acceptor), conn(std::move(conn)), socket_fd(fd) {}
  bool onMessageInline(const Message& msg, Reply* r) override;
  Reply onMessage(const Message& msg) override;
  void onClose() override;

  // The payloads processed (answered inline or by onMessage), in order.
  std::vector<std::string> processed() const;
  std::vector<std::string> offeredInline() const;
  int closes() const;
  bool closedOnLoop() const;
  int inflight() const { return inflight_.load(); }
  friend class TestAcceptor;

  TestAcceptor* const acceptor_;
  const std::shared_ptr<Connection> conn;
  const int socket_fd;

 private:
  std::atomic<int> inflight_{0};
  std::vector<std::string> processed_;
  std::vector<std::string> offered_;
  int closes_ = 0;
  bool closed_on_loop_ = false;
};

class TestAcceptor : public Acceptor {
 public:
  // Set before the worker starts (read by the loop and pool threads).
  size_t initial_max = 1 << 24;
  // Answers a message on the loop (true) or leaves it to onMessage; default: never inline.
  std::function<bool(TestConn&, const std::string&, Reply*)> on_inline;
  // onMessage's answer; default: "re:" and the payload (its size for large payloads).
  std::function<Reply(TestConn&, const std::string&)> on_pool;
  std::atomic<std::thread::id> loop_thread{};

  std::shared_ptr<ConnectionCallbacks> onAccept(std::shared_ptr<Connection> conn, int socket_fd,
                                                size_t* max_message) override {
    EXPECT_EQ(std::this_thread::get_id(), loop_thread.load());
    auto c = std::make_shared<TestConn>(this, std::move(conn), socket_fd);
    *max_message = initial_max;
    std::lock_guard<std::mutex> lock(mu);
    conns_.push_back(c);
    cv.notify_all();
    return c;
  }
  uint64_t onRefused() override {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
    return ++refused_;
  }
  void onFramingError(bool oversized) override {
    std::lock_guard<std::mutex> lock(mu);
    framing_errors_.push_back(oversized);
    cv.notify_all();
  }

  // The i-th accepted connection, waiting for it.
  std::shared_ptr<TestConn> conn(size_t i) {
    std::shared_ptr<TestConn> c;
    waitUntil([&] {
      if (conns_.size() > i) c = conns_[i];
      return c != nullptr;
    });
    EXPECT_NE(c, nullptr) << "connection " << i << " not accepted";
    return c;
  }
  size_t accepted() {
    std::lock_guard<std::mutex> lock(mu);
    return conns_.size();
  }
  uint64_t refused() {
    std::lock_guard<std::mutex> lock(mu);
    return refused_;
  }
  std::vector<bool> framingErrors() {
    std::lock_guard<std::mutex> lock(mu);
    return framing_errors_;
  }
  // Waits (bounded) until `pred` holds; `pred` runs under `mu`.
  bool waitUntil(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kTimeout, pred);
  }
  // Waits for the connection's onClose.
  bool waitClosed(const TestConn& c);
  bool waitRefused(uint64_t n) {
    return waitUntil([&] { return refused_ >= n; });
  }

  std::mutex mu;
  std::condition_variable cv;

 private:
  std::vector<std::shared_ptr<TestConn>> conns_;
  uint64_t refused_ = 0;
  std::vector<bool> framing_errors_;
};

inline bool TestConn::onMessageInline(const Message& msg, Reply* r) {
  EXPECT_EQ(std::this_thread::get_id(), acceptor_->loop_thread.load()) << "inline off the loop";
  EXPECT_EQ(inflight_.load(), 0) << "offered inline while a message is on the pool";
  const std::string s = str(msg);
  {
    std::lock_guard<std::mutex> lock(acceptor_->mu);
    offered_.push_back(s);
  }
  if (!acceptor_->on_inline || !acceptor_->on_inline(*this, s, r)) return false;
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  processed_.push_back(s);
  acceptor_->cv.notify_all();
  return true;
}

inline Reply TestConn::onMessage(const Message& msg) {
  EXPECT_NE(std::this_thread::get_id(), acceptor_->loop_thread.load()) << "onMessage on the loop";
  EXPECT_EQ(++inflight_, 1) << "two messages of one connection on the pool at once";
  const std::string s = str(msg);
  {
    std::lock_guard<std::mutex> lock(acceptor_->mu);
    processed_.push_back(s);
    acceptor_->cv.notify_all();
  }
  Reply r = acceptor_->on_pool
                ? acceptor_->on_pool(*this, s)
                : reply(s.size() <= 64 ? "re:" + s : "re:" + std::to_string(s.size()));
  --inflight_;
  return r;
}

inline void TestConn::onClose() {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  ++closes_;
  closed_on_loop_ = std::this_thread::get_id() == acceptor_->loop_thread.load();
  acceptor_->cv.notify_all();
}

inline std::vector<std::string> TestConn::processed() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return processed_;
}
inline std::vector<std::string> TestConn::offeredInline() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return offered_;
}
inline bool TestAcceptor::waitClosed(const TestConn& c) {
  return waitUntil([&] { return c.closes_ > 0; });
}

inline int TestConn::closes() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return closes_;
}
inline bool TestConn::closedOnLoop() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return closed_on_loop_;
}

// ---------------------------------------------------------------------------------------------
// The fixture: one worker (loop index 3) on 127.0.0.1, port chosen by the kernel, a pool of four.

constexpr uint32_t kLoopIndex = 3;

class TcpWorkerTest : public ::testing::Test {
 protected:
  void TearDown() override { stopWorker(); }

  // `before_start` runs between listen() and start() (where watch() belongs).
  void startWorker(const std::function<void(Worker&)>& before_start = nullptr) {
    options_.socket_options = {config::defaultSocketOption()};
    pool_ = std::make_unique<vfs::IoPool>(4);
    worker_ =
        std::make_unique<Worker>(&acceptor_, pool_.get(), &options_, &connections_, kLoopIndex);
    // Port 0: the kernel picks a free port for the listener, read back from the socket.
    ASSERT_TRUE(worker_->listen({{"127.0.0.1", 0}}));
    ASSERT_EQ(worker_->listeners().size(), 1u);
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    ASSERT_EQ(getsockname(worker_->listeners()[0], reinterpret_cast<sockaddr*>(&sa), &len), 0);
    port_ = ntohs(sa.sin_port);
    ASSERT_NE(port_, 0);
    if (before_start) before_start(*worker_);
    std::promise<std::thread::id> loop;
    worker_->start([&] { loop.set_value(std::this_thread::get_id()); });
    acceptor_.loop_thread = loop.get_future().get();
  }
  // The loop stops first, then the pool finishes what it holds (its tasks post to the worker,
  // which must still exist), then the worker closes what is left.
  void stopWorker() {
    if (worker_) worker_->stop();
    pool_.reset();
    worker_.reset();
  }

  std::unique_ptr<Client> connect() { return std::make_unique<Client>(port_); }

  TestAcceptor acceptor_;
  TcpOptions options_;
  std::atomic<int> connections_{0};
  std::unique_ptr<vfs::IoPool> pool_;
  std::unique_ptr<Worker> worker_;
  uint16_t port_ = 0;
};

}  // namespace xsmb::transport::test
