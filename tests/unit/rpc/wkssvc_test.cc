// wkssvc through a PipeEndpoint: NetWkstaGetInfo and an unimplemented opnum.
#include "gtest/gtest.h"
#include "pipe_client.h"
#include "rpc/pipe.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::Client;
using testing::serverGetInfoStub;

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

}  // namespace
}  // namespace xsmb::rpc
