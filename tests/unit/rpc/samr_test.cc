// samr through a PipeEndpoint: Connect/Connect2/Connect5, EnumDomains, LookupDomain,
// OpenDomain, EnumDomainUsers, LookupNames, OpenUser, QueryUserInfo, GetGroupsForUser,
// QueryDomainInfo, GetAliasMembership and Close against hand-built requests and the ones Samba's
// rpcclient sent in the captures. The UserInfo21 decoder is first checked against Samba's
// captured response.
#include "gtest/gtest.h"
#include "pipe_client.h"
#include "rpc/pipe.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::Client;
using testing::fixtureStub;
using testing::handleAt;
using testing::ustr;
using testing::withHandle;

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
    EXPECT_EQ(loadU32(od.data() + 20), STATUS_SUCCESS);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes ld = c_.call(5, withHandle(fixtureStub("rpcclient-066-c2s-ptype0-op5.bin"), server_));
  NdrReader r2(ld);
  EXPECT_NE(r2.pointer(), 0u);
  EXPECT_EQ(r2.sid().toString(), "S-1-5-21-3956432685-3068663317-851033068");
  EXPECT_EQ(r2.u32(), STATUS_SUCCESS);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST_F(SamrTest, CapturedQueryUserSequence) {
  // rpcclient's queryuser: OpenUser(rid 0) fails, LookupNames, OpenUser, QueryUserInfo(21).
  Bytes bad = c_.call(34, withHandle(fixtureStub("rpcclient-087-c2s-ptype0-op34.bin"), domain_));
  EXPECT_EQ(loadU32(bad.data() + 20), STATUS_NO_SUCH_USER);
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
    EXPECT_EQ(r.u32(), STATUS_SUCCESS);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
  Bytes ou = c_.call(34, withHandle(fixtureStub("rpcclient-091-c2s-ptype0-op34.bin"), domain_));
  ASSERT_EQ(ou.size(), 24u);
  EXPECT_EQ(loadU32(ou.data() + 20), STATUS_SUCCESS);
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
  EXPECT_EQ(u.status, STATUS_SUCCESS);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  // Other info classes.
  for (uint16_t cls : {1, 6, 7, 8, 16}) {
    NdrWriter q;
    q.policyHandle(user);
    q.u16(cls);
    Bytes o = c_.call(47, q.take());
    EXPECT_EQ(loadU32(o.data() + o.size() - 4), STATUS_SUCCESS) << cls;
  }
  NdrWriter q;
  q.policyHandle(user);
  q.u16(99);
  Bytes o = c_.call(36, q.take());
  EXPECT_EQ(loadU32(o.data() + 4), STATUS_INVALID_INFO_CLASS);
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
    EXPECT_EQ(loadU32(o.data() + o.size() - 4), STATUS_SUCCESS) << cls;
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
  EXPECT_EQ(loadU32(od.data() + 20), STATUS_NO_SUCH_DOMAIN);
  // SamrLookupNames with an unknown name.
  Bytes ln = c_.call(17, withHandle(fixtureStub("rpcclient-089-c2s-ptype0-op17.bin"), server_));
  EXPECT_EQ(loadU32(ln.data() + ln.size() - 4), STATUS_INVALID_HANDLE);
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

// "restrict anonymous" 1 or 2: every SAM connect of a guest or anonymous caller is refused
// with STATUS_ACCESS_DENIED and a zero handle (so nothing can be enumerated); users still
// connect, and level 0 changes nothing.
TEST(SamrConnectTest, RestrictAnonymous) {
  struct Case {
    const char* description;
    CallerInfo caller;
    bool denied;
  };
  const Case cases[] = {
      {"anonymous, level 0", {"", "", true, 0}, false},
      {"anonymous, level 1", {"", "", true, 1}, true},
      {"guest, level 2", {"nobody", "", true, 2}, true},
      {"user, level 1", {"bench", "SAMBABARS", false, 1}, false},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.description);
    Client c("samr", samrSyntax(), k.caller);
    NdrWriter w;
    w.pointer(true);
    w.cvString("\\\\srv");
    w.u32(0x02000000);
    Bytes o = c.call(57, w.take());  // SamrConnect2
    ASSERT_EQ(o.size(), 24u);
    EXPECT_EQ(loadU32(o.data() + 20), k.denied ? STATUS_ACCESS_DENIED : STATUS_SUCCESS);
    EXPECT_EQ(handleAt(o, 0) == PolicyHandle{}, k.denied);
  }
}

}  // namespace
}  // namespace xsmb::rpc
