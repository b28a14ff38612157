#include "tools/xsmb-bench/transport.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>
#include <vector>

#include "common/crypto/signing.h"
#include "common/smb2/ntstatus.h"
#include "tests/unit/bench/fake_server.h"

namespace xsmb::bench {
namespace {

using testing::readRequest;
using testing::Received;
using testing::sendReply;

Request echo() {
  Request r;
  r.command = smb2::SMB2_ECHO;
  r.body = {0x04, 0x00, 0x00, 0x00};
  return r;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override { init({}); }
  void init(TransportOptions opts) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t_ = std::make_unique<Transport>(opts);
    t_->adopt(sv[0]);
    server_ = sv[1];
  }
  void TearDown() override {
    if (server_ >= 0) ::close(server_);
  }
  // Lets the client read what the server wrote.
  void pump() { ASSERT_TRUE(t_->handleEvents(true, true).ok()); }
  // Sends one echo with the single initial credit, the server granting `grant`.
  void grantCredits(uint16_t grant) {
    bool done = false;
    t_->submit(echo(), [&](const Reply&) { done = true; });
    auto req = readRequest(server_);
    ASSERT_TRUE(req);
    sendReply(server_, req->header, 0, grant);
    pump();
    ASSERT_TRUE(done);
  }

  std::unique_ptr<Transport> t_;
  int server_ = -1;
};

TEST_F(TransportTest, FirstRequestUsesTheSingleInitialCreditAndMessageIdZero) {
  EXPECT_EQ(t_->credits(), 1u);
  t_->submit(echo(), nullptr);
  t_->submit(echo(), nullptr);
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header.message_id, 0u);
  EXPECT_EQ(req->header.command, smb2::SMB2_ECHO);
  EXPECT_EQ(req->header.credit_charge, 1);
  EXPECT_GE(req->header.credits, 1);  // asks for more
  // The second waits: no credit left until the first reply grants some.
  EXPECT_EQ(t_->credits(), 0u);
  EXPECT_EQ(t_->inFlight(), 1u);
  EXPECT_EQ(t_->waiting(), 1u);
  sendReply(server_, req->header, 0, 1);
  pump();
  EXPECT_EQ(t_->waiting(), 0u);
  auto second = readRequest(server_);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->header.message_id, 1u);
}

TEST_F(TransportTest, OutOfOrderRepliesCompleteTheirOwnRequests) {
  grantCredits(16);
  constexpr int kN = 6;
  std::vector<uint64_t> completed_ids(kN, ~0ULL);
  std::vector<int> order;
  for (int i = 0; i < kN; ++i) {
    t_->submit(echo(), [&, i](const Reply& r) {
      ASSERT_TRUE(r.status.ok());
      completed_ids[i] = r.header.message_id;
      order.push_back(i);
    });
  }
  std::vector<Received> reqs;
  for (int i = 0; i < kN; ++i) {
    auto r = readRequest(server_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header.message_id, 1u + i);
    reqs.push_back(*r);
  }
  // Replies in the order 5, 3, 1, 0, 2, 4, all in one write.
  Bytes burst;
  for (int i : {5, 3, 1, 0, 2, 4}) {
    auto f = testing::framed(testing::replyMessage(reqs[i].header, 0, 1, {4, 0, 0, 0}));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  testing::sendAll(server_, burst);
  pump();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(completed_ids[i], 1u + i) << i;
  EXPECT_EQ(order, (std::vector<int>{5, 3, 1, 0, 2, 4}));
  // 5 (oldest is 0), 3, 1, then 0 is the oldest, 2 is the oldest after it, 4 as well.
  EXPECT_EQ(t_->stats().out_of_order, 3u);
  EXPECT_EQ(t_->inFlight(), 0u);
}

TEST_F(TransportTest, ReplySplitIntoSingleBytesIsReassembled) {
  grantCredits(4);
  int calls = 0;
  t_->submit(echo(), [&](const Reply& r) {
    EXPECT_TRUE(r.status.ok());
    ++calls;
  });
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  Bytes f = testing::framed(testing::replyMessage(req->header, 0, 1, {4, 0, 0, 0}));
  for (size_t i = 0; i < f.size(); ++i) {
    testing::sendAll(server_, Bytes{f[i]});
    pump();
    EXPECT_EQ(calls, i + 1 == f.size() ? 1 : 0) << i;
  }
}

TEST_F(TransportTest, MultiCreditChargeAdvancesMessageIdAndWaitsForCredits) {
  grantCredits(4);  // credits: 4
  Request read;
  read.command = smb2::SMB2_READ;
  read.body = Bytes(49, 0);
  read.payload_size = 256 * 1024;  // CreditCharge 4
  bool read_done = false;
  t_->submit(read, [&](const Reply&) { read_done = true; });
  auto r1 = readRequest(server_);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->header.credit_charge, 4);
  EXPECT_EQ(r1->header.message_id, 1u);
  EXPECT_GE(r1->header.credits, 4);
  EXPECT_EQ(t_->credits(), 0u);
  EXPECT_EQ(t_->nextMessageId(), 5u);

  // A 1 MiB READ needs 16 credits: it waits while only 4 are granted.
  Request big = read;
  big.payload_size = 1 << 20;
  bool big_done = false;
  t_->submit(big, [&](const Reply&) { big_done = true; });
  EXPECT_EQ(t_->waiting(), 1u);
  sendReply(server_, r1->header, 0, 4, Bytes(17, 0));
  pump();
  EXPECT_TRUE(read_done);
  EXPECT_EQ(t_->waiting(), 1u);  // 4 < 16
  EXPECT_EQ(t_->credits(), 4u);
  // The remaining 12 credits arrive in an unsolicited message (MessageId all ones, as an
  // oplock break): credits count wherever they come from.
  smb2::Header brk = r1->header;
  brk.message_id = ~0ULL;
  brk.command = smb2::SMB2_OPLOCK_BREAK;
  sendReply(server_, brk, 0, 12, Bytes(24, 0));
  pump();
  EXPECT_EQ(t_->waiting(), 0u);
  auto r2 = readRequest(server_);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->header.credit_charge, 16);
  EXPECT_EQ(r2->header.message_id, 5u);
  EXPECT_EQ(t_->nextMessageId(), 21u);
  EXPECT_EQ(t_->credits(), 0u);
  sendReply(server_, r2->header, 0, 16, Bytes(17, 0));
  pump();
  EXPECT_TRUE(big_done);
  EXPECT_EQ(t_->credits(), 16u);
}

TEST_F(TransportTest, NoMultiCreditMeansChargeZeroAndOneMessageId) {
  t_->setMultiCredit(false);  // SMB 2.0.2
  grantCredits(4);
  Request read;
  read.command = smb2::SMB2_READ;
  read.body = Bytes(49, 0);
  read.payload_size = 65536;
  t_->submit(read, nullptr);
  t_->submit(echo(), nullptr);
  auto r1 = readRequest(server_);
  auto r2 = readRequest(server_);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->header.credit_charge, 0);
  EXPECT_EQ(r2->header.message_id, r1->header.message_id + 1);
}

TEST_F(TransportTest, CreditRequestAsksUpToTheTarget) {
  TransportOptions o;
  o.credit_target = 64;
  init(o);
  t_->submit(echo(), nullptr);
  auto r = readRequest(server_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.credits, 64);  // 1 to replace the one used + 63 to reach 64
}

TEST_F(TransportTest, InterimPendingAddsCreditsButDoesNotComplete) {
  grantCredits(2);
  int calls = 0;
  uint32_t final_status = 1;
  t_->submit(echo(), [&](const Reply& r) {
    ++calls;
    final_status = r.ntStatus();
  });
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  uint32_t credits_before = t_->credits();
  sendReply(server_, req->header, static_cast<uint32_t>(STATUS_PENDING), 3, Bytes(9, 0),
            smb2::SMB2_FLAGS_ASYNC_COMMAND, 77);
  pump();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(t_->credits(), credits_before + 3);
  EXPECT_EQ(t_->stats().interim, 1u);
  sendReply(server_, req->header, 0, 0, {4, 0, 0, 0}, smb2::SMB2_FLAGS_ASYNC_COMMAND, 77);
  pump();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(final_status, 0u);
}

TEST_F(TransportTest, ConnectionLossFailsEveryRequestOnce) {
  grantCredits(2);
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 4; ++i) {  // 2 sent, 2 waiting for credits
    t_->submit(echo(), [&](const Reply& r) { codes.push_back(r.status.code()); });
  }
  EXPECT_EQ(t_->inFlight(), 2u);
  EXPECT_EQ(t_->waiting(), 2u);
  ::close(server_);
  server_ = -1;
  auto st = t_->handleEvents(true, false);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(t_->connected());
  EXPECT_EQ(codes, std::vector<absl::StatusCode>(4, absl::StatusCode::kUnavailable));
  // Submitting on a closed transport fails at once.
  absl::StatusCode late = absl::StatusCode::kOk;
  t_->submit(echo(), [&](const Reply& r) { late = r.status.code(); });
  EXPECT_EQ(late, absl::StatusCode::kUnavailable);
}

TEST_F(TransportTest, SoftTimeoutProbesWithEchoHardTimeoutCloses) {
  TransportOptions o;
  o.soft_timeout = std::chrono::milliseconds(20);
  o.hard_timeout = std::chrono::milliseconds(80);
  init(o);
  grantCredits(4);
  absl::StatusCode code = absl::StatusCode::kOk;
  Request create;
  create.command = smb2::SMB2_CREATE;
  create.body = Bytes(57, 0);
  t_->submit(create, [&](const Reply& r) { code = r.status.code(); });
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  EXPECT_TRUE(t_->checkTimeouts(Clock::now()).ok());
  EXPECT_EQ(t_->stats().soft_timeouts, 0u);
  auto later = Clock::now() + std::chrono::milliseconds(30);
  EXPECT_TRUE(t_->checkTimeouts(later).ok());
  EXPECT_EQ(t_->stats().soft_timeouts, 1u);
  auto probe = readRequest(server_);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->header.command, smb2::SMB2_ECHO);
  // The probe is answered (the server is alive) but the CREATE never is.
  sendReply(server_, probe->header, 0, 1);
  pump();
  EXPECT_EQ(code, absl::StatusCode::kOk);  // still waiting
  auto st = t_->checkTimeouts(Clock::now() + std::chrono::milliseconds(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(code, absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(t_->connected());
  EXPECT_EQ(t_->stats().hard_timeouts, 1u);
}

TEST_F(TransportTest, IdleEchoInterval) {
  TransportOptions o;
  o.echo_interval = std::chrono::milliseconds(50);
  init(o);
  grantCredits(2);
  EXPECT_TRUE(t_->checkTimeouts(Clock::now() + std::chrono::milliseconds(10)).ok());
  EXPECT_EQ(t_->inFlight(), 0u);
  EXPECT_TRUE(t_->checkTimeouts(Clock::now() + std::chrono::milliseconds(60)).ok());
  auto probe = readRequest(server_);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->header.command, smb2::SMB2_ECHO);
  EXPECT_EQ(t_->stats().probes, 1u);
}

TEST_F(TransportTest, SignsRequestsAndRejectsBadReplySignatures) {
  grantCredits(4);
  crypto::Key16 key{};
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i * 3);
  t_->setSessionId(0x1122334455667788ULL);
  t_->setSigning(crypto::SigningAlgorithm::kAesCmac, key);
  absl::StatusCode code = absl::StatusCode::kUnknown;
  t_->submit(echo(), [&](const Reply& r) { code = r.status.code(); });
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->header.isSigned());
  EXPECT_EQ(req->header.session_id, 0x1122334455667788ULL);
  EXPECT_TRUE(crypto::verifySignature(crypto::SigningAlgorithm::kAesCmac, key, req->message));

  // A correctly signed reply passes; one with a flipped signature byte is flagged.
  Bytes good = testing::replyMessage(req->header, 0, 1, {4, 0, 0, 0}, smb2::SMB2_FLAGS_SIGNED);
  crypto::signInPlace(crypto::SigningAlgorithm::kAesCmac, key, good);
  testing::sendAll(server_, testing::framed(good));
  pump();
  EXPECT_EQ(code, absl::StatusCode::kOk);

  t_->submit(echo(), [&](const Reply& r) { code = r.status.code(); });
  auto req2 = readRequest(server_);
  ASSERT_TRUE(req2);
  Bytes bad = testing::replyMessage(req2->header, 0, 1, {4, 0, 0, 0}, smb2::SMB2_FLAGS_SIGNED);
  crypto::signInPlace(crypto::SigningAlgorithm::kAesCmac, key, bad);
  bad[50] ^= 1;
  testing::sendAll(server_, testing::framed(bad));
  pump();
  EXPECT_EQ(code, absl::StatusCode::kDataLoss);
  EXPECT_EQ(t_->stats().bad_signatures, 1u);
}

TEST_F(TransportTest, SigningOnlyMarkedRequestsWhenNotAll) {
  grantCredits(4);
  crypto::Key16 key{};
  t_->setSigning(crypto::SigningAlgorithm::kHmacSha256, key, /*all=*/false);
  t_->submit(echo(), nullptr);
  Request marked = echo();
  marked.sign = true;
  t_->submit(marked, nullptr);
  auto a = readRequest(server_);
  auto b = readRequest(server_);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->header.isSigned());
  EXPECT_TRUE(b->header.isSigned());
}

TEST_F(TransportTest, WritePayloadFollowsTheBodyWithoutCopy) {
  grantCredits(4);
  Bytes data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  Request w;
  w.command = smb2::SMB2_WRITE;
  w.body = Bytes(48, 0xab);
  w.payload = data;
  w.payload_size = static_cast<uint32_t>(data.size());
  t_->submit(w, nullptr);
  // The socketpair buffer may be smaller than the message: read on another thread.
  std::optional<Received> got;
  std::thread reader([&] { got = readRequest(server_); });
  for (int i = 0; i < 200 && t_->wantsWrite(); ++i) {
    ASSERT_TRUE(t_->handleEvents(false, true).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  reader.join();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->message.size(), 64u + 48 + data.size());
  EXPECT_EQ(got->header.credit_charge, 2);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), got->message.begin() + 112));
}

TEST_F(TransportTest, RepliesFromTheClientDirectionAreRejected) {
  grantCredits(2);
  t_->submit(echo(), nullptr);
  auto req = readRequest(server_);
  ASSERT_TRUE(req);
  Bytes m = testing::replyMessage(req->header, 0, 1, {4, 0, 0, 0});
  m[16] &= ~1;  // clear SMB2_FLAGS_SERVER_TO_REDIR
  testing::sendAll(server_, testing::framed(m));
  EXPECT_EQ(t_->handleEvents(true, false).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(t_->connected());
}

}  // namespace
}  // namespace xsmb::bench
