// PipeEndpoint: the association state machine, and every service call against hand-built
// requests and the requests Samba's rpcclient / smbclient sent in the captures. Responses are
// decoded by the client-side decoders below, which are first checked against Samba's own
// captured responses.
#include "rpc/pipe.h"

#include "gtest/gtest.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::bindBytes;
using testing::fixtureStub;
using testing::loadFixture;
using testing::requestBytes;
using testing::responseStub;
using testing::splitPdus;
using testing::testServerInfo;

// ---- a pipe client ------------------------------------------------------------------------

class Client {
 public:
  explicit Client(std::string_view pipe, const SyntaxId& iface,
                  CallerInfo caller = {"bench", "SAMBABARS", false})
      : ep_(PipeEndpoint::create(pipe, testServerInfo(), caller)) {
    EXPECT_NE(ep_, nullptr);
    Bytes out = ep_->write(bindBytes(1, iface));
    std::vector<Bytes> st;
    auto pdus = splitPdus(out, &st);
    EXPECT_EQ(pdus.size(), 1u);
    if (!pdus.empty()) {
      auto* ack = std::get_if<BindAckPdu>(&pdus[0].body);
      EXPECT_NE(ack, nullptr);
      if (ack) EXPECT_EQ(ack->results.at(0).result, kResultAcceptance);
    }
  }
  // Returns the response stub (empty + *fault on a fault).
  Bytes call(uint16_t opnum, ByteSpan stub, uint32_t* fault = nullptr) {
    return responseStub(ep_->write(requestBytes(++call_id_, opnum, stub)), fault);
  }
  PipeEndpoint& ep() { return *ep_; }

 private:
  std::unique_ptr<PipeEndpoint> ep_;
  uint32_t call_id_ = 1;
};

Bytes withHandle(Bytes stub, const PolicyHandle& h) {
  NdrWriter w;
  w.policyHandle(h);
  Bytes hb = w.take();
  std::copy(hb.begin(), hb.end(), stub.begin());
  return stub;
}

PolicyHandle handleAt(const Bytes& stub, size_t off) {
  NdrReader r(ByteSpan(stub).subspan(off));
  return r.policyHandle();
}

// ---- client-side response decoders ----------------------------------------------------------

std::string ustr(NdrReader& r, const UnicodeStringHeader& h) { return readUnicodeStringBody(r, h); }

struct Share {
  std::string name, comment, path;
  uint32_t type = 0;
};
struct ShareEnumResult {
  std::vector<Share> shares;
  uint32_t total = 0, werr = 0;
};

ShareEnumResult decodeShareEnum(const Bytes& stub, uint32_t level) {
  NdrReader r(stub);
  ShareEnumResult res;
  EXPECT_EQ(r.u32(), level);
  EXPECT_EQ(r.u32(), level);
  EXPECT_NE(r.pointer(), 0u);
  uint32_t n = r.u32();
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(4), n);
  std::vector<std::array<uint32_t, 4>> ptrs(n);
  res.shares.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ptrs[i][0] = r.pointer();
    if (level >= 1) {
      res.shares[i].type = r.u32();
      ptrs[i][1] = r.pointer();
    }
    if (level == 2) {
      r.u32();
      r.u32();
      r.u32();
      ptrs[i][2] = r.pointer();
      ptrs[i][3] = r.pointer();
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (ptrs[i][0]) res.shares[i].name = r.cvString();
    if (ptrs[i][1]) res.shares[i].comment = r.cvString();
    if (ptrs[i][2]) res.shares[i].path = r.cvString();
    if (ptrs[i][3]) r.cvString();
  }
  res.total = r.u32();
  if (r.pointer()) r.u32();
  res.werr = r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  return res;
}

struct SrvInfo101 {
  uint32_t platform = 0, major = 0, type = 0, werr = 0;
  std::string name, comment;
};
SrvInfo101 decodeSrvInfo101(const Bytes& stub) {
  NdrReader r(stub);
  SrvInfo101 s;
  EXPECT_EQ(r.u32(), 101u);
  EXPECT_NE(r.pointer(), 0u);
  s.platform = r.u32();
  uint32_t pn = r.pointer();
  s.major = r.u32();
  r.u32();
  s.type = r.u32();
  uint32_t pc = r.pointer();
  if (pn) s.name = r.cvString();
  if (pc) s.comment = r.cvString();
  s.werr = r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  return s;
}

struct DomainEntry {
  std::string name;
  std::string sid;
};
std::vector<DomainEntry> decodeRefDomains(NdrReader& r) {
  std::vector<DomainEntry> out;
  if (!r.pointer()) return out;
  uint32_t n = r.u32();
  uint32_t p = r.pointer();
  r.u32();  // max
  if (!p) return out;
  EXPECT_EQ(r.conformance(12), n);
  std::vector<std::pair<UnicodeStringHeader, uint32_t>> hs;
  for (uint32_t i = 0; i < n; ++i) {
    auto h = readUnicodeStringHeader(r);
    hs.emplace_back(h, r.pointer());
  }
  for (auto& [h, sp] : hs) {
    DomainEntry e;
    e.name = ustr(r, h);
    if (sp) e.sid = r.sid().toString();
    out.push_back(e);
  }
  return out;
}

struct LookupNamesResult {
  std::vector<DomainEntry> domains;
  std::vector<std::array<uint32_t, 3>> sids;  // use, rid, domain index
  uint32_t mapped = 0, status = 0;
};
LookupNamesResult decodeLookupNames(const Bytes& stub) {
  NdrReader r(stub);
  LookupNamesResult res;
  res.domains = decodeRefDomains(r);
  uint32_t n = r.u32();
  if (r.pointer()) {
    EXPECT_EQ(r.conformance(12), n);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t use = r.u16();
      uint32_t rid = r.u32();
      uint32_t idx = r.u32();
      res.sids.push_back({use, rid, idx});
    }
  }
  res.mapped = r.u32();
  res.status = r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  return res;
}

struct UserAll {
  std::string name, full_name;
  uint32_t rid = 0, primary_group = 0, uac = 0, status = 0;
};
UserAll decodeUserInfo21(const Bytes& stub) {
  NdrReader r(stub);
  UserAll u;
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u16(), 21);
  for (int i = 0; i < 12; ++i) r.u32();  // six OLD_LARGE_INTEGERs
  std::vector<UnicodeStringHeader> strs;
  for (int i = 0; i < 10; ++i) strs.push_back(readUnicodeStringHeader(r));
  std::vector<std::pair<uint16_t, uint32_t>> blobs;
  for (int i = 0; i < 2; ++i) {
    uint16_t len = r.u16();
    r.u16();
    blobs.emplace_back(len, r.pointer());
  }
  auto priv = readUnicodeStringHeader(r);
  r.u32();
  uint32_t sd = r.pointer();
  u.rid = r.u32();
  u.primary_group = r.u32();
  u.uac = r.u32();
  r.u32();
  r.u16();
  uint32_t hours = r.pointer();
  for (int i = 0; i < 4; ++i) r.u16();
  for (int i = 0; i < 4; ++i) r.u8();
  std::vector<std::string> values;
  for (auto& h : strs) values.push_back(ustr(r, h));
  u.name = values[0];
  u.full_name = values[1];
  for (auto& [len, p] : blobs) {
    if (p) {
      uint32_t max = r.conformance(0);
      auto v = r.variance(max, 2);
      r.bytes(v.actual * 2);
    }
  }
  ustr(r, priv);
  EXPECT_EQ(sd, 0u);
  if (hours) {
    uint32_t max = r.conformance(0);
    auto v = r.variance(max, 1);
    r.bytes(v.actual);
  }
  u.status = r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  return u;
}

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
  EXPECT_EQ(loadU32(out.data() + 20), kStatusSuccess);
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

Bytes serverGetInfoStub(uint32_t level) {
  NdrWriter w;
  w.pointer(true);
  w.cvString("\\\\127.0.0.1");
  w.u32(level);
  return w.take();
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

// ---- srvsvc --------------------------------------------------------------------------------

TEST(SrvsvcTest, DecodersAgreeWithSambasResponses) {
  auto enum2 = decodeShareEnum(fixtureStub("rpcclient-028-s2c-ptype2-op15.bin"), 2);
  EXPECT_EQ(enum2.werr, 0u);
  EXPECT_FALSE(enum2.shares.empty());
  auto enum1 = decodeShareEnum(fixtureStub("smbclient-L-024-s2c-ptype2-op15.bin"), 1);
  bool ipc = false;
  for (auto& s : enum1.shares) ipc = ipc || s.name == "IPC$";
  EXPECT_TRUE(ipc);
  auto srv = decodeSrvInfo101(fixtureStub("rpcclient-019-s2c-ptype2-op21.bin"));
  EXPECT_EQ(srv.name, "SAMBABARS");
  EXPECT_EQ(srv.comment, "Samba 4.17.12-Debian");
  EXPECT_EQ(srv.platform, 500u);
}

TEST(SrvsvcTest, CapturedNetShareEnumAllLevel2) {
  Client c("srvsvc", srvsvcSyntax());
  auto res = decodeShareEnum(c.call(15, fixtureStub("rpcclient-027-c2s-ptype0-op15.bin")), 2);
  ASSERT_EQ(res.shares.size(), 3u);
  EXPECT_EQ(res.total, 3u);
  EXPECT_EQ(res.werr, 0u);
  EXPECT_EQ(res.shares[0].name, "data");
  EXPECT_EQ(res.shares[0].comment, "Data share");
  EXPECT_EQ(res.shares[0].path, "C:\\srv\\data");
  EXPECT_EQ(res.shares[0].type, kStypeDisktree);
  EXPECT_EQ(res.shares[1].name, "public");
  EXPECT_EQ(res.shares[2].name, "IPC$");
  EXPECT_EQ(res.shares[2].type, kStypeIpc | kStypeSpecial);
  EXPECT_EQ(res.shares[2].comment, "IPC Service (xsmbd test)");
  for (auto& s : res.shares) EXPECT_NE(s.name, "secret");
}

TEST(SrvsvcTest, CapturedSmbclientListLevel1) {
  Client c("\\PIPE\\srvsvc", srvsvcSyntax());
  Bytes stub = fixtureStub("smbclient-L-023-c2s-ptype0-op15.bin");
  auto res = decodeShareEnum(c.call(15, stub), 1);
  ASSERT_EQ(res.shares.size(), 3u);
  EXPECT_EQ(res.shares[1].comment, "Public files");
  // NetShareEnum (opnum 36, "sticky") answers the same.
  auto res36 = decodeShareEnum(c.call(36, stub), 1);
  EXPECT_EQ(res36.shares.size(), 3u);
}

Bytes shareEnumStub(uint32_t level) {
  NdrWriter w;
  w.pointer(false);
  w.u32(level);
  w.u32(level);
  w.pointer(true);
  w.u32(0);
  w.pointer(false);
  w.u32(0xFFFFFFFF);
  w.pointer(false);
  return w.take();
}

TEST(SrvsvcTest, EnumLevels) {
  Client c("srvsvc", srvsvcSyntax());
  for (uint32_t level : {0u, 1u, 2u, 501u, 502u}) {
    SCOPED_TRACE(level);
    Bytes out = c.call(15, shareEnumStub(level));
    NdrReader r(out);
    EXPECT_EQ(r.u32(), level);
    EXPECT_EQ(r.u32(), level);
    EXPECT_NE(r.pointer(), 0u);
    EXPECT_EQ(r.u32(), 3u);
    EXPECT_EQ(loadU32(out.data() + out.size() - 4), kWerrOk);
  }
  Bytes bad = c.call(15, shareEnumStub(7));
  EXPECT_EQ(loadU32(bad.data() + bad.size() - 4), kWerrInvalidLevel);
}

Bytes shareGetInfoStub(const std::string& name, uint32_t level) {
  NdrWriter w;
  w.pointer(true);
  w.cvString("\\\\srv");
  w.cvString(name);
  w.u32(level);
  return w.take();
}

TEST(SrvsvcTest, NetShareGetInfo) {
  Client c("srvsvc", srvsvcSyntax());
  // Level 502 of a hidden share: reachable by name.
  Bytes out = c.call(16, shareGetInfoStub("SECRET", 502));
  NdrReader r(out);
  EXPECT_EQ(r.u32(), 502u);
  EXPECT_NE(r.pointer(), 0u);
  uint32_t pn = r.pointer();
  EXPECT_EQ(r.u32(), kStypeDisktree);
  uint32_t pc = r.pointer();
  r.u32();
  EXPECT_EQ(r.u32(), 0xFFFFFFFFu);
  r.u32();
  uint32_t pp = r.pointer();
  EXPECT_EQ(r.pointer(), 0u);  // password
  EXPECT_EQ(r.u32(), 0u);      // reserved
  EXPECT_EQ(r.pointer(), 0u);  // security descriptor
  ASSERT_TRUE(pn && pc && pp);
  EXPECT_EQ(r.cvString(), "secret");
  EXPECT_EQ(r.cvString(), "Hidden share");
  EXPECT_EQ(r.cvString(), "C:\\srv\\secret");
  EXPECT_EQ(r.u32(), kWerrOk);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  for (uint32_t level : {0u, 1u, 2u, 501u, 1005u}) {
    Bytes o = c.call(16, shareGetInfoStub("data", level));
    EXPECT_EQ(loadU32(o.data() + o.size() - 4), kWerrOk) << level;
  }
  Bytes missing = c.call(16, shareGetInfoStub("nosuch", 1));
  EXPECT_EQ(missing, Bytes({1, 0, 0, 0, 0, 0, 0, 0, 0x06, 0x09, 0, 0}));  // NERR_NetNameNotFound
  Bytes bad = c.call(16, shareGetInfoStub("data", 3));
  EXPECT_EQ(loadU32(bad.data() + bad.size() - 4), kWerrInvalidLevel);
}

TEST(SrvsvcTest, CapturedNetServerGetInfo101) {
  Client c("srvsvc", srvsvcSyntax());
  auto s = decodeSrvInfo101(c.call(21, fixtureStub("rpcclient-018-c2s-ptype0-op21.bin")));
  EXPECT_EQ(s.platform, 500u);
  EXPECT_EQ(s.name, "SAMBABARS");
  EXPECT_EQ(s.comment, "xsmbd test");
  EXPECT_EQ(s.major, 10u);
  EXPECT_TRUE(s.type & 0x2);  // SV_TYPE_SERVER
  EXPECT_EQ(s.werr, 0u);
  Bytes l100 = c.call(21, serverGetInfoStub(100));
  NdrReader r(l100);
  EXPECT_EQ(r.u32(), 100u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 500u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.cvString(), "SAMBABARS");
  EXPECT_EQ(r.u32(), 0u);
  Bytes l102 = c.call(21, serverGetInfoStub(102));
  EXPECT_EQ(loadU32(l102.data() + l102.size() - 4), 0u);
  Bytes bad = c.call(21, serverGetInfoStub(1));
  EXPECT_EQ(loadU32(bad.data() + bad.size() - 4), kWerrInvalidLevel);
}

// ---- wkssvc --------------------------------------------------------------------------------

TEST(WkssvcTest, NetWkstaGetInfo) {
  Client c("wkssvc", wkssvcSyntax());
  Bytes out = c.call(0, serverGetInfoStub(100));
  NdrReader r(out);
  EXPECT_EQ(r.u32(), 100u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 500u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 10u);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.cvString(), "SAMBABARS");
  EXPECT_EQ(r.cvString(), "WORKGROUP");
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  Bytes l101 = c.call(0, serverGetInfoStub(101));
  EXPECT_EQ(loadU32(l101.data() + l101.size() - 4), 0u);
  Bytes bad = c.call(0, serverGetInfoStub(5));
  EXPECT_EQ(loadU32(bad.data() + bad.size() - 4), kWerrInvalidLevel);
  uint32_t fault = 0;
  c.call(1, serverGetInfoStub(100), &fault);
  EXPECT_EQ(fault, kNcaOpRangeError);
}

// ---- lsarpc --------------------------------------------------------------------------------

class LsaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes out = c_.call(6, fixtureStub("rpcclient-036-c2s-ptype0-op6.bin"));
    ASSERT_EQ(out.size(), 24u);
    EXPECT_EQ(loadU32(out.data() + 20), kStatusSuccess);
    handle_ = handleAt(out, 0);
    EXPECT_FALSE(handle_.isNull());
  }
  Client c_{"lsarpc", lsarpcSyntax()};
  PolicyHandle handle_;
};

TEST_F(LsaTest, CapturedQueryInfoPolicyPrimaryDomain) {
  Bytes out = c_.call(7, withHandle(fixtureStub("rpcclient-038-c2s-ptype0-op7.bin"), handle_));
  NdrReader r(out);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u16(), 3);
  auto h = readUnicodeStringHeader(r);
  EXPECT_EQ(r.pointer(), 0u);  // no SID for a workgroup
  EXPECT_EQ(readUnicodeStringBody(r, h), "WORKGROUP");
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_EQ(r.remaining(), 0u);
}

Bytes queryInfoStub(const PolicyHandle& h, uint16_t cls) {
  NdrWriter w;
  w.policyHandle(h);
  w.u16(cls);
  return w.take();
}

TEST_F(LsaTest, QueryInfoPolicyAccountDomainAndDns) {
  Bytes out = c_.call(7, queryInfoStub(handle_, 5));
  NdrReader r(out);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u16(), 5);
  auto h = readUnicodeStringHeader(r);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(readUnicodeStringBody(r, h), "SAMBABARS");
  EXPECT_EQ(r.sid().toString(), "S-1-5-21-3956432685-3068663317-851033068");
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes dns = c_.call(46, queryInfoStub(handle_, 12));
  EXPECT_EQ(loadU32(dns.data() + dns.size() - 4), kStatusSuccess);
  Bytes bad = c_.call(7, queryInfoStub(handle_, 2));
  EXPECT_EQ(bad, Bytes({0, 0, 0, 0, 0x0D, 0, 0, 0xC0}));
  Bytes nohandle = c_.call(7, queryInfoStub(PolicyHandle{}, 5));
  EXPECT_EQ(loadU32(nohandle.data() + 4), kStatusInvalidHandle);
}

TEST_F(LsaTest, CapturedLookupNames) {
  // The decoder agrees with Samba's answer first.
  auto samba = decodeLookupNames(fixtureStub("rpcclient-052-s2c-ptype2-op14.bin"));
  ASSERT_EQ(samba.sids.size(), 1u);
  EXPECT_EQ(samba.sids[0][1], 1000u);
  Bytes out = c_.call(14, withHandle(fixtureStub("rpcclient-051-c2s-ptype0-op14.bin"), handle_));
  auto res = decodeLookupNames(out);
  ASSERT_EQ(res.domains.size(), 1u);
  EXPECT_EQ(res.domains[0].name, "SAMBABARS");
  EXPECT_EQ(res.domains[0].sid, "S-1-5-21-3956432685-3068663317-851033068");
  ASSERT_EQ(res.sids.size(), 1u);
  EXPECT_EQ(res.sids[0][0], 1u);  // SidTypeUser
  EXPECT_EQ(res.sids[0][1], 1000u);
  EXPECT_EQ(res.sids[0][2], 0u);
  EXPECT_EQ(res.mapped, 1u);
  EXPECT_EQ(res.status, kStatusSuccess);
}

Bytes lookupNamesStub(const PolicyHandle& h, const std::vector<std::string>& names, int version) {
  NdrWriter w;
  w.policyHandle(h);
  w.u32(static_cast<uint32_t>(names.size()));
  w.u32(static_cast<uint32_t>(names.size()));
  for (auto& n : names) w.unicodeString(n);
  w.flush();
  w.u32(0);
  w.pointer(false);
  w.u16(1);
  w.u32(0);
  if (version >= 2) {
    w.u32(0);
    w.u32(2);
  }
  return w.take();
}

TEST_F(LsaTest, LookupNamesMixed) {
  auto res = decodeLookupNames(
      c_.call(14, lookupNamesStub(handle_, {"SAMBABARS\\alice", "nobody-here", "ALICE"}, 1)));
  ASSERT_EQ(res.sids.size(), 3u);
  EXPECT_EQ(res.sids[0][1], 1003u);
  EXPECT_EQ(res.sids[1][0], 8u);  // SidTypeUnknown
  EXPECT_EQ(res.sids[1][2], 0xFFFFFFFFu);
  EXPECT_EQ(res.sids[2][1], 1003u);
  EXPECT_EQ(res.mapped, 2u);
  EXPECT_EQ(res.status, kStatusSomeNotMapped);
  auto none = decodeLookupNames(c_.call(14, lookupNamesStub(handle_, {"OTHERDOM\\bench"}, 1)));
  EXPECT_EQ(none.status, kStatusNoneMapped);
  EXPECT_TRUE(none.domains.empty());
  // LookupNames3 returns SIDs.
  Bytes v3 = c_.call(68, lookupNamesStub(handle_, {"bench"}, 3));
  NdrReader r(v3);
  decodeRefDomains(r);
  EXPECT_EQ(r.u32(), 1u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(4), 1u);
  EXPECT_EQ(r.u16(), 1);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 0u);
  r.u32();
  EXPECT_EQ(r.sid().toString(), "S-1-5-21-3956432685-3068663317-851033068-1000");
  EXPECT_EQ(r.u32(), 1u);
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_TRUE(r.ok());
  // LookupNames2 decodes too (16-byte entries).
  Bytes v2 = c_.call(58, lookupNamesStub(handle_, {"bench"}, 2));
  EXPECT_EQ(loadU32(v2.data() + v2.size() - 4), kStatusSuccess);
}

Bytes lookupSidsStub(const PolicyHandle* h, const std::vector<std::string>& sids, int version) {
  NdrWriter w;
  if (h) w.policyHandle(*h);
  w.u32(static_cast<uint32_t>(sids.size()));
  w.deferredPointer(true, [sids](NdrWriter& w2) {
    w2.u32(static_cast<uint32_t>(sids.size()));
    for (auto& s : sids) {
      Sid sid = *Sid::parse(s);
      w2.deferredPointer(true, [sid](NdrWriter& w3) { w3.sid(sid); });
    }
  });
  w.flush();
  w.u32(0);
  w.pointer(false);
  w.u16(1);
  w.u32(0);
  if (version >= 2) {
    w.u32(0);
    w.u32(2);
  }
  return w.take();
}

TEST_F(LsaTest, LookupSids) {
  std::string dom = "S-1-5-21-3956432685-3068663317-851033068";
  for (int version : {1, 2, 3}) {
    SCOPED_TRACE(version);
    uint16_t op = version == 1 ? 15 : version == 2 ? 57 : 76;
    Bytes out = c_.call(
        op, lookupSidsStub(version == 3 ? nullptr : &handle_,
                           {dom + "-1000", dom, "S-1-5-21-1-2-3-4", dom + "-513"}, version));
    NdrReader r(out);
    auto doms = decodeRefDomains(r);
    ASSERT_EQ(doms.size(), 1u);
    EXPECT_EQ(doms[0].sid, dom);
    EXPECT_EQ(r.u32(), 4u);
    EXPECT_NE(r.pointer(), 0u);
    EXPECT_EQ(r.conformance(4), 4u);
    std::vector<std::pair<uint16_t, UnicodeStringHeader>> e;
    std::vector<uint32_t> idx;
    for (int i = 0; i < 4; ++i) {
      uint16_t use = r.u16();
      e.emplace_back(use, readUnicodeStringHeader(r));
      idx.push_back(r.u32());
      if (version >= 2) r.u32();
    }
    std::vector<std::string> names;
    for (auto& [use, h] : e) names.push_back(readUnicodeStringBody(r, h));
    EXPECT_EQ(names[0], "bench");
    EXPECT_EQ(e[0].first, 1);
    EXPECT_EQ(names[1], "SAMBABARS");
    EXPECT_EQ(e[1].first, 3);
    EXPECT_EQ(names[2], "S-1-5-21-1-2-3-4");
    EXPECT_EQ(e[2].first, 8);
    EXPECT_EQ(idx[2], 0xFFFFFFFFu);
    EXPECT_EQ(names[3], "None");
    EXPECT_EQ(r.u32(), 3u);
    EXPECT_EQ(r.u32(), kStatusSomeNotMapped);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST_F(LsaTest, CapturedGetUserNameAndClose) {
  Bytes out = c_.call(45, fixtureStub("rpcclient-108-c2s-ptype0-op45.bin"));
  NdrReader r(out);
  EXPECT_NE(r.pointer(), 0u);
  auto uh = readUnicodeStringHeader(r);
  EXPECT_EQ(readUnicodeStringBody(r, uh), "bench");
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_NE(r.pointer(), 0u);
  auto dh = readUnicodeStringHeader(r);
  EXPECT_EQ(readUnicodeStringBody(r, dh), "SAMBABARS");
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes close = withHandle(fixtureStub("rpcclient-040-c2s-ptype0-op0.bin"), handle_);
  Bytes c1 = c_.call(0, close);
  EXPECT_EQ(c1, Bytes(24, 0));
  Bytes c2 = c_.call(0, close);
  EXPECT_EQ(loadU32(c2.data() + 20), kStatusInvalidHandle);
  // After close the handle is dead.
  Bytes q = c_.call(7, queryInfoStub(handle_, 5));
  EXPECT_EQ(loadU32(q.data() + 4), kStatusInvalidHandle);
}

TEST(LsaGuestTest, GetUserNameForGuest) {
  Client c("lsarpc", lsarpcSyntax(), CallerInfo{"", "", true});
  Bytes out = c.call(45, fixtureStub("rpcclient-108-c2s-ptype0-op45.bin"));
  NdrReader r(out);
  r.pointer();
  auto uh = readUnicodeStringHeader(r);
  EXPECT_EQ(readUnicodeStringBody(r, uh), "Guest");
}

// ---- samr ----------------------------------------------------------------------------------

class SamrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes out = c_.call(64, fixtureStub("rpcclient-062-c2s-ptype0-op64.bin"));
    ASSERT_EQ(out.size(), 40u);
    EXPECT_EQ(loadU32(out.data()), 1u);       // OutVersion
    EXPECT_EQ(loadU32(out.data() + 36), 0u);  // status
    server_ = handleAt(out, 16);
    Bytes od = c_.call(7, withHandle(fixtureStub("rpcclient-068-c2s-ptype0-op7.bin"), server_));
    ASSERT_EQ(od.size(), 24u);
    EXPECT_EQ(loadU32(od.data() + 20), kStatusSuccess);
    domain_ = handleAt(od, 0);
  }
  Client c_{"samr", samrSyntax()};
  PolicyHandle server_, domain_;
};

TEST_F(SamrTest, CapturedEnumDomainsAndLookupDomain) {
  Bytes out = c_.call(6, withHandle(fixtureStub("rpcclient-064-c2s-ptype0-op6.bin"), server_));
  NdrReader r(out);
  EXPECT_EQ(r.u32(), 2u);  // resume handle
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(12), 2u);
  std::vector<UnicodeStringHeader> hs;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r.u32(), 0u);
    hs.push_back(readUnicodeStringHeader(r));
  }
  EXPECT_EQ(readUnicodeStringBody(r, hs[0]), "SAMBABARS");
  EXPECT_EQ(readUnicodeStringBody(r, hs[1]), "Builtin");
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes ld = c_.call(5, withHandle(fixtureStub("rpcclient-066-c2s-ptype0-op5.bin"), server_));
  NdrReader r2(ld);
  EXPECT_NE(r2.pointer(), 0u);
  EXPECT_EQ(r2.sid().toString(), "S-1-5-21-3956432685-3068663317-851033068");
  EXPECT_EQ(r2.u32(), kStatusSuccess);
}

TEST_F(SamrTest, CapturedEnumDomainUsers) {
  Bytes out = c_.call(13, withHandle(fixtureStub("rpcclient-070-c2s-ptype0-op13.bin"), domain_));
  NdrReader r(out);
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(12), 2u);
  std::vector<std::pair<uint32_t, UnicodeStringHeader>> e;
  for (int i = 0; i < 2; ++i) {
    uint32_t rid = r.u32();
    e.emplace_back(rid, readUnicodeStringHeader(r));
  }
  EXPECT_EQ(e[0].first, 1000u);
  EXPECT_EQ(readUnicodeStringBody(r, e[0].second), "bench");
  EXPECT_EQ(e[1].first, 1003u);
  EXPECT_EQ(readUnicodeStringBody(r, e[1].second), "alice");
  EXPECT_EQ(r.u32(), 2u);
  EXPECT_EQ(r.u32(), kStatusSuccess);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST_F(SamrTest, CapturedQueryUserSequence) {
  // rpcclient's queryuser: OpenUser(rid 0) fails, LookupNames, OpenUser, QueryUserInfo(21).
  Bytes bad = c_.call(34, withHandle(fixtureStub("rpcclient-087-c2s-ptype0-op34.bin"), domain_));
  EXPECT_EQ(loadU32(bad.data() + 20), kStatusNoSuchUser);
  Bytes ln = c_.call(17, withHandle(fixtureStub("rpcclient-089-c2s-ptype0-op17.bin"), domain_));
  // Same values as Samba's answer (referent ids differ): rids [1000], types [SidTypeUser].
  for (const Bytes& b : {ln, fixtureStub("rpcclient-090-s2c-ptype2-op17.bin")}) {
    NdrReader r(b);
    EXPECT_EQ(r.u32(), 1u);
    EXPECT_NE(r.pointer(), 0u);
    EXPECT_EQ(r.conformance(4), 1u);
    EXPECT_EQ(r.u32(), 1000u);
    EXPECT_EQ(r.u32(), 1u);
    EXPECT_NE(r.pointer(), 0u);
    EXPECT_EQ(r.conformance(4), 1u);
    EXPECT_EQ(r.u32(), 1u);
    EXPECT_EQ(r.u32(), kStatusSuccess);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
  Bytes ou = c_.call(34, withHandle(fixtureStub("rpcclient-091-c2s-ptype0-op34.bin"), domain_));
  ASSERT_EQ(ou.size(), 24u);
  EXPECT_EQ(loadU32(ou.data() + 20), kStatusSuccess);
  PolicyHandle user = handleAt(ou, 0);
  auto samba = decodeUserInfo21(fixtureStub("rpcclient-094-s2c-ptype2-op36.bin"));
  EXPECT_EQ(samba.name, "bench");
  EXPECT_EQ(samba.rid, 1000u);
  auto u = decodeUserInfo21(
      c_.call(36, withHandle(fixtureStub("rpcclient-093-c2s-ptype0-op36.bin"), user)));
  EXPECT_EQ(u.name, "bench");
  EXPECT_EQ(u.full_name, "Bench User");
  EXPECT_EQ(u.rid, 1000u);
  EXPECT_EQ(u.primary_group, 513u);
  EXPECT_EQ(u.uac & 0x10, 0x10u);
  EXPECT_EQ(u.status, kStatusSuccess);
  // GetGroupsForUser: Domain Users.
  NdrWriter w;
  w.policyHandle(user);
  Bytes g = c_.call(39, w.take());
  NdrReader r(g);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u32(), 1u);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(8), 1u);
  EXPECT_EQ(r.u32(), 513u);
  EXPECT_EQ(r.u32(), 7u);
  EXPECT_EQ(r.u32(), kStatusSuccess);
  // Other info classes.
  for (uint16_t cls : {1, 6, 7, 8, 16}) {
    NdrWriter q;
    q.policyHandle(user);
    q.u16(cls);
    Bytes o = c_.call(47, q.take());
    EXPECT_EQ(loadU32(o.data() + o.size() - 4), kStatusSuccess) << cls;
  }
  NdrWriter q;
  q.policyHandle(user);
  q.u16(99);
  Bytes o = c_.call(36, q.take());
  EXPECT_EQ(loadU32(o.data() + 4), kStatusInvalidInfoClass);
  // Close all three handles.
  for (const PolicyHandle* h : {&user, &domain_, &server_}) {
    NdrWriter cw;
    cw.policyHandle(*h);
    EXPECT_EQ(c_.call(1, cw.take()), Bytes(24, 0));
  }
}

TEST_F(SamrTest, QueryDomainInfoAndAliases) {
  for (uint16_t cls : {1, 2, 3, 5, 7, 12}) {
    NdrWriter q;
    q.policyHandle(domain_);
    q.u16(cls);
    Bytes o = c_.call(8, q.take());
    EXPECT_EQ(loadU32(o.data() + o.size() - 4), kStatusSuccess) << cls;
  }
  NdrWriter q;
  q.policyHandle(domain_);
  q.u16(5);
  Bytes o = c_.call(46, q.take());
  NdrReader r(o);
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.u16(), 5);
  auto h = readUnicodeStringHeader(r);
  EXPECT_EQ(readUnicodeStringBody(r, h), "SAMBABARS");
  // GetAliasMembership: none.
  NdrWriter a;
  a.policyHandle(domain_);
  a.u32(1);
  a.deferredPointer(true, [](NdrWriter& w2) {
    w2.u32(1);
    w2.deferredPointer(true, [](NdrWriter& w3) { w3.sid(*Sid::parse("S-1-5-21-1-2-3-1000")); });
  });
  a.flush();
  EXPECT_EQ(c_.call(16, a.take()), Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // OpenDomain of an unknown SID.
  NdrWriter d;
  d.policyHandle(server_);
  d.u32(0x02000000);
  d.sid(*Sid::parse("S-1-5-21-9-9-9"));
  Bytes od = c_.call(7, d.take());
  EXPECT_EQ(loadU32(od.data() + 20), kStatusNoSuchDomain);
  // SamrLookupNames with an unknown name.
  Bytes ln = c_.call(17, withHandle(fixtureStub("rpcclient-089-c2s-ptype0-op17.bin"), server_));
  EXPECT_EQ(loadU32(ln.data() + ln.size() - 4), kStatusInvalidHandle);
}

TEST(SamrConnectTest, Connect2AndConnect) {
  Client c("samr", samrSyntax());
  NdrWriter w;
  w.pointer(true);
  w.cvString("\\\\srv");
  w.u32(0x02000000);
  Bytes o = c.call(57, w.take());
  ASSERT_EQ(o.size(), 24u);
  EXPECT_EQ(loadU32(o.data() + 20), 0u);
  NdrWriter w0;
  w0.pointer(true);
  w0.u16('\\');
  w0.u32(0x02000000);
  Bytes o0 = c.call(0, w0.take());
  ASSERT_EQ(o0.size(), 24u);
  EXPECT_EQ(loadU32(o0.data() + 20), 0u);
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
