// The TCP transport (server/transport/tcp_worker.*) through its interface only: a test Acceptor
// and ConnectionCallbacks (no SMB2 at all) behind a real Worker on 127.0.0.1, and plain
// blocking clients that write NetBIOS frames and read the replies. Every client read has a
// deadline (poll), so a hang fails the test instead of blocking it; the few short pauses only
// make a split across reads likely, no result depends on them.
#include "server/transport/tcp_worker.h"

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

namespace xsmb::transport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long a client waits for anything the server should send, and the test for a callback.
constexpr auto kTimeout = 10s;

// ---------------------------------------------------------------------------------------------
// Bytes on the wire

// A NetBIOS header (MS-SMB2 2.1): type byte, 24-bit big-endian length. Written by hand here, not
// with common/smb2/netbios.h, so that the test does not share the code under test.
std::string header(uint8_t type, uint32_t length) {
  return {static_cast<char>(type), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length)};
}
std::string frame(std::string_view payload) {
  return header(0x00, static_cast<uint32_t>(payload.size())) + std::string(payload);
}
std::string keepAlive(std::string_view payload = {}) {
  return header(0x85, static_cast<uint32_t>(payload.size())) + std::string(payload);
}

// Bytes that do not repeat every 256, so that data from a wrong offset shows.
uint8_t patternByte(size_t i, size_t seed) {
  return static_cast<uint8_t>(i * 131 + i / 251 + seed);
}
std::string pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(patternByte(i, seed));
  return s;
}

std::string str(const Message& m) {
  return std::string(reinterpret_cast<const char*>(m.data.get()), m.size);
}
Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Reply reply(std::string_view s, bool close = false, size_t max_message = 0) {
  return Reply{OutMessage{bytes(s), {}}, close, max_message};
}

// Compares possibly large byte strings without printing megabytes on a mismatch.
::testing::AssertionResult sameBytes(const std::string& want, const std::string& got) {
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
      if (pos < data.size()) std::this_thread::sleep_for(1ms);
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

bool TestConn::onMessageInline(const Message& msg, Reply* r) {
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

Reply TestConn::onMessage(const Message& msg) {
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

void TestConn::onClose() {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  ++closes_;
  closed_on_loop_ = std::this_thread::get_id() == acceptor_->loop_thread.load();
  acceptor_->cv.notify_all();
}

std::vector<std::string> TestConn::processed() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return processed_;
}
std::vector<std::string> TestConn::offeredInline() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return offered_;
}
bool TestAcceptor::waitClosed(const TestConn& c) {
  return waitUntil([&] { return c.closes_ > 0; });
}

int TestConn::closes() const {
  std::lock_guard<std::mutex> lock(acceptor_->mu);
  return closes_;
}
bool TestConn::closedOnLoop() const {
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

// ---------------------------------------------------------------------------------------------
// Framing

struct FramingCase {
  const char* name;
  std::vector<std::string> frames;     // written back to back (keep-alives and empty ones too)
  std::vector<std::string> delivered;  // the messages the callbacks must receive, in order
  std::vector<size_t> pieces;          // how the stream is cut into writes ({}: one write)
};

std::vector<FramingCase> framingCases() {
  const std::string big1 = pattern(300 * 1024, 1);  // more than the worker's scratch buffer
  const std::string big2 = pattern(1 << 20, 2);
  const std::string max = pattern((1 << 24) - 1, 3);  // the largest NetBIOS length
  std::vector<size_t> bytewise(64, 1);
  std::vector<size_t> big_pieces((1 << 24) / 65536 + 2, 65536);
  return {
      {"several frames in one write",
       {frame("one"), frame("two"), frame("three")},
       {"one", "two", "three"},
       {}},
      {"keep-alives and an empty message are skipped",
       {frame("a"), keepAlive(), frame(""), keepAlive("ping"), frame("b")},
       {"a", "b"},
       {}},
      {"one frame byte by byte", {frame("split byte by byte")}, {"split byte by byte"}, bytewise},
      {"header cut 1+3, then the payload in pieces",
       {frame("header cut"), frame("next")},
       {"header cut", "next"},
       {1, 3, 2, 5, 4}},
      {"second frame's header cut across writes",
       {frame("first"), frame("second")},
       {"first", "second"},
       {4 + 5 + 2}},
      {"a frame larger than the scratch buffer, then a small one",
       {frame(big1), frame("small")},
       {big1, "small"},
       {}},
      {"two 1 MB frames and a small one in one write",
       {frame(big2), frame(big2), frame("s")},
       {big2, big2, "s"},
       {}},
      {"the largest frame (2^24-1) in 64 KB writes, then a small one",
       {frame(max), frame("after")},
       {max, "after"},
       big_pieces},
  };
}

TEST_F(TcpWorkerTest, FramingDeliversExactlyThePayloadsInOrder) {
  startWorker();
  const auto cases = framingCases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const FramingCase& t = cases[i];
    SCOPED_TRACE(t.name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    std::string stream;
    for (const auto& f : t.frames) stream += f;
    ASSERT_TRUE(t.pieces.empty() ? client->send(stream) : client->sendInPieces(stream, t.pieces));
    // One reply per delivered message (onMessage's default), each with a correct header.
    for (const auto& d : t.delivered) {
      std::string want = d.size() <= 64 ? "re:" + d : "re:" + std::to_string(d.size());
      EXPECT_EQ(client->frameText(), want);
    }
    auto got = conn->processed();
    ASSERT_EQ(got.size(), t.delivered.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(sameBytes(t.delivered[k], got[k])) << k;
  }
}

// A keep-alive may carry a payload (parseFrame accepts up to 64 bytes). When the payload is not
// yet there as the header is read, the worker takes the frame for a session message: it reads
// the payload as a message and hands it to the callbacks. See the report: tcp_worker.cc
// consume(), case kIncomplete, which does not look at the frame's type.
TEST_F(TcpWorkerTest, DISABLED_KeepAliveWithPayloadCutAcrossReadsIsSkipped) {
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  const std::string stream = keepAlive("ping") + frame("real");
  // The keep-alive's header alone, then (later) its payload and a real message.
  ASSERT_TRUE(client->send(stream.substr(0, 4)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(client->send(stream.substr(4)));
  EXPECT_EQ(client->frameText(), "re:real");
  EXPECT_EQ(conn->processed(), std::vector<std::string>{"real"});
}

// ---------------------------------------------------------------------------------------------
// Inline and pool

// 'I' messages are answered on the loop when offered there, 'P' ones go to the pool; each
// reply says where it was made and the message's sequence number.
void answerInlineOrPool(TestAcceptor& a) {
  a.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s[0] != 'I') return false;
    *r = reply("inline:" + s.substr(1));
    return true;
  };
  a.on_pool = [](TestConn&, const std::string& s) { return reply("pool:" + s.substr(1)); };
}

struct OrderCase {
  const char* pattern;  // 'I' or 'P' per message
  bool one_write;       // all in one write, or each after the previous reply
};

TEST_F(TcpWorkerTest, InlineAndPoolRepliesKeepTheMessageOrder) {
  answerInlineOrPool(acceptor_);
  startWorker();
  const OrderCase cases[] = {
      {"IIIIII", true},  {"PPPPPP", true},  {"IPIPPI", true},  {"PIIIPP", true},
      {"IIIIII", false}, {"PPPPPP", false}, {"IPIPPI", false}, {"PIIIPP", false},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    const OrderCase& t = cases[i];
    SCOPED_TRACE(std::string(t.pattern) + (t.one_write ? " in one write" : " one at a time"));
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    const std::string kinds = t.pattern;
    std::vector<std::string> sent;
    for (size_t k = 0; k < kinds.size(); ++k) sent.push_back(kinds[k] + std::to_string(k));
    if (t.one_write) {
      std::string stream;
      for (const auto& s : sent) stream += frame(s);
      ASSERT_TRUE(client->send(stream));
    }
    for (size_t k = 0; k < sent.size(); ++k) {
      if (!t.one_write) ASSERT_TRUE(client->send(frame(sent[k])));
      std::string got = client->frameText();
      EXPECT_EQ(got.substr(got.find(':') + 1), std::to_string(k)) << got;
      // With nothing in flight every message is offered on the loop first, so an 'I' is
      // answered there; in one write, one behind a pool message waits for the pool instead.
      if (!t.one_write) EXPECT_EQ(got[0] == 'i', kinds[k] == 'I') << got;
      if (kinds[k] == 'P') EXPECT_EQ(got.rfind("pool:", 0), 0u) << got;
    }
    EXPECT_EQ(conn->processed(), sent);  // each exactly once, in order
    // The first message always is offered inline (nothing is in flight then).
    auto offered = conn->offeredInline();
    ASSERT_FALSE(offered.empty());
    EXPECT_EQ(offered[0], sent[0]);
    if (!t.one_write) EXPECT_EQ(offered, sent);
  }
}

// Several connections at once, each a long mixed stream in one write (more than the worker's
// limit of complete messages waiting per connection, so its reading pauses and resumes): each
// connection's replies come back in its own order.
TEST_F(TcpWorkerTest, ManyConnectionsEachKeepTheirOrder) {
  answerInlineOrPool(acceptor_);
  startWorker();
  constexpr size_t kClients = 4;
  constexpr size_t kMessages = 500;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::vector<std::string>> sent(kClients);
  for (size_t c = 0; c < kClients; ++c) {
    clients.push_back(connect());
    ASSERT_NE(acceptor_.conn(c), nullptr);
    std::string stream;
    for (size_t k = 0; k < kMessages; ++k) {
      sent[c].push_back(((k * 7 + c) % 3 == 0 ? "I" : "P") + std::to_string(k));
      stream += frame(sent[c].back());
    }
    ASSERT_TRUE(clients[c]->send(stream));
  }
  for (size_t c = 0; c < kClients; ++c) {
    SCOPED_TRACE("client " + std::to_string(c));
    for (size_t k = 0; k < kMessages; ++k) {
      std::string got = clients[c]->frameText();
      ASSERT_EQ(got.substr(got.find(':') + 1), std::to_string(k)) << got;
    }
    EXPECT_EQ(acceptor_.conn(c)->processed(), sent[c]);
  }
}

// ---------------------------------------------------------------------------------------------
// Connection: properties, send, runInStrand, close

TEST_F(TcpWorkerTest, ConnectionPropertiesAndUnsolicitedSend) {
  // A pool message may send before its reply (an interim response): both arrive, in order.
  acceptor_.on_pool = [](TestConn& c, const std::string& s) {
    c.conn->send(OutMessage{bytes("interim:" + s), {}});
    return reply("final:" + s);
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->conn->kind(), TransportKind::kTcp);
  EXPECT_EQ(conn->conn->peer(), "127.0.0.1:" + std::to_string(client->localPort()));
  EXPECT_EQ(conn->conn->loopIndex(), kLoopIndex);
  EXPECT_TRUE(conn->conn->sendsFileByReference());
  EXPECT_GE(conn->socket_fd, 0);

  // From a thread that is neither the loop nor the pool, while the connection is idle.
  std::thread([&] { conn->conn->send(OutMessage{bytes("unsolicited"), {}}); }).join();
  EXPECT_EQ(client->frameText(), "unsolicited");
  // An empty message sends nothing: the next frame is the one after it.
  conn->conn->send(OutMessage{});
  conn->conn->send(OutMessage{bytes("second"), {}});
  EXPECT_EQ(client->frameText(), "second");

  ASSERT_TRUE(client->send(frame("x")));
  EXPECT_EQ(client->frameText(), "interim:x");
  EXPECT_EQ(client->frameText(), "final:x");

  // After the connection closed, its methods do nothing (and do not fail).
  client->closeNow();
  ASSERT_TRUE(acceptor_.waitClosed(*conn));
  conn->conn->send(OutMessage{bytes("late"), {}});
  conn->conn->runInStrand([] { return reply("late"); });
  conn->conn->close();
}

// A strand task posted while a message is on the pool runs after that message and before the
// next one, never beside a message, on a pool thread; its reply leaves in order.
TEST_F(TcpWorkerTest, RunInStrandRunsBetweenMessages) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = [started, release](TestConn&, const std::string& s) {
    if (s == "A") {
      started->open();
      EXPECT_TRUE(release->wait());
    }
    return reply("re:" + s);
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);

  // Idle: the task runs and its reply is sent.
  std::atomic<int> inflight_seen{-1};
  std::atomic<bool> on_loop{true};
  conn->conn->runInStrand([&] {
    on_loop = std::this_thread::get_id() == acceptor_.loop_thread.load();
    return reply("idle task");
  });
  EXPECT_EQ(client->frameText(), "idle task");
  EXPECT_FALSE(on_loop.load());

  ASSERT_TRUE(client->send(frame("A")));
  ASSERT_TRUE(started->wait());
  conn->conn->runInStrand([&] {
    inflight_seen = conn->inflight();
    return reply("task");
  });
  release->open();
  EXPECT_EQ(client->frameText(), "re:A");
  EXPECT_EQ(client->frameText(), "task");
  EXPECT_EQ(inflight_seen.load(), 0) << "the task ran beside a message";
  ASSERT_TRUE(client->send(frame("B")));
  EXPECT_EQ(client->frameText(), "re:B");
  EXPECT_EQ(conn->processed(), (std::vector<std::string>{"A", "B"}));

  // A task's Reply is handled as a message's: close after sending.
  conn->conn->runInStrand([] { return reply("closing task", /*close=*/true); });
  EXPECT_EQ(client->frameText(), "closing task");
  EXPECT_TRUE(client->closedByServer());
}

// connection.h: a strand task runs "after the message being processed, before the next one".
// The worker queues it behind every message already received (drainCompletions pushes it to the
// back of Conn::pending), so with B already read while A is on the pool, B runs before the
// task. See the report.
TEST_F(TcpWorkerTest, DISABLED_RunInStrandRunsBeforeAMessageAlreadyReceived) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = [started, release](TestConn&, const std::string& s) {
    if (s == "A") {
      started->open();
      EXPECT_TRUE(release->wait());
    }
    return reply("re:" + s);
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(client->send(frame("A") + frame("B")));  // one read: B waits behind A
  ASSERT_TRUE(started->wait());
  conn->conn->runInStrand([] { return reply("task"); });
  release->open();
  EXPECT_EQ(client->frameText(), "re:A");
  EXPECT_EQ(client->frameText(), "task");
  EXPECT_EQ(client->frameText(), "re:B");
}

// Connection::close(): what is queued is sent first (4 MB, more than the socket buffers take
// at once, so the close waits for the socket to drain), then the end of the stream.
TEST_F(TcpWorkerTest, CloseSendsWhatIsQueuedThenCloses) {
  startWorker();
  struct Case {
    const char* name;
    size_t queued;  // bytes sent before close() (0: nothing queued)
  };
  const Case cases[] = {
      {"nothing queued", 0}, {"a small message queued", 10}, {"4 MB queued", 4 << 20}};
  for (size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(cases[i].name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    const std::string data = pattern(cases[i].queued, i);
    std::thread([&] {
      if (!data.empty()) conn->conn->send(OutMessage{bytes(data), {}});
      conn->conn->close();
    }).join();
    if (!data.empty()) {
      auto got = client->readFrame();
      ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(sameBytes(data, *got));
    }
    EXPECT_TRUE(client->closedByServer());
    EXPECT_TRUE(acceptor_.waitClosed(*conn));
  }
}

// ---------------------------------------------------------------------------------------------
// Reply.close, Reply.max_message, framing errors

// Reply.close: the reply is sent, then the connection closes; a message behind it in the same
// write is never processed.
TEST_F(TcpWorkerTest, ReplyCloseSendsThenCloses) {
  acceptor_.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s != "bye-inline") return false;
    *r = reply("bye", /*close=*/true);
    return true;
  };
  acceptor_.on_pool = [](TestConn&, const std::string& s) {
    return s == "bye-pool" ? reply("bye", /*close=*/true) : reply("re:" + s);
  };
  startWorker();
  const char* closers[] = {"bye-inline", "bye-pool"};
  for (size_t i = 0; i < std::size(closers); ++i) {
    SCOPED_TRACE(closers[i]);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("before")));
    EXPECT_EQ(client->frameText(), "re:before");
    ASSERT_TRUE(client->send(frame(closers[i]) + frame("after")));
    EXPECT_EQ(client->frameText(), "bye");
    EXPECT_TRUE(client->closedByServer());
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    // onClose is the last callback: nothing processed "after" before it, nothing after it.
    EXPECT_EQ(conn->processed(), (std::vector<std::string>{"before", closers[i]}));
    EXPECT_TRUE(conn->closedOnLoop());
  }
  EXPECT_TRUE(acceptor_.framingErrors().empty());
}

struct LimitCase {
  const char* name;
  size_t initial_max;                 // what onAccept sets
  std::string limit_message;          // a message answered with Reply.max_message ("" for none)
  size_t accepted;                    // a message this large then is still accepted
  std::string bad_header;             // then this arrives: the connection closes
  std::optional<bool> framing_error;  // onFramingError(oversized), or none
};

// The first frame over the limit from onAccept, or over the one a later Reply set, closes the
// connection (onFramingError(true)); so does a frame that is not a session message
// (onFramingError(false)). The limit is checked on the header: the payload never comes.
TEST_F(TcpWorkerTest, FrameLimitsAndBadTypesCloseTheConnection) {
  // "limit:N" sets the limit to N, inline for "limit:..." and on the pool for "plimit:...".
  acceptor_.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s.rfind("limit:", 0) != 0) return false;
    *r = reply("ok", false, std::stoul(s.substr(6)));
    return true;
  };
  acceptor_.on_pool = [](TestConn&, const std::string& s) {
    if (s.rfind("plimit:", 0) == 0) return reply("ok", false, std::stoul(s.substr(7)));
    return reply("re:" + std::to_string(s.size()));
  };
  acceptor_.initial_max = 1000;
  startWorker();
  const LimitCase cases[] = {
      {"over the first limit", 1000, "", 1000, header(0x00, 1001), true},
      {"over a limit lowered inline", 1000, "limit:64", 64, header(0x00, 65), true},
      {"over a limit lowered on the pool", 1000, "plimit:64", 64, header(0x00, 65), true},
      {"over a raised limit", 1000, "limit:5000", 5000, header(0x00, 5001), true},
      {"far over the limit", 1000, "", 10, header(0x00, 0xffffff), true},
      {"session request type 0x81", 1000, "", 10, header(0x81, 10), false},
      {"type 0xff", 1000, "", 10, header(0xff, 0), false},
      {"keep-alive with more than 64 bytes", 1000, "", 10, header(0x85, 65), false},
  };
  size_t errors = 0;
  for (size_t i = 0; i < std::size(cases); ++i) {
    const LimitCase& t = cases[i];
    SCOPED_TRACE(t.name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    std::vector<std::string> want_processed;
    if (!t.limit_message.empty()) {
      ASSERT_TRUE(client->send(frame(t.limit_message)));
      EXPECT_EQ(client->frameText(), "ok");
      want_processed.push_back(t.limit_message);
    }
    const std::string fits = pattern(t.accepted, i);
    ASSERT_TRUE(client->send(frame(fits)));
    EXPECT_EQ(client->frameText(), "re:" + std::to_string(t.accepted));
    want_processed.push_back(fits);
    ASSERT_TRUE(client->send(t.bad_header));
    EXPECT_TRUE(client->closedByServer());
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    EXPECT_EQ(conn->processed().size(), want_processed.size());
    auto got = acceptor_.framingErrors();
    ASSERT_EQ(got.size(), errors + 1);
    EXPECT_EQ(got.back(), *t.framing_error);
    errors = got.size();
  }
}

// ---------------------------------------------------------------------------------------------
// File data after a message: by reference (sendfile) and from memory

// A temporary file of known content, unlinked at once (only the descriptor remains).
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    const char* dir = getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/xsmb-transport-XXXXXX";
    int fd = mkostemp(tmpl.data(), O_CLOEXEC);
    EXPECT_GE(fd, 0) << tmpl << ": " << std::strerror(errno);
    unlink(tmpl.c_str());
    size_t done = 0;
    while (fd >= 0 && done < content.size()) {
      ssize_t n = pwrite(fd, content.data() + done, content.size() - done, done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    EXPECT_EQ(done, content.size());
    fd_ = std::make_shared<vfs::UniqueFd>(fd);
  }
  const std::shared_ptr<vfs::UniqueFd>& fd() const { return fd_; }

 private:
  std::shared_ptr<vfs::UniqueFd> fd_;
};

struct FileCase {
  const char* name;
  size_t head;       // bytes of the message before the file data
  size_t file_size;  // the file's size (by reference)
  uint64_t offset;
  uint32_t length;
  bool in_memory;  // FileSegment::data instead of the file
};

const FileCase kFileCases[] = {
    {"small, by reference", 24, 100, 0, 100, false},
    {"4 MB at an odd offset, by reference", 64, 5 << 20, 4097, 4 << 20, false},
    {"3 MB in memory", 64, 0, 0, 3 << 20, true},
    {"small, in memory", 7, 0, 0, 33, true},
    {"the file is shorter than promised: zeros follow", 16, 1000, 500, 2000, false},
    {"no file data", 10, 0, 0, 0, false},
};

// The message a FileCase makes, and what the client must receive as its payload.
struct FileReply {
  OutMessage out;
  std::string expected;
};

FileReply makeFileReply(const FileCase& t, size_t seed, std::vector<TempFile>* files) {
  FileReply r;
  const std::string head = pattern(t.head, seed);
  r.out.bytes = bytes(head);
  r.expected = head;
  if (t.in_memory) {
    const std::string data = pattern(t.length, seed + 1);
    r.out.file.data = std::make_shared_for_overwrite<uint8_t[]>(t.length);
    std::memcpy(r.out.file.data.get(), data.data(), data.size());
    r.out.file.length = t.length;
    r.expected += data;
  } else if (t.length > 0) {
    const std::string content = pattern(t.file_size, seed + 2);
    files->emplace_back(content);
    r.out.file.fd = files->back().fd();
    r.out.file.offset = t.offset;
    r.out.file.length = t.length;
    std::string data = t.offset < content.size() ? content.substr(t.offset, t.length) : "";
    data.resize(t.length, '\0');
    r.expected += data;
  }
  return r;
}

// Each case answered inline, on the pool, and with Connection::send: the header's length
// counts the message and its file data, and the bytes are the message's, then the file's.
TEST_F(TcpWorkerTest, FileSegmentsFollowTheirMessage) {
  std::mutex mu;
  std::vector<TempFile> files;
  std::vector<FileReply> replies;
  for (size_t i = 0; i < std::size(kFileCases); ++i) {
    replies.push_back(makeFileReply(kFileCases[i], i * 10, &files));
  }
  // "i<n>" answers case n inline, "p<n>" on the pool.
  acceptor_.on_inline = [&](TestConn&, const std::string& s, Reply* r) {
    if (s[0] != 'i') return false;
    std::lock_guard<std::mutex> lock(mu);
    r->out = replies[std::stoul(s.substr(1))].out;
    return true;
  };
  acceptor_.on_pool = [&](TestConn&, const std::string& s) {
    std::lock_guard<std::mutex> lock(mu);
    return Reply{replies[std::stoul(s.substr(1))].out};
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  for (const char* how : {"i", "p"}) {
    for (size_t i = 0; i < std::size(kFileCases); ++i) {
      SCOPED_TRACE(std::string(how == std::string("i") ? "inline: " : "pool: ") +
                   kFileCases[i].name);
      ASSERT_TRUE(client->send(frame(how + std::to_string(i))));
      auto got = client->readFrame();
      ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(sameBytes(replies[i].expected, *got));
    }
  }
  // All of them queued at once from another thread: memory and file frames interleave in one
  // batch of writes.
  std::thread([&] {
    for (const auto& r : replies) conn->conn->send(r.out);
  }).join();
  for (size_t i = 0; i < std::size(kFileCases); ++i) {
    SCOPED_TRACE(std::string("send: ") + kFileCases[i].name);
    auto got = client->readFrame();
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(sameBytes(replies[i].expected, *got));
  }
}

// ---------------------------------------------------------------------------------------------
// Connections coming and going

TEST_F(TcpWorkerTest, OnCloseWhenTheClientDisconnects) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = [started, release](TestConn&, const std::string& s) {
    if (s == "slow") {
      started->open();
      EXPECT_TRUE(release->wait());
    }
    return reply("re:" + s);
  };
  startWorker();
  {
    SCOPED_TRACE("idle");
    auto client = connect();
    auto conn = acceptor_.conn(0);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("x")));
    EXPECT_EQ(client->frameText(), "re:x");
    EXPECT_EQ(connections_.load(), 1);
    client->closeNow();
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    EXPECT_TRUE(conn->closedOnLoop());
    EXPECT_EQ(connections_.load(), 0);
  }
  {
    SCOPED_TRACE("a message on the pool");
    auto client = connect();
    auto conn = acceptor_.conn(1);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("slow")));
    ASSERT_TRUE(started->wait());
    client->closeNow();
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    release->open();  // its reply finds the connection gone
    // The worker still serves others afterwards.
    auto next = connect();
    ASSERT_TRUE(next->send(frame("y")));
    EXPECT_EQ(next->frameText(), "re:y");
    EXPECT_EQ(conn->closes(), 1);
  }
}

TEST_F(TcpWorkerTest, MaxConnectionsRefusesTheSecond) {
  options_.max_connections = 1;
  startWorker();
  auto first = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);

  auto second = connect();  // the kernel completes the handshake; the worker then refuses
  EXPECT_TRUE(second->closedByServer());
  EXPECT_TRUE(acceptor_.waitRefused(1));
  EXPECT_EQ(acceptor_.refused(), 1u);
  EXPECT_EQ(acceptor_.accepted(), 1u);
  EXPECT_EQ(connections_.load(), 1);

  ASSERT_TRUE(first->send(frame("still served")));
  EXPECT_EQ(first->frameText(), "re:still served");

  // Once the first is gone, a new one is admitted.
  first->closeNow();
  ASSERT_TRUE(acceptor_.waitClosed(*conn));
  auto third = connect();
  auto conn3 = acceptor_.conn(1);
  ASSERT_NE(conn3, nullptr);
  ASSERT_TRUE(third->send(frame("third")));
  EXPECT_EQ(third->frameText(), "re:third");
  EXPECT_EQ(acceptor_.refused(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Worker::watch

// An eventfd watched before start(): its callback runs on the loop whenever it is written, and
// may send on a connection from there (as the I/O engine's completions do).
TEST_F(TcpWorkerTest, WatchedEventFdRunsOnTheLoop) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  std::mutex mu;
  std::condition_variable cv;
  uint64_t total = 0;
  int calls = 0;
  bool off_loop = false;
  std::shared_ptr<Connection> target;
  startWorker([&](Worker& w) {
    w.watch(efd, [&] {
      uint64_t v = 0;
      if (read(efd, &v, sizeof(v)) != sizeof(v)) return;  // level-triggered: must drain
      std::shared_ptr<Connection> to;
      {
        std::lock_guard<std::mutex> lock(mu);
        total += v;
        ++calls;
        off_loop |= std::this_thread::get_id() != acceptor_.loop_thread.load();
        to = target;
        cv.notify_all();
      }
      if (to) to->send(OutMessage{bytes("from watch " + std::to_string(v)), {}});
    });
  });
  auto waitTotal = [&](uint64_t want) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kTimeout, [&] { return total == want; });
  };
  uint64_t one = 1;
  ASSERT_EQ(write(efd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
  EXPECT_TRUE(waitTotal(1));
  uint64_t three = 3;
  ASSERT_EQ(write(efd, &three, sizeof(three)), static_cast<ssize_t>(sizeof(three)));
  EXPECT_TRUE(waitTotal(4));

  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu);
    target = conn->conn;
  }
  uint64_t five = 5;
  ASSERT_EQ(write(efd, &five, sizeof(five)), static_cast<ssize_t>(sizeof(five)));
  EXPECT_EQ(client->frameText(), "from watch 5");
  stopWorker();  // before efd closes and the callback's captures go
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(total, 9u);
  EXPECT_GE(calls, 3);
  EXPECT_FALSE(off_loop);
  close(efd);
}

}  // namespace
}  // namespace xsmb::transport
