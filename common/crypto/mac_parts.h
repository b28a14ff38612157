// Multi-part MACs for callers that must not copy a message to zero one field of it (SMB2
// signing hashes header, a zeroed Signature and the body as three pieces). Internal to
// server/crypto.
#pragma once

#include <array>
#include <initializer_list>

#include "common/crypto/crypto.h"

namespace xsmb::crypto::internal {

// Same results as hmacSha256 / aesCmac / aesGmac over the concatenation of `parts`.
std::array<uint8_t, 32> hmacSha256Parts(ByteSpan key, std::initializer_list<ByteSpan> parts);
Key16 aesCmacParts(ByteSpan key, std::initializer_list<ByteSpan> parts);
Key16 aesGmacParts(ByteSpan key, ByteSpan nonce, std::initializer_list<ByteSpan> aad);

}  // namespace xsmb::crypto::internal
