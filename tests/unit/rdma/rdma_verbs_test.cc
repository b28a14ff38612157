// The parts of the rdma-core Verbs backend that need no device: queue depths from the credits
// offered and the device's limits, the work request ids it posts with, and how work
// completions (ibv_wc) become the engine's Completions, errors included.
#include "server/smbdirect/rdma_verbs.h"

#include "gtest/gtest.h"

namespace xsmb::smbdirect {
namespace {

ibv_device_attr bigDevice() {
  ibv_device_attr a{};
  a.max_qp_wr = 16384;
  a.max_cqe = 4194303;
  a.max_qp_init_rd_atom = 16;
  a.max_qp_rd_atom = 16;
  return a;
}

TEST(QueueSizes, FollowTheCreditsOffered) {
  smbd::Limits limits;  // 255 receive credits, 255 send credits asked
  QueueSizes q = queueSizes(limits, bigDevice());
  EXPECT_EQ(q.recv_wr, 255u);
  EXPECT_EQ(q.send_wr, 255u);
  EXPECT_EQ(q.rdma_wr, kDefaultRdmaDepth);
  EXPECT_EQ(q.cq_depth, 255u + 255u + kDefaultRdmaDepth);
  EXPECT_EQ(q.max_rd_atomic, 16u);
  limits.receive_credit_max = 1;
  limits.send_credit_target = 1;
  q = queueSizes(limits, bigDevice(), 4);
  EXPECT_EQ(q.recv_wr, 1u);
  EXPECT_EQ(q.send_wr, 1u);
  EXPECT_EQ(q.cq_depth, 6u);
}

TEST(QueueSizes, CappedByTheDevice) {
  ibv_device_attr small{};
  small.max_qp_wr = 64;
  small.max_cqe = 100;
  small.max_qp_init_rd_atom = 4;
  small.max_qp_rd_atom = 2;
  QueueSizes q = queueSizes(smbd::Limits{}, small);
  EXPECT_EQ(q.recv_wr, 64u);
  EXPECT_EQ(q.rdma_wr, 32u);
  EXPECT_EQ(q.send_wr, 32u);  // sends and RDMA operations share the send queue
  EXPECT_LE(q.send_wr + q.rdma_wr, 64u);
  EXPECT_EQ(q.cq_depth, 100u);
  EXPECT_EQ(q.max_rd_atomic, 4u);
  EXPECT_EQ(q.max_dest_rd_atomic, 2u);
  ibv_device_attr tiny{};  // a device reporting nothing: every depth still at least 1
  q = queueSizes(smbd::Limits{}, tiny, 0);
  EXPECT_GE(q.recv_wr, 1u);
  EXPECT_GE(q.send_wr, 1u);
  EXPECT_GE(q.rdma_wr, 1u);
}

TEST(WrIds, RoundTripAndRejectForeignIds) {
  for (WrKind k : {WrKind::kRecv, WrKind::kSend, WrKind::kRdmaRead, WrKind::kRdmaWrite}) {
    for (uint32_t slot : {0u, 1u, 254u, UINT32_MAX}) {
      WrKind kind{};
      uint32_t s = 7;
      ASSERT_TRUE(decodeWrId(encodeWrId(k, slot), &kind, &s));
      EXPECT_EQ(kind, k);
      EXPECT_EQ(s, slot);
    }
  }
  WrKind kind{};
  uint32_t s = 0;
  EXPECT_FALSE(decodeWrId(0, &kind, &s));
  EXPECT_FALSE(decodeWrId(uint64_t{9} << 56, &kind, &s));
  EXPECT_FALSE(decodeWrId((uint64_t{1} << 56) | (uint64_t{1} << 40), &kind, &s));
}

struct WcCase {
  const char* description;
  ibv_wc_status status;
  WrKind kind;
  uint32_t byte_len;
  bool ok;
  uint32_t expected_len;
};

TEST(ToCompletion, StatusesAndKinds) {
  using Kind = Verbs::Completion::Kind;
  const WcCase cases[] = {
      {"receive", IBV_WC_SUCCESS, WrKind::kRecv, 100, true, 100},
      {"send", IBV_WC_SUCCESS, WrKind::kSend, 0, true, 0},
      {"receive flushed after a disconnect", IBV_WC_WR_FLUSH_ERR, WrKind::kRecv, 77, false, 0},
      {"send to a peer with no receive posted", IBV_WC_RNR_RETRY_EXC_ERR, WrKind::kSend, 0, false,
       0},
      {"RDMA Read with a bad token", IBV_WC_REM_ACCESS_ERR, WrKind::kRdmaRead, 0, false, 0},
      {"RDMA Write done", IBV_WC_SUCCESS, WrKind::kRdmaWrite, 65536, true, 0},
      {"retries exceeded", IBV_WC_RETRY_EXC_ERR, WrKind::kRdmaWrite, 0, false, 0},
  };
  for (const WcCase& c : cases) {
    SCOPED_TRACE(c.description);
    ibv_wc wc{};
    wc.status = c.status;
    wc.byte_len = c.byte_len;
    wc.opcode = IBV_WC_SEND;  // undefined for failed completions: never looked at
    Verbs::Completion out = toCompletion(wc, c.kind, 4242);
    EXPECT_EQ(out.ok, c.ok);
    EXPECT_EQ(out.wr_id, 4242u);
    EXPECT_EQ(out.byte_len, c.expected_len);
    if (c.kind == WrKind::kRecv) EXPECT_EQ(out.kind, Kind::kRecv);
    if (c.kind == WrKind::kSend) EXPECT_EQ(out.kind, Kind::kSend);
    if (c.kind == WrKind::kRdmaRead || c.kind == WrKind::kRdmaWrite) {
      EXPECT_NE(out.kind, Kind::kRecv);
    }
  }
}

}  // namespace
}  // namespace xsmb::smbdirect
