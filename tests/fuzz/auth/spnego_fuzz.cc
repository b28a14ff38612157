// Parses arbitrary bytes as a SESSION_SETUP security buffer; whatever parses is re-encoded
// as a response and parsed again, which must succeed and give back the same token and MIC.
#include <cstddef>
#include <cstdint>

#include "server/auth/spnego.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  auto req = auth::parseSpnegoRequest(ByteSpan(data, size));
  if (!req.ok() || req->raw_ntlmssp) return 0;
  Bytes again = auth::spnegoResponse(auth::NegState::kAcceptIncomplete, auth::SpnegoMech::kNtlmssp,
                                     req->mech_token, req->mech_list_mic);
  auto back = auth::parseSpnegoRequest(again);
  if (!back.ok() || back->mech_token != req->mech_token ||
      back->mech_list_mic != req->mech_list_mic) {
    __builtin_trap();
  }
  std::vector<auth::SpnegoMech> known;
  for (auth::SpnegoMech m : req->mech_types) {
    if (m != auth::SpnegoMech::kUnknown) known.push_back(m);
  }
  if (!known.empty()) {
    auto init = auth::parseSpnegoRequest(auth::spnegoNegotiateToken(known));
    if (!init.ok() || init->mech_types != known) __builtin_trap();
  }
  return 0;
}
