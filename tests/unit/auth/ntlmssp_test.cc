#include "server/auth/ntlmssp.h"

#include <gtest/gtest.h>

#include "common/base/unicode.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::auth {
namespace {

using testing::fromHex;
using testing::toHex;

// MS-NLMP 4.2.1 common values and 4.2.4 NTLMv2 inputs.
const std::array<uint8_t, 8> kServerChallenge = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
const Bytes kClientChallenge = fromHex("aaaaaaaaaaaaaaaa");
const Bytes kRandomSessionKey = fromHex("55555555555555555555555555555555");
constexpr uint32_t kChallengeFlags = 0xe28a8233;  // MS-NLMP 4.2.4: 33 82 8a e2
// MS-NLMP 4.2.4.1.3 temp: the NTLMv2 client blob with Time 0 and AV pairs Domain / Server.
const Bytes kTemp = fromHex(
    "0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000"
    "02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000"
    "00000000");

NtlmServerConfig testConfig() { return {"Server", "Domain", "server.domain.test", "domain.test"}; }

crypto::Key16 key16(const Bytes& b) {
  crypto::Key16 k{};
  std::copy_n(b.begin(), 16, k.begin());
  return k;
}

TEST(NtlmV2Vectors, MsNlmp424) {
  crypto::Key16 nt = crypto::ntHash("Password");
  crypto::Key16 response_key = crypto::ntowfV2(nt, "User", "Domain");
  EXPECT_EQ(toHex(response_key), "0c868a403bfd7a93a3001ef22ef02e3f");  // 4.2.4.1.1

  Bytes lm_in(kServerChallenge.begin(), kServerChallenge.end());
  lm_in.insert(lm_in.end(), kClientChallenge.begin(), kClientChallenge.end());
  EXPECT_EQ(toHex(crypto::hmacMd5(response_key, lm_in)),
            "86c35097ac9cec102554764a57cccc19");  // 4.2.4.2.1 LMv2 response

  Bytes nt_in(kServerChallenge.begin(), kServerChallenge.end());
  nt_in.insert(nt_in.end(), kTemp.begin(), kTemp.end());
  crypto::Key16 nt_proof = crypto::hmacMd5(response_key, nt_in);
  EXPECT_EQ(toHex(nt_proof), "68cd0ab851e51c96aabc927bebef6a1c");  // 4.2.4.2.2

  crypto::Key16 session_base_key = crypto::hmacMd5(response_key, nt_proof);
  EXPECT_EQ(toHex(session_base_key), "8de40ccadbc14a82f15cb0ad0de95ca3");  // 4.2.4.1.2
  EXPECT_EQ(toHex(crypto::rc4(session_base_key, kRandomSessionKey)),
            "c5dad2544fc9799094ce1ce90bc9d03e");  // 4.2.4.2.3
}

TEST(NtlmV2Vectors, UserUpcasedDomainNot) {
  crypto::Key16 nt = crypto::ntHash("Password");
  EXPECT_EQ(crypto::ntowfV2(nt, "user", "Domain"), crypto::ntowfV2(nt, "USER", "Domain"));
  EXPECT_NE(crypto::ntowfV2(nt, "User", "Domain"), crypto::ntowfV2(nt, "User", "DOMAIN"));
}

Bytes negotiateMessage(uint32_t flags) {
  ByteWriter w;
  w.bytes("NTLMSSP", 8);
  w.u32(1);
  w.u32(flags);
  w.zeros(16);  // DomainNameFields, WorkstationFields
  w.bytes(fromHex("0601b01d0000000f"));
  return w.take();
}

struct AuthParts {
  Bytes lm, nt, domain, user, workstation, enc_key;
  uint32_t flags = kChallengeFlags;
  bool with_mic = false;
};

// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) with Version and, when asked, a zero MIC field.
Bytes authenticateMessage(const AuthParts& p) {
  const size_t header = p.with_mic ? 88 : 72;
  ByteWriter w;
  w.bytes("NTLMSSP", 8);
  w.u32(3);
  size_t offset = header;
  for (const Bytes* b : {&p.lm, &p.nt, &p.domain, &p.user, &p.workstation, &p.enc_key}) {
    w.u16(static_cast<uint16_t>(b->size()));
    w.u16(static_cast<uint16_t>(b->size()));
    w.u32(static_cast<uint32_t>(offset));
    offset += b->size();
  }
  w.u32(p.flags);
  w.bytes(fromHex("0601b01d0000000f"));
  if (p.with_mic) w.zeros(16);
  for (const Bytes* b : {&p.lm, &p.nt, &p.domain, &p.user, &p.workstation, &p.enc_key}) {
    w.bytes(*b);
  }
  return w.take();
}

// The client side of MS-NLMP 3.1.5.1.2 for the 4.2.4 inputs, with a chosen blob.
AuthParts vectorAuth(const Bytes& temp, std::string_view password = "Password",
                     std::string_view ntowf_domain = "Domain") {
  crypto::Key16 response_key = crypto::ntowfV2(crypto::ntHash(password), "User", ntowf_domain);
  Bytes in(kServerChallenge.begin(), kServerChallenge.end());
  in.insert(in.end(), temp.begin(), temp.end());
  crypto::Key16 proof = crypto::hmacMd5(response_key, in);
  AuthParts p;
  Bytes lm_in(kServerChallenge.begin(), kServerChallenge.end());
  lm_in.insert(lm_in.end(), kClientChallenge.begin(), kClientChallenge.end());
  crypto::Key16 lm = crypto::hmacMd5(response_key, lm_in);
  p.lm.assign(lm.begin(), lm.end());
  p.lm.insert(p.lm.end(), kClientChallenge.begin(), kClientChallenge.end());
  p.nt.assign(proof.begin(), proof.end());
  p.nt.insert(p.nt.end(), temp.begin(), temp.end());
  p.domain = utf8ToUtf16le("Domain");
  p.user = utf8ToUtf16le("User");
  p.workstation = utf8ToUtf16le("COMPUTER");
  p.enc_key = crypto::rc4(crypto::hmacMd5(response_key, proof), kRandomSessionKey);
  return p;
}

NtHashLookup passwordLookup(std::string_view password) {
  crypto::Key16 h = crypto::ntHash(password);
  return [h](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
    if (!equalsIgnoreCase(user, "User")) return std::nullopt;
    return h;
  };
}

NtlmServer fixedServer() { return NtlmServer(testConfig(), kServerChallenge, 0x01d0000000000000); }

TEST(NtlmServer, ChallengeMessageLayout) {
  NtlmServer server = fixedServer();
  auto challenge = server.negotiate(negotiateMessage(kChallengeFlags));
  ASSERT_TRUE(challenge.ok()) << challenge.status();
  ByteReader r(*challenge);
  EXPECT_EQ(toHex(r.bytes(8)), "4e544c4d53535000");
  EXPECT_EQ(r.u32(), 2u);
  uint16_t name_len = r.u16();
  r.u16();
  uint32_t name_off = r.u32();
  uint32_t flags = r.u32();
  EXPECT_EQ(toHex(r.bytes(8)), "0123456789abcdef");
  r.skip(8);
  uint16_t info_len = r.u16();
  r.u16();
  uint32_t info_off = r.u32();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*utf16leToUtf8(r.slice(name_off, name_len)), "Domain");
  // Everything the 4.2.4 client asked for is granted, Unicode wins over OEM.
  EXPECT_EQ(flags, (kChallengeFlags & ~NTLM_NEGOTIATE_OEM) | NTLMSSP_TARGET_TYPE_SERVER);
  // TargetInfo: NbDomainName, NbComputerName, DnsDomainName, DnsComputerName, Timestamp, EOL.
  ByteReader info(r.slice(info_off, info_len));
  std::vector<uint16_t> ids;
  while (info.remaining()) {
    uint16_t id = info.u16();
    ByteSpan v = info.bytes(info.u16());
    ids.push_back(id);
    if (id == MsvAvNbComputerName) EXPECT_EQ(*utf16leToUtf8(v), "Server");
    if (id == MsvAvDnsDomainName) EXPECT_EQ(*utf16leToUtf8(v), "domain.test");
    if (id == MsvAvTimestamp) EXPECT_EQ(toHex(v), "000000000000d001");
  }
  EXPECT_TRUE(info.ok());
  EXPECT_EQ(ids, (std::vector<uint16_t>{2, 1, 4, 3, 7, 0}));
}

TEST(NtlmServer, FlagNegotiation) {
  struct {
    const char* description;
    uint32_t client;
    uint32_t expected;
  } const kCases[] = {
      {"OEM only: OEM kept, Unicode not forced", NTLM_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET,
       NTLM_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_NTLM |
           NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_TARGET_TYPE_SERVER},
      {"nothing: Unicode chosen", 0,
       NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_TARGET_INFO |
           NTLMSSP_TARGET_TYPE_SERVER},
      {"LM key and datagram are refused",
       NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_LM_KEY | NTLMSSP_NEGOTIATE_DATAGRAM,
       NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_TARGET_INFO |
           NTLMSSP_TARGET_TYPE_SERVER},
  };
  for (const auto& c : kCases) {
    NtlmServer server = fixedServer();
    auto challenge = server.negotiate(negotiateMessage(c.client));
    ASSERT_TRUE(challenge.ok()) << c.description;
    EXPECT_EQ(loadU32(challenge->data() + 20), c.expected) << c.description;
  }
  // OEM target name is plain ASCII.
  NtlmServer server = fixedServer();
  auto challenge = server.negotiate(negotiateMessage(NTLM_NEGOTIATE_OEM));
  ASSERT_TRUE(challenge.ok());
  EXPECT_EQ(loadU16(challenge->data() + 12), 6u);
  EXPECT_EQ(std::string(challenge->begin() + 56, challenge->begin() + 62), "Domain");
}

TEST(NtlmServer, RandomChallengeDiffers) {
  NtlmServer a(testConfig()), b(testConfig());
  auto ca = a.negotiate(negotiateMessage(kChallengeFlags));
  auto cb = b.negotiate(negotiateMessage(kChallengeFlags));
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_NE(Bytes(ca->begin() + 24, ca->begin() + 32), Bytes(cb->begin() + 24, cb->begin() + 32));
}

TEST(NtlmServer, AuthenticatesMsNlmp424Message) {
  NtlmServer server = fixedServer();
  ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
  AuthParts p = vectorAuth(kTemp);
  // The assembled message carries the published values.
  EXPECT_EQ(toHex(ByteSpan(p.nt).first(16)), "68cd0ab851e51c96aabc927bebef6a1c");
  EXPECT_EQ(toHex(p.enc_key), "c5dad2544fc9799094ce1ce90bc9d03e");
  EXPECT_EQ(toHex(p.lm), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
  auto result = server.authenticate(authenticateMessage(p), passwordLookup("Password"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, NtlmOutcome::kAuthenticated);
  EXPECT_EQ(result->user, "User");
  EXPECT_EQ(result->domain, "Domain");
  EXPECT_EQ(result->workstation, "COMPUTER");
  EXPECT_EQ(toHex(result->session_key), toHex(kRandomSessionKey));
  EXPECT_TRUE(result->negotiate_flags & NTLMSSP_NEGOTIATE_KEY_EXCH);
}

TEST(NtlmServer, WithoutKeyExchangeSessionKeyIsSessionBaseKey) {
  NtlmServer server = fixedServer();
  uint32_t flags = kChallengeFlags & ~NTLMSSP_NEGOTIATE_KEY_EXCH;
  ASSERT_TRUE(server.negotiate(negotiateMessage(flags)).ok());
  AuthParts p = vectorAuth(kTemp);
  p.flags = flags;
  p.enc_key.clear();
  auto result = server.authenticate(authenticateMessage(p), passwordLookup("Password"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, NtlmOutcome::kAuthenticated);
  EXPECT_EQ(toHex(result->session_key), "8de40ccadbc14a82f15cb0ad0de95ca3");
}

TEST(NtlmServer, Outcomes) {
  struct Case {
    const char* description;
    std::string client_password;
    std::string ntowf_domain;
    NtHashLookup lookup;
    NtlmOutcome expected;
  };
  const std::vector<Case> kCases = {
      {"right password", "Password", "Domain", passwordLookup("Password"),
       NtlmOutcome::kAuthenticated},
      {"client hashed with empty domain", "Password", "", passwordLookup("Password"),
       NtlmOutcome::kAuthenticated},
      {"wrong password", "password", "Domain", passwordLookup("Password"),
       NtlmOutcome::kWrongPassword},
      {"hashed with another domain", "Password", "OTHER", passwordLookup("Password"),
       NtlmOutcome::kWrongPassword},
      {"unknown user", "Password", "Domain",
       [](std::string_view, std::string_view) { return std::optional<crypto::Key16>(); },
       NtlmOutcome::kNoSuchUser},
  };
  for (const auto& c : kCases) {
    NtlmServer server = fixedServer();
    ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
    AuthParts p = vectorAuth(kTemp, c.client_password, c.ntowf_domain);
    auto result = server.authenticate(authenticateMessage(p), c.lookup);
    ASSERT_TRUE(result.ok()) << c.description << ": " << result.status();
    EXPECT_EQ(result->outcome, c.expected) << c.description;
    if (c.expected != NtlmOutcome::kAuthenticated) {
      EXPECT_EQ(result->session_key, crypto::Key16{}) << c.description;
      EXPECT_TRUE(server.makeMic(fromHex("3000")).empty()) << c.description;
    }
  }
}

TEST(NtlmServer, Anonymous) {
  for (const Bytes& lm : {Bytes{}, Bytes{0}}) {
    NtlmServer server = fixedServer();
    ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
    AuthParts p;
    p.lm = lm;
    p.flags = kChallengeFlags | NTLMSSP_ANONYMOUS;
    auto result = server.authenticate(authenticateMessage(p), passwordLookup("Password"));
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->outcome, NtlmOutcome::kAnonymous);
    EXPECT_EQ(result->session_key, crypto::Key16{});
  }
}

// Temp with MsvAvFlags = MIC present, before EOL.
Bytes tempWithMicFlag() {
  return fromHex(
      "0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000"
      "02000c0044006f006d00610069006e00 01000c00530065007200760065007200"
      "0600040002000000 00000000 00000000");
}

TEST(NtlmServer, MicChecked) {
  for (bool corrupt : {false, true}) {
    NtlmServer server = fixedServer();
    Bytes negotiate = negotiateMessage(kChallengeFlags);
    auto challenge = server.negotiate(negotiate);
    ASSERT_TRUE(challenge.ok());
    AuthParts p = vectorAuth(tempWithMicFlag());
    p.with_mic = true;
    Bytes auth = authenticateMessage(p);
    Bytes all = negotiate;
    all.insert(all.end(), challenge->begin(), challenge->end());
    all.insert(all.end(), auth.begin(), auth.end());
    crypto::Key16 mic = crypto::hmacMd5(kRandomSessionKey, all);
    std::copy(mic.begin(), mic.end(), auth.begin() + 72);
    if (corrupt) auth[72] ^= 1;
    auto result = server.authenticate(auth, passwordLookup("Password"));
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->outcome,
              corrupt ? NtlmOutcome::kWrongPassword : NtlmOutcome::kAuthenticated);
  }
}

TEST(NtlmServer, MicFlaggedButNoRoomIsMalformed) {
  NtlmServer server = fixedServer();
  ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
  AuthParts p = vectorAuth(tempWithMicFlag());
  auto result = server.authenticate(authenticateMessage(p), passwordLookup("Password"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

// An NTLMv2_CLIENT_CHALLENGE whose AV_PAIR list overruns the response (the one smbtorture's
// smb2.session.ntlmssp_bug14932 sends) is reported as such, before any password check.
TEST(NtlmServer, MalformedClientChallengeIsReported) {
  NtlmServer server = fixedServer();
  ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
  AuthParts p = vectorAuth(fromHex("0101000000000000 3f3f3f3f3f3f3f3f b8823af1b3dd0815 00000000"
                                   "11a20881 5038"));
  auto result = server.authenticate(authenticateMessage(p), passwordLookup("Password"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, NtlmOutcome::kMalformedResponse);
  NtlmServer fresh = fixedServer();
  ASSERT_TRUE(fresh.negotiate(negotiateMessage(kChallengeFlags)).ok());
  auto good = fresh.authenticate(authenticateMessage(vectorAuth(kTemp)), passwordLookup("Password"));
  ASSERT_TRUE(good.ok());
  EXPECT_NE(good->outcome, NtlmOutcome::kMalformedResponse);
}

TEST(NtlmServer, MalformedInputs) {
  NtlmServer server = fixedServer();
  EXPECT_FALSE(server.negotiate({}).ok());
  EXPECT_FALSE(server.negotiate(fromHex("4e544c4d5353500002000000")).ok());  // wrong type
  Bytes neg = negotiateMessage(kChallengeFlags);
  for (size_t n = 0; n < 16; ++n) {
    EXPECT_FALSE(server.negotiate(ByteSpan(neg).first(n)).ok()) << n;
  }
  ASSERT_TRUE(server.negotiate(neg).ok());
  Bytes auth = authenticateMessage(vectorAuth(kTemp));
  // Every truncation fails cleanly: an error or a non-authenticated outcome, never a crash.
  for (size_t n = 0; n < auth.size(); ++n) {
    auto r = server.authenticate(ByteSpan(auth).first(n), passwordLookup("Password"));
    EXPECT_TRUE(!r.ok() || r->outcome != NtlmOutcome::kAuthenticated) << n;
  }
  // A field pointing past the end.
  Bytes bad = auth;
  storeU32(bad.data() + 24, 0xFFFFFFF0);
  EXPECT_EQ(server.authenticate(bad, passwordLookup("Password")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A wrong-length EncryptedRandomSessionKey under KEY_EXCH.
  AuthParts p = vectorAuth(kTemp);
  p.enc_key.pop_back();
  EXPECT_FALSE(server.authenticate(authenticateMessage(p), passwordLookup("Password")).ok());
}

TEST(NtlmServer, AuthenticateBeforeNegotiateFails) {
  NtlmServer server = fixedServer();
  EXPECT_FALSE(server.authenticate(authenticateMessage(vectorAuth(kTemp)),
                                   passwordLookup("Password"))
                   .ok());
}

TEST(NtlmKeys, SignAndSealKeysDiffer) {
  crypto::Key16 k = key16(kRandomSessionKey);
  EXPECT_NE(crypto::ntlmSignKey(k, true), crypto::ntlmSignKey(k, false));
  EXPECT_NE(crypto::ntlmSealKey(k, true), crypto::ntlmSealKey(k, false));
  EXPECT_NE(crypto::ntlmSignKey(k, true), crypto::ntlmSealKey(k, true));
  // SEALKEY shortens the key base without NTLMSSP_NEGOTIATE_128 (MS-NLMP 3.4.5.3).
  EXPECT_EQ(crypto::ntlmSealKey(k, NTLMSSP_NEGOTIATE_128, true), crypto::ntlmSealKey(k, true));
  EXPECT_NE(crypto::ntlmSealKey(k, NTLMSSP_NEGOTIATE_56, true), crypto::ntlmSealKey(k, true));
  // SIGNKEY = MD5(key || constant || NUL), MS-NLMP 3.4.5.2.
  Bytes in = kRandomSessionKey;
  std::string c = "session key to client-to-server signing key magic constant";
  in.insert(in.end(), c.begin(), c.end());
  in.push_back(0);
  EXPECT_EQ(crypto::ntlmSignKey(k, true), crypto::md5(in));
}

TEST(NtlmServer, MicRoundTripBetweenDirections) {
  NtlmServer server = fixedServer();
  ASSERT_TRUE(server.negotiate(negotiateMessage(kChallengeFlags)).ok());
  auto result = server.authenticate(authenticateMessage(vectorAuth(kTemp)),
                                    passwordLookup("Password"));
  ASSERT_TRUE(result.ok());
  Bytes data = fromHex("300c060a2b06010401823702020a");
  Bytes mic = server.makeMic(data);
  ASSERT_EQ(mic.size(), 16u);
  EXPECT_EQ(toHex(ByteSpan(mic).first(4)), "01000000");
  EXPECT_EQ(toHex(ByteSpan(mic).last(4)), "00000000");
  // The server's own MIC is made with the server-to-client keys, so it is not a valid
  // client MIC.
  EXPECT_FALSE(server.checkMic(data, mic));
}

}  // namespace
}  // namespace xsmb::auth
