// The composition xsmbd runs for SMB Direct (server/main.cc startSmbDirect): the connection
// the rdma-core listener hands over goes to an SmbdWorker whose acceptor is the daemon's own
// core::SmbAcceptor, the one TCP uses. Here the queue pair is the in-process loopback verbs
// provider's (no RDMA device on the test machines). Checks: an SMB2 NEGOTIATE (MS-SMB2 2.2.3)
// sent over MS-SMBD is answered by the real pipeline with the dialect chosen; the connection is
// registered with the server (status report) and the transport's counters count it; a request
// before NEGOTIATE ends the connection as over TCP.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "server/core/smb_connection.h"
#include "server/session/server_context.h"
#include "server/smbdirect/loopback_verbs.h"
#include "server/smbdirect/smbd_worker.h"
#include "server/vfs/io_pool.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/transport/transport_factories.h"

namespace xsmb::smbdirect {
namespace {

using smb2::testing::le16;
using smb2::testing::le32;
using smb2::testing::Smb2Msg;

// NEGOTIATE request offering `dialect` only (MS-SMB2 2.2.3: StructureSize 36, DialectCount 1,
// SecurityMode SIGNING_ENABLED, no capabilities, a ClientGuid, no contexts).
std::string negotiate(uint16_t dialect) {
  Smb2Msg m(smb2::SMB2_NEGOTIATE, 0);
  m.u16(36).u16(1).u16(smb2::SMB2_NEGOTIATE_SIGNING_ENABLED).u16(0).u32(0);
  for (int i = 0; i < 16; ++i) m.u8(static_cast<uint8_t>(i + 1));
  m.u64(0).u16(dialect);
  Bytes b = m.bytes();
  return std::string(b.begin(), b.end());
}

class DaemonPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<vfs::IoPool>(2);
    acceptor_ = std::make_unique<core::SmbAcceptor>(&server_, pool_.get(), 1);
    worker_ = std::make_unique<SmbdWorker>(acceptor_.get(), pool_.get(), &options_, 1);
    worker_->start();
    auto [s, c] = LoopbackVerbs::pair();
    worker_->adopt(std::move(s), "loopback");
    client_ = std::make_unique<transport::test::SmbdClient>(std::move(c));
  }
  void TearDown() override {
    client_.reset();
    worker_->stop();
    pool_.reset();
    worker_.reset();
  }

  session::ServerContext server_;
  SmbdOptions options_;
  std::unique_ptr<vfs::IoPool> pool_;
  std::unique_ptr<core::SmbAcceptor> acceptor_;
  std::unique_ptr<SmbdWorker> worker_;
  std::unique_ptr<transport::test::SmbdClient> client_;
};

TEST_F(DaemonPathTest, NegotiateIsAnsweredByTheServerPipeline) {
  ASSERT_TRUE(client_->send(negotiate(smb2::SMB2_DIALECT_300)));
  std::optional<std::string> r = client_->read();
  ASSERT_TRUE(r.has_value());
  Bytes b(r->begin(), r->end());
  ASSERT_GE(b.size(), 64u + 65u);
  EXPECT_EQ(le32(b, smb2::kHeaderStatusOffset), STATUS_SUCCESS);
  EXPECT_EQ(le16(b, 12), smb2::SMB2_NEGOTIATE);
  EXPECT_EQ(le16(b, 64), 65);  // NEGOTIATE response StructureSize
  EXPECT_EQ(le16(b, 64 + 4), smb2::SMB2_DIALECT_300);
  EXPECT_EQ(server_.stats.connections_accepted.load(), 1u);
  EXPECT_EQ(worker_->stats().connections.load(), 1u);
  EXPECT_EQ(server_.liveConnections().size(), 1u);
}

TEST_F(DaemonPathTest, RequestBeforeNegotiateIsRefused) {
  Smb2Msg echo(smb2::SMB2_ECHO, 0);
  echo.u16(4).u16(0);
  Bytes e = echo.bytes();
  ASSERT_TRUE(client_->send(std::string(e.begin(), e.end())));
  // As over TCP: the server drops a connection whose first request is not NEGOTIATE.
  EXPECT_TRUE(client_->closedByServer());
}

// "session setup timeout" over SMB Direct as over TCP: a connection that negotiates and never
// authenticates is closed once the timeout has passed.
class SetupTimeoutTest : public DaemonPathTest {
 protected:
  void SetUp() override {
    options_.setup_timeout = std::chrono::seconds(1);
    DaemonPathTest::SetUp();
  }
};

TEST_F(SetupTimeoutTest, ConnectionWithoutSessionIsClosed) {
  ASSERT_TRUE(client_->send(negotiate(smb2::SMB2_DIALECT_300)));
  ASSERT_TRUE(client_->read().has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client_->closedByServer());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST_F(DaemonPathTest, WithoutSetupTimeoutTheConnectionStays) {
  ASSERT_TRUE(client_->send(negotiate(smb2::SMB2_DIALECT_300)));
  ASSERT_TRUE(client_->read().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(server_.liveConnections().size(), 1u);
}

}  // namespace
}  // namespace xsmb::smbdirect
