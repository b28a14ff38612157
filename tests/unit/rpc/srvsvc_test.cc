// srvsvc through a PipeEndpoint: NetShareEnumAll / NetShareEnum / NetShareGetInfo /
// NetServerGetInfo against hand-built requests and the ones Samba's rpcclient and smbclient sent
// in the captures. The response decoders are first checked against Samba's captured responses.
#include "gtest/gtest.h"
#include "pipe_client.h"
#include "rpc/pipe.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::Client;
using testing::decodeShareEnum;
using testing::fixtureStub;
using testing::serverGetInfoStub;

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

// "restrict anonymous" (Samba's values): with 1 or 2 a guest or anonymous caller gets
// WERR_ACCESS_DENIED from NetShareEnumAll / NetShareEnum and NetServerGetInfo (and no share);
// NetShareGetInfo still answers, as on Samba. A user, or level 0, changes nothing.
TEST(SrvsvcTest, RestrictAnonymous) {
  struct Case {
    const char* description;
    CallerInfo caller;
    bool denied;
  };
  const Case cases[] = {
      {"anonymous, level 0", {"", "", true, 0}, false},
      {"anonymous, level 1", {"", "", true, 1}, true},
      {"guest, level 2", {"nobody", "", true, 2}, true},
      {"user, level 2", {"bench", "SAMBABARS", false, 2}, false},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.description);
    Client c("srvsvc", srvsvcSyntax(), k.caller);
    for (uint16_t opnum : {15, 36}) {
      auto res = decodeShareEnum(c.call(opnum, shareEnumStub(1)), 1);
      EXPECT_EQ(res.werr, k.denied ? kWerrAccessDenied : kWerrOk);
      EXPECT_EQ(res.shares.size(), k.denied ? 0u : 3u);
      EXPECT_EQ(res.total, k.denied ? 0u : 3u);
    }
    Bytes info = c.call(21, serverGetInfoStub(101));
    ASSERT_GE(info.size(), 4u);
    EXPECT_EQ(loadU32(info.data() + info.size() - 4), k.denied ? kWerrAccessDenied : kWerrOk);
    if (k.denied) EXPECT_EQ(info.size(), 12u);  // level, NULL info, WERROR
    Bytes share = c.call(16, shareGetInfoStub("data", 1));
    EXPECT_EQ(loadU32(share.data() + share.size() - 4), kWerrOk);
  }
}

}  // namespace
}  // namespace xsmb::rpc
