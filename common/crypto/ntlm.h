// NTLM (MS-NLMP) as both of its ends use it: the server's NTLMSSP (server/auth/ntlmssp.h) and
// the bench's client (tools/xsmb-bench/ntlm_client.h). The wire values (message header,
// NEGOTIATE flags, AV_PAIR ids, VERSION) sit in namespace xsmb with their MS-NLMP names, as the
// NTSTATUS values do; the one-way functions (NTOWFv2, SIGNKEY, SEALKEY) are crypto's.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/crypto/crypto.h"

namespace xsmb {

// MS-NLMP 2.2.1: every message starts with the Signature "NTLMSSP\0" and a 32-bit MessageType.
inline constexpr uint8_t kNtlmSignature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
constexpr uint32_t kNtlmNegotiateMessage = 0x00000001;     // NEGOTIATE_MESSAGE, 2.2.1.1
constexpr uint32_t kNtlmChallengeMessage = 0x00000002;     // CHALLENGE_MESSAGE, 2.2.1.2
constexpr uint32_t kNtlmAuthenticateMessage = 0x00000003;  // AUTHENTICATE_MESSAGE, 2.2.1.3

// MS-NLMP 2.2.2.10 VERSION sent by both ends: 6.1 build 7600 (Windows 7 / Server 2008 R2),
// NTLMSSP_REVISION_W2K3 (15). Only informative; peers log it.
inline constexpr uint8_t kNtlmVersion[8] = {6, 1, 0xB0, 0x1D, 0, 0, 0, 0x0F};

// MS-NLMP 2.2.2.5 NEGOTIATE flags.
constexpr uint32_t NTLMSSP_NEGOTIATE_UNICODE = 0x00000001;
constexpr uint32_t NTLM_NEGOTIATE_OEM = 0x00000002;
constexpr uint32_t NTLMSSP_REQUEST_TARGET = 0x00000004;
constexpr uint32_t NTLMSSP_NEGOTIATE_SIGN = 0x00000010;
constexpr uint32_t NTLMSSP_NEGOTIATE_SEAL = 0x00000020;
constexpr uint32_t NTLMSSP_NEGOTIATE_DATAGRAM = 0x00000040;
constexpr uint32_t NTLMSSP_NEGOTIATE_LM_KEY = 0x00000080;
constexpr uint32_t NTLMSSP_NEGOTIATE_NTLM = 0x00000200;
constexpr uint32_t NTLMSSP_ANONYMOUS = 0x00000800;
constexpr uint32_t NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x00001000;
constexpr uint32_t NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x00002000;
constexpr uint32_t NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000;
constexpr uint32_t NTLMSSP_TARGET_TYPE_DOMAIN = 0x00010000;
constexpr uint32_t NTLMSSP_TARGET_TYPE_SERVER = 0x00020000;
constexpr uint32_t NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
constexpr uint32_t NTLMSSP_NEGOTIATE_IDENTIFY = 0x00100000;
constexpr uint32_t NTLMSSP_REQUEST_NON_NT_SESSION_KEY = 0x00400000;
constexpr uint32_t NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000;
constexpr uint32_t NTLMSSP_NEGOTIATE_VERSION = 0x02000000;
constexpr uint32_t NTLMSSP_NEGOTIATE_128 = 0x20000000;
constexpr uint32_t NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000;
constexpr uint32_t NTLMSSP_NEGOTIATE_56 = 0x80000000;

// MS-NLMP 2.2.2.1 AV_PAIR AvId values.
enum AvId : uint16_t {
  MsvAvEOL = 0,
  MsvAvNbComputerName = 1,
  MsvAvNbDomainName = 2,
  MsvAvDnsComputerName = 3,
  MsvAvDnsDomainName = 4,
  MsvAvDnsTreeName = 5,
  MsvAvFlags = 6,
  MsvAvTimestamp = 7,
  MsvAvSingleHost = 8,
  MsvAvTargetName = 9,
  MsvAvChannelBindings = 10,
};
constexpr uint32_t kMsvAvFlagMicPresent = 0x00000002;  // MS-NLMP 2.2.2.1 MsvAvFlags bit

}  // namespace xsmb

namespace xsmb::crypto {

// NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5(nt_hash, UTF-16LE(upper(user) || domain)). 16 bytes.
// `nt_hash` is NTOWFv1 (ntHash of the password); names are UTF-8.
Key16 ntowfV2(const Key16& nt_hash, std::string_view user_utf8, std::string_view domain_utf8);

// SIGNKEY (MS-NLMP 3.4.5.2) with extended session security: MD5(session_key || the magic
// constant of the direction, NUL included). 16 bytes.
Key16 ntlmSignKey(const Key16& session_key, bool client_to_server);
// SEALKEY (MS-NLMP 3.4.5.3) with extended session security: MD5 of the first 16, 7 or 5 bytes
// of session_key (NTLMSSP_NEGOTIATE_128, else NTLMSSP_NEGOTIATE_56, else 40-bit, as
// `negotiate_flags` says) || the magic constant of the direction. 16 bytes.
Key16 ntlmSealKey(const Key16& session_key, uint32_t negotiate_flags, bool client_to_server);
// SEALKEY with NTLMSSP_NEGOTIATE_128.
Key16 ntlmSealKey(const Key16& session_key, bool client_to_server);

// Now as a FILETIME (100 ns units since 1601-01-01 UTC, MS-DTYP 2.3.3): MsvAvTimestamp and the
// NTLMv2 client blob's timestamp (MS-NLMP 2.2.2.7).
uint64_t ntlmTimestampNow();

}  // namespace xsmb::crypto
