// NTLMSSP initiator (MS-NLMP 3.1.5), NTLMv2 only, wrapped in SPNEGO (RFC 4178) as SMB2
// SESSION_SETUP carries it: the client half of the exchange that server/auth/ntlmssp.h accepts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"
#include "common/crypto/crypto.h"

namespace xsmb::bench {

struct NtlmCredentials {
  std::string user;      // UTF-8; empty for an anonymous logon
  std::string password;  // UTF-8
  std::string domain;    // UTF-8, may be empty
  std::string workstation = "XSMB-BENCH";
};

class NtlmClient {  // one per authentication exchange
 public:
  explicit NtlmClient(NtlmCredentials creds);
  // Test-only: fixed client challenge, exported session key and FILETIME timestamp (used when
  // the server's TargetInfo has no MsvAvTimestamp).
  NtlmClient(NtlmCredentials creds, std::array<uint8_t, 8> client_challenge,
             crypto::Key16 exported_session_key, uint64_t timestamp_filetime);

  // MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE (40 bytes: Unicode, NTLM, extended session security,
  // 128-bit, key exchange, sign, always-sign, version).
  Bytes negotiateMessage();

  // MS-NLMP 3.1.5.1.2: parses the CHALLENGE_MESSAGE (2.2.1.2) and returns the
  // AUTHENTICATE_MESSAGE (2.2.1.3) with an NTLMv2 response over the server's TargetInfo (its
  // MsvAvTimestamp when present), an LMv2 response (zeros when a timestamp was given), and the
  // exported session key RC4-encrypted when KEY_EXCH was agreed. No MIC is sent (so no SPNEGO
  // mechListMIC is needed). Malformed challenge -> InvalidArgument.
  absl::StatusOr<Bytes> authenticateMessage(ByteSpan challenge_message);

  // ExportedSessionKey (MS-NLMP 3.1.5.1.2), i.e. the SMB2 Session.SessionKey. Valid after
  // authenticateMessage().
  const crypto::Key16& sessionKey() const { return session_key_; }
  uint32_t negotiatedFlags() const { return flags_; }

 private:
  NtlmCredentials creds_;
  std::optional<std::array<uint8_t, 8>> fixed_challenge_;
  std::optional<crypto::Key16> fixed_session_key_;
  uint64_t fixed_timestamp_ = 0;
  crypto::Key16 session_key_{};
  uint32_t flags_ = 0;
};

// SPNEGO framing for the client (RFC 4178 4.2): the first token is a GSS-API
// InitialContextToken [APPLICATION 0] with negTokenInit {mechTypes = [NTLMSSP], mechToken};
// later tokens are negTokenResp [1] {responseToken}.
Bytes spnegoInitToken(ByteSpan ntlm_negotiate);
Bytes spnegoResponseToken(ByteSpan ntlm_authenticate);
// The NTLMSSP message inside a server's SPNEGO token (or the token itself when it is raw
// NTLMSSP): found by walking the DER to the [2] responseToken OCTET STRING. nullopt when the
// token carries none (e.g. the final accept-completed).
std::optional<Bytes> ntlmFromSpnego(ByteSpan token);

}  // namespace xsmb::bench
