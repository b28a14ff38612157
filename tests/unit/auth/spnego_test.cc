#include "server/auth/spnego.h"

#include <gtest/gtest.h>

#include "tests/unit/auth/testdata.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::auth {
namespace {

using testing::fromHex;
using testing::loadTestdata;
using testing::toHex;

const char* const kNtlmMechTypesDer = "300c060a2b06010401823702020a";

TEST(SpnegoNegotiateToken, MatchesSambaByteForByte) {
  Bytes expected = loadTestdata("spnego_negotiate_resp.bin");
  ASSERT_EQ(expected.size(), 74u);
  EXPECT_EQ(toHex(spnegoNegotiateToken({SpnegoMech::kNtlmssp})), toHex(expected));
}

TEST(SpnegoNegotiateToken, ParsesBackWithMechsInOrder) {
  std::vector<SpnegoMech> mechs = {SpnegoMech::kKerberosLegacy, SpnegoMech::kKerberos,
                                   SpnegoMech::kNtlmssp};
  auto req = parseSpnegoRequest(spnegoNegotiateToken(mechs));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_FALSE(req->raw_ntlmssp);
  EXPECT_EQ(req->mech_types, mechs);
  EXPECT_TRUE(req->mech_token.empty());
  EXPECT_TRUE(req->mech_list_mic.empty());  // negHints is not a MIC
}

TEST(SpnegoResponse, MatchesSambaByteForByte) {
  Bytes challenge_blob = loadTestdata("spnego_resp_ntlm_challenge.bin");
  auto parsed = parseSpnegoRequest(challenge_blob);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(toHex(ByteSpan(parsed->mech_token).first(8)), "4e544c4d53535000");
  EXPECT_EQ(toHex(spnegoResponse(NegState::kAcceptIncomplete, SpnegoMech::kNtlmssp,
                                 parsed->mech_token)),
            toHex(challenge_blob));

  Bytes accept_blob = loadTestdata("spnego_resp_accept_completed.bin");
  auto accept = parseSpnegoRequest(accept_blob);
  ASSERT_TRUE(accept.ok()) << accept.status();
  ASSERT_EQ(accept->mech_list_mic.size(), 16u);
  EXPECT_EQ(toHex(spnegoResponse(NegState::kAcceptCompleted, std::nullopt, {},
                                 accept->mech_list_mic)),
            toHex(accept_blob));
}

TEST(ParseSpnego, ClientTokensFromCapture) {
  auto init = parseSpnegoRequest(loadTestdata("spnego_init_ntlm_negotiate.bin"));
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_EQ(init->mech_types, std::vector<SpnegoMech>{SpnegoMech::kNtlmssp});
  EXPECT_EQ(toHex(init->mech_types_der), kNtlmMechTypesDer);
  ASSERT_EQ(init->mech_token.size(), 40u);
  EXPECT_EQ(toHex(ByteSpan(init->mech_token).first(12)), "4e544c4d5353500001000000");

  auto auth = parseSpnegoRequest(loadTestdata("spnego_resp_ntlm_authenticate.bin"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->mech_types.empty());
  EXPECT_EQ(toHex(ByteSpan(auth->mech_token).first(12)), "4e544c4d5353500003000000");
  ASSERT_EQ(auth->mech_list_mic.size(), 16u);
  EXPECT_EQ(toHex(ByteSpan(auth->mech_list_mic).first(4)), "01000000");
}

TEST(ParseSpnego, RawNtlmssp) {
  Bytes raw = fromHex("4e544c4d5353500001000000978208e2");
  auto req = parseSpnegoRequest(raw);
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->raw_ntlmssp);
  EXPECT_EQ(req->mech_token, raw);
}

TEST(ParseSpnego, RoundTripResponse) {
  Bytes token(300, 0x5A);  // long enough for two-octet lengths
  Bytes mic = fromHex("0100000011223344556677880000000000");
  auto req = parseSpnegoRequest(spnegoResponse(NegState::kAcceptIncomplete, SpnegoMech::kKerberos,
                                               token, mic));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->mech_token, token);
  EXPECT_EQ(req->mech_list_mic, mic);
  auto reject = parseSpnegoRequest(spnegoResponse(NegState::kReject, std::nullopt, {}));
  ASSERT_TRUE(reject.ok());
  EXPECT_TRUE(reject->mech_token.empty());
  EXPECT_EQ(toHex(spnegoResponse(NegState::kReject, std::nullopt, {})), "a1073005a0030a0102");
}

TEST(ParseSpnego, EveryTruncationFails) {
  for (const char* name : {"spnego_negotiate_resp.bin", "spnego_init_ntlm_negotiate.bin",
                           "spnego_resp_ntlm_challenge.bin", "spnego_resp_ntlm_authenticate.bin",
                           "spnego_resp_accept_completed.bin", "smb202_spnego_authenticate.bin"}) {
    Bytes token = loadTestdata(name);
    ASSERT_FALSE(token.empty()) << name;
    ASSERT_TRUE(parseSpnegoRequest(token).ok()) << name;
    for (size_t n = 0; n < token.size(); ++n) {
      auto r = parseSpnegoRequest(ByteSpan(token).first(n));
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name << " at " << n;
    }
    Bytes longer = token;
    longer.push_back(0);
    EXPECT_FALSE(parseSpnegoRequest(longer).ok()) << name;
  }
}

TEST(ParseSpnego, StrictDer) {
  const struct {
    const char* description;
    const char* hex;
  } kBad[] = {
      {"empty", ""},
      {"indefinite length", "a180300580a0030a010000000000"},
      {"non-minimal long length", "a18107300580a0030a0101"},
      {"long form for a short length", "a1813005a0030a0101"},
      {"negState out of range", "a1073005a0030a0107"},
      {"fields out of order", "a10e300ca2040402aabba0030a0101"},
      {"wrong inner tag", "a1073005a0030a0201"},
      {"not SPNEGO OID", "600d06062b0601050503a003300100"},
      {"negTokenInit without mechTypes", "600c06062b0601050502a0023000"},
      {"empty mech list", "601006062b0601050502a0063004a0023000"},
      {"unknown top-level tag", "a2023000"},
      {"five-octet length", "a18500000000053005a0030a0101"},
  };
  for (const auto& c : kBad) {
    auto r = parseSpnegoRequest(fromHex(c.hex));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.description;
  }
}

TEST(ParseSpnego, UnknownMechIsReportedNotRejected) {
  // negTokenInit listing 1.2.3.4 then NTLMSSP, assembled level by level.
  Bytes mech_list = fromHex("06032a0304060a2b06010401823702020a");
  Bytes seq = {0x30, static_cast<uint8_t>(mech_list.size())};
  seq.insert(seq.end(), mech_list.begin(), mech_list.end());
  Bytes a0 = {0xa0, static_cast<uint8_t>(seq.size())};
  a0.insert(a0.end(), seq.begin(), seq.end());
  Bytes init_seq = {0x30, static_cast<uint8_t>(a0.size())};
  init_seq.insert(init_seq.end(), a0.begin(), a0.end());
  Bytes neg = {0xa0, static_cast<uint8_t>(init_seq.size())};
  neg.insert(neg.end(), init_seq.begin(), init_seq.end());
  Bytes body = fromHex("06062b0601050502");
  body.insert(body.end(), neg.begin(), neg.end());
  Bytes token = {0x60, static_cast<uint8_t>(body.size())};
  token.insert(token.end(), body.begin(), body.end());
  auto r = parseSpnegoRequest(token);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->mech_types, (std::vector<SpnegoMech>{SpnegoMech::kUnknown, SpnegoMech::kNtlmssp}));
  EXPECT_EQ(r->mech_types_der, seq);
}

}  // namespace
}  // namespace xsmb::auth
