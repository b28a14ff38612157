// faultForRequest (rpc/rpcd_fault.h): the fault xsmbd answers for a request the RPC helper died
// holding. Table-driven over what a client may write to a pipe, then every truncation and a
// byte-at-a-time growth of a request.
#include "rpc/rpcd_fault.h"

#include <variant>

#include "gtest/gtest.h"
#include "rpc/pdu.h"
#include "rpc/service.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::bindBytes;
using testing::requestBytes;

Bytes withByte(Bytes b, size_t at, uint8_t value) {
  b.at(at) = value;
  return b;
}

struct Case {
  const char* description;
  Bytes input;
  bool faulted;
  uint32_t call_id;
  uint16_t context_id;
  uint8_t minor;
};

TEST(RpcdFaultTest, Table) {
  const Bytes stub = {1, 2, 3, 4};
  const Bytes request = requestBytes(9, 21, stub, 3);
  const Case cases[] = {
      {"request: call_id and p_cont_id carried over", request, true, 9, 3, 0},
      {"request of rpc version 5.1", withByte(request, 1, 1), true, 9, 3, 1},
      {"first fragment of several", requestBytes(77, 15, stub, 0, kPfcFirstFrag), true, 77, 0, 0},
      {"bind", bindBytes(1, srvsvcSyntax()), false, 0, 0, 0},
      {"alter_context", bindBytes(2, srvsvcSyntax(), {ndr20Syntax()}, 4280, PType::kAlterContext),
       false, 0, 0, 0},
      {"rpc_vers 4", withByte(request, 0, 4), false, 0, 0, 0},
      {"rpc_vers_minor 2", withByte(request, 1, 2), false, 0, 0, 0},
      {"big-endian drep", withByte(request, 4, 0x00), false, 0, 0, 0},
      {"frag_length below the header", withByte(withByte(request, 8, 8), 9, 0), false, 0, 0, 0},
      {"empty", Bytes{}, false, 0, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    auto fault = faultForRequest(c.input, kNcaFaultRemoteCommFailure);
    ASSERT_EQ(fault.has_value(), c.faulted);
    if (!fault) continue;
    ASSERT_EQ(fault->size(), 32u);  // C706 12.6.4.7 without stub data
    auto pdu = decodePdu(*fault);
    ASSERT_TRUE(pdu.ok()) << pdu.status();
    EXPECT_EQ(pdu->header.ptype, PType::kFault);
    EXPECT_EQ(pdu->header.rpc_vers, 5);
    EXPECT_EQ(pdu->header.rpc_vers_minor, c.minor);
    EXPECT_EQ(pdu->header.pfc_flags, kPfcFirstFrag | kPfcLastFrag);
    EXPECT_EQ(pdu->header.auth_length, 0);
    EXPECT_EQ(pdu->header.call_id, c.call_id);
    const auto* f = std::get_if<FaultPdu>(&pdu->body);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->context_id, c.context_id);
    EXPECT_EQ(f->status, kNcaFaultRemoteCommFailure);
    EXPECT_EQ(f->alloc_hint, 0u);
    EXPECT_EQ(f->cancel_count, 0);
  }
}

// Cut anywhere inside the 24-byte request header: no fault (nothing read past the end); from
// 24 bytes on the same fault whatever follows.
TEST(RpcdFaultTest, EveryTruncation) {
  const Bytes request = requestBytes(5, 21, Bytes(40, 0xAB), 1);
  const auto whole = faultForRequest(request, kNcaFaultRemoteCommFailure);
  ASSERT_TRUE(whole.has_value());
  for (size_t n = 0; n <= request.size(); ++n) {
    Bytes cut(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n));
    auto fault = faultForRequest(cut, kNcaFaultRemoteCommFailure);
    if (n < 24) {
      EXPECT_FALSE(fault.has_value()) << n;
    } else {
      ASSERT_TRUE(fault.has_value()) << n;
      EXPECT_EQ(*fault, *whole) << n;
    }
  }
}

}  // namespace
}  // namespace xsmb::rpc
