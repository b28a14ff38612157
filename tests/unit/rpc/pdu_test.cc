#include "rpc/pdu.h"

#include <dirent.h>

#include "gtest/gtest.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::loadFixture;

TEST(UuidTest, WireOrder) {
  auto u = Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b104860");
  ASSERT_TRUE(u);
  Bytes expected = {0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
                    0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60};
  EXPECT_EQ(Bytes(u->bytes.begin(), u->bytes.end()), expected);
  EXPECT_EQ(u->toString(), "8a885d04-1ceb-11c9-9fe8-08002b104860");
  EXPECT_FALSE(Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b10486"));
  EXPECT_FALSE(Uuid::parse("8a885d04x1ceb-11c9-9fe8-08002b104860"));
  EXPECT_FALSE(Uuid::parse("zz885d04-1ceb-11c9-9fe8-08002b104860"));
}

// One value of every PDU body type; each must survive encode -> decode, be decodable when
// it arrives one byte at a time (via PipeEndpoint-style accumulation: header first), and
// fail cleanly when cut at any length.
std::vector<std::pair<PduHeader, PduBody>> samplePdus() {
  std::vector<std::pair<PduHeader, PduBody>> v;
  PduHeader h;
  h.call_id = 7;
  BindPdu bind;
  bind.max_xmit_frag = 4280;
  bind.max_recv_frag = 4280;
  bind.assoc_group_id = 0x1234;
  SyntaxId srvsvc;
  srvsvc.uuid = *Uuid::parse("4b324fc8-1670-01d3-1278-5a47bf6ee188");
  srvsvc.major = 3;
  bind.contexts.push_back({0, srvsvc, {ndr20Syntax(), ndr64Syntax()}});
  h.ptype = PType::kBind;
  v.emplace_back(h, bind);
  h.ptype = PType::kAlterContext;
  v.emplace_back(h, bind);
  BindAckPdu ack;
  ack.max_xmit_frag = 4280;
  ack.max_recv_frag = 4280;
  ack.assoc_group_id = 0x53F0;
  ack.secondary_address = "\\PIPE\\srvsvc";
  ack.results = {{kResultAcceptance, 0, ndr20Syntax()},
                 {kResultProviderRejection, kReasonTransferSyntaxesNotSupported, {}}};
  h.ptype = PType::kBindAck;
  v.emplace_back(h, ack);
  BindAckPdu alter_resp = ack;
  alter_resp.secondary_address.clear();
  h.ptype = PType::kAlterContextResp;
  v.emplace_back(h, alter_resp);
  BindNakPdu nak;
  nak.reject_reason = kRejectProtocolVersionNotSupported;
  h.ptype = PType::kBindNak;
  v.emplace_back(h, nak);
  RequestPdu req;
  req.alloc_hint = 4;
  req.context_id = 1;
  req.opnum = 15;
  req.stub = {1, 2, 3, 4};
  h.ptype = PType::kRequest;
  v.emplace_back(h, req);
  RequestPdu obj = req;
  obj.object = *Uuid::parse("00000000-0000-0000-0000-000000000001");
  PduHeader ho = h;
  ho.pfc_flags |= kPfcObjectUuid;
  v.emplace_back(ho, obj);
  ResponsePdu resp;
  resp.alloc_hint = 3;
  resp.context_id = 1;
  resp.stub = {9, 8, 7};
  h.ptype = PType::kResponse;
  v.emplace_back(h, resp);
  FaultPdu fault;
  fault.status = kNcaOpRangeError;
  h.ptype = PType::kFault;
  v.emplace_back(h, fault);
  h.ptype = PType::kShutdown;
  v.emplace_back(h, EmptyPdu{});
  return v;
}

TEST(PduTest, RoundTripEveryType) {
  for (auto& [h, body] : samplePdus()) {
    SCOPED_TRACE(static_cast<int>(h.ptype));
    Bytes b = encodePdu(h, body);
    EXPECT_EQ(loadU16(b.data() + 8), b.size());
    auto d = decodePdu(b);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->header.ptype, h.ptype);
    EXPECT_EQ(d->header.call_id, 7u);
    EXPECT_EQ(d->header.pfc_flags, h.pfc_flags);
    EXPECT_EQ(d->body.index(), body.index());
    // Re-encoding the decoded value reproduces the bytes exactly.
    EXPECT_EQ(encodePdu(d->header, d->body), b);
    if (auto* x = std::get_if<BindPdu>(&d->body)) {
      ASSERT_EQ(x->contexts.size(), 1u);
      EXPECT_EQ(x->contexts[0].transfer_syntaxes.size(), 2u);
      EXPECT_EQ(x->contexts[0].transfer_syntaxes[1], ndr64Syntax());
      EXPECT_EQ(x->assoc_group_id, 0x1234u);
    }
    if (auto* x = std::get_if<BindAckPdu>(&d->body)) {
      EXPECT_EQ(x->results.size(), 2u);
      EXPECT_EQ(x->results[1].reason, kReasonTransferSyntaxesNotSupported);
    }
    if (auto* x = std::get_if<RequestPdu>(&d->body)) {
      EXPECT_EQ(x->opnum, 15);
      EXPECT_EQ(x->stub, Bytes({1, 2, 3, 4}));
      EXPECT_EQ(x->object.has_value(), (h.pfc_flags & kPfcObjectUuid) != 0);
    }
    if (auto* x = std::get_if<FaultPdu>(&d->body)) EXPECT_EQ(x->status, kNcaOpRangeError);
    // Cut at every length: the decoder reports an error, never reads past the end.
    for (size_t len = 0; len < b.size(); ++len) {
      EXPECT_FALSE(decodePdu(ByteSpan(b.data(), len)).ok()) << "len " << len;
    }
  }
}

TEST(PduTest, HeaderRejectsBadFraming) {
  Bytes good = encodePdu(PduHeader{}, RequestPdu{});
  auto mutate = [&](size_t off, uint8_t v) {
    Bytes b = good;
    b[off] = v;
    return decodeHeader(b).ok();
  };
  EXPECT_TRUE(decodeHeader(good).ok());
  EXPECT_FALSE(mutate(0, 4));     // rpc_vers
  EXPECT_FALSE(mutate(1, 2));     // rpc_vers_minor
  EXPECT_FALSE(mutate(4, 0x00));  // big-endian drep
  EXPECT_FALSE(mutate(8, 4));     // frag_length < 16
  Bytes auth = good;
  auth[10] = 0xF0;  // auth_length beyond the PDU
  EXPECT_FALSE(decodeHeader(auth).ok());
  Bytes unknown = good;
  unknown[2] = 99;
  EXPECT_FALSE(decodePdu(unknown).ok());
}

TEST(PduTest, CapturedPdusDecodeAndReencode) {
  DIR* d = opendir(XSMB_RPC_TESTDATA);
  ASSERT_NE(d, nullptr);
  int count = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 4) != ".bin") continue;
    SCOPED_TRACE(name);
    Bytes b = loadFixture(name);
    auto p = decodePdu(b);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->header.auth_length, 0);
    // Samba's PDUs are in canonical form, so our encoder reproduces them exactly.
    EXPECT_EQ(encodePdu(p->header, p->body), b);
    ++count;
  }
  closedir(d);
  EXPECT_GE(count, 60);
}

TEST(PduTest, CapturedBindAndAck) {
  auto bind = decodePdu(loadFixture("rpcclient-016-c2s-ptype11.bin"));
  ASSERT_TRUE(bind.ok());
  auto& b = std::get<BindPdu>(bind->body);
  EXPECT_EQ(b.max_xmit_frag, 4280);
  ASSERT_EQ(b.contexts.size(), 1u);
  EXPECT_EQ(b.contexts[0].abstract_syntax.uuid.toString(), "4b324fc8-1670-01d3-1278-5a47bf6ee188");
  EXPECT_EQ(b.contexts[0].abstract_syntax.major, 3);
  EXPECT_EQ(b.contexts[0].transfer_syntaxes[0], ndr20Syntax());
  auto ack = decodePdu(loadFixture("rpcclient-017-s2c-ptype12.bin"));
  ASSERT_TRUE(ack.ok());
  auto& a = std::get<BindAckPdu>(ack->body);
  EXPECT_EQ(a.secondary_address, "\\pipe\\srvsvc");
  ASSERT_EQ(a.results.size(), 1u);
  EXPECT_EQ(a.results[0].result, kResultAcceptance);
  EXPECT_EQ(a.results[0].transfer_syntax, ndr20Syntax());
}

TEST(PduTest, FragmentResponse) {
  Bytes stub(5000);
  for (size_t i = 0; i < stub.size(); ++i) stub[i] = static_cast<uint8_t>(i * 7);
  auto frags = fragmentResponse(9, 2, stub, 1432);
  ASSERT_EQ(frags.size(), 4u);
  Bytes joined;
  for (size_t i = 0; i < frags.size(); ++i) {
    EXPECT_LE(frags[i].size(), 1432u);
    auto p = decodePdu(frags[i]);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ((p->header.pfc_flags & kPfcFirstFrag) != 0, i == 0);
    EXPECT_EQ((p->header.pfc_flags & kPfcLastFrag) != 0, i + 1 == frags.size());
    auto& r = std::get<ResponsePdu>(p->body);
    EXPECT_EQ(r.alloc_hint, stub.size() - joined.size());
    EXPECT_EQ(r.context_id, 2);
    if (i + 1 < frags.size()) EXPECT_EQ(r.stub.size() % 8, 0u);
    joined.insert(joined.end(), r.stub.begin(), r.stub.end());
  }
  EXPECT_EQ(joined, stub);
  // An empty stub is one PDU with both flags.
  auto one = fragmentResponse(1, 0, {}, 4280);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0][3], kPfcFirstFrag | kPfcLastFrag);
}

}  // namespace
}  // namespace xsmb::rpc
