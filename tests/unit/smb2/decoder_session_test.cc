// Request decoders of the session-level commands (MS-SMB2 2.2.3 NEGOTIATE, 2.2.5 SESSION_SETUP,
// 2.2.9 TREE_CONNECT and the empty bodies of ECHO, LOGOFF, TREE_DISCONNECT and CANCEL) against
// messages laid out by hand in the test, each also cut at every length.
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
using testing::pattern;
using testing::runDecodeCases;
using testing::Smb2Msg;
using testing::toBytes;

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
// Empty bodies: ECHO (2.2.28), LOGOFF (2.2.7), TREE_DISCONNECT (2.2.11), CANCEL (2.2.30).

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

}  // namespace
}  // namespace xsmb::smb2
