// SMB2 packet header (MS-SMB2 2.2.1.1 async, 2.2.1.2 sync).
#include "common/smb2/header.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/smb2/packet_builder.h"

namespace xsmb::smb2 {
namespace {

using testing::Smb2Msg;

TEST(HeaderTest, DecodesSyncHeader) {
  Smb2Msg m(SMB2_CREATE, 0x0102030405060708ULL, SMB2_FLAGS_SIGNED | SMB2_FLAGS_DFS_OPERATIONS);
  m.set16(6, 3);           // CreditCharge
  m.set32(8, 0x00000002);  // ChannelSequence
  m.set32(20, 0x58);       // NextCommand
  Header h;
  ASSERT_TRUE(decodeHeader(m.bytes(), &h));
  EXPECT_EQ(h.credit_charge, 3);
  EXPECT_EQ(h.status, 2u);
  EXPECT_EQ(h.command, SMB2_CREATE);
  EXPECT_EQ(h.credits, 31);
  EXPECT_EQ(h.flags, SMB2_FLAGS_SIGNED | SMB2_FLAGS_DFS_OPERATIONS);
  EXPECT_EQ(h.next_command, 0x58u);
  EXPECT_EQ(h.message_id, 0x0102030405060708ULL);
  EXPECT_EQ(h.async_id, 0u);
  EXPECT_EQ(h.process_id, 0xFEFFu);
  EXPECT_EQ(h.tree_id, 0x11223344u);
  EXPECT_EQ(h.session_id, 0x0000400000000abcULL);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(h.signature[i], 0xA0 + i);
  EXPECT_TRUE(h.isSigned());
  EXPECT_FALSE(h.isAsync());
  EXPECT_FALSE(h.isRelated());
}

TEST(HeaderTest, DecodesAsyncHeader) {
  // The async form has an 8-byte AsyncId where the sync form has ProcessId and TreeId.
  Smb2Msg m(SMB2_CHANGE_NOTIFY, 9, SMB2_FLAGS_ASYNC_COMMAND | SMB2_FLAGS_RELATED_OPERATIONS);
  m.set32(32, 0x89ABCDEF).set32(36, 0x01234567);
  Header h;
  ASSERT_TRUE(decodeHeader(m.bytes(), &h));
  EXPECT_TRUE(h.isAsync());
  EXPECT_TRUE(h.isRelated());
  EXPECT_EQ(h.async_id, 0x0123456789ABCDEFULL);
  EXPECT_EQ(h.process_id, 0u);
  EXPECT_EQ(h.tree_id, 0u);
  EXPECT_EQ(h.session_id, 0x0000400000000abcULL);
}

TEST(HeaderTest, EncodeMatchesWireLayout) {
  for (uint32_t flags : {0u, SMB2_FLAGS_ASYNC_COMMAND | SMB2_FLAGS_SERVER_TO_REDIR}) {
    SCOPED_TRACE(flags);
    Smb2Msg m(SMB2_READ, 0x1122, flags);
    m.set16(6, 4).set32(8, 0xC0000016).set32(20, 0x68);
    Header h;
    ASSERT_TRUE(decodeHeader(m.bytes(), &h));
    ByteWriter w;
    encodeHeader(h, w);
    EXPECT_EQ(w.buf(), m.bytes());
  }
}

TEST(HeaderTest, RejectsMalformedHeaders) {
  struct Case {
    std::string description;
    size_t offset;
    uint8_t value;
  };
  const std::vector<Case> cases = {
      {"SMB1 ProtocolId 0xFF", 0, 0xFF},    {"transform header 0xFD", 0, 0xFD},
      {"compression header 0xFC", 0, 0xFC}, {"ProtocolId 'S' changed", 1, 's'},
      {"StructureSize 65", 4, 65},          {"StructureSize high byte", 5, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    Bytes b = Smb2Msg(SMB2_ECHO).bytes();
    b[c.offset] = c.value;
    Header h;
    EXPECT_FALSE(decodeHeader(b, &h));
  }
}

TEST(HeaderTest, EveryTruncationFails) {
  const Bytes full = Smb2Msg(SMB2_ECHO).u16(4).u16(0).bytes();
  for (size_t n = 0; n < kHeaderSize; ++n) {
    Bytes prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    Header h;
    EXPECT_FALSE(decodeHeader(prefix, &h)) << n;
  }
  Bytes exact(full.begin(), full.begin() + kHeaderSize);
  Header h;
  EXPECT_TRUE(decodeHeader(exact, &h));
}

}  // namespace
}  // namespace xsmb::smb2
