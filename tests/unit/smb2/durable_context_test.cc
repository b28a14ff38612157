// The durable handle create contexts (MS-SMB2 2.2.13.2.3/.4/.11/.12) and their responses
// (2.2.14.2.3, 2.2.14.2.12): table-driven, each input also cut at every length.
#include <string>
#include <vector>

#include "common/smb2/durable.h"
#include "gtest/gtest.h"

namespace xsmb::smb2 {
namespace {

Bytes fileIdBytes(uint64_t persistent, uint64_t volatile_id) {
  ByteWriter w;
  w.u64(persistent);
  w.u64(volatile_id);
  return w.take();
}

Guid guidOf(uint8_t seed) {
  Guid g{};
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<uint8_t>(seed + i);
  return g;
}

Bytes dh2q(uint32_t timeout, uint32_t flags, const Guid& g) {
  ByteWriter w;
  w.u32(timeout);
  w.u32(flags);
  w.u64(0);
  w.bytes(g.data(), g.size());
  return w.take();
}

Bytes dh2c(uint64_t persistent, const Guid& g, uint32_t flags) {
  ByteWriter w;
  w.bytes(fileIdBytes(persistent, persistent + 1));
  w.bytes(g.data(), g.size());
  w.u32(flags);
  return w.take();
}

struct Case {
  const char* description;
  std::vector<std::pair<std::string, Bytes>> contexts;
  NtStatus status;
};

std::vector<CreateContext> view(const std::vector<std::pair<std::string, Bytes>>& in) {
  std::vector<CreateContext> out;
  for (const auto& [name, data] : in) out.push_back({name, ByteSpan(data)});
  return out;
}

TEST(DurableContextTest, TableOfRequests) {
  const Guid g = guidOf(7);
  const std::vector<Case> cases = {
      {"no context", {}, STATUS_SUCCESS},
      {"other contexts are ignored", {{"MxAc", {}}, {"QFid", Bytes(3, 1)}}, STATUS_SUCCESS},
      {"DHnQ", {{"DHnQ", Bytes(16, 0)}}, STATUS_SUCCESS},
      {"DHnQ short", {{"DHnQ", Bytes(15, 0)}}, STATUS_INVALID_PARAMETER},
      {"DHnQ twice", {{"DHnQ", Bytes(16, 0)}, {"DHnQ", Bytes(16, 0)}}, STATUS_INVALID_PARAMETER},
      {"DHnC", {{"DHnC", fileIdBytes(5, 6)}}, STATUS_SUCCESS},
      {"DHnC long", {{"DHnC", Bytes(17, 0)}}, STATUS_INVALID_PARAMETER},
      {"DH2Q", {{"DH2Q", dh2q(1000, 0, g)}}, STATUS_SUCCESS},
      {"DH2Q short", {{"DH2Q", Bytes(31, 0)}}, STATUS_INVALID_PARAMETER},
      {"DH2C", {{"DH2C", dh2c(9, g, 0)}}, STATUS_SUCCESS},
      {"DH2C short", {{"DH2C", Bytes(35, 0)}}, STATUS_INVALID_PARAMETER},
      {"DH2C twice", {{"DH2C", dh2c(9, g, 0)}, {"DH2C", dh2c(9, g, 0)}}, STATUS_INVALID_PARAMETER},
  };
  for (const Case& c : cases) {
    DurableContexts dc;
    auto ctxs = view(c.contexts);
    EXPECT_EQ(parseDurableContexts(ctxs, &dc), c.status) << c.description;
  }
}

TEST(DurableContextTest, FieldsAreRead) {
  const Guid g = guidOf(0x40);
  std::vector<std::pair<std::string, Bytes>> in = {
      {"DHnQ", Bytes(16, 0)},
      {"DHnC", fileIdBytes(0x1122334455667788ULL, 0x99)},
      {"DH2Q", dh2q(300000, SMB2_DHANDLE_FLAG_PERSISTENT, g)},
      {"DH2C", dh2c(0xABCDEF, g, SMB2_DHANDLE_FLAG_PERSISTENT)}};
  auto ctxs = view(in);
  DurableContexts dc;
  ASSERT_EQ(parseDurableContexts(ctxs, &dc), STATUS_SUCCESS);
  EXPECT_TRUE(dc.request_v1);
  ASSERT_TRUE(dc.reconnect_v1);
  EXPECT_EQ(dc.reconnect_v1->persistent, 0x1122334455667788ULL);
  EXPECT_EQ(dc.reconnect_v1->volatile_id, 0x99u);
  ASSERT_TRUE(dc.request_v2);
  EXPECT_EQ(dc.request_v2->timeout_ms, 300000u);
  EXPECT_EQ(dc.request_v2->flags, SMB2_DHANDLE_FLAG_PERSISTENT);
  EXPECT_EQ(dc.request_v2->create_guid, g);
  ASSERT_TRUE(dc.reconnect_v2);
  EXPECT_EQ(dc.reconnect_v2->file_id.persistent, 0xABCDEFu);
  EXPECT_EQ(dc.reconnect_v2->file_id.volatile_id, 0xABCDF0u);
  EXPECT_EQ(dc.reconnect_v2->create_guid, g);
  EXPECT_EQ(dc.reconnect_v2->flags, SMB2_DHANDLE_FLAG_PERSISTENT);
  EXPECT_TRUE(dc.any());
  EXPECT_TRUE(dc.reconnect());
}

// Every shorter (or longer) data of each context is refused, never read past.
TEST(DurableContextTest, EveryOtherLengthIsRefused) {
  const Guid g = guidOf(1);
  const std::vector<std::pair<std::string, Bytes>> whole = {{"DHnQ", Bytes(16, 0)},
                                                            {"DHnC", fileIdBytes(1, 2)},
                                                            {"DH2Q", dh2q(0, 0, g)},
                                                            {"DH2C", dh2c(1, g, 0)}};
  for (const auto& [name, data] : whole) {
    for (size_t n = 0; n <= data.size() + 1; ++n) {
      Bytes cut(data.begin(), data.begin() + std::min(n, data.size()));
      if (n > data.size()) cut.push_back(0);
      std::vector<CreateContext> ctxs = {{name, ByteSpan(cut)}};
      DurableContexts dc;
      EXPECT_EQ(parseDurableContexts(ctxs, &dc),
                n == data.size() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER)
          << name << " cut to " << n;
    }
  }
}

// The LeaseKey of a lease request beside them (the first 16 bytes of RqLs, version 1 or 2).
TEST(DurableContextTest, LeaseKeyOfTheLeaseRequest) {
  Bytes rqls(32, 0);
  for (size_t i = 0; i < 16; ++i) rqls[i] = static_cast<uint8_t>(0xA0 + i);
  Bytes short_rqls(31, 0);
  std::vector<CreateContext> ctxs = {{"DHnC", ByteSpan(rqls).first(16)}, {"RqLs", rqls}};
  DurableContexts dc;
  ASSERT_EQ(parseDurableContexts(ctxs, &dc), STATUS_SUCCESS);
  ASSERT_TRUE(dc.lease_key);
  EXPECT_EQ((*dc.lease_key)[0], 0xA0);
  EXPECT_EQ((*dc.lease_key)[15], 0xAF);
  std::vector<CreateContext> cut = {{"RqLs", short_rqls}};
  ASSERT_EQ(parseDurableContexts(cut, &dc), STATUS_SUCCESS);
  EXPECT_FALSE(dc.lease_key);
}

TEST(DurableContextTest, Responses) {
  EXPECT_EQ(encodeDurableResponse(), Bytes(8, 0));
  Bytes v2 = encodeDurableResponseV2(60000, 0);
  ASSERT_EQ(v2.size(), 8u);
  ByteReader r(v2);
  EXPECT_EQ(r.u32(), 60000u);
  EXPECT_EQ(r.u32(), 0u);
}

}  // namespace
}  // namespace xsmb::smb2
