#include "server/session/limits.h"

#include <cstring>
#include <thread>

#include "gtest/gtest.h"

namespace xsmb::session {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(LimitsTest, EntriesAreFoundByKindAndNameAndKeepTheirLimits) {
  Limits l;
  int alice = l.slot(XSMB_LIMIT_USER, "Alice", 1000, 5'000'000, 0);
  ASSERT_GE(alice, 0);
  EXPECT_STREQ(l.entry(alice).name, "alice");
  EXPECT_EQ(l.entry(alice).id, 1000u);
  EXPECT_EQ(l.entry(alice).bytes_per_sec, 5'000'000u);
  // Found again whatever the case, and an existing entry keeps its limits.
  EXPECT_EQ(l.slot(XSMB_LIMIT_USER, "ALICE", 1000, 1, 1), alice);
  EXPECT_EQ(l.entry(alice).bytes_per_sec, 5'000'000u);
  // A share of the same name is another entry.
  int share = l.slot(XSMB_LIMIT_SHARE, "alice", 0, 0, 0);
  EXPECT_NE(share, alice);
  EXPECT_EQ(l.entry(share).kind, static_cast<uint32_t>(XSMB_LIMIT_SHARE));
}

TEST(LimitsTest, FullTableGivesNoSlot) {
  Limits l;
  for (int i = 0; i < XSMB_MAX_LIMITS; ++i) {
    ASSERT_EQ(l.slot(XSMB_LIMIT_USER, "u" + std::to_string(i), i, 0, 0), i);
  }
  EXPECT_EQ(l.slot(XSMB_LIMIT_USER, "one-more", 0, 0, 0), -1);
  EXPECT_EQ(l.slot(XSMB_LIMIT_USER, "u7", 7, 0, 0), 7);
}

// 1 MB/s: the bucket holds 50 ms (50 kB); a 150 kB charge leaves a 100 kB debt: the reply is
// held back 100 ms. Nothing is held without a limit.
TEST(LimitsTest, ChargeBeyondTheTokensHoldsTheReplyUntilTheDebtIsPaid) {
  Limits l;
  int u = l.slot(XSMB_LIMIT_USER, "alice", 1, 1'000'000, 0);
  int free_user = l.slot(XSMB_LIMIT_USER, "bob", 2, 0, 0);
  nanoseconds held = l.charge(u, -1, 150'000, 1);
  EXPECT_GE(held, milliseconds(95));
  EXPECT_LE(held, milliseconds(101));
  EXPECT_EQ(l.charge(free_user, -1, 100'000'000, 1), nanoseconds(0));
  EXPECT_EQ(l.entry(u).throttled_ns, static_cast<uint64_t>(held.count()));
  // A live change (what xsmbctl limit writes) applies to the next charge.
  const_cast<xsmb_limit&>(l.entry(u)).bytes_per_sec = 0;
  EXPECT_EQ(l.charge(u, -1, 100'000'000, 1), nanoseconds(0));
}

TEST(LimitsTest, RequestsAndTheStricterOfUserAndShare) {
  Limits l;
  int u = l.slot(XSMB_LIMIT_USER, "alice", 1, 0, 100);  // 100 requests/s: 5 in the bucket
  int s = l.slot(XSMB_LIMIT_SHARE, "data", 0, 1'000'000, 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(l.charge(u, -1, 0, 1), nanoseconds(0)) << i;
  nanoseconds held = l.charge(u, -1, 0, 1);  // the 6th: 10 ms of debt
  EXPECT_GE(held, milliseconds(9));
  EXPECT_LE(held, milliseconds(11));
  // The share's byte limit is the stricter one here: 250 kB over 50 kB of tokens = 200 ms.
  held = l.charge(u, s, 250'000, 0);
  EXPECT_GE(held, milliseconds(195));
  EXPECT_LE(held, milliseconds(201));
}

TEST(LimitsTest, SharedEntriesAreSeenByEveryLimitsOnTheSameArray) {
  // Two Limits on one array: two xsmbd generations on the pinned map.
  auto table = std::make_unique<xsmb_limit[]>(XSMB_MAX_LIMITS);
  std::memset(table.get(), 0, sizeof(xsmb_limit) * XSMB_MAX_LIMITS);
  Limits a(table.get()), b(table.get());
  int slot = a.slot(XSMB_LIMIT_USER, "alice", 1, 42, 0);
  EXPECT_EQ(b.slot(XSMB_LIMIT_USER, "alice", 1, 0, 0), slot);
  EXPECT_EQ(table[slot].bytes_per_sec, 42u);
}

TEST(RateMeterTest, PublishesOncePerSecond) {
  RateMeter m;
  EXPECT_FALSE(m.add(1000, milliseconds(5)));
  EXPECT_EQ(m.throttled_ns, 5'000'000u);
  m.window_start -= std::chrono::seconds(2);  // as if two seconds went by
  EXPECT_TRUE(m.add(1000, nanoseconds(0)));
  EXPECT_GT(m.rate_bps, 900u);  // 2,000 bytes over ~2 s
  EXPECT_LT(m.rate_bps, 1100u);
}

}  // namespace
}  // namespace xsmb::session
