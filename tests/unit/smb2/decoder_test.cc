// Request decoders (MS-SMB2 2.2.3 - 2.2.39) against messages laid out by hand in the test, each
// also cut at every length.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/smb2/constants.h"
#include "common/smb2/messages.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/smb2/test_util.h"

namespace xsmb::smb2 {
namespace {

using testing::DecodeCase;
using testing::runDecodeCases;
using testing::Smb2Msg;
using testing::toBytes;

constexpr uint64_t kPersistent = 0x1122334455667788ULL;
constexpr uint64_t kVolatile = 0x99AABBCCDDEEFF00ULL;
const FileId kFileId{kPersistent, kVolatile};

Bytes pattern(size_t n, uint8_t start) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

// Storage that outlives the case tables, for expected spans.
const Bytes& keep(Bytes b) {
  static std::vector<Bytes>* store = [] {
    auto* v = new std::vector<Bytes>();
    v->reserve(256);
    return v;
  }();
  store->push_back(std::move(b));
  return store->back();
}

// ---------------------------------------------------------------------------------------------
// NEGOTIATE (MS-SMB2 2.2.3, 2.2.3.1)

const Guid kClientGuid = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                          0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F};

// Fixed part: StructureSize 36 .. Reserved2; the dialects follow at offset 100.
Smb2Msg negotiate(std::vector<uint16_t> dialects, uint32_t ctx_offset, uint16_t ctx_count,
                  uint16_t dialect_count_field = 0xFFFF) {
  Smb2Msg m(SMB2_NEGOTIATE, 0);
  m.u16(36)
      .u16(dialect_count_field == 0xFFFF ? static_cast<uint16_t>(dialects.size())
                                         : dialect_count_field)
      .u16(SMB2_NEGOTIATE_SIGNING_ENABLED)
      .u16(0)
      .u32(SMB2_GLOBAL_CAP_DFS | SMB2_GLOBAL_CAP_LARGE_MTU | SMB2_GLOBAL_CAP_ENCRYPTION);
  m.put(Bytes(kClientGuid.begin(), kClientGuid.end()));
  m.u32(ctx_offset).u16(ctx_count).u16(0);
  for (uint16_t d : dialects) m.u16(d);
  return m;
}

// Appends one SMB2_NEGOTIATE_CONTEXT (2.2.3.1), 8-aligned from the header start.
void negotiateContext(Smb2Msg& m, uint16_t type, const Bytes& data) {
  m.pad8();
  m.u16(type).u16(static_cast<uint16_t>(data.size())).u32(0).put(data);
}

const Bytes& preauthData() {
  static const Bytes b = [] {
    Bytes d = {0x01, 0x00, 0x20, 0x00, 0x01, 0x00};  // 1 algorithm, 32-byte salt, SHA-512
    Bytes salt = pattern(32, 0x40);
    d.insert(d.end(), salt.begin(), salt.end());
    return d;
  }();
  return b;
}
const Bytes kEncryptionData = {0x02, 0x00, 0x02, 0x00, 0x01, 0x00};  // GCM, CCM
const Bytes kSigningData = {0x02, 0x00, 0x02, 0x00, 0x01, 0x00};     // GMAC, CMAC

NegotiateRequest negotiateExpected(std::vector<uint16_t> dialects,
                                   std::vector<NegotiateContext> contexts) {
  NegotiateRequest r;
  r.security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
  r.capabilities = SMB2_GLOBAL_CAP_DFS | SMB2_GLOBAL_CAP_LARGE_MTU | SMB2_GLOBAL_CAP_ENCRYPTION;
  r.client_guid = kClientGuid;
  r.dialects = std::move(dialects);
  r.contexts = std::move(contexts);
  return r;
}

void sameNegotiate(const NegotiateRequest& got, const NegotiateRequest& want) {
  EXPECT_EQ(got.security_mode, want.security_mode);
  EXPECT_EQ(got.capabilities, want.capabilities);
  EXPECT_EQ(got.client_guid, want.client_guid);
  EXPECT_EQ(got.dialects, want.dialects);
  ASSERT_EQ(got.contexts.size(), want.contexts.size());
  for (size_t i = 0; i < got.contexts.size(); ++i) {
    EXPECT_EQ(got.contexts[i].type, want.contexts[i].type) << "context " << i;
    EXPECT_EQ(toBytes(got.contexts[i].data), toBytes(want.contexts[i].data)) << "context " << i;
  }
}

std::vector<DecodeCase<NegotiateRequest>> negotiateCases() {
  std::vector<DecodeCase<NegotiateRequest>> cases;
  const std::vector<uint16_t> all = {0x0202, 0x0210, 0x0300, 0x0302, 0x0311};
  {
    // Dialects end at 110; the contexts start at 112, each 8-aligned.
    Smb2Msg m = negotiate(all, 112, 3);
    negotiateContext(m, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData());  // 112..158
    negotiateContext(m, SMB2_ENCRYPTION_CAPABILITIES, kEncryptionData);       // 160..174
    negotiateContext(m, SMB2_SIGNING_CAPABILITIES, kSigningData);             // 176..190
    EXPECT_EQ(m.size(), 190u);
    cases.push_back({"3.1.1 with preauth, encryption and signing contexts", m.bytes(),
                     STATUS_SUCCESS,
                     negotiateExpected(all, {{SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData()},
                                             {SMB2_ENCRYPTION_CAPABILITIES, kEncryptionData},
                                             {SMB2_SIGNING_CAPABILITIES, kSigningData}})});
  }
  {
    Smb2Msg m = negotiate({0x0202, 0x0210}, 0, 0);
    cases.push_back({"2.x dialects, no contexts", m.bytes(), STATUS_SUCCESS,
                     negotiateExpected({0x0202, 0x0210}, {})});
  }
  {
    // Before 3.1.1 the context fields are ClientStartTime: never parsed as contexts.
    Smb2Msg m = negotiate({0x0202, 0x0300}, 0xFFFFFFFF, 0xFFFF);
    cases.push_back({"3.0 dialects with a nonzero ClientStartTime", m.bytes(), STATUS_SUCCESS,
                     negotiateExpected({0x0202, 0x0300}, {})});
  }
  {
    Smb2Msg m = negotiate({0x0311}, 104, 1);  // one dialect ends at 102, context at 104
    negotiateContext(m, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData());
    cases.push_back(
        {"3.1.1 only, one context", m.bytes(), STATUS_SUCCESS,
         negotiateExpected({0x0311}, {{SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData()}})});
  }
  {
    Smb2Msg m = negotiate({}, 0, 0);
    cases.push_back({"DialectCount 0", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0202, 0x0210}, 0, 0, 3);
    cases.push_back({"DialectCount beyond the message", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0202}, 0, 0);
    m.set16(64, 37);
    cases.push_back({"StructureSize 37", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0311}, 0x1000, 1);
    negotiateContext(m, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData());
    cases.push_back(
        {"NegotiateContextOffset beyond the message", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0311}, 104, 1);
    m.pad8().u16(SMB2_PREAUTH_INTEGRITY_CAPABILITIES).u16(200).u32(0).put(preauthData());
    cases.push_back({"context DataLength beyond the message", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0311}, 104, 2);
    negotiateContext(m, SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauthData());
    cases.push_back(
        {"NegotiateContextCount larger than the list", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  {
    Smb2Msg m = negotiate({0x0311}, 104, 1);
    m.pad8().u16(SMB2_PREAUTH_INTEGRITY_CAPABILITIES).u16(38);  // DataLength, then nothing
    cases.push_back({"context header cut short", m.bytes(), STATUS_INVALID_PARAMETER});
  }
  return cases;
}

TEST(NegotiateRequestTest, Decodes) {
  runDecodeCases<NegotiateRequest>(negotiateCases(), decodeNegotiateRequest, sameNegotiate);
}

// ---------------------------------------------------------------------------------------------
// SESSION_SETUP (2.2.5): StructureSize 25, SecurityBufferOffset normally 0x58.

Smb2Msg sessionSetup(uint8_t flags, uint16_t off, uint16_t len, uint64_t previous,
                     const Bytes& buffer, uint16_t structure_size = 25) {
  Smb2Msg m(SMB2_SESSION_SETUP, 1);
  m.u16(structure_size).u8(flags).u8(SMB2_NEGOTIATE_SIGNING_REQUIRED).u32(SMB2_GLOBAL_CAP_DFS);
  m.u32(0).u16(off).u16(len).u64(previous).put(buffer);
  return m;
}

void sameSessionSetup(const SessionSetupRequest& got, const SessionSetupRequest& want) {
  EXPECT_EQ(got.flags, want.flags);
  EXPECT_EQ(got.security_mode, want.security_mode);
  EXPECT_EQ(got.capabilities, want.capabilities);
  EXPECT_EQ(got.previous_session_id, want.previous_session_id);
  EXPECT_EQ(toBytes(got.security_buffer), toBytes(want.security_buffer));
}

TEST(SessionSetupRequestTest, Decodes) {
  const Bytes& token = keep(pattern(40, 0x60));
  auto expected = [&](uint8_t flags, uint64_t previous, ByteSpan buffer) {
    SessionSetupRequest r;
    r.flags = flags;
    r.security_mode = SMB2_NEGOTIATE_SIGNING_REQUIRED;
    r.capabilities = SMB2_GLOBAL_CAP_DFS;
    r.previous_session_id = previous;
    r.security_buffer = buffer;
    return r;
  };
  std::vector<DecodeCase<SessionSetupRequest>> cases = {
      {"SPNEGO token at 0x58", sessionSetup(0, 0x58, 40, 0, token).bytes(), STATUS_SUCCESS,
       expected(0, 0, token)},
      {"binding flag and PreviousSessionId",
       sessionSetup(1, 0x58, 40, 0x123456789ULL, token).bytes(), STATUS_SUCCESS,
       expected(1, 0x123456789ULL, token)},
      {"empty security buffer", sessionSetup(0, 0, 0, 0, {}).bytes(), STATUS_SUCCESS,
       expected(0, 0, {})},
      {"buffer one byte longer than the message", sessionSetup(0, 0x58, 41, 0, token).bytes(),
       STATUS_INVALID_PARAMETER},
      {"buffer offset inside the header", sessionSetup(0, 0x20, 8, 0, token).bytes(),
       STATUS_INVALID_PARAMETER},
      {"buffer offset past the end", sessionSetup(0, 0xFFFF, 1, 0, token).bytes(),
       STATUS_INVALID_PARAMETER},
      {"StructureSize 24", sessionSetup(0, 0x58, 40, 0, token, 24).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<SessionSetupRequest>(cases, decodeSessionSetupRequest, sameSessionSetup);
}

// ---------------------------------------------------------------------------------------------
// TREE_CONNECT (2.2.9): StructureSize 9, path UTF-16LE at 0x48.

Smb2Msg treeConnect(uint16_t off, uint16_t len, const Bytes& path) {
  Smb2Msg m(SMB2_TREE_CONNECT, 3);
  m.u16(9).u16(0).u16(off).u16(len).put(path);
  return m;
}

TEST(TreeConnectRequestTest, Decodes) {
  const Bytes path = testing::utf16("\\\\server\\share");
  const uint16_t len = static_cast<uint16_t>(path.size());
  Bytes surrogate = {0x5C, 0x00, 0x00, 0xD8, 0x41, 0x00};  // "\", lone high surrogate, "A"
  std::vector<DecodeCase<TreeConnectRequest>> cases = {
      {"\\\\server\\share",
       treeConnect(0x48, len, path).bytes(),
       STATUS_SUCCESS,
       {0, "\\\\server\\share"}},
      {"odd PathLength", treeConnect(0x48, len - 1, path).bytes(), STATUS_INVALID_PARAMETER},
      {"unpaired surrogate", treeConnect(0x48, 6, surrogate).bytes(), STATUS_INVALID_PARAMETER},
      {"PathLength past the end", treeConnect(0x48, len + 2, path).bytes(),
       STATUS_INVALID_PARAMETER},
      {"PathOffset inside the header", treeConnect(0x10, len, path).bytes(),
       STATUS_INVALID_PARAMETER},
  };
  runDecodeCases<TreeConnectRequest>(cases, decodeTreeConnectRequest,
                                     [](const TreeConnectRequest& g, const TreeConnectRequest& w) {
                                       EXPECT_EQ(g.flags, w.flags);
                                       EXPECT_EQ(g.path, w.path);
                                     });
}

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
// Fixed-size requests: CLOSE (2.2.15), FLUSH (2.2.17), READ (2.2.19), CHANGE_NOTIFY (2.2.35),
// OPLOCK_BREAK acknowledgment (2.2.24.1), empty bodies (2.2.28 ECHO, 2.2.7 LOGOFF, ...).

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

TEST(EmptyRequestTest, Decodes) {
  struct Empty {};
  std::vector<DecodeCase<Empty>> cases;
  for (uint16_t cmd : {SMB2_ECHO, SMB2_LOGOFF, SMB2_TREE_DISCONNECT, SMB2_CANCEL}) {
    cases.push_back(
        {"command " + std::to_string(cmd), Smb2Msg(cmd).u16(4).u16(0).bytes(), STATUS_SUCCESS});
    cases.push_back({"command " + std::to_string(cmd) + " StructureSize 2",
                     Smb2Msg(cmd).u16(2).u16(0).bytes(), STATUS_INVALID_PARAMETER});
  }
  runDecodeCases<Empty>(
      cases, [](ByteSpan msg, Empty*) { return decodeEmptyRequest(msg, 4); },
      [](const Empty&, const Empty&) {});
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

// Every decoder refuses a message that is only a header (or less).
TEST(DecoderTest, HeaderOnlyMessagesFail) {
  for (size_t n : {0, 1, 63, 64, 65}) {
    Bytes msg = Smb2Msg(SMB2_ECHO).bytes();
    msg.resize(n, 0);
    SCOPED_TRACE(n);
    NegotiateRequest neg;
    SessionSetupRequest ss;
    TreeConnectRequest tc;
    CreateRequest cr;
    CloseRequest cl;
    FileId fid;
    ReadRequest rd;
    WriteRequest wr;
    LockRequest lk;
    IoctlRequest io;
    QueryDirectoryRequest qd;
    ChangeNotifyRequest cn;
    QueryInfoRequest qi;
    SetInfoRequest si;
    uint8_t level;
    EXPECT_EQ(decodeNegotiateRequest(msg, &neg), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeSessionSetupRequest(msg, &ss), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeTreeConnectRequest(msg, &tc), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeCreateRequest(msg, &cr), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeCloseRequest(msg, &cl), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeFlushRequest(msg, &fid), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeReadRequest(msg, &rd), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeWriteRequest(msg, &wr), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeLockRequest(msg, &lk), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeIoctlRequest(msg, &io), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeQueryDirectoryRequest(msg, &qd), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeChangeNotifyRequest(msg, &cn), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeQueryInfoRequest(msg, &qi), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeSetInfoRequest(msg, &si), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeEmptyRequest(msg, 4), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeOplockBreakAck(msg, &level, &fid), STATUS_INVALID_PARAMETER);
  }
}

}  // namespace
}  // namespace xsmb::smb2
