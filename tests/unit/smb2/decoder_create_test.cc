// Request decoders of the handle lifetime commands (MS-SMB2 2.2.13 CREATE with its create
// contexts, 2.2.15 CLOSE, 2.2.17 FLUSH, 2.2.24.1 OPLOCK_BREAK acknowledgment) against messages
// laid out by hand in the test, each also cut at every length.
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
// CREATE (2.2.13) with SMB2_CREATE_CONTEXT chains (2.2.13.2).

// One create context: Next, NameOffset 16, NameLength, Reserved, DataOffset (8-aligned after the
// name), DataLength, name, padding, data. `next` 0 for the last one, else the 8-aligned size.
Bytes createContext(std::string_view name, const Bytes& data, bool last) {
  size_t data_off = (16 + name.size() + 7) / 8 * 8;
  size_t total = data.empty() ? 16 + name.size() : data_off + data.size();
  size_t next = last ? 0 : (total + 7) / 8 * 8;
  Bytes b;
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  le(next, 4);
  le(16, 2);
  le(name.size(), 2);
  le(0, 2);
  le(data.empty() ? 0 : data_off, 2);
  le(data.size(), 4);
  b.insert(b.end(), name.begin(), name.end());
  if (!data.empty()) {
    b.resize(data_off, 0);
    b.insert(b.end(), data.begin(), data.end());
  }
  if (!last) b.resize(next, 0);
  return b;
}

// Body up to the name: 56 bytes; name at 0x78, contexts (if any) 8-aligned after it.
Smb2Msg create(std::string_view name, const Bytes& contexts, int name_len_delta = 0,
               uint32_t ctx_off_override = 0, uint32_t ctx_len_override = 0) {
  Bytes name16 = testing::utf16(name);
  uint32_t ctx_off =
      contexts.empty() ? 0 : static_cast<uint32_t>((0x78 + name16.size() + 7) / 8 * 8);
  Smb2Msg m(SMB2_CREATE, 4);
  m.u16(57).u8(0).u8(SMB2_OPLOCK_LEVEL_BATCH).u32(2);   // Impersonation
  m.u64(0).u64(0);                                      // SmbCreateFlags, Reserved
  m.u32(0x0012019F).u32(0x80).u32(7).u32(3).u32(0x40);  // access, attrs, share, OPEN_IF, opts
  m.u16(0x78).u16(static_cast<uint16_t>(static_cast<int>(name16.size()) + name_len_delta));
  m.u32(ctx_off_override ? ctx_off_override : ctx_off);
  m.u32(ctx_len_override ? ctx_len_override : static_cast<uint32_t>(contexts.size()));
  m.put(name16);
  if (name16.empty()) m.u8(0);  // the Buffer is at least one byte
  if (!contexts.empty()) m.pad8().put(contexts);
  return m;
}

CreateRequest createExpected(std::string name, std::vector<CreateContext> contexts) {
  CreateRequest r;
  r.requested_oplock_level = SMB2_OPLOCK_LEVEL_BATCH;
  r.impersonation_level = 2;
  r.desired_access = 0x0012019F;
  r.file_attributes = 0x80;
  r.share_access = 7;
  r.create_disposition = 3;
  r.create_options = 0x40;
  r.name = std::move(name);
  r.contexts = std::move(contexts);
  return r;
}

void sameCreate(const CreateRequest& got, const CreateRequest& want) {
  EXPECT_EQ(got.requested_oplock_level, want.requested_oplock_level);
  EXPECT_EQ(got.impersonation_level, want.impersonation_level);
  EXPECT_EQ(got.desired_access, want.desired_access);
  EXPECT_EQ(got.file_attributes, want.file_attributes);
  EXPECT_EQ(got.share_access, want.share_access);
  EXPECT_EQ(got.create_disposition, want.create_disposition);
  EXPECT_EQ(got.create_options, want.create_options);
  EXPECT_EQ(got.name, want.name);
  ASSERT_EQ(got.contexts.size(), want.contexts.size());
  for (size_t i = 0; i < got.contexts.size(); ++i) {
    EXPECT_EQ(got.contexts[i].name, want.contexts[i].name) << "context " << i;
    EXPECT_EQ(toBytes(got.contexts[i].data), toBytes(want.contexts[i].data)) << "context " << i;
  }
}

TEST(CreateRequestTest, Decodes) {
  const Bytes& timestamp = keep(pattern(8, 0x01));  // MxAc with a Timestamp (2.2.13.2.5)
  const Bytes& durable = keep(Bytes(16, 0));        // DHnQ: 16 reserved bytes (2.2.13.2.3)
  Bytes mxac_qfid = createContext("MxAc", {}, false);
  Bytes qfid = createContext("QFid", {}, true);
  mxac_qfid.insert(mxac_qfid.end(), qfid.begin(), qfid.end());
  Bytes three = createContext("MxAc", timestamp, false);
  for (const Bytes& c : {createContext("QFid", {}, false), createContext("DHnQ", durable, true)}) {
    three.insert(three.end(), c.begin(), c.end());
  }
  // Next not a multiple of 8.
  Bytes bad_next = mxac_qfid;
  bad_next[0] = 20;
  // Next past CreateContextsLength.
  Bytes next_past = createContext("MxAc", {}, false);
  next_past[0] = 32;
  // DataLength past the context buffer.
  Bytes data_past = createContext("DHnQ", durable, true);
  data_past[12] = 17;
  // NameLength 0.
  Bytes no_name = createContext("MxAc", {}, true);
  no_name[6] = 0;
  // NameOffset past the end of the context buffer.
  Bytes name_past = createContext("MxAc", {}, true);
  name_past[4] = 0xF0;
  // Next pointing at the end of the buffer: a context header would start past it.
  Bytes next_at_end = createContext("MxAc", {}, false);

  const std::string name = "dir\\file.txt";
  std::vector<DecodeCase<CreateRequest>> cases = {
      {"no contexts", create(name, {}).bytes(), STATUS_SUCCESS, createExpected(name, {})},
      {"empty name (share root), one pad byte", create("", {}).bytes(), STATUS_SUCCESS,
       createExpected("", {}), 0x78},
      {"MxAc, QFid chain", create(name, mxac_qfid).bytes(), STATUS_SUCCESS,
       createExpected(name, {{"MxAc", {}}, {"QFid", {}}})},
      {"MxAc with Timestamp, QFid, DHnQ", create(name, three).bytes(), STATUS_SUCCESS,
       createExpected(name, {{"MxAc", timestamp}, {"QFid", {}}, {"DHnQ", durable}})},
      {"Next not 8-aligned", create(name, bad_next).bytes(), STATUS_INVALID_PARAMETER},
      {"Next past CreateContextsLength", create(name, next_past).bytes(), STATUS_INVALID_PARAMETER},
      {"context DataLength past its buffer", create(name, data_past).bytes(),
       STATUS_INVALID_PARAMETER},
      {"context NameLength 0", create(name, no_name).bytes(), STATUS_INVALID_PARAMETER},
      {"context NameOffset past its buffer", create(name, name_past).bytes(),
       STATUS_INVALID_PARAMETER},
      {"CreateContextsOffset past the end", create(name, mxac_qfid, 0, 0x1000).bytes(),
       STATUS_INVALID_PARAMETER},
      {"CreateContextsLength past the end", create(name, mxac_qfid, 0, 0, 0x1000).bytes(),
       STATUS_INVALID_PARAMETER},
      {"odd NameLength", create(name, {}, -1).bytes(), STATUS_INVALID_PARAMETER},
      {"NameLength past the end", create(name, {}, 2).bytes(), STATUS_INVALID_PARAMETER},
  };
  // CreateContextsLength covering exactly the first context, whose Next says another follows.
  {
    Smb2Msg m = create(name, next_at_end);
    cases.push_back({"Next equal to the remaining length", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = create(name, {});
    m.set16(64, 56);
    cases.push_back({"StructureSize 56", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  runDecodeCases<CreateRequest>(cases, decodeCreateRequest, sameCreate);
}

// ---------------------------------------------------------------------------------------------
// Fixed-size requests: CLOSE (2.2.15), FLUSH (2.2.17), OPLOCK_BREAK acknowledgment (2.2.24.1).

TEST(CloseRequestTest, Decodes) {
  auto close = [](uint16_t structure_size, uint16_t flags) {
    return Smb2Msg(SMB2_CLOSE).u16(structure_size).u16(flags).u32(0).fileId(kPersistent, kVolatile);
  };
  std::vector<DecodeCase<CloseRequest>> cases = {
      {"POSTQUERY_ATTRIB", close(24, 1).bytes(), STATUS_SUCCESS, {1, kFileId}},
      {"no flags", close(24, 0).bytes(), STATUS_SUCCESS, {0, kFileId}},
      {"StructureSize 25", close(25, 0).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<CloseRequest>(cases, decodeCloseRequest,
                               [](const CloseRequest& g, const CloseRequest& w) {
                                 EXPECT_EQ(g.flags, w.flags);
                                 EXPECT_EQ(g.file_id, w.file_id);
                               });
}

TEST(FlushRequestTest, Decodes) {
  auto flush = [](uint16_t structure_size) {
    return Smb2Msg(SMB2_FLUSH).u16(structure_size).u16(0).u32(0).fileId(kPersistent, kVolatile);
  };
  std::vector<DecodeCase<FileId>> cases = {
      {"FileId", flush(24).bytes(), STATUS_SUCCESS, kFileId},
      {"StructureSize 4", flush(4).bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<FileId>(cases, decodeFlushRequest,
                         [](const FileId& g, const FileId& w) { EXPECT_EQ(g, w); });
}

struct OplockAck {
  uint8_t level = 0;
  FileId file_id;
};

TEST(OplockBreakAckTest, Decodes) {
  auto ack = [](uint16_t structure_size, uint8_t level) {
    return Smb2Msg(SMB2_OPLOCK_BREAK)
        .u16(structure_size)
        .u8(level)
        .u8(0)
        .u32(0)
        .fileId(kPersistent, kVolatile);
  };
  // A lease break acknowledgment (2.2.24.2) has StructureSize 36 and no FileId.
  Smb2Msg lease(SMB2_OPLOCK_BREAK);
  lease.u16(36).u16(0).u32(0).fill(16, 0x33).u32(0).u64(0);
  std::vector<DecodeCase<OplockAck>> cases = {
      {"to level II",
       ack(24, SMB2_OPLOCK_LEVEL_II).bytes(),
       STATUS_SUCCESS,
       {SMB2_OPLOCK_LEVEL_II, kFileId}},
      {"to none",
       ack(24, SMB2_OPLOCK_LEVEL_NONE).bytes(),
       STATUS_SUCCESS,
       {SMB2_OPLOCK_LEVEL_NONE, kFileId}},
      {"lease break acknowledgment", lease.bytes(), STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<OplockAck>(
      cases,
      [](ByteSpan msg, OplockAck* out) {
        return decodeOplockBreakAck(msg, &out->level, &out->file_id);
      },
      [](const OplockAck& g, const OplockAck& w) {
        EXPECT_EQ(g.level, w.level);
        EXPECT_EQ(g.file_id, w.file_id);
      });
}

}  // namespace
}  // namespace xsmb::smb2
