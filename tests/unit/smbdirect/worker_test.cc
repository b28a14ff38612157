// The SMB Direct transport (SmbdWorker) with its own settings, through the test Acceptor and
// ConnectionCallbacks of the transport tests: one credit each way (credit starvation and
// recovery while 1 MiB moves both ways), the idle timer's keep-alive answered by a live client
// and fatal for a silent one, every malformed data transfer header from a table closing the
// connection (with the protocol error counted), and a message over the size limit.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/unit/smbd/data_message.h"
#include "tests/unit/transport/transport_factories.h"

namespace xsmb::transport::test {
namespace {

using namespace std::chrono_literals;
using smbd::test::dataMessage;

class SmbdWorkerTest : public TransportTest<SmbdFactory> {
 protected:
  smbdirect::SmbdOptions& options() { return factory_.options; }
  std::unique_ptr<SmbdClient> connectSmbd(const smbd::Limits& limits = {}) {
    return factory_.connectSmbd(limits);
  }
};

TEST_F(SmbdWorkerTest, OneCreditEachWayStarvesAndRecovers) {
  options().limits.receive_credit_max = 1;
  options().limits.send_credit_target = 1;
  const std::string up = pattern(1 << 20, 21), down = pattern((1 << 20) - 1, 22);
  acceptor_.on_pool = [&](TestConn&, const std::string& s) {
    return reply(s == up ? down : "re:" + s);
  };
  start();
  smbd::Limits one;
  one.receive_credit_max = 1;
  one.send_credit_target = 1;
  auto client = connectSmbd(one);
  EXPECT_EQ(client->engine().negotiated().send_credits, 1);
  ASSERT_TRUE(client->send("a"));
  ASSERT_TRUE(client->send(up));
  ASSERT_TRUE(client->send("b"));
  EXPECT_EQ(client->text(), "re:a");
  auto got = client->read();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(sameBytes(down, *got));
  EXPECT_EQ(client->text(), "re:b");
  // Over 1,500 messages each way went through on one credit at a time.
  EXPECT_GT(client->engine().messagesReceived(), 700u);
}

TEST_F(SmbdWorkerTest, KeepAliveKeepsALiveClientAndDropsASilentOne) {
  options().timeouts.idle = 30ms;
  options().timeouts.keepalive = 80ms;
  start();
  auto live = connectSmbd();
  auto silent = connectSmbd();
  auto live_conn = acceptor_.conn(0), silent_conn = acceptor_.conn(1);
  ASSERT_NE(live_conn, nullptr);
  ASSERT_NE(silent_conn, nullptr);
  // The live client runs its engine (and so answers keep-alives) for 400 ms; the silent one
  // never does after negotiating.
  const auto end = Clock::now() + 400ms;
  while (Clock::now() < end) live->waitUntil([&] { return Clock::now() >= end; });
  EXPECT_TRUE(acceptor_.waitClosed(*silent_conn));
  EXPECT_EQ(live_conn->closes(), 0) << "a client that answers keep-alives stays";
  ASSERT_TRUE(live->send("still here"));
  EXPECT_EQ(live->text(), "re:still here");
  EXPECT_GE(factory_.worker()->stats().keepalives_sent.load(), 1u);  // the silent one's
}

TEST_F(SmbdWorkerTest, EveryMalformedHeaderClosesTheConnection) {
  start();
  struct Case {
    const char* what;
    Bytes msg;
  };
  const Case cases[] = {
      {"19 bytes", dataMessage(1, 1, 0, 0, 0, 0, 19)},
      {"CreditsRequested 0", dataMessage(0, 1, 0, 0, 24, 8, 32)},
      {"DataOffset 20 (not 8-byte aligned)", dataMessage(1, 1, 0, 0, 20, 8, 28)},
      {"DataOffset inside the header", dataMessage(1, 1, 0, 0, 16, 8, 32)},
      {"data past the end", dataMessage(1, 1, 0, 0, 24, 9, 32)},
      {"DataOffset past the end", dataMessage(1, 1, 0, 0, 40, 1, 32)},
      {"DataLength + Remaining above MaxFragmentedSize", dataMessage(1, 1, 0, 1 << 20, 24, 8, 32)},
      {"Remaining without data", dataMessage(1, 1, 0, 10, 0, 0, 20)},
      {"a grant past 65,535 credits", dataMessage(1, 65535, 0, 0, 0, 0, 20)},
  };
  size_t i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto client = connectSmbd();
    auto conn = acceptor_.conn(i++);
    ASSERT_NE(conn, nullptr);
    // Sent raw on the client's queue pair, past its engine (which would never send it).
    ASSERT_TRUE(client->verbs().postSend(0x7000 + i, c.msg));
    EXPECT_TRUE(acceptor_.waitClosed(*conn));
    EXPECT_TRUE(client->closedByServer());
  }
  EXPECT_EQ(factory_.worker()->stats().protocol_errors.load(), std::size(cases));
}

TEST_F(SmbdWorkerTest, AMessageOverTheSizeLimitClosesTheConnection) {
  acceptor_.initial_max = 1000;
  start();
  auto client = connectSmbd();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(client->send(std::string(1000, 'x')));
  EXPECT_EQ(client->text(), "re:1000");
  ASSERT_TRUE(client->send(std::string(1001, 'x')));
  EXPECT_TRUE(client->closedByServer());
  EXPECT_TRUE(acceptor_.waitClosed(*conn));
  EXPECT_EQ(acceptor_.framingErrors(), std::vector<bool>{true});
}

// smb.conf's values reach the negotiate exchange: a server configured for 16 credits and
// 4096-byte receives grants 16 and announces those sizes.
TEST_F(SmbdWorkerTest, SmbConfSettingsReachTheNegotiation) {
  config::SmbDirectConfig c;
  c.receive_credit_max = 16;
  c.max_receive_size = 4096;
  c.max_send_size = 4096;
  c.idle_timeout_secs = 7;
  options() = smbdirect::smbdOptionsFrom(c);
  EXPECT_EQ(options().timeouts.idle, std::chrono::seconds(7));
  start();
  smbd::Limits big;
  big.max_send_size = big.max_receive_size = 8192;
  auto client = connectSmbd(big);
  EXPECT_EQ(client->engine().negotiated().send_credits, 16);
  EXPECT_EQ(client->engine().negotiated().max_send_size, 4096u);  // the server's receives
  ASSERT_TRUE(client->send(std::string(100000, 'q')));
  EXPECT_EQ(client->text(), "re:100000");
}

}  // namespace
}  // namespace xsmb::transport::test
