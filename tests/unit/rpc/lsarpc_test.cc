// lsarpc through a PipeEndpoint: OpenPolicy2, QueryInfoPolicy(2), LookupNames(2,3),
// LookupSids(2,3), GetUserName and Close against hand-built requests and the ones Samba's
// rpcclient sent in the captures. The LookupNames decoder is first checked against Samba's
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

class LsaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes out = c_.call(6, fixtureStub("rpcclient-036-c2s-ptype0-op6.bin"));
    ASSERT_EQ(out.size(), 24u);
    EXPECT_EQ(loadU32(out.data() + 20), STATUS_SUCCESS);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes dns = c_.call(46, queryInfoStub(handle_, 12));
  EXPECT_EQ(loadU32(dns.data() + dns.size() - 4), STATUS_SUCCESS);
  Bytes bad = c_.call(7, queryInfoStub(handle_, 2));
  EXPECT_EQ(bad, Bytes({0, 0, 0, 0, 0x0D, 0, 0, 0xC0}));
  Bytes nohandle = c_.call(7, queryInfoStub(PolicyHandle{}, 5));
  EXPECT_EQ(loadU32(nohandle.data() + 4), STATUS_INVALID_HANDLE);
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
  EXPECT_EQ(res.status, STATUS_SUCCESS);
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
  EXPECT_EQ(res.status, STATUS_SOME_NOT_MAPPED);
  auto none = decodeLookupNames(c_.call(14, lookupNamesStub(handle_, {"OTHERDOM\\bench"}, 1)));
  EXPECT_EQ(none.status, STATUS_NONE_MAPPED);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  EXPECT_TRUE(r.ok());
  // LookupNames2 decodes too (16-byte entries).
  Bytes v2 = c_.call(58, lookupNamesStub(handle_, {"bench"}, 2));
  EXPECT_EQ(loadU32(v2.data() + v2.size() - 4), STATUS_SUCCESS);
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
    EXPECT_EQ(r.u32(), STATUS_SOME_NOT_MAPPED);
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
  EXPECT_EQ(r.u32(), STATUS_SUCCESS);
  EXPECT_EQ(r.remaining(), 0u);
  Bytes close = withHandle(fixtureStub("rpcclient-040-c2s-ptype0-op0.bin"), handle_);
  Bytes c1 = c_.call(0, close);
  EXPECT_EQ(c1, Bytes(24, 0));
  Bytes c2 = c_.call(0, close);
  EXPECT_EQ(loadU32(c2.data() + 20), STATUS_INVALID_HANDLE);
  // After close the handle is dead.
  Bytes q = c_.call(7, queryInfoStub(handle_, 5));
  EXPECT_EQ(loadU32(q.data() + 4), STATUS_INVALID_HANDLE);
}

TEST(LsaGuestTest, GetUserNameForGuest) {
  Client c("lsarpc", lsarpcSyntax(), CallerInfo{"", "", true});
  Bytes out = c.call(45, fixtureStub("rpcclient-108-c2s-ptype0-op45.bin"));
  NdrReader r(out);
  r.pointer();
  auto uh = readUnicodeStringHeader(r);
  EXPECT_EQ(readUnicodeStringBody(r, uh), "Guest");
}

}  // namespace
}  // namespace xsmb::rpc
