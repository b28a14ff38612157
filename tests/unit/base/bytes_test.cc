#include "common/base/bytes.h"

#include <gtest/gtest.h>

namespace xsmb {
namespace {

TEST(ByteReader, ReadsLittleEndianAndFailsPastEnd) {
  const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05};
  ByteReader r(data, sizeof(data));
  EXPECT_EQ(r.u16(), 0x0201);
  EXPECT_EQ(r.u16(), 0x0403);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u16(), 0);  // only one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteReader, SliceRejectsOverflowingRanges) {
  const uint8_t data[8] = {};
  ByteReader r(data, sizeof(data));
  EXPECT_EQ(r.slice(4, 4).size(), 4u);
  EXPECT_TRUE(r.ok());
  r.slice(SIZE_MAX - 1, 4);
  EXPECT_FALSE(r.ok());
}

TEST(ByteWriter, PatchesFields) {
  ByteWriter w;
  w.u32(0);
  w.u16be(0x1234);
  w.patchU32(0, 0xAABBCCDD);
  EXPECT_EQ(w.buf(), (Bytes{0xDD, 0xCC, 0xBB, 0xAA, 0x12, 0x34}));
  w.align(8);
  EXPECT_EQ(w.size(), 8u);
}

}  // namespace
}  // namespace xsmb
