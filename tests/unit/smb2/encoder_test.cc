// encodeResponse against the MS-SMB2 2.2.x layouts, one typed body at a time. Each response is
// built the way the dispatcher builds it: a 64-byte header, then the body from the same
// ByteWriter. The writer is tried both empty and already holding the 4-byte NetBIOS header, since
// SMB2 offsets and alignments are relative to the SMB2 header start, not to the send buffer.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "common/smb2/netbios.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/smb2/test_util.h"

namespace xsmb::smb2 {
namespace {

using testing::le16;
using testing::le32;
using testing::le64;

// A response message as encoded: `b` holds `hdr` bytes of prefix, the header, then the body.
struct Encoded {
  Bytes b;
  size_t hdr;  // offset of the SMB2 header in b
  size_t body() const { return hdr + kHeaderSize; }
  size_t size() const { return b.size() - hdr; }  // message length
  // Bytes [off, off+len) counted from the header start.
  Bytes at(size_t off, size_t len) const {
    EXPECT_LE(hdr + off + len, b.size());
    if (hdr + off + len > b.size()) return {};
    return Bytes(b.begin() + static_cast<ptrdiff_t>(hdr + off),
                 b.begin() + static_cast<ptrdiff_t>(hdr + off + len));
  }
};

Encoded encode(size_t prefix, const std::function<void(ByteWriter&)>& body) {
  Encoded e{Bytes(prefix, 0), prefix};
  ByteWriter w(&e.b);
  Header h;
  h.command = SMB2_NEGOTIATE;
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
  encodeHeader(h, w);
  EXPECT_EQ(e.b.size(), prefix + kHeaderSize);
  body(w);
  return e;
}

class EncoderTest : public ::testing::TestWithParam<size_t> {};
INSTANTIATE_TEST_SUITE_P(Prefix, EncoderTest,
                         ::testing::Values(size_t{0}, netbios::kNetBiosHeaderSize),
                         [](const auto& info) {
                           return info.param ? std::string("AfterNetBiosHeader")
                                             : std::string("AtBufferStart");
                         });

Bytes seq(size_t n, uint8_t start) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

// MS-SMB2 2.2.4: StructureSize 65; SecurityBufferOffset 0x80; the negotiate context list at an
// 8-aligned offset from the header start after the security buffer, each context 8-aligned.
TEST_P(EncoderTest, NegotiateResponse311) {
  const Bytes token = seq(74, 0x10);
  NegotiateResponse r;
  r.security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
  r.dialect = SMB2_DIALECT_311;
  for (size_t i = 0; i < 16; ++i) r.server_guid[i] = static_cast<uint8_t>(0xC0 + i);
  r.capabilities = SMB2_GLOBAL_CAP_DFS | SMB2_GLOBAL_CAP_LARGE_MTU;
  r.max_transact_size = 8 << 20;
  r.max_read_size = 8 << 20;
  r.max_write_size = 4 << 20;
  r.system_time = 0x01D9000011112222ULL;
  r.server_start_time = 0;
  r.security_buffer = token;
  const Bytes preauth = seq(38, 0x50);
  const Bytes cipher = {0x01, 0x00, 0x02, 0x00};
  const Bytes signing = {0x01, 0x00, 0x01, 0x00};
  r.contexts = {{SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauth},
                {SMB2_ENCRYPTION_CAPABILITIES, cipher},
                {SMB2_SIGNING_CAPABILITIES, signing}};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  const Bytes& b = e.b;
  const size_t body = e.body();
  EXPECT_EQ(le16(b, body + 0), 65);
  EXPECT_EQ(le16(b, body + 2), SMB2_NEGOTIATE_SIGNING_ENABLED);
  EXPECT_EQ(le16(b, body + 4), SMB2_DIALECT_311);
  EXPECT_EQ(le16(b, body + 6), 3);  // NegotiateContextCount
  EXPECT_EQ(e.at(72, 16), Bytes(r.server_guid.begin(), r.server_guid.end()));
  EXPECT_EQ(le32(b, body + 24), r.capabilities);
  EXPECT_EQ(le32(b, body + 28), 8u << 20);
  EXPECT_EQ(le32(b, body + 32), 8u << 20);
  EXPECT_EQ(le32(b, body + 36), 4u << 20);
  EXPECT_EQ(le64(b, body + 40), r.system_time);
  EXPECT_EQ(le64(b, body + 48), 0u);
  EXPECT_EQ(le16(b, body + 56), 0x80);  // SecurityBufferOffset
  EXPECT_EQ(le16(b, body + 58), token.size());
  EXPECT_EQ(e.at(0x80, token.size()), token);
  uint32_t ctx_off = le32(b, body + 60);
  EXPECT_EQ(ctx_off % 8, 0u) << "NegotiateContextOffset " << ctx_off << " not 8-aligned";
  EXPECT_GE(ctx_off, 0x80 + token.size());
  // Walk the list as a client does: each context 8-aligned from the header start.
  size_t off = ctx_off;
  for (size_t i = 0; i < r.contexts.size(); ++i) {
    SCOPED_TRACE("context " + std::to_string(i));
    off = (off + 7) / 8 * 8;
    ASSERT_LE(off + 8, e.size());
    EXPECT_EQ(le16(b, e.hdr + off), r.contexts[i].first);
    uint16_t len = le16(b, e.hdr + off + 2);
    EXPECT_EQ(len, r.contexts[i].second.size());
    EXPECT_EQ(le32(b, e.hdr + off + 4), 0u);  // Reserved
    EXPECT_EQ(e.at(off + 8, len), r.contexts[i].second);
    off += 8 + len;
  }
  EXPECT_EQ(off, e.size()) << "the message ends with the last context";
}

TEST_P(EncoderTest, NegotiateResponse202HasNoContexts) {
  const Bytes token = seq(10, 1);
  NegotiateResponse r;
  r.dialect = SMB2_DIALECT_202;
  r.security_buffer = token;
  r.contexts = {{SMB2_PREAUTH_INTEGRITY_CAPABILITIES, seq(38, 0)}};  // must be ignored
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  EXPECT_EQ(le16(e.b, e.body() + 4), SMB2_DIALECT_202);
  EXPECT_EQ(le16(e.b, e.body() + 6), 0);
  EXPECT_EQ(le32(e.b, e.body() + 60), 0u);
  EXPECT_EQ(e.size(), 0x80 + token.size());
}

// MS-SMB2 2.2.6: StructureSize 9, SecurityBufferOffset 0x48.
TEST_P(EncoderTest, SessionSetupResponse) {
  const Bytes token = seq(9, 0xA1);
  const SessionSetupResponse r{SMB2_SESSION_FLAG_IS_GUEST, token};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  EXPECT_EQ(e.at(64, 8), Bytes({9, 0, 1, 0, 0x48, 0, 9, 0}));
  EXPECT_EQ(e.at(0x48, 9), token);
  EXPECT_EQ(e.size(), 0x48 + 9u);
  Encoded shorthand =
      encode(GetParam(), [&](ByteWriter& w) { encodeSessionSetupResponse(1, token, w); });
  EXPECT_EQ(shorthand.b, e.b);

  Encoded empty =
      encode(GetParam(), [&](ByteWriter& w) { encodeResponse(SessionSetupResponse{}, w); });
  EXPECT_EQ(empty.at(64, 9), Bytes({9, 0, 0, 0, 0, 0, 0, 0, 0}));  // SecurityBufferOffset 0
  EXPECT_EQ(empty.size(), 64 + 9u);  // StructureSize counts one buffer byte
}

// MS-SMB2 2.2.10: 16 bytes.
TEST_P(EncoderTest, TreeConnectResponse) {
  const TreeConnectResponse r{SMB2_SHARE_TYPE_DISK, 0x00000800, 0x00000008, 0x001F01FF};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  EXPECT_EQ(e.at(64, 16),
            Bytes({16, 0, 0x01, 0, 0x00, 0x08, 0, 0, 0x08, 0, 0, 0, 0xFF, 0x01, 0x1F, 0x00}));
  EXPECT_EQ(e.size(), 80u);
  Encoded shorthand = encode(GetParam(), [&](ByteWriter& w) {
    encodeTreeConnectResponse(0x01, 0x00000800, 0x00000008, 0x001F01FF, w);
  });
  EXPECT_EQ(shorthand.b, e.b);
}

// MS-SMB2 2.2.14 and 2.2.13.2: StructureSize 89; CreateContextsOffset from the header start,
// every context 8-aligned; Next is the distance to the next context, 0 for the last;
// CreateContextsLength covers the whole chain.
TEST_P(EncoderTest, CreateResponseWithContexts) {
  CreateResponse r;
  r.oplock_level = SMB2_OPLOCK_LEVEL_II;
  r.create_action = 2;  // FILE_CREATED
  r.creation_time = 0x0101010101010101ULL;
  r.last_access_time = 0x0202020202020202ULL;
  r.last_write_time = 0x0303030303030303ULL;
  r.change_time = 0x0404040404040404ULL;
  r.allocation_size = 4096;
  r.end_of_file = 100000;
  r.file_attributes = 0x20;
  r.file_id = {0x1111, 0x2222};
  const Bytes mxac = {0, 0, 0, 0, 0xFF, 0x01, 0x1F, 0x00};  // QueryStatus, MaximalAccess
  const Bytes qfid = seq(32, 0x80);
  r.contexts = {{"MxAc", mxac}, {"QFid", qfid}, {"Long", seq(3, 0xE0)}};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  const Bytes& b = e.b;
  const size_t body = e.body();
  EXPECT_EQ(le16(b, body), 89);
  EXPECT_EQ(b[body + 2], SMB2_OPLOCK_LEVEL_II);
  EXPECT_EQ(b[body + 3], 0);
  EXPECT_EQ(le32(b, body + 4), 2u);
  EXPECT_EQ(le64(b, body + 8), r.creation_time);
  EXPECT_EQ(le64(b, body + 16), r.last_access_time);
  EXPECT_EQ(le64(b, body + 24), r.last_write_time);
  EXPECT_EQ(le64(b, body + 32), r.change_time);
  EXPECT_EQ(le64(b, body + 40), 4096u);
  EXPECT_EQ(le64(b, body + 48), 100000u);
  EXPECT_EQ(le32(b, body + 56), 0x20u);
  EXPECT_EQ(le32(b, body + 60), 0u);
  EXPECT_EQ(le64(b, body + 64), 0x1111u);
  EXPECT_EQ(le64(b, body + 72), 0x2222u);
  uint32_t ctx_off = le32(b, body + 80);
  uint32_t ctx_len = le32(b, body + 84);
  EXPECT_EQ(ctx_off % 8, 0u) << "CreateContextsOffset " << ctx_off << " not 8-aligned";
  EXPECT_GE(ctx_off, 64u + 88u);
  ASSERT_LE(ctx_off + ctx_len, e.size());
  EXPECT_EQ(ctx_off + ctx_len, e.size()) << "the chain ends the message";
  size_t off = ctx_off;
  for (size_t i = 0; i < r.contexts.size(); ++i) {
    SCOPED_TRACE("context " + std::to_string(i));
    ASSERT_LE(off + 16, e.size());
    EXPECT_EQ(off % 8, 0u);
    uint32_t next = le32(b, e.hdr + off);
    uint16_t name_off = le16(b, e.hdr + off + 4);
    uint16_t name_len = le16(b, e.hdr + off + 6);
    uint16_t data_off = le16(b, e.hdr + off + 10);
    uint32_t data_len = le32(b, e.hdr + off + 12);
    EXPECT_EQ(name_off, 16);
    Bytes name = e.at(off + name_off, name_len);
    EXPECT_EQ(std::string(name.begin(), name.end()), r.contexts[i].first);
    EXPECT_EQ(data_off % 8, 0u);
    EXPECT_GE(data_off, name_off + name_len);
    EXPECT_EQ(data_len, r.contexts[i].second.size());
    EXPECT_EQ(e.at(off + data_off, data_len), r.contexts[i].second);
    if (i + 1 < r.contexts.size()) {
      EXPECT_EQ(next % 8, 0u);
      EXPECT_GE(next, static_cast<uint32_t>(data_off) + data_len);
      ASSERT_NE(next, 0u);
      off += next;
    } else {
      EXPECT_EQ(next, 0u);
      EXPECT_EQ(off + data_off + data_len, ctx_off + ctx_len);
    }
  }
}

// The exact bytes of a one-context chain behind the header and an 88-byte fixed body:
// CreateContextsOffset 0x98, context "MxAc" with its data at +24.
TEST_P(EncoderTest, CreateResponseMxAcBytes) {
  CreateResponse r;
  r.contexts = {{"MxAc", {0, 0, 0, 0, 0xA9, 0x00, 0x12, 0x00}}};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  EXPECT_EQ(le32(e.b, e.body() + 80), 0x98u);
  EXPECT_EQ(le32(e.b, e.body() + 84), 32u);
  EXPECT_EQ(e.at(0x98, 32),
            Bytes({0,   0,   0,   0,   16, 0, 4, 0, 0, 0, 24, 0, 8,    0,    0,    0,
                   'M', 'x', 'A', 'c', 0,  0, 0, 0, 0, 0, 0,  0, 0xA9, 0x00, 0x12, 0x00}));
  EXPECT_EQ(e.size(), 0x98 + 32u);
}

TEST_P(EncoderTest, CreateResponseWithoutContexts) {
  CreateResponse r;
  r.file_id = {7, 8};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  EXPECT_EQ(le16(e.b, e.body()), 89);
  EXPECT_EQ(le32(e.b, e.body() + 80), 0u);
  EXPECT_EQ(le32(e.b, e.body() + 84), 0u);
  EXPECT_EQ(e.size(), 64 + 89u);
}

// MS-SMB2 2.2.16: 60 bytes.
TEST_P(EncoderTest, CloseResponse) {
  CloseResponse r;
  r.flags = 1;
  r.creation_time = 1;
  r.last_access_time = 2;
  r.last_write_time = 3;
  r.change_time = 4;
  r.allocation_size = 5;
  r.end_of_file = 6;
  r.file_attributes = 0x10;
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  ASSERT_EQ(e.size(), 64 + 60u);
  EXPECT_EQ(le16(e.b, e.body()), 60);
  EXPECT_EQ(le16(e.b, e.body() + 2), 1);
  EXPECT_EQ(le32(e.b, e.body() + 4), 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(le64(e.b, e.body() + 8 + 8 * i), i + 1u) << i;
  EXPECT_EQ(le32(e.b, e.body() + 56), 0x10u);
}

// The small bodies, table-driven: each is the whole body after the header. StructureSize 4 for
// LOGOFF (2.2.8), TREE_DISCONNECT (2.2.12), FLUSH (2.2.18), LOCK (2.2.27) and ECHO (2.2.29);
// SET_INFO (2.2.40) is StructureSize 2.
TEST_P(EncoderTest, SmallResponses) {
  struct Case {
    std::string description;
    ResponseBody body;
    Bytes expected;
  };
  const std::vector<Case> cases = {
      {"logoff", LogoffResponse{}, {4, 0, 0, 0}},
      {"tree disconnect", TreeDisconnectResponse{}, {4, 0, 0, 0}},
      {"flush", FlushResponse{}, {4, 0, 0, 0}},
      {"lock", LockResponse{}, {4, 0, 0, 0}},
      {"echo", EchoResponse{}, {4, 0, 0, 0}},
      {"set info", SetInfoResponse{}, {2, 0}},
      // MS-SMB2 2.2.22: StructureSize 17, Reserved, Count, Remaining, WriteChannelInfo* 0.
      {"write", WriteResponse{0x10000, 0}, {17, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      // MS-SMB2 2.2.25.1: StructureSize 24, OplockLevel, Reserved, Reserved2, FileId.
      {"oplock break",
       OplockBreakResponse{SMB2_OPLOCK_LEVEL_II, FileId{0x0102, 0x0304}},
       {24, 0, 1, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0, 0, 0}},
      // MS-SMB2 2.2.2: StructureSize 9, ErrorContextCount, Reserved, ByteCount, ErrorData.
      {"no body: ERROR", std::monostate{}, {9, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"error, no data", ErrorResponse{}, {9, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"error with data", ErrorResponse{{1, 2, 3, 4}}, {9, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4}},
      // MS-SMB2 2.2.34, 2.2.36, 2.2.38: StructureSize 9, OutputBufferOffset 0x48, Length.
      {"query directory", QueryDirectoryResponse{{5, 6, 7}}, {9, 0, 0x48, 0, 3, 0, 0, 0, 5, 6, 7}},
      {"query directory, empty", QueryDirectoryResponse{}, {9, 0, 0x48, 0, 0, 0, 0, 0, 0}},
      {"change notify",
       ChangeNotifyResponse{{0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0}},
       {9, 0, 0x48, 0, 14, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0}},
      {"query info", QueryInfoResponse{{0xAA, 0xBB}}, {9, 0, 0x48, 0, 2, 0, 0, 0, 0xAA, 0xBB}},
      // MS-SMB2 2.2.20 with the data in the struct: DataOffset 0x50, DataLength, then the data.
      {"read, buffer",
       ReadResponse{0, 0, 0, ReadResponse::Placement::kBuffer, {0xD0, 0xD1, 0xD2}},
       {17, 0, 0x50, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xD0, 0xD1, 0xD2}},
      {"read, empty buffer",
       ReadResponse{},
       {17, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      // The data follows as a file segment: the fixed part only, DataLength counting it.
      {"read, segment",
       ReadResponse::inSegment(0x12345),
       {17, 0, 0x50, 0, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(c.body, w); });
    EXPECT_EQ(e.at(64, e.size() - 64), c.expected);
  }
}

// A READ's data already in the output (the dispatcher's payload area) stays untouched; only the
// 16 bytes of room in front of it become the fixed part, and the message ends with the data.
TEST_P(EncoderTest, ReadResponseInPlace) {
  const Bytes data = seq(300, 0x40);
  Encoded e = encode(GetParam(), [&](ByteWriter& w) {
    w.zeros(ReadResponse::kFixedSize);  // the room ReadPayload::reserve leaves
    w.bytes(data);
    const uint8_t* before = w.buf().data();
    encodeResponse(ReadResponse::inPlace(300), w);
    EXPECT_EQ(w.buf().data(), before) << "nothing appended, nothing moved";
  });
  EXPECT_EQ(e.at(64, 16), Bytes({17, 0, 0x50, 0, 0x2C, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(e.at(0x50, 300), data);
  EXPECT_EQ(e.size(), 0x50 + 300u);

  // Nothing read: DataLength 0 and the one pad byte of Buffer.
  Encoded empty = encode(GetParam(), [&](ByteWriter& w) {
    w.zeros(ReadResponse::kFixedSize);
    encodeResponse(ReadResponse::inPlace(0), w);
  });
  EXPECT_EQ(empty.at(64, 17), Bytes({17, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(empty.size(), 64 + 17u);
}

// MS-SMB2 2.2.32: StructureSize 49, output at 0x70.
TEST_P(EncoderTest, IoctlResponse) {
  const Bytes out = seq(24, 0x30);
  Encoded e = encode(GetParam(), [&](ByteWriter& w) {
    encodeResponse(IoctlResponse{0x00140204, FileId{~0ULL, ~0ULL}, out}, w);
  });
  const size_t body = e.body();
  EXPECT_EQ(le16(e.b, body), 49);
  EXPECT_EQ(le16(e.b, body + 2), 0);
  EXPECT_EQ(le32(e.b, body + 4), 0x00140204u);
  EXPECT_EQ(le64(e.b, body + 8), ~0ULL);
  EXPECT_EQ(le64(e.b, body + 16), ~0ULL);
  EXPECT_EQ(le32(e.b, body + 24), 0x70u);  // InputOffset
  EXPECT_EQ(le32(e.b, body + 28), 0u);     // InputCount
  EXPECT_EQ(le32(e.b, body + 32), 0x70u);  // OutputOffset
  EXPECT_EQ(le32(e.b, body + 36), 24u);    // OutputCount
  EXPECT_EQ(le32(e.b, body + 40), 0u);     // Flags
  EXPECT_EQ(le32(e.b, body + 44), 0u);     // Reserved2
  EXPECT_EQ(e.at(0x70, 24), out);
  EXPECT_EQ(e.size(), 0x70 + 24u);

  // No output: the 48 fixed bytes only.
  Encoded none = encode(GetParam(), [&](ByteWriter& w) {
    encodeResponse(IoctlResponse{0x00060194, FileId{1, 2}, {}}, w);
  });
  EXPECT_EQ(le32(none.b, none.body() + 36), 0u);
  EXPECT_EQ(none.size(), 0x70u);
}

// Encoder output decodes with an independent reading of the same layout: a CREATE response
// chain is what decodeCreateRequest's context parser accepts too (same 2.2.13.2 format).
TEST_P(EncoderTest, CreateResponseChainParsesAsContexts) {
  CreateResponse r;
  r.contexts = {{"MxAc", seq(8, 1)}, {"QFid", seq(32, 2)}};
  Encoded e = encode(GetParam(), [&](ByteWriter& w) { encodeResponse(r, w); });
  uint32_t ctx_off = le32(e.b, e.body() + 80);
  uint32_t ctx_len = le32(e.b, e.body() + 84);
  // Graft the chain into a CREATE request with an empty name.
  testing::Smb2Msg req(SMB2_CREATE);
  req.u16(57).u8(0).u8(0).u32(0).u64(0).u64(0).u32(0).u32(0).u32(0).u32(1).u32(0);
  req.u16(0x78).u16(0).u32(0x78).u32(ctx_len);
  req.put(e.at(ctx_off, ctx_len));
  CreateRequest cr;
  ASSERT_EQ(decodeCreateRequest(req.bytes(), &cr), STATUS_SUCCESS);
  ASSERT_EQ(cr.contexts.size(), 2u);
  EXPECT_EQ(cr.contexts[0].name, "MxAc");
  EXPECT_EQ(testing::toBytes(cr.contexts[0].data), seq(8, 1));
  EXPECT_EQ(cr.contexts[1].name, "QFid");
  EXPECT_EQ(testing::toBytes(cr.contexts[1].data), seq(32, 2));
}

}  // namespace
}  // namespace xsmb::smb2
