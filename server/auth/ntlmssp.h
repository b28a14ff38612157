// NTLMSSP server side (MS-NLMP), NTLMv2 only: builds the CHALLENGE_MESSAGE, verifies the
// AUTHENTICATE_MESSAGE, derives the exported session key and the signing/sealing keys that
// the SPNEGO mechListMIC needs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"
#include "common/crypto/crypto.h"
#include "common/crypto/ntlm.h"

namespace xsmb::auth {

// The MS-NLMP wire values (NTLMSSP_* flags, MsvAv* ids, message types) and the one-way functions
// (crypto::ntowfV2, ntlmSignKey, ntlmSealKey) are in common/crypto/ntlm.h, which the bench's
// client shares.

struct NtlmServerConfig {
  std::string netbios_name;    // e.g. "XSMBD" (MsvAvNbComputerName)
  std::string netbios_domain;  // workgroup, e.g. "WORKGROUP" (MsvAvNbDomainName, TargetName)
  std::string dns_name;        // MsvAvDnsComputerName
  std::string dns_domain;      // MsvAvDnsDomainName
};

// kMalformedResponse: the NTLMv2_CLIENT_CHALLENGE after NTProofStr (MS-NLMP 2.2.2.7) does not
// parse (its type bytes, or an AV_PAIR list that overruns or lacks MsvAvEOL); Windows answers
// STATUS_INVALID_PARAMETER rather than STATUS_LOGON_FAILURE (smbtorture's
// smb2.session.ntlmssp_bug14932, a NetApp diagnostic tool's response).
enum class NtlmOutcome { kAuthenticated, kAnonymous, kNoSuchUser, kWrongPassword, kMalformedResponse };

struct NtlmResult {
  NtlmOutcome outcome;
  std::string user, domain, workstation;  // UTF-8, as the client sent them
  crypto::Key16 session_key{};            // ExportedSessionKey (after KEY_EXCH); zero if none
  uint32_t negotiate_flags = 0;
};

// Returns the NT hash for (user, domain), or nullopt if the user is unknown. Names compared
// case-insensitively by the callee.
using NtHashLookup =
    std::function<std::optional<crypto::Key16>(std::string_view user, std::string_view domain)>;

class NtlmServer {  // one per authentication exchange
 public:
  explicit NtlmServer(NtlmServerConfig cfg);
  // Test-only: a fixed 8-byte ServerChallenge and FILETIME timestamp instead of random / now.
  NtlmServer(NtlmServerConfig cfg, std::array<uint8_t, 8> server_challenge,
             uint64_t timestamp_filetime);

  // Test-only: adopts a recorded NEGOTIATE/CHALLENGE pair (e.g. from a capture) as if this
  // server had produced it, so a recorded AUTHENTICATE_MESSAGE and its MIC can be verified.
  absl::Status restoreExchangeForTest(ByteSpan negotiate_message, ByteSpan challenge_message);

  // MS-NLMP 3.2.5.1.1: parses a NEGOTIATE_MESSAGE and returns the CHALLENGE_MESSAGE bytes
  // (random 8-byte server challenge, TargetInfo AV pairs incl. MsvAvTimestamp, version).
  absl::StatusOr<Bytes> negotiate(ByteSpan negotiate_message);

  // MS-NLMP 3.2.5.1.2: parses an AUTHENTICATE_MESSAGE; anonymous = empty user name and empty
  // (or 1 zero byte LM) responses. Verifies NTLMv2 (NTOWFv2 / NTProofStr, any domain name the
  // client used, and also with an empty domain), derives the session key, applies
  // NTLMSSP_NEGOTIATE_KEY_EXCH, checks the MIC when MsvAvFlags says one is present.
  // Malformed input -> InvalidArgument status (never a crash); called before negotiate() ->
  // FailedPrecondition. A wrong NTProofStr or MIC -> kWrongPassword; NTLMv1 responses and
  // empty responses with a user name are never accepted (kWrongPassword / kNoSuchUser).
  absl::StatusOr<NtlmResult> authenticate(ByteSpan authenticate_message,
                                          const NtHashLookup& lookup);

  // SPNEGO mechListMIC (RFC 4178 / MS-SPNG 3.3.5.1): the NTLMSSP MAC (MS-NLMP 3.4.4.2, with
  // extended session security and KEY_EXCH) with sequence number 0 over `data`, using the
  // server-to-client signing/sealing keys; and verification of the client's MIC (client-to-
  // server keys, sequence 0). Valid after a successful authenticate(). 16 bytes.
  Bytes makeMic(ByteSpan data);
  bool checkMic(ByteSpan data, ByteSpan mic);

 private:
  NtlmServerConfig cfg_;
  std::array<uint8_t, 8> server_challenge_{};
  std::optional<uint64_t> fixed_timestamp_;
  Bytes negotiate_message_;
  Bytes challenge_message_;
  uint32_t negotiate_flags_ = 0;  // the flags the CHALLENGE_MESSAGE carried
  bool have_keys_ = false;
  uint32_t final_flags_ = 0;
  crypto::Key16 client_sign_key_{}, server_sign_key_{};
  crypto::Key16 client_seal_key_{}, server_seal_key_{};
  crypto::Rc4Stream client_seal_, server_seal_;
};

}  // namespace xsmb::auth
