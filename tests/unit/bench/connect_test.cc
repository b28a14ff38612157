// Non-blocking connects of the xsmb-bench transport and the connections workload, against
// scripted servers on loopback TCP (a refusal is a real TCP close, so no socketpair here).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "tests/unit/bench/fake_server.h"
#include "tools/xsmb-bench/connections.h"
#include "tools/xsmb-bench/transport.h"

namespace xsmb::bench {
namespace {

using testing::readRequest;
using testing::sendReply;

Request echo() {
  Request r;
  r.command = smb2::SMB2_ECHO;
  r.body = {0x04, 0x00, 0x00, 0x00};
  return r;
}

// MS-SMB2 2.2.4 NEGOTIATE response body choosing `dialect`, no security blob, no contexts.
Bytes negotiateReplyBody(uint16_t dialect) {
  ByteWriter w;
  w.u16(65);
  w.u16(smb2::SMB2_NEGOTIATE_SIGNING_ENABLED);
  w.u16(dialect);
  w.u16(0);                                  // NegotiateContextCount
  for (int i = 0; i < 16; ++i) w.u8(0);      // ServerGuid
  w.u32(0);                                  // Capabilities
  for (int i = 0; i < 3; ++i) w.u32(65536);  // MaxTransactSize, MaxReadSize, MaxWriteSize
  for (int i = 0; i < 16; ++i) w.u8(0);      // SystemTime, ServerStartTime
  w.u16(0);                                  // SecurityBufferOffset
  w.u16(0);                                  // SecurityBufferLength
  w.u32(0);                                  // NegotiateContextOffset
  w.u8(0);                                   // the one-byte buffer StructureSize 65 counts
  return w.take();
}

// A TCP listener on 127.0.0.1 and an ephemeral port.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  explicit Listener(int backlog = 64) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd, backlog), 0);
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
  // Blocking accept with a 5 s guard; -1 when nobody connected.
  int acceptOne() const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return -1;
    return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
};

Endpoint loopback(uint16_t port) {
  auto e = resolveEndpoint("127.0.0.1", port);
  EXPECT_TRUE(e.ok()) << e.status();
  return *e;
}

// Drives `t` through an epoll instance (as the workloads do) until `done()`; false when no
// event arrived for 5 s (a guard against hanging, not a timing assertion).
bool driveUntil(int ep, Transport& t, const std::function<bool()>& done) {
  while (!done()) {
    epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, 5000);
    if (n <= 0) return false;
    bool readable = ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR);
    bool writable = ev.events & EPOLLOUT;
    (void)t.handleEvents(readable, writable);
  }
  return true;
}

TEST(ResolveEndpointTest, NumericAddressesKeepFamilyAndPort) {
  auto v4 = resolveEndpoint("127.0.0.1", 4450);
  ASSERT_TRUE(v4.ok()) << v4.status();
  ASSERT_EQ(v4->addr.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&v4->addr)->sin_port), 4450);
  EXPECT_EQ(v4->len, sizeof(sockaddr_in));
  auto v6 = resolveEndpoint("::1", 445);
  ASSERT_TRUE(v6.ok()) << v6.status();
  ASSERT_EQ(v6->addr.ss_family, AF_INET6);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6*>(&v6->addr)->sin6_port), 445);
}

TEST(ConnectAsyncTest, RequestSubmittedWhileConnectingIsSentOnceEstablished) {
  Listener l;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  Transport t;
  t.setEpoll(ep);
  int connect_calls = 0;
  absl::Status connect_status = absl::UnknownError("not called");
  ASSERT_TRUE(t.connectAsync(loopback(l.port), [&](const absl::Status& st) {
                 ++connect_calls;
                 connect_status = st;
               }).ok());
  ASSERT_TRUE(t.connected());
  bool replied = false;
  t.submit(echo(),
           [&](const Reply& r) { replied = r.status.ok() && r.header.command == smb2::SMB2_ECHO; });
  if (t.connecting()) {
    // Nothing may be written before the connect completes; the transport waits for EPOLLOUT.
    EXPECT_TRUE(t.wantsWrite());
    EXPECT_EQ(t.stats().bytes_sent, 0u);
  }
  ASSERT_TRUE(driveUntil(ep, t, [&] { return connect_calls > 0; }));
  EXPECT_EQ(connect_calls, 1);
  EXPECT_TRUE(connect_status.ok()) << connect_status;
  EXPECT_FALSE(t.connecting());
  int server = l.acceptOne();
  ASSERT_GE(server, 0);
  auto req = readRequest(server);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header.message_id, 0u);
  EXPECT_EQ(req->header.command, smb2::SMB2_ECHO);
  sendReply(server, req->header, 0, 4);
  ASSERT_TRUE(driveUntil(ep, t, [&] { return replied; }));
  EXPECT_EQ(t.credits(), 4u);
  EXPECT_EQ(t.stats().peer_closes, 0u);
  EXPECT_EQ(connect_calls, 1);  // not again at close
  t.close(absl::CancelledError("done"));
  EXPECT_EQ(connect_calls, 1);
  ::close(server);
  ::close(ep);
}

TEST(ConnectAsyncTest, RefusedConnectReportsTheErrorAndFailsQueuedRequests) {
  uint16_t port;
  {
    Listener gone;  // a port that was just free: nothing listens on it once this closes
    port = gone.port;
  }
  Transport t;
  int connect_calls = 0;
  absl::Status connect_status;
  auto st = t.connectAsync(loopback(port), [&](const absl::Status& s) {
    ++connect_calls;
    connect_status = s;
  });
  if (!st.ok()) {
    // Loopback may refuse synchronously: then the callback is not called.
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
    EXPECT_EQ(connect_calls, 0);
    EXPECT_FALSE(t.connected());
    return;
  }
  absl::Status request_status;
  t.submit(echo(), [&](const Reply& r) { request_status = r.status; });
  (void)t.runUntil([&] { return !t.connected(); }, std::chrono::seconds(5));
  ASSERT_FALSE(t.connected());
  EXPECT_EQ(connect_calls, 1);
  EXPECT_EQ(connect_status.code(), absl::StatusCode::kUnavailable) << connect_status;
  EXPECT_NE(connect_status.message().find("refused"), std::string::npos) << connect_status;
  EXPECT_EQ(request_status.code(), absl::StatusCode::kUnavailable) << request_status;
  // A failed connect is not the server closing a connection.
  EXPECT_EQ(t.stats().peer_closes, 0u);
}

TEST(ConnectAsyncTest, LocalCloseWhileConnectingCompletesTheCallbackOnce) {
  Listener l;
  Transport t;
  int connect_calls = 0;
  absl::Status connect_status;
  ASSERT_TRUE(t.connectAsync(loopback(l.port), [&](const absl::Status& s) {
                 ++connect_calls;
                 connect_status = s;
               }).ok());
  if (!t.connecting()) GTEST_SKIP() << "the kernel completed the connect synchronously";
  t.close(absl::CancelledError("given up"));
  EXPECT_EQ(connect_calls, 1);
  EXPECT_EQ(connect_status.code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(t.connecting());
  t.close(absl::CancelledError("again"));
  EXPECT_EQ(connect_calls, 1);
}

// The server accepts and closes without a reply (what xsmbd does beyond `max connections`):
// after reading the request (FIN, the client reads EOF) or without reading it (unread data makes
// the kernel send RST, the client reads ECONNRESET). Both are the peer closing.
TEST(ConnectAsyncTest, ServerCloseWithoutReplyIsCountedAsPeerClose) {
  struct Case {
    const char* description;
    bool read_first;
  };
  for (const Case& c : {Case{"FIN after reading", true}, Case{"RST with unread data", false}}) {
    SCOPED_TRACE(c.description);
    Listener l;
    Transport t;
    ASSERT_TRUE(t.connectAsync(loopback(l.port), nullptr).ok());
    absl::Status request_status;
    bool completed = false;
    t.submit(echo(), [&](const Reply& r) {
      completed = true;
      request_status = r.status;
    });
    ASSERT_TRUE(t.runUntil([&] { return !t.wantsWrite(); }, std::chrono::seconds(5)).ok());
    int server = l.acceptOne();
    ASSERT_GE(server, 0);
    if (c.read_first) {
      ASSERT_TRUE(readRequest(server));
    } else {
      pollfd p{server, POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, 5000), 1);  // the request is in the socket, left unread
    }
    ::close(server);
    (void)t.runUntil([&] { return completed; }, std::chrono::seconds(5));
    ASSERT_TRUE(completed);
    EXPECT_EQ(request_status.code(), absl::StatusCode::kUnavailable) << request_status;
    EXPECT_EQ(t.stats().peer_closes, 1u);
    EXPECT_EQ(t.stats().replies, 0u);
    EXPECT_FALSE(t.connected());
  }
}

// A scripted server for the connections workload: serves the first `limit` connections it
// accepts (answers every request with success) and closes every later one at once, unread.
class LimitedServer {
 public:
  explicit LimitedServer(int limit) : limit_(limit) {
    ::pipe2(stop_, O_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }
  ~LimitedServer() {
    (void)!::write(stop_[1], "x", 1);
    thread_.join();
    ::close(stop_[0]);
    ::close(stop_[1]);
  }
  uint16_t port() const { return listener_.port; }
  int refusedCount() const { return refused_; }
  uint64_t requests() const { return requests_; }

 private:
  void run() {
    std::vector<int> served;
    for (;;) {
      std::vector<pollfd> fds{{stop_[0], POLLIN, 0}, {listener_.fd, POLLIN, 0}};
      for (int fd : served) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) <= 0) continue;
      if (fds[0].revents) break;
      if (fds[1].revents & POLLIN) {
        int fd = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0 && static_cast<int>(served.size()) < limit_) {
          served.push_back(fd);
        } else if (fd >= 0) {
          ::close(fd);
          ++refused_;
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto req = readRequest(fds[i].fd);
        if (!req) {
          ::close(fds[i].fd);
          served.erase(std::find(served.begin(), served.end(), fds[i].fd));
          continue;
        }
        ++requests_;
        if (req->header.command == smb2::SMB2_NEGOTIATE) {
          sendReply(fds[i].fd, req->header, 0, 8, negotiateReplyBody(0x0210));
        } else {
          sendReply(fds[i].fd, req->header, 0, 8);
        }
      }
    }
    for (int fd : served) ::close(fd);
  }

  int limit_;
  Listener listener_{512};
  int stop_[2];
  std::atomic<int> refused_{0};
  std::atomic<uint64_t> requests_{0};
  std::thread thread_;
};

TEST(ConnectionsWorkloadTest, CountsAcceptedRefusedAndServedConnections) {
  constexpr int kLimit = 20, kConnections = 25;
  LimitedServer server(kLimit);
  BenchOptions o;
  o.client.port = server.port();
  o.connections = kConnections;
  o.threads = 2;
  o.connect_window = 8;
  o.hold = 0.001;
  o.progress = false;
  auto r = runConnections(o, [] { return false; });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "connections");
  EXPECT_EQ(r->dialect, "2.1");
  EXPECT_EQ(r->connections, kConnections);
  EXPECT_EQ(r->accepted, uint64_t{kLimit});
  EXPECT_EQ(r->refused, uint64_t{kConnections - kLimit});
  EXPECT_EQ(r->failed, 0u) << r->first_error;
  EXPECT_EQ(r->served, uint64_t{kLimit});
  EXPECT_EQ(r->served_after_hold, uint64_t{kLimit});
  EXPECT_EQ(r->ops, uint64_t{kLimit});
  EXPECT_EQ(r->latency.count(), uint64_t{kLimit});
  EXPECT_EQ(server.refusedCount(), kConnections - kLimit);
  // A NEGOTIATE and two ECHOes on each served connection.
  EXPECT_EQ(server.requests(), uint64_t{3 * kLimit});
}

TEST(ConnectionsWorkloadTest, NothingListeningIsAnErrorNotARefusal) {
  uint16_t port;
  {
    Listener gone;
    port = gone.port;
  }
  BenchOptions o;
  o.client.port = port;
  o.connections = 3;
  o.hold = 0.001;
  o.progress = false;
  auto r = runConnections(o, [] { return false; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("refused"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace xsmb::bench
