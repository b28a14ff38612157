// End-to-end checks against a real exchange between Samba 4.17's smbclient and smbd (user
// bench, password benchpass): NTLMv2 verification with the recorded challenge, the MIC, the
// SPNEGO mechListMIC in both directions, the SMB 3.1.1 preauth hash, key derivation and
// AES-GMAC signatures; and HMAC-SHA256 signatures on dialect 2.0.2.
#include <gtest/gtest.h>

#include "server/auth/ntlmssp.h"
#include "server/auth/spnego.h"
#include "common/crypto/signing.h"
#include "common/crypto/smb3_keys.h"
#include "common/base/unicode.h"
#include "tests/unit/auth/testdata.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::auth {
namespace {

using testing::loadTestdata;
using testing::toHex;

NtHashLookup benchLookup(std::string_view password = "benchpass") {
  crypto::Key16 h = crypto::ntHash(password);
  return [h](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
    if (!equalsIgnoreCase(user, "bench")) return std::nullopt;
    return h;
  };
}

struct Exchange {
  SpnegoRequest init, challenge, authenticate, accept;
};

Exchange loadExchange(const std::string& prefix) {
  auto parse = [](const std::string& name) {
    auto r = parseSpnegoRequest(loadTestdata(name));
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : SpnegoRequest{};
  };
  if (prefix == "smb311") {
    return {parse("spnego_init_ntlm_negotiate.bin"), parse("spnego_resp_ntlm_challenge.bin"),
            parse("spnego_resp_ntlm_authenticate.bin"), parse("spnego_resp_accept_completed.bin")};
  }
  return {parse("smb202_spnego_init.bin"), parse("smb202_spnego_challenge.bin"),
          parse("smb202_spnego_authenticate.bin"), parse("smb202_spnego_accept.bin")};
}

absl::StatusOr<NtlmResult> replay(NtlmServer& server, const Exchange& x,
                                  const NtHashLookup& lookup) {
  auto s = server.restoreExchangeForTest(x.init.mech_token, x.challenge.mech_token);
  if (!s.ok()) return s;
  return server.authenticate(x.authenticate.mech_token, lookup);
}

TEST(Capture, Smb311NtlmAndMechListMic) {
  Exchange x = loadExchange("smb311");
  NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
  auto result = replay(server, x, benchLookup());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, NtlmOutcome::kAuthenticated);  // includes the MIC check
  EXPECT_EQ(result->user, "bench");
  EXPECT_EQ(result->domain, "WORKGROUP");
  EXPECT_EQ(result->workstation, "VM");
  EXPECT_TRUE(result->negotiate_flags & NTLMSSP_NEGOTIATE_KEY_EXCH);

  EXPECT_TRUE(server.checkMic(x.init.mech_types_der, x.authenticate.mech_list_mic));
  EXPECT_EQ(toHex(server.makeMic(x.init.mech_types_der)), toHex(x.accept.mech_list_mic));
}

TEST(Capture, Smb311WrongPasswordAndTamperedMic) {
  Exchange x = loadExchange("smb311");
  {
    NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
    auto r = replay(server, x, benchLookup("benchpasS"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->outcome, NtlmOutcome::kWrongPassword);
  }
  {
    // Changing a byte covered only by the MIC (the Version field) must be detected.
    Exchange tampered = x;
    tampered.authenticate.mech_token[64] ^= 0x01;
    NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
    auto r = replay(server, tampered, benchLookup());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->outcome, NtlmOutcome::kWrongPassword);
  }
  {
    NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
    ASSERT_TRUE(replay(server, x, benchLookup()).ok());
    Bytes mic = x.authenticate.mech_list_mic;
    mic[5] ^= 0x40;
    EXPECT_FALSE(server.checkMic(x.init.mech_types_der, mic));
  }
}

TEST(Capture, Smb311PreauthKeysAndGmacSignatures) {
  Exchange x = loadExchange("smb311");
  NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
  auto result = replay(server, x, benchLookup());
  ASSERT_TRUE(result.ok() && result->outcome == NtlmOutcome::kAuthenticated);

  // MS-SMB2 3.3.5.4 / 3.3.5.5: connection hash over NEGOTIATE request and response, then the
  // session hash over every SESSION_SETUP exchange except the final response.
  std::array<uint8_t, 64> hash{};
  for (const char* name : {"smb311_negotiate_req.bin", "smb311_negotiate_resp.bin",
                           "smb311_session_setup_req1.bin", "smb311_session_setup_resp1.bin",
                           "smb311_session_setup_req2.bin"}) {
    Bytes msg = loadTestdata(name);
    ASSERT_FALSE(msg.empty()) << name;
    hash = crypto::sha512Concat(hash, msg);
  }
  crypto::Smb3ServerKeys keys = crypto::deriveSmb3ServerKeys(0x0311, result->session_key, hash);

  for (const char* name : {"smb311_session_setup_resp2.bin", "smb311_tree_connect_req.bin",
                           "smb311_tree_connect_resp.bin"}) {
    Bytes msg = loadTestdata(name);
    EXPECT_TRUE(crypto::verifySignature(crypto::SigningAlgorithm::kAesGmac, keys.signing_key, msg))
        << name;
    // Re-signing produces the bytes Samba sent.
    Bytes resigned = msg;
    crypto::signInPlace(crypto::SigningAlgorithm::kAesGmac, keys.signing_key, resigned);
    EXPECT_EQ(resigned, msg) << name;
    EXPECT_FALSE(crypto::verifySignature(crypto::SigningAlgorithm::kAesCmac, keys.signing_key, msg))
        << name;
  }
}

TEST(Capture, Smb202HmacSha256Signatures) {
  Exchange x = loadExchange("smb202");
  NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
  auto result = replay(server, x, benchLookup());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outcome, NtlmOutcome::kAuthenticated);
  EXPECT_TRUE(server.checkMic(x.init.mech_types_der, x.authenticate.mech_list_mic));
  EXPECT_EQ(toHex(server.makeMic(x.init.mech_types_der)), toHex(x.accept.mech_list_mic));
  // Dialect 2.0.2 signs with Session.SessionKey directly (MS-SMB2 3.3.5.5.3).
  for (const char* name : {"smb202_session_setup_resp2.bin", "smb202_tree_connect_req.bin"}) {
    Bytes msg = loadTestdata(name);
    EXPECT_TRUE(crypto::verifySignature(crypto::SigningAlgorithm::kHmacSha256,
                                        result->session_key, msg))
        << name;
  }
}

TEST(Capture, GuestAttemptWithEmptyResponses) {
  // smbclient's guest logon on 3.0: user "root", empty LM and NT responses. Not anonymous
  // (the user name is set); the caller decides whether an unknown user maps to guest.
  auto init = parseSpnegoRequest(loadTestdata("guest_spnego_init.bin"));
  auto challenge = parseSpnegoRequest(loadTestdata("guest_spnego_challenge.bin"));
  auto authenticate = parseSpnegoRequest(loadTestdata("guest_spnego_authenticate.bin"));
  ASSERT_TRUE(init.ok() && challenge.ok() && authenticate.ok());
  NtlmServer server({"SAMBABARS", "SAMBABARS", "vm", ""});
  ASSERT_TRUE(server.restoreExchangeForTest(init->mech_token, challenge->mech_token).ok());
  auto result = server.authenticate(authenticate->mech_token, benchLookup());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, NtlmOutcome::kNoSuchUser);
  EXPECT_EQ(result->user, "root");
  EXPECT_EQ(result->session_key, crypto::Key16{});
}

}  // namespace
}  // namespace xsmb::auth
