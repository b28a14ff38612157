// One behaviour for every transport behind transport::Connection (connection.h): the same
// checks run over TCP (the real Worker on 127.0.0.1) and over SMB Direct (the real SmbdWorker
// on the loopback verbs provider), through a test Acceptor and ConnectionCallbacks with no
// SMB2: message order, large messages (fragmented on SMB Direct), runInStrand ordering, close
// with queued data, sends after close, the peer going away, and the threading contract (the
// harness checks onMessage off the loop, one at a time; onClose on the loop). A new transport
// (QUIC) is held to it by adding its factory (transport_factories.h) to kTransports.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/transport/transport_factories.h"
#ifdef XSMB_QUIC_BRIDGE
#include "tests/unit/transport/quic_factory.h"
#endif

namespace xsmb::transport::test {
namespace {

#ifdef XSMB_QUIC_BRIDGE
using kTransports = ::testing::Types<TcpFactory, SmbdFactory, QuicFactory>;
#else
using kTransports = ::testing::Types<TcpFactory, SmbdFactory>;
#endif
class Names {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
template <typename F>
using ConformanceTest = TransportTest<F>;
TYPED_TEST_SUITE(ConformanceTest, kTransports, Names);

TYPED_TEST(ConformanceTest, PropertiesOfTheConnection) {
  this->start();
  auto client = this->connect();
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->conn->kind(), TypeParam::kKind);
  EXPECT_EQ(conn->conn->loopIndex(), kLoopIndex);
  EXPECT_FALSE(conn->conn->peer().empty());
  // Only TCP sends file data by reference (sendfile); an RDMA channel only on SMB Direct.
  EXPECT_EQ(conn->conn->sendsFileByReference(), TypeParam::kKind == TransportKind::kTcp);
  EXPECT_EQ(conn->conn->rdmaChannel() != nullptr, TypeParam::kKind == TransportKind::kRdma);
}

TYPED_TEST(ConformanceTest, RepliesKeepTheOrderOfTheMessages) {
  this->start();
  auto client = this->connect();
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back("m" + std::to_string(i));
    ASSERT_TRUE(client->send(sent.back()));
  }
  for (const std::string& s : sent) EXPECT_EQ(client->text(), "re:" + s);
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->processed(), sent);
}

TYPED_TEST(ConformanceTest, LargeMessagesArriveWholeBothWays) {
  const std::string up = pattern(TypeParam::kLargeMessage, 1);
  const std::string down = pattern(TypeParam::kLargeMessage - 13, 2);
  this->acceptor_.on_pool = [&](TestConn&, const std::string& s) {
    return reply(s == up ? down : "wrong:" + std::to_string(s.size()));
  };
  this->start();
  auto client = this->connect();
  ASSERT_TRUE(client->send(up));
  auto got = client->read();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(sameBytes(down, *got));
  // And a small one after it, in order.
  ASSERT_TRUE(client->send("after"));
  EXPECT_EQ(client->text(), "wrong:5");
}

// A strand task runs after the message in progress and before one already received.
TYPED_TEST(ConformanceTest, RunInStrandRunsBetweenMessages) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  this->acceptor_.on_pool = holdOnPool("A", started, release);
  this->start();
  auto client = this->connect();
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  std::atomic<bool> on_loop{true};
  conn->conn->runInStrand([&] {
    on_loop = std::this_thread::get_id() == this->acceptor_.loop_thread.load();
    return reply("idle task");
  });
  EXPECT_EQ(client->text(), "idle task");
  EXPECT_FALSE(on_loop.load());

  ASSERT_TRUE(client->send("A"));
  ASSERT_TRUE(client->send("B"));
  ASSERT_TRUE(started->wait());
  std::atomic<int> inflight_seen{-1};
  conn->conn->runInStrand([&] {
    inflight_seen = conn->inflight();
    return reply("task");
  });
  release->open();
  EXPECT_EQ(client->text(), "re:A");
  EXPECT_EQ(client->text(), "task");
  EXPECT_EQ(client->text(), "re:B");
  EXPECT_EQ(inflight_seen.load(), 0) << "the task ran beside a message";
  // A task's Reply is handled as a message's: close after sending.
  conn->conn->runInStrand([] { return reply("closing task", /*close=*/true); });
  EXPECT_EQ(client->text(), "closing task");
  EXPECT_TRUE(client->closedByServer());
  EXPECT_TRUE(this->acceptor_.waitClosed(*conn));
}

// Connection::close() from another thread: what was queued goes first, then the end.
TYPED_TEST(ConformanceTest, CloseSendsWhatIsQueuedThenCloses) {
  this->start();
  const std::string big = pattern(TypeParam::kLargeMessage, 7);
  auto client = this->connect();
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  std::thread([&] {
    conn->conn->send(OutMessage{bytes("first"), {}});
    conn->conn->send(OutMessage{bytes(big), {}});
    conn->conn->close();
  }).join();
  EXPECT_EQ(client->text(), "first");
  auto got = client->read();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(sameBytes(big, *got));
  EXPECT_TRUE(client->closedByServer());
  ASSERT_TRUE(this->acceptor_.waitClosed(*conn));
  EXPECT_EQ(conn->closes(), 1);
  EXPECT_TRUE(conn->closedOnLoop());
}

// After the connection closed, its methods do nothing (and do not crash); other connections
// are served.
TYPED_TEST(ConformanceTest, SendAfterCloseDoesNothing) {
  this->start();
  auto client = this->connect();
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(client->send("x"));
  EXPECT_EQ(client->text(), "re:x");
  conn->conn->close();
  EXPECT_TRUE(client->closedByServer());
  ASSERT_TRUE(this->acceptor_.waitClosed(*conn));
  conn->conn->send(OutMessage{bytes("late"), {}});
  conn->conn->runInStrand([] { return reply("late task"); });
  conn->conn->close();
  auto next = this->connect();
  ASSERT_TRUE(next->send("y"));
  EXPECT_EQ(next->text(), "re:y");
  EXPECT_EQ(conn->closes(), 1);
}

// Reply.close: the reply goes out, then the end; a message behind it is never processed.
TYPED_TEST(ConformanceTest, ReplyCloseSendsThenCloses) {
  this->acceptor_.on_pool = [](TestConn&, const std::string& s) {
    return s == "bye" ? reply("bye-reply", /*close=*/true) : reply("re:" + s);
  };
  this->start();
  auto client = this->connect();
  ASSERT_TRUE(client->send("bye"));
  client->send("never");  // may already find the connection closed
  EXPECT_EQ(client->text(), "bye-reply");
  EXPECT_TRUE(client->closedByServer());
  auto conn = this->acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(this->acceptor_.waitClosed(*conn));
  EXPECT_EQ(conn->processed(), std::vector<std::string>{"bye"});
}

// Pacing (Reply::not_before, the live limits of session/limits.h): a reply held back 1 s
// leaves no earlier, the reply after it waits behind it, and another connection is answered
// meanwhile.
TYPED_TEST(ConformanceTest, HeldReplyWaitsAndKeepsTheOrder) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kHold = std::chrono::seconds(1);
  this->acceptor_.on_pool = [kHold](TestConn&, const std::string& s) {
    Reply r = reply("re:" + s);
    if (s == "slow") r.not_before = Clock::now() + kHold;
    return r;
  };
  this->start();
  auto paced = this->connect();
  auto other = this->connect();
  const auto start = Clock::now();
  ASSERT_TRUE(paced->send("slow"));
  ASSERT_TRUE(paced->send("next"));
  ASSERT_TRUE(other->send("free"));
  EXPECT_EQ(other->text(), "re:free");
  EXPECT_LT(Clock::now() - start, kHold);  // not held behind the paced connection
  EXPECT_EQ(paced->text(), "re:slow");
  EXPECT_GE(Clock::now() - start, kHold);
  EXPECT_EQ(paced->text(), "re:next");
}

// The peer goes away, idle or with a message on the pool: onClose once, on the loop; the
// worker serves the next connection.
TYPED_TEST(ConformanceTest, PeerDisconnectClosesOnce) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  this->acceptor_.on_pool = holdOnPool("slow", started, release);
  this->start();
  {
    auto client = this->connect();
    auto conn = this->acceptor_.conn(0);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send("x"));
    EXPECT_EQ(client->text(), "re:x");
    client->closeNow();
    ASSERT_TRUE(this->acceptor_.waitClosed(*conn));
    EXPECT_TRUE(conn->closedOnLoop());
  }
  {
    auto client = this->connect();
    auto conn = this->acceptor_.conn(1);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send("slow"));
    ASSERT_TRUE(started->wait());
    client->closeNow();
    ASSERT_TRUE(this->acceptor_.waitClosed(*conn));
    release->open();  // its reply finds the connection gone
    auto next = this->connect();
    ASSERT_TRUE(next->send("y"));
    EXPECT_EQ(next->text(), "re:y");
    EXPECT_EQ(conn->closes(), 1);
  }
}

}  // namespace
}  // namespace xsmb::transport::test
