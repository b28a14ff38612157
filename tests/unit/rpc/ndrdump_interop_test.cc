// Interoperability: every response this server encodes is parsed by Samba's own NDR code
// (ndrdump, from Samba's IDL) using the request as context. Skipped where ndrdump is absent
// (package samba-testsuite).
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::fixtureStub;

constexpr const char* kNdrdump = "/usr/bin/ndrdump";

class NdrdumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kNdrdump, X_OK) != 0) GTEST_SKIP() << "ndrdump not installed (samba-testsuite)";
    char d[] = "/tmp/xsmb-ndrdump-XXXXXX";
    ASSERT_NE(mkdtemp(d), nullptr);
    dir_ = d;
    CallContext ctx{testing::testServerInfo(), {"bench", "", false}};
    srv_ = makeSrvsvc(ctx);
    wks_ = makeWkssvc(ctx);
    lsa_ = makeLsarpc(ctx);
    sam_ = makeSamr(ctx);
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  // Runs the call, then ndrdump on (in, out); returns the response stub.
  Bytes check(Service& svc, const char* pipe, const char* fn, uint16_t opnum, const Bytes& in) {
    CallResult r = svc.call(opnum, in);
    EXPECT_EQ(r.fault, 0u) << fn;
    std::string base = dir_ + "/" + fn + std::to_string(n_++);
    std::ofstream(base + ".in", std::ios::binary)
        .write(reinterpret_cast<const char*>(in.data()), in.size());
    std::ofstream(base + ".out", std::ios::binary)
        .write(reinterpret_cast<const char*>(r.stub.data()), r.stub.size());
    std::string cmd = std::string(kNdrdump) + " -c " + base + ".in " + pipe + " " + fn + " out " +
                      base + ".out 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string text;
    char buf[4096];
    while (size_t k = fread(buf, 1, sizeof(buf), p)) text.append(buf, k);
    pclose(p);
    EXPECT_NE(text.find("dump OK"), std::string::npos) << fn << "\n" << text.substr(0, 4000);
    return r.stub;
  }
  static Bytes withHandle(Bytes stub, const Bytes& src, size_t off) {
    std::copy(src.begin() + off, src.begin() + off + 20, stub.begin());
    return stub;
  }

  std::string dir_;
  int n_ = 0;
  std::unique_ptr<Service> srv_, wks_, lsa_, sam_;
};

TEST_F(NdrdumpTest, Srvsvc) {
  check(*srv_, "srvsvc", "srvsvc_NetSrvGetInfo", 21,
        fixtureStub("rpcclient-018-c2s-ptype0-op21.bin"));
  check(*srv_, "srvsvc", "srvsvc_NetShareEnumAll", 15,
        fixtureStub("rpcclient-027-c2s-ptype0-op15.bin"));
  check(*srv_, "srvsvc", "srvsvc_NetShareEnumAll", 15,
        fixtureStub("smbclient-L-023-c2s-ptype0-op15.bin"));
  for (uint32_t level : {0u, 1u, 2u, 501u, 502u, 1005u}) {
    NdrWriter q;
    q.pointer(true);
    q.cvString("srv");
    q.cvString("data");
    q.u32(level);
    check(*srv_, "srvsvc", "srvsvc_NetShareGetInfo", 16, q.take());
  }
  for (uint32_t level : {100u, 102u}) {
    NdrWriter q;
    q.pointer(false);
    q.u32(level);
    check(*srv_, "srvsvc", "srvsvc_NetSrvGetInfo", 21, q.take());
  }
  for (uint32_t level : {100u, 101u, 102u}) {
    NdrWriter q;
    q.pointer(false);
    q.u32(level);
    check(*wks_, "wkssvc", "wkssvc_NetWkstaGetInfo", 0, q.take());
  }
}

TEST_F(NdrdumpTest, Lsarpc) {
  Bytes open =
      check(*lsa_, "lsarpc", "lsa_OpenPolicy", 6, fixtureStub("rpcclient-036-c2s-ptype0-op6.bin"));
  for (uint16_t cls : {3, 5, 12}) {
    NdrWriter q;
    q.bytes(ByteSpan(open).first(20));
    q.u16(cls);
    check(*lsa_, "lsarpc", "lsa_QueryInfoPolicy", 7, q.take());
  }
  Bytes ln = withHandle(fixtureStub("rpcclient-051-c2s-ptype0-op14.bin"), open, 0);
  check(*lsa_, "lsarpc", "lsa_LookupNames", 14, ln);
  check(*lsa_, "lsarpc", "lsa_GetUserName", 45, fixtureStub("rpcclient-108-c2s-ptype0-op45.bin"));
  NdrWriter q;
  q.bytes(ByteSpan(open).first(20));
  q.u32(2);
  q.deferredPointer(true, [](NdrWriter& w) {
    w.u32(2);
    for (const char* s : {"S-1-5-21-3956432685-3068663317-851033068-1000", "S-1-5-21-1-2-3"}) {
      Sid sid = *Sid::parse(s);
      w.deferredPointer(true, [sid](NdrWriter& w2) { w2.sid(sid); });
    }
  });
  q.flush();
  q.u32(0);
  q.pointer(false);
  q.u16(1);
  q.u32(0);
  Bytes sids = q.take();
  check(*lsa_, "lsarpc", "lsa_LookupSids", 15, sids);
  Bytes sids2 = sids;
  for (uint32_t v : {0u, 2u}) {
    for (int i = 0; i < 4; ++i) sids2.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  check(*lsa_, "lsarpc", "lsa_LookupSids2", 57, sids2);
  check(*lsa_, "lsarpc", "lsa_LookupSids3", 76, Bytes(sids2.begin() + 20, sids2.end()));
  Bytes ln2 = ln;
  for (int i = 0; i < 8; ++i) ln2.push_back(i == 4 ? 2 : 0);
  check(*lsa_, "lsarpc", "lsa_LookupNames2", 58, ln2);
  check(*lsa_, "lsarpc", "lsa_LookupNames3", 68, ln2);
  check(*lsa_, "lsarpc", "lsa_Close", 0, Bytes(open.begin(), open.begin() + 20));
}

TEST_F(NdrdumpTest, Samr) {
  Bytes c5 =
      check(*sam_, "samr", "samr_Connect5", 64, fixtureStub("rpcclient-062-c2s-ptype0-op64.bin"));
  check(*sam_, "samr", "samr_EnumDomains", 6,
        withHandle(fixtureStub("rpcclient-064-c2s-ptype0-op6.bin"), c5, 16));
  check(*sam_, "samr", "samr_LookupDomain", 5,
        withHandle(fixtureStub("rpcclient-066-c2s-ptype0-op5.bin"), c5, 16));
  Bytes od = check(*sam_, "samr", "samr_OpenDomain", 7,
                   withHandle(fixtureStub("rpcclient-068-c2s-ptype0-op7.bin"), c5, 16));
  check(*sam_, "samr", "samr_EnumDomainUsers", 13,
        withHandle(fixtureStub("rpcclient-070-c2s-ptype0-op13.bin"), od, 0));
  check(*sam_, "samr", "samr_LookupNames", 17,
        withHandle(fixtureStub("rpcclient-089-c2s-ptype0-op17.bin"), od, 0));
  Bytes ou = check(*sam_, "samr", "samr_OpenUser", 34,
                   withHandle(fixtureStub("rpcclient-091-c2s-ptype0-op34.bin"), od, 0));
  for (uint16_t cls : {1, 6, 7, 8, 16, 21}) {
    NdrWriter q;
    q.bytes(ByteSpan(ou).first(20));
    q.u16(cls);
    check(*sam_, "samr", "samr_QueryUserInfo", 36, q.take());
  }
  check(*sam_, "samr", "samr_GetGroupsForUser", 39, Bytes(ou.begin(), ou.begin() + 20));
  for (uint16_t cls : {1, 2, 3, 5, 7, 12}) {
    NdrWriter q;
    q.bytes(ByteSpan(od).first(20));
    q.u16(cls);
    check(*sam_, "samr", "samr_QueryDomainInfo", 8, q.take());
  }
  NdrWriter a;
  a.bytes(ByteSpan(od).first(20));
  a.u32(1);
  a.deferredPointer(true, [](NdrWriter& w) {
    w.u32(1);
    w.deferredPointer(true, [](NdrWriter& w2) { w2.sid(*Sid::parse("S-1-5-21-1-2-3-1000")); });
  });
  a.flush();
  check(*sam_, "samr", "samr_GetAliasMembership", 16, a.take());
  NdrWriter c2;
  c2.pointer(true);
  c2.cvString("srv");
  c2.u32(0x02000000);
  check(*sam_, "samr", "samr_Connect2", 57, c2.take());
  check(*sam_, "samr", "samr_Close", 1, Bytes(ou.begin(), ou.begin() + 20));
}

}  // namespace
}  // namespace xsmb::rpc
