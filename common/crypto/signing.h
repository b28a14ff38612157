// SMB2 message signing (MS-SMB2 3.1.4.1): one function per direction of use, the algorithm
// chosen by the caller from the negotiated dialect and signing capabilities.
#pragma once

#include <span>

#include "common/base/bytes.h"
#include "common/crypto/crypto.h"

namespace xsmb::crypto {

enum class SigningAlgorithm { kHmacSha256, kAesCmac, kAesGmac };  // MS-SMB2 3.1.4.1

// Signature of ONE SMB2 message (64-byte header + body, as on the wire, no NetBIOS header),
// computed as if the 16-byte Signature field (offset 48) were zero, whatever it holds.
// HMAC-SHA256 (first 16 bytes) for 2.0.2/2.1, AES-128-CMAC for 3.x, AES-128-GMAC where 3.1.1
// negotiated it: the GMAC nonce is built from the message's own MessageId (offset 24) and its
// Flags (SMB2_FLAGS_SERVER_TO_REDIR) and Command (SMB2_CANCEL) as MS-SMB2 3.1.4.1 says.
// Returns all-zero on a message shorter than 64 bytes.
Key16 computeSignature(SigningAlgorithm alg, ByteSpan key, ByteSpan message);

// True when message[48..64) equals computeSignature(...) (constant time).
bool verifySignature(SigningAlgorithm alg, ByteSpan key, ByteSpan message);

// Writes computeSignature into message[48..64) (message must be >= 64 bytes).
void signInPlace(SigningAlgorithm alg, ByteSpan key, std::span<uint8_t> message);

}  // namespace xsmb::crypto
