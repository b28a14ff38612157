// PipeEndpoint: the association state machine (names, binds, alter_context, protocol errors,
// fragmentation and input cut anywhere), and every captured service request cut at every
// length. The services themselves are in srvsvc_test.cc, wkssvc_test.cc, lsarpc_test.cc and
// samr_test.cc; the pipe client and shared decoders in pipe_client.h.
#include "rpc/pipe.h"

#include "gtest/gtest.h"
#include "pipe_client.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::bindBytes;
using testing::Client;
using testing::decodeShareEnum;
using testing::fixtureStub;
using testing::loadFixture;
using testing::requestBytes;
using testing::responseStub;
using testing::serverGetInfoStub;
using testing::splitPdus;
using testing::testServerInfo;

// ---- names and binds --------------------------------------------------------------------

TEST(PipeEndpointTest, Names) {
  auto info = testServerInfo();
  struct {
    const char* name;
    const char* canonical;
  } cases[] = {{"srvsvc", "srvsvc"}, {"\\PIPE\\srvsvc", "srvsvc"}, {"\\pipe\\SAMR", "samr"},
               {"LSARPC", "lsarpc"}, {"\\wkssvc", "wkssvc"},       {"spoolss", nullptr},
               {"", nullptr},        {"\\PIPE\\", nullptr},        {"srvsvc\\x", nullptr},
               {"netlogon", nullptr}};
  for (const auto& c : cases) {
    auto ep = PipeEndpoint::create(c.name, info, {});
    EXPECT_EQ(ep != nullptr, c.canonical != nullptr) << c.name;
    if (ep) EXPECT_EQ(ep->name(), c.canonical);
  }
}

TEST(PipeEndpointTest, CapturedBindGetsAck) {
  auto ep = PipeEndpoint::create("srvsvc", testServerInfo(), {});
  Bytes out = ep->write(loadFixture("rpcclient-016-c2s-ptype11.bin"));
  auto p = decodePdu(out);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->header.ptype, PType::kBindAck);
  EXPECT_EQ(p->header.call_id, 1u);
  auto& ack = std::get<BindAckPdu>(p->body);
  EXPECT_EQ(ack.secondary_address, "\\PIPE\\srvsvc");
  EXPECT_EQ(ack.max_xmit_frag, 4280);
  ASSERT_EQ(ack.results.size(), 1u);
  EXPECT_EQ(ack.results[0].result, kResultAcceptance);
  EXPECT_EQ(ack.results[0].transfer_syntax, ndr20Syntax());
}

TEST(PipeEndpointTest, Ndr64OnlyBindIsRejectedInResultList) {
  auto ep = PipeEndpoint::create("srvsvc", testServerInfo(), {});
  Bytes out = ep->write(bindBytes(1, srvsvcSyntax(), {ndr64Syntax()}));
  auto p = decodePdu(out);
  ASSERT_TRUE(p.ok());
  auto& ack = std::get<BindAckPdu>(p->body);
  ASSERT_EQ(ack.results.size(), 1u);
  EXPECT_EQ(ack.results[0].result, kResultProviderRejection);
  EXPECT_EQ(ack.results[0].reason, kReasonTransferSyntaxesNotSupported);
  // Nothing is bound, so a call on context 0 is refused.
  Bytes f = ep->write(requestBytes(2, 21, Bytes(8, 0)));
  auto fp = decodePdu(f);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(std::get<FaultPdu>(fp->body).status, kNcaUnknownInterface);
}

TEST(PipeEndpointTest, WindowsStyleBindWithThreeContexts) {
  auto ep = PipeEndpoint::create("lsarpc", testServerInfo(), {});
  PduHeader h;
  h.ptype = PType::kBind;
  h.call_id = 2;
  BindPdu b;
  b.max_xmit_frag = b.max_recv_frag = 5840;
  SyntaxId btfn{*Uuid::parse("6cb71c2c-9812-4540-0300-000000000000"), 1, 0};
  SyntaxId unknown{*Uuid::parse("12345678-1234-abcd-ef00-01234567cffb"), 1, 0};
  b.contexts = {{0, lsarpcSyntax(), {ndr20Syntax()}},
                {1, lsarpcSyntax(), {ndr64Syntax()}},
                {2, lsarpcSyntax(), {btfn}},
                {3, unknown, {ndr20Syntax()}},
                {4, samrSyntax(), {ndr20Syntax()}}};
  auto p = decodePdu(ep->write(encodePdu(h, b)));
  ASSERT_TRUE(p.ok());
  auto& ack = std::get<BindAckPdu>(p->body);
  EXPECT_EQ(ack.max_xmit_frag, 4280);  // min(client 5840, ours)
  ASSERT_EQ(ack.results.size(), 5u);
  EXPECT_EQ(ack.results[0].result, kResultAcceptance);
  EXPECT_EQ(ack.results[1].result, kResultProviderRejection);
  EXPECT_EQ(ack.results[1].reason, kReasonTransferSyntaxesNotSupported);
  EXPECT_EQ(ack.results[2].result, kResultNegotiateAck);
  EXPECT_EQ(ack.results[3].result, kResultProviderRejection);
  EXPECT_EQ(ack.results[3].reason, kReasonAbstractSyntaxNotSupported);
  EXPECT_EQ(ack.results[4].result, kResultAcceptance);  // samr on the lsarpc pipe
  // alter_context adds srvsvc? Not on this pipe: abstract syntax rejected.
  auto alt = decodePdu(
      ep->write(bindBytes(3, srvsvcSyntax(), {ndr20Syntax()}, 4280, PType::kAlterContext, 5)));
  ASSERT_TRUE(alt.ok());
  EXPECT_EQ(alt->header.ptype, PType::kAlterContextResp);
  EXPECT_EQ(std::get<BindAckPdu>(alt->body).results[0].reason, kReasonAbstractSyntaxNotSupported);
  EXPECT_EQ(std::get<BindAckPdu>(alt->body).secondary_address, "");
}

TEST(PipeEndpointTest, AlterContextAddsAContext) {
  auto ep = PipeEndpoint::create("samr", testServerInfo(), {});
  ep->write(bindBytes(1, samrSyntax()));
  auto alt = decodePdu(
      ep->write(bindBytes(2, lsarpcSyntax(), {ndr20Syntax()}, 4280, PType::kAlterContext, 1)));
  ASSERT_TRUE(alt.ok());
  EXPECT_EQ(std::get<BindAckPdu>(alt->body).results[0].result, kResultAcceptance);
  // lsa_OpenPolicy2 on context 1 works.
  Bytes stub = fixtureStub("rpcclient-036-c2s-ptype0-op6.bin");
  auto out = responseStub(ep->write(requestBytes(3, 6, stub, 1)));
  ASSERT_EQ(out.size(), 24u);
  EXPECT_EQ(loadU32(out.data() + 20), STATUS_SUCCESS);
}

TEST(PipeEndpointTest, ProtocolErrors) {
  auto info = testServerInfo();
  // Request before bind.
  {
    auto ep = PipeEndpoint::create("srvsvc", info, {});
    auto p = decodePdu(ep->write(requestBytes(5, 21, Bytes(8, 0))));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(std::get<FaultPdu>(p->body).status, kNcaProtoError);
    EXPECT_FALSE(ep->broken());
  }
  // Unknown opnum -> nca_s_op_rng_error with did_not_execute.
  {
    Client c("srvsvc", srvsvcSyntax());
    auto p = decodePdu(c.ep().write(requestBytes(2, 200, Bytes(8, 0))));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(std::get<FaultPdu>(p->body).status, kNcaOpRangeError);
    EXPECT_TRUE(p->header.pfc_flags & kPfcDidNotExecute);
  }
  // Undecodable stub -> RPC_X_BAD_STUB_DATA.
  {
    Client c("srvsvc", srvsvcSyntax());
    uint32_t fault = 0;
    c.call(21, Bytes{1, 2}, &fault);
    EXPECT_EQ(fault, kFaultBadStubData);
  }
  // A bind with an auth verifier -> bind_nak authentication_type_not_recognized.
  {
    auto ep = PipeEndpoint::create("srvsvc", info, {});
    Bytes b = bindBytes(1, srvsvcSyntax());
    Bytes trailer = {10, 2, 0, 0, 0, 0, 0, 0};  // NTLMSSP, connect level
    b.insert(b.end(), trailer.begin(), trailer.end());
    b.insert(b.end(), 16, 0xAA);
    storeU16(b.data() + 8, static_cast<uint16_t>(b.size()));
    storeU16(b.data() + 10, 16);
    auto p = decodePdu(ep->write(b));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(std::get<BindNakPdu>(p->body).reject_reason, kRejectAuthTypeNotRecognized);
  }
  // A request with an auth verifier after a plain bind -> fault.
  {
    Client c("srvsvc", srvsvcSyntax());
    Bytes q = requestBytes(2, 21, Bytes(8, 0));
    Bytes trailer = {10, 2, 0, 0, 0, 0, 0, 0};
    q.insert(q.end(), trailer.begin(), trailer.end());
    q.insert(q.end(), 16, 0xAA);
    storeU16(q.data() + 8, static_cast<uint16_t>(q.size()));
    storeU16(q.data() + 10, 16);
    auto p = decodePdu(c.ep().write(q));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->header.ptype, PType::kFault);
  }
  // Second bind -> bind_nak; small max_recv_frag -> bind_nak.
  {
    Client c("srvsvc", srvsvcSyntax());
    auto p = decodePdu(c.ep().write(bindBytes(9, srvsvcSyntax())));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->header.ptype, PType::kBindNak);
    auto ep = PipeEndpoint::create("srvsvc", info, {});
    auto q = decodePdu(ep->write(bindBytes(1, srvsvcSyntax(), {ndr20Syntax()}, 100)));
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(std::get<BindNakPdu>(q->body).reject_reason, kRejectLocalLimitExceeded);
  }
  // Garbage framing breaks the pipe for good.
  {
    Client c("srvsvc", srvsvcSyntax());
    Bytes garbage = {4, 0, 0, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0};
    EXPECT_TRUE(c.ep().write(garbage).empty());
    EXPECT_TRUE(c.ep().broken());
    EXPECT_TRUE(c.ep().write(requestBytes(2, 21, Bytes(8, 0))).empty());
  }
  // A server-to-client PDU from the client breaks it too.
  {
    Client c("srvsvc", srvsvcSyntax());
    PduHeader h;
    h.ptype = PType::kResponse;
    c.ep().write(encodePdu(h, ResponsePdu{}));
    EXPECT_TRUE(c.ep().broken());
  }
}

TEST(PipeEndpointTest, ByteByByteEqualsWhole) {
  Bytes input = bindBytes(1, srvsvcSyntax());
  Bytes req = requestBytes(2, 21, serverGetInfoStub(101));
  input.insert(input.end(), req.begin(), req.end());
  auto whole_ep = PipeEndpoint::create("srvsvc", testServerInfo(), {});
  Bytes whole = whole_ep->write(input);
  auto ep = PipeEndpoint::create("srvsvc", testServerInfo(), {});
  Bytes pieced;
  for (uint8_t b : input) {
    Bytes o = ep->write(ByteSpan(&b, 1));
    pieced.insert(pieced.end(), o.begin(), o.end());
  }
  // The association group id is a fresh number per association; the rest is identical.
  ASSERT_GT(whole.size(), 24u);
  ASSERT_EQ(pieced.size(), whole.size());
  std::fill(whole.begin() + 20, whole.begin() + 24, 0);
  std::fill(pieced.begin() + 20, pieced.begin() + 24, 0);
  EXPECT_EQ(pieced, whole);
  std::vector<Bytes> st;
  EXPECT_EQ(splitPdus(whole, &st).size(), 2u);
}

TEST(PipeEndpointTest, FragmentedRequestAndResponse) {
  // Many shares so that NetShareEnum level 2 needs several response fragments.
  auto info = std::make_shared<ServerInfo>(*testServerInfo());
  for (int i = 0; i < 60; ++i) {
    info->shares.push_back({"share" + std::to_string(i), "comment number " + std::to_string(i),
                            "/srv/share" + std::to_string(i), kStypeDisktree, true});
  }
  auto ep = PipeEndpoint::create("srvsvc", info, {});
  ep->write(bindBytes(1, srvsvcSyntax(), {ndr20Syntax()}, 1432));
  Bytes stub = fixtureStub("rpcclient-027-c2s-ptype0-op15.bin");
  // The request in three fragments (cuts at 8-byte multiples, as clients do).
  Bytes in;
  size_t cuts[] = {0, 16, 40, stub.size()};
  for (int i = 0; i < 3; ++i) {
    uint8_t flags = (i == 0 ? kPfcFirstFrag : 0) | (i == 2 ? kPfcLastFrag : 0);
    Bytes part(stub.begin() + cuts[i], stub.begin() + cuts[i + 1]);
    Bytes f = requestBytes(7, 15, part, 0, flags);
    in.insert(in.end(), f.begin(), f.end());
  }
  Bytes out = ep->write(in);
  std::vector<Bytes> st;
  auto pdus = splitPdus(out, &st);
  ASSERT_GT(pdus.size(), 3u);
  for (const auto& p : pdus) {
    EXPECT_LE(p.header.frag_length, 1432);
    EXPECT_EQ(p.header.call_id, 7u);
  }
  auto res = decodeShareEnum(responseStub(out), 2);
  EXPECT_EQ(res.shares.size(), 63u);  // data, public, 60 more, IPC$ (not "secret")
  EXPECT_EQ(res.werr, 0u);
  // A continuation fragment of an unknown call is a fault, not a crash.
  auto f = decodePdu(ep->write(requestBytes(99, 15, Bytes(8, 0), 0, kPfcLastFrag)));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::get<FaultPdu>(f->body).status, kNcaProtoError);
}

TEST(PipeEndpointTest, CutAtEveryLengthNeverAnswersEarly) {
  Bytes req = requestBytes(2, 21, serverGetInfoStub(100));
  for (size_t len = 0; len < req.size(); ++len) {
    Client c("srvsvc", srvsvcSyntax());
    EXPECT_TRUE(c.ep().write(ByteSpan(req.data(), len)).empty()) << len;
    Bytes rest = c.ep().write(ByteSpan(req).subspan(len));
    EXPECT_FALSE(rest.empty());
    EXPECT_FALSE(c.ep().broken());
  }
}

// Every captured request, replayed against its service, produces a response or a clean fault
// when its stub is cut at every length; never a crash or a broken pipe.
TEST(ServiceRobustnessTest, TruncatedCapturedStubs) {
  struct {
    const char* file;
    const char* pipe;
    const SyntaxId* iface;
    uint16_t opnum;
  } cases[] = {
      {"rpcclient-027-c2s-ptype0-op15.bin", "srvsvc", &srvsvcSyntax(), 15},
      {"rpcclient-018-c2s-ptype0-op21.bin", "srvsvc", &srvsvcSyntax(), 21},
      {"rpcclient-036-c2s-ptype0-op6.bin", "lsarpc", &lsarpcSyntax(), 6},
      {"rpcclient-051-c2s-ptype0-op14.bin", "lsarpc", &lsarpcSyntax(), 14},
      {"rpcclient-108-c2s-ptype0-op45.bin", "lsarpc", &lsarpcSyntax(), 45},
      {"rpcclient-062-c2s-ptype0-op64.bin", "samr", &samrSyntax(), 64},
      {"rpcclient-089-c2s-ptype0-op17.bin", "samr", &samrSyntax(), 17},
  };
  for (const auto& cs : cases) {
    Bytes stub = fixtureStub(cs.file);
    Client c(cs.pipe, *cs.iface);
    for (size_t len = 0; len < stub.size(); ++len) {
      uint32_t fault = 0;
      Bytes out = c.call(cs.opnum, ByteSpan(stub.data(), len), &fault);
      EXPECT_EQ(fault, kFaultBadStubData) << cs.file << " cut at " << len;
      EXPECT_FALSE(c.ep().broken());
    }
  }
}

}  // namespace
}  // namespace xsmb::rpc
