// SPNEGO (RFC 4178, MS-SPNG) over the GSS-API token framing of RFC 2743 3.1, minimal and strict
// DER: enough to carry NTLMSSP (and to recognise Kerberos offers) in SESSION_SETUP.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"

namespace xsmb::auth {

enum class SpnegoMech {
  kNtlmssp,        // 1.3.6.1.4.1.311.2.2.10
  kKerberos,       // 1.2.840.113554.1.2.2
  kKerberosLegacy /*MS KRB5 1.2.840.48018.1.2.2*/,
  kUnknown,
};

struct SpnegoRequest {
  bool raw_ntlmssp = false;            // token was a bare "NTLMSSP\0" message, not SPNEGO
  std::vector<SpnegoMech> mech_types;  // from negTokenInit, in the client's order
  Bytes mech_types_der;                // the DER of the MechTypeList (input of mechListMIC)
  Bytes mech_token;                    // negTokenInit.mechToken or negTokenResp.responseToken
  Bytes mech_list_mic;                 // negTokenResp.mechListMIC if present
};

// Accepts a GSS-API InitialContextToken [APPLICATION 0] carrying negTokenInit, a bare
// negTokenResp [1], or a raw NTLMSSP message. Malformed -> InvalidArgument.
absl::StatusOr<SpnegoRequest> parseSpnegoRequest(ByteSpan token);

// The SecurityBuffer of the NEGOTIATE response (MS-SMB2 3.3.5.4): GSS-API InitialContextToken
// with negTokenInit listing `mechs` (and the "not_defined_in_RFC4178@please_ignore" negHints).
Bytes spnegoNegotiateToken(const std::vector<SpnegoMech>& mechs);

enum class NegState { kAcceptCompleted = 0, kAcceptIncomplete = 1, kReject = 2, kRequestMic = 3 };

// negTokenResp [1]: negState; supportedMech if given; responseToken and mechListMIC if non-empty.
Bytes spnegoResponse(NegState state, std::optional<SpnegoMech> supported_mech,
                     ByteSpan response_token, ByteSpan mech_list_mic = {});

// DER encoding of a mechanism's OID (tag 0x06, length, value); kUnknown -> empty.
Bytes spnegoMechOidDer(SpnegoMech mech);

}  // namespace xsmb::auth
