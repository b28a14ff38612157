#include "common/smb2/fsctl.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>

namespace xsmb::smb2 {
namespace {

Bytes le64(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes le32(uint32_t v) {
  Bytes b = le64(v);
  b.resize(4);
  return b;
}

constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

Bytes copyChunkInput(uint32_t count, size_t entries) {
  Bytes key(24);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  Bytes in = cat({key, le32(count), le32(0)});
  for (size_t i = 0; i < entries; ++i)
    in = cat({in, le64(i * 4096), le64(i * 8192), le32(4096), le32(0)});
  return in;
}

TEST(CopyChunkCopy, DecodesKeyAndChunks) {
  CopyChunkCopy cc;
  ASSERT_EQ(decodeCopyChunkCopy(copyChunkInput(2, 2), &cc), STATUS_SUCCESS);
  EXPECT_EQ(cc.source_key[23], 23);
  ASSERT_EQ(cc.chunks.size(), 2u);
  EXPECT_EQ(cc.chunks[1].source_offset, 4096u);
  EXPECT_EQ(cc.chunks[1].target_offset, 8192u);
  EXPECT_EQ(cc.chunks[1].length, 4096u);
}

TEST(CopyChunkCopy, EveryTruncationIsRefused) {
  const Bytes in = copyChunkInput(2, 2);
  for (size_t n = 0; n < in.size(); ++n) {
    CopyChunkCopy cc;
    EXPECT_EQ(decodeCopyChunkCopy(ByteSpan(in.data(), n), &cc), STATUS_INVALID_PARAMETER) << n;
  }
}

TEST(CopyChunkCopy, CountsBeyondTheInputOrTheCapAreRefused) {
  CopyChunkCopy cc;
  EXPECT_EQ(decodeCopyChunkCopy(copyChunkInput(3, 2), &cc), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(decodeCopyChunkCopy(copyChunkInput(0xFFFFFFFF, 2), &cc), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(decodeCopyChunkCopy(copyChunkInput(0, 0), &cc), STATUS_SUCCESS);
  EXPECT_TRUE(cc.chunks.empty());
  // Trailing bytes after the announced chunks are ignored.
  EXPECT_EQ(decodeCopyChunkCopy(copyChunkInput(1, 2), &cc), STATUS_SUCCESS);
  EXPECT_EQ(cc.chunks.size(), 1u);
}

TEST(CopyChunkResponse, TwelveBytesInOrder) {
  EXPECT_EQ(encodeCopyChunkResponse({256, 1048576, 16777216}),
            cat({le32(256), le32(1048576), le32(16777216)}));
}

TEST(ResumeKeyResponse, KeyThenZeroContextLengthAndContext) {
  ResumeKey key{};
  key[0] = 0xAA;
  Bytes out = encodeResumeKeyResponse(key);
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(Bytes(out.begin() + 24, out.end()), Bytes(8, 0));
}

TEST(SetSparse, EmptyMeansTrueAndOnlyTheFirstByteCounts) {
  EXPECT_TRUE(decodeSetSparse({}));
  const uint8_t off[] = {0, 1, 1};
  const uint8_t on[] = {1, 0};
  EXPECT_FALSE(decodeSetSparse(ByteSpan(off, 3)));
  EXPECT_TRUE(decodeSetSparse(ByteSpan(on, 2)));
}

struct RangeCase {
  const char* description;
  uint64_t a, b;
  NtStatus expected;
};

TEST(ZeroDataInformation, Table) {
  const RangeCase cases[] = {
      {"plain", 0, 4096, STATUS_SUCCESS},
      {"empty range", 4096, 4096, STATUS_SUCCESS},
      {"offset beyond the end", 8192, 4096, STATUS_INVALID_PARAMETER},
      {"negative offset", ~0ULL, 4096, STATUS_INVALID_PARAMETER},
      {"negative end", 0, 1ULL << 63, STATUS_INVALID_PARAMETER},
      {"largest", 0, kMax, STATUS_SUCCESS},
  };
  for (const RangeCase& c : cases) {
    Bytes in = cat({le64(c.a), le64(c.b)});
    ZeroDataInformation z;
    EXPECT_EQ(decodeZeroDataInformation(in, &z), c.expected) << c.description;
    for (size_t n = 0; n < in.size(); ++n)
      EXPECT_EQ(decodeZeroDataInformation(ByteSpan(in.data(), n), &z), STATUS_INVALID_PARAMETER);
  }
}

TEST(AllocatedRange, Table) {
  const RangeCase cases[] = {
      {"plain", 0, 4096, STATUS_SUCCESS},
      {"zero length", 100, 0, STATUS_SUCCESS},
      {"negative offset", 1ULL << 63, 1, STATUS_INVALID_PARAMETER},
      {"negative length", 0, ~0ULL, STATUS_INVALID_PARAMETER},
      {"sum overflows", kMax, 1, STATUS_INVALID_PARAMETER},
      {"sum at the limit", kMax - 1, 1, STATUS_SUCCESS},
  };
  for (const RangeCase& c : cases) {
    Bytes in = cat({le64(c.a), le64(c.b)});
    AllocatedRange r;
    EXPECT_EQ(decodeAllocatedRange(in, &r), c.expected) << c.description;
    for (size_t n = 0; n < in.size(); ++n)
      EXPECT_EQ(decodeAllocatedRange(ByteSpan(in.data(), n), &r), STATUS_INVALID_PARAMETER);
  }
}

TEST(AllocatedRanges, FitOverflowAndTooSmall) {
  const std::vector<AllocatedRange> two = {{0, 4096}, {8192, 4096}};
  Bytes out;
  EXPECT_EQ(encodeAllocatedRanges(two, 32, &out), STATUS_SUCCESS);
  EXPECT_EQ(out, cat({le64(0), le64(4096), le64(8192), le64(4096)}));
  EXPECT_EQ(encodeAllocatedRanges(two, 31, &out), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(out, cat({le64(0), le64(4096)}));
  EXPECT_EQ(encodeAllocatedRanges(two, 15, &out), STATUS_BUFFER_TOO_SMALL);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(encodeAllocatedRanges({}, 0, &out), STATUS_SUCCESS);  // nothing due
  EXPECT_TRUE(out.empty());
}

TEST(DuplicateExtentsData, DecodesAndRefusesShortOrNegative) {
  Bytes in = cat({le64(1), le64(2), le64(3), le64(4), le64(5)});
  DuplicateExtentsData d;
  ASSERT_EQ(decodeDuplicateExtentsData(in, &d), STATUS_SUCCESS);
  EXPECT_EQ(d.source_persistent, 1u);
  EXPECT_EQ(d.source_volatile, 2u);
  EXPECT_EQ(d.source_offset, 3u);
  EXPECT_EQ(d.target_offset, 4u);
  EXPECT_EQ(d.byte_count, 5u);
  for (size_t n = 0; n < in.size(); ++n)
    EXPECT_EQ(decodeDuplicateExtentsData(ByteSpan(in.data(), n), &d), STATUS_INVALID_PARAMETER);
  in = cat({le64(1), le64(2), le64(3), le64(4), le64(~0ULL)});
  EXPECT_EQ(decodeDuplicateExtentsData(in, &d), STATUS_INVALID_PARAMETER);
}

TEST(SymlinkReparseBuffer, RelativeTargetWithBackslashes) {
  Bytes out;
  ASSERT_EQ(encodeSymlinkReparseBuffer("a/b", &out), STATUS_SUCCESS);
  const Bytes name = {'a', 0, '\\', 0, 'b', 0};
  Bytes expected = cat({le32(IO_REPARSE_TAG_SYMLINK)});
  const uint8_t fixed[] = {24, 0, 0, 0,  // ReparseDataLength 12 + 12, Reserved
                           0, 0, 6, 0,   // SubstituteNameOffset, SubstituteNameLength
                           6, 0, 6, 0};  // PrintNameOffset, PrintNameLength
  expected.insert(expected.end(), fixed, fixed + sizeof(fixed));
  expected = cat({expected, le32(SYMLINK_FLAG_RELATIVE), name, name});
  EXPECT_EQ(out, expected);
}

TEST(SymlinkReparseBuffer, AbsoluteTargetHasNoRelativeFlagAndHugeOnesAreRefused) {
  Bytes out;
  ASSERT_EQ(encodeSymlinkReparseBuffer("/x", &out), STATUS_SUCCESS);
  EXPECT_EQ(out[16], 0);
  EXPECT_EQ(encodeSymlinkReparseBuffer(std::string(20000, 'x'), &out), STATUS_INVALID_PARAMETER);
}

}  // namespace
}  // namespace xsmb::smb2
