// Request decoders of the directory and metadata commands (MS-SMB2 2.2.33 QUERY_DIRECTORY,
// 2.2.35 CHANGE_NOTIFY, 2.2.37 QUERY_INFO, 2.2.39 SET_INFO) against messages laid out by hand in
// the test, each also cut at every length.
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
// QUERY_DIRECTORY (2.2.33): StructureSize 33, pattern at 0x60.

Smb2Msg queryDirectory(uint16_t off, uint16_t len, const Bytes& name) {
  Smb2Msg m(SMB2_QUERY_DIRECTORY);
  m.u16(33).u8(0x25).u8(0x01).u32(0).fileId(kPersistent, kVolatile);
  m.u16(off).u16(len).u32(65536).put(name);
  return m;
}

TEST(QueryDirectoryRequestTest, Decodes) {
  Bytes star = testing::utf16("*");
  Bytes glob = testing::utf16("file?.t*");
  auto expected = [](std::string pattern) {
    QueryDirectoryRequest r;
    r.file_information_class = 0x25;  // FileIdBothDirectoryInformation
    r.flags = 0x01;                   // SMB2_RESTART_SCANS
    r.file_id = kFileId;
    r.pattern = std::move(pattern);
    r.output_buffer_length = 65536;
    return r;
  };
  std::vector<DecodeCase<QueryDirectoryRequest>> cases = {
      {"*", queryDirectory(0x60, 2, star).bytes(), STATUS_SUCCESS, expected("*")},
      {"file?.t*", queryDirectory(0x60, 16, glob).bytes(), STATUS_SUCCESS, expected("file?.t*")},
      {"empty pattern", queryDirectory(0, 0, {0}).bytes(), STATUS_SUCCESS, expected(""), 96},
      {"odd FileNameLength", queryDirectory(0x60, 1, star).bytes(), STATUS_INVALID_PARAMETER},
      {"FileNameLength past the end", queryDirectory(0x60, 4, star).bytes(),
       STATUS_INVALID_PARAMETER},
      {"FileNameOffset past the end", queryDirectory(0x200, 2, star).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<QueryDirectoryRequest>(
      cases, decodeQueryDirectoryRequest,
      [](const QueryDirectoryRequest& g, const QueryDirectoryRequest& w) {
        EXPECT_EQ(g.file_information_class, w.file_information_class);
        EXPECT_EQ(g.flags, w.flags);
        EXPECT_EQ(g.file_index, w.file_index);
        EXPECT_EQ(g.file_id, w.file_id);
        EXPECT_EQ(g.pattern, w.pattern);
        EXPECT_EQ(g.output_buffer_length, w.output_buffer_length);
      });
}

// ---------------------------------------------------------------------------------------------
// CHANGE_NOTIFY (2.2.35): StructureSize 32, no variable part.

TEST(ChangeNotifyRequestTest, Decodes) {
  auto notify = [](uint16_t structure_size) {
    return Smb2Msg(SMB2_CHANGE_NOTIFY)
        .u16(structure_size)
        .u16(1)
        .u32(4096)
        .fileId(kPersistent, kVolatile)
        .u32(0x17)
        .u32(0);
  };
  std::vector<DecodeCase<ChangeNotifyRequest>> cases = {
      {"WATCH_TREE, filter 0x17", notify(32).bytes(), STATUS_SUCCESS, {1, 4096, kFileId, 0x17}},
      {"StructureSize 33", notify(33).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<ChangeNotifyRequest>(
      cases, decodeChangeNotifyRequest,
      [](const ChangeNotifyRequest& g, const ChangeNotifyRequest& w) {
        EXPECT_EQ(g.flags, w.flags);
        EXPECT_EQ(g.output_buffer_length, w.output_buffer_length);
        EXPECT_EQ(g.file_id, w.file_id);
        EXPECT_EQ(g.completion_filter, w.completion_filter);
      });
}

// ---------------------------------------------------------------------------------------------
// QUERY_INFO (2.2.37): StructureSize 41, optional input at 0x68.

Smb2Msg queryInfo(uint8_t type, uint8_t cls, uint16_t in_off, uint32_t in_len, uint32_t addl,
                  const Bytes& input) {
  Smb2Msg m(SMB2_QUERY_INFO);
  m.u16(41).u8(type).u8(cls).u32(4096).u16(in_off).u16(0).u32(in_len).u32(addl).u32(0);
  m.fileId(kPersistent, kVolatile).put(input);
  return m;
}

TEST(QueryInfoRequestTest, Decodes) {
  const Bytes& quota = keep(pattern(16, 0x20));  // SMB2_QUERY_QUOTA_INFO (2.2.37.1)
  auto expected = [](uint8_t type, uint8_t cls, uint32_t addl, ByteSpan input) {
    QueryInfoRequest r;
    r.info_type = type;
    r.file_info_class = cls;
    r.output_buffer_length = 4096;
    r.input = input;
    r.additional_information = addl;
    r.file_id = kFileId;
    return r;
  };
  std::vector<DecodeCase<QueryInfoRequest>> cases = {
      // FileAllInformation; the one-byte Buffer is padding.
      {"file, FileAllInformation", queryInfo(1, 18, 0, 0, 0, {0}).bytes(), STATUS_SUCCESS,
       expected(1, 18, 0, {}), 104},
      {"security, OWNER|GROUP|DACL", queryInfo(3, 0, 0, 0, 7, {0}).bytes(), STATUS_SUCCESS,
       expected(3, 0, 7, {}), 104},
      {"quota with input", queryInfo(4, 32, 0x68, 16, 0, quota).bytes(), STATUS_SUCCESS,
       expected(4, 32, 0, quota)},
      {"InputBufferLength past the end", queryInfo(4, 32, 0x68, 17, 0, quota).bytes(),
       STATUS_INVALID_PARAMETER},
      {"InputBufferOffset past the end", queryInfo(4, 32, 0x1000, 16, 0, quota).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<QueryInfoRequest>(cases, decodeQueryInfoRequest,
                                   [](const QueryInfoRequest& g, const QueryInfoRequest& w) {
                                     EXPECT_EQ(g.info_type, w.info_type);
                                     EXPECT_EQ(g.file_info_class, w.file_info_class);
                                     EXPECT_EQ(g.output_buffer_length, w.output_buffer_length);
                                     EXPECT_EQ(toBytes(g.input), toBytes(w.input));
                                     EXPECT_EQ(g.additional_information, w.additional_information);
                                     EXPECT_EQ(g.flags, w.flags);
                                     EXPECT_EQ(g.file_id, w.file_id);
                                   });
}

// ---------------------------------------------------------------------------------------------
// SET_INFO (2.2.39): StructureSize 33, buffer normally at 0x60.

Smb2Msg setInfo(uint32_t len, uint16_t off, const Bytes& buffer) {
  Smb2Msg m(SMB2_SET_INFO);
  m.u16(33).u8(1).u8(4).u32(len).u16(off).u16(0).u32(0).fileId(kPersistent, kVolatile);
  m.put(buffer);
  return m;
}

TEST(SetInfoRequestTest, Decodes) {
  const Bytes& basic = keep(pattern(40, 0x30));  // FileBasicInformation (MS-FSCC 2.4.7)
  auto expected = [](ByteSpan buffer) {
    SetInfoRequest r;
    r.info_type = 1;
    r.file_info_class = 4;
    r.buffer = buffer;
    r.file_id = kFileId;
    return r;
  };
  std::vector<DecodeCase<SetInfoRequest>> cases = {
      {"FileBasicInformation", setInfo(40, 0x60, basic).bytes(), STATUS_SUCCESS, expected(basic)},
      {"BufferLength one past the end", setInfo(41, 0x60, basic).bytes(), STATUS_INVALID_PARAMETER},
      {"BufferOffset inside the header", setInfo(40, 0x20, basic).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<SetInfoRequest>(cases, decodeSetInfoRequest,
                                 [](const SetInfoRequest& g, const SetInfoRequest& w) {
                                   EXPECT_EQ(g.info_type, w.info_type);
                                   EXPECT_EQ(g.file_info_class, w.file_info_class);
                                   EXPECT_EQ(toBytes(g.buffer), toBytes(w.buffer));
                                   EXPECT_EQ(g.additional_information, w.additional_information);
                                   EXPECT_EQ(g.file_id, w.file_id);
                                 });
}

}  // namespace
}  // namespace xsmb::smb2
