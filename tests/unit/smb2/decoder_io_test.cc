// Request decoders of the data commands (MS-SMB2 2.2.19 READ, 2.2.21 WRITE, 2.2.26 LOCK, 2.2.31
// IOCTL) against messages laid out by hand in the test, each also cut at every length.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/smb2/constants.h"
#include "common/smb2/messages.h"
#include "tests/unit/smb2/decoder_test_util.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/smb2/test_util.h"

namespace xsmb::smb2 {
namespace {

using testing::DecodeCase;
using testing::keep;
using testing::kFileId;
using testing::kPersistent;
using testing::kVolatile;
using testing::pattern;
using testing::runDecodeCases;
using testing::Smb2Msg;
using testing::toBytes;

// ---------------------------------------------------------------------------------------------
// READ (2.2.19): StructureSize 49, no variable part.

TEST(ReadRequestTest, Decodes) {
  auto read = [](uint16_t structure_size) {
    Smb2Msg m(SMB2_READ);
    m.u16(structure_size).u8(0x50).u8(0).u32(65536).u64(0x100000000ULL);
    m.fileId(kPersistent, kVolatile).u32(1).u32(0).u32(4096).u16(0).u16(0).u8(0);
    return m;
  };
  ReadRequest want;
  want.padding = 0x50;
  want.length = 65536;
  want.offset = 0x100000000ULL;
  want.file_id = kFileId;
  want.minimum_count = 1;
  want.remaining_bytes = 4096;
  std::vector<DecodeCase<ReadRequest>> cases = {
      // The one-byte Buffer is not needed: 64 + 48 bytes suffice.
      {"64 KiB at 4 GiB", read(49).bytes(), STATUS_SUCCESS, want, 112},
      {"StructureSize 48", read(48).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<ReadRequest>(cases, decodeReadRequest,
                              [](const ReadRequest& g, const ReadRequest& w) {
                                EXPECT_EQ(g.padding, w.padding);
                                EXPECT_EQ(g.flags, w.flags);
                                EXPECT_EQ(g.length, w.length);
                                EXPECT_EQ(g.offset, w.offset);
                                EXPECT_EQ(g.file_id, w.file_id);
                                EXPECT_EQ(g.minimum_count, w.minimum_count);
                                EXPECT_EQ(g.channel, w.channel);
                                EXPECT_EQ(g.remaining_bytes, w.remaining_bytes);
                              });
}

// ---------------------------------------------------------------------------------------------
// WRITE (2.2.21): data normally at 0x70.

Smb2Msg writeReq(uint16_t data_off, uint32_t length, const Bytes& data) {
  Smb2Msg m(SMB2_WRITE);
  m.u16(49).u16(data_off).u32(length).u64(0x2000).fileId(kPersistent, kVolatile);
  m.u32(0).u32(10).u16(0).u16(0).u32(1).put(data);
  return m;
}

TEST(WriteRequestTest, Decodes) {
  const Bytes& hello = keep({'h', 'e', 'l', 'l', 'o'});
  auto expected = [&](ByteSpan data) {
    WriteRequest w;
    w.offset = 0x2000;
    w.file_id = kFileId;
    w.remaining_bytes = 10;
    w.flags = 1;  // SMB2_WRITEFLAG_WRITE_THROUGH
    w.data = data;
    return w;
  };
  std::vector<DecodeCase<WriteRequest>> cases = {
      {"5 bytes at 0x70", writeReq(0x70, 5, hello).bytes(), STATUS_SUCCESS, expected(hello)},
      {"zero-length write", writeReq(0x70, 0, {}).bytes(), STATUS_SUCCESS, expected({})},
      {"Length one past the end", writeReq(0x70, 6, hello).bytes(), STATUS_INVALID_PARAMETER},
      {"Length 0xFFFFFFFF", writeReq(0x70, 0xFFFFFFFF, hello).bytes(), STATUS_INVALID_PARAMETER},
      {"DataOffset inside the header", writeReq(0x10, 5, hello).bytes(), STATUS_INVALID_PARAMETER},
      {"DataOffset past the end", writeReq(0xFFFF, 5, hello).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<WriteRequest>(cases, decodeWriteRequest,
                               [](const WriteRequest& g, const WriteRequest& w) {
                                 EXPECT_EQ(g.offset, w.offset);
                                 EXPECT_EQ(g.file_id, w.file_id);
                                 EXPECT_EQ(g.channel, w.channel);
                                 EXPECT_EQ(g.remaining_bytes, w.remaining_bytes);
                                 EXPECT_EQ(g.flags, w.flags);
                                 EXPECT_EQ(toBytes(g.data), toBytes(w.data));
                               });
}

// ---------------------------------------------------------------------------------------------
// LOCK (2.2.26): StructureSize 48 (24 + one 24-byte SMB2_LOCK_ELEMENT), LockCount elements.

TEST(LockRequestTest, Decodes) {
  auto lock = [](uint16_t count, int elements) {
    Smb2Msg m(SMB2_LOCK);
    m.u16(48).u16(count).u32(0x10000005).fileId(kPersistent, kVolatile);
    if (elements >= 1) m.u64(0).u64(100).u32(0x2 | 0x10).u32(0);  // EXCLUSIVE|FAIL_IMMEDIATELY
    if (elements >= 2) m.u64(0xFFFFFFFF00ULL).u64(50).u32(0x4).u32(0);  // UNLOCK
    return m;
  };
  LockRequest one{0x10000005, kFileId, {{0, 100, 0x12}}};
  LockRequest two{0x10000005, kFileId, {{0, 100, 0x12}, {0xFFFFFFFF00ULL, 50, 0x4}}};
  std::vector<DecodeCase<LockRequest>> cases = {
      {"one lock", lock(1, 1).bytes(), STATUS_SUCCESS, one},
      {"lock and unlock", lock(2, 2).bytes(), STATUS_SUCCESS, two},
      {"LockCount 0", lock(0, 1).bytes(), STATUS_INVALID_PARAMETER},
      {"LockCount past the elements", lock(3, 2).bytes(), STATUS_INVALID_PARAMETER},
      {"LockCount 0xFFFF", lock(0xFFFF, 2).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<LockRequest>(cases, decodeLockRequest,
                              [](const LockRequest& g, const LockRequest& w) {
                                EXPECT_EQ(g.lock_sequence, w.lock_sequence);
                                EXPECT_EQ(g.file_id, w.file_id);
                                ASSERT_EQ(g.locks.size(), w.locks.size());
                                for (size_t i = 0; i < g.locks.size(); ++i) {
                                  EXPECT_EQ(g.locks[i].offset, w.locks[i].offset);
                                  EXPECT_EQ(g.locks[i].length, w.locks[i].length);
                                  EXPECT_EQ(g.locks[i].flags, w.locks[i].flags);
                                }
                              });
}

// ---------------------------------------------------------------------------------------------
// IOCTL (2.2.31): StructureSize 57, input normally at 0x78.

Smb2Msg ioctlReq(uint32_t ctl, uint32_t in_off, uint32_t in_count, const Bytes& input) {
  Smb2Msg m(SMB2_IOCTL);
  m.u16(57).u16(0).u32(ctl).fileId(~0ULL, ~0ULL);
  m.u32(in_off).u32(in_count).u32(0).u32(in_off + in_count).u32(0).u32(24).u32(1).u32(0);
  m.put(input);
  return m;
}

TEST(IoctlRequestTest, Decodes) {
  // FSCTL_VALIDATE_NEGOTIATE_INFO input (2.2.31.4): caps, guid, security mode, dialects.
  const Bytes& validate = keep(pattern(24, 0x70));
  auto expected = [&](uint32_t ctl, ByteSpan input) {
    IoctlRequest r;
    r.ctl_code = ctl;
    r.file_id = {~0ULL, ~0ULL};
    r.input = input;
    r.max_output_response = 24;
    r.flags = 1;  // SMB2_0_IOCTL_IS_FSCTL
    return r;
  };
  std::vector<DecodeCase<IoctlRequest>> cases = {
      {"FSCTL_VALIDATE_NEGOTIATE_INFO", ioctlReq(0x00140204, 0x78, 24, validate).bytes(),
       STATUS_SUCCESS, expected(0x00140204, validate)},
      {"no input", ioctlReq(0x00140204, 0, 0, {}).bytes(), STATUS_SUCCESS,
       expected(0x00140204, {})},
      {"InputCount one past the end", ioctlReq(0x00140204, 0x78, 25, validate).bytes(),
       STATUS_INVALID_PARAMETER},
      {"InputOffset 0xFFFFFFFF", ioctlReq(0x00140204, 0xFFFFFFFF, 1, validate).bytes(),
       STATUS_INVALID_PARAMETER},
      {"InputOffset inside the header", ioctlReq(0x00140204, 0x08, 24, validate).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<IoctlRequest>(cases, decodeIoctlRequest,
                               [](const IoctlRequest& g, const IoctlRequest& w) {
                                 EXPECT_EQ(g.ctl_code, w.ctl_code);
                                 EXPECT_EQ(g.file_id, w.file_id);
                                 EXPECT_EQ(toBytes(g.input), toBytes(w.input));
                                 EXPECT_EQ(g.max_input_response, w.max_input_response);
                                 EXPECT_EQ(g.max_output_response, w.max_output_response);
                                 EXPECT_EQ(g.flags, w.flags);
                               });
}

}  // namespace
}  // namespace xsmb::smb2
