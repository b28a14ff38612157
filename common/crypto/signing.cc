#include "common/crypto/signing.h"

#include <algorithm>

#include "common/crypto/mac_parts.h"
#include "common/smb2/constants.h"
#include "common/smb2/header.h"

namespace xsmb::crypto {
namespace {

using smb2::kHeaderCommandOffset;
using smb2::kHeaderFlagsOffset;
using smb2::kHeaderMessageIdOffset;
using smb2::kHeaderSignatureOffset;
using smb2::kHeaderSignatureSize;

// MS-SMB2 3.1.4.1: MessageId (8 bytes LE), then a 32-bit LE word whose bit 0 says the sender
// is the server and bit 1 says the message is a CANCEL request.
std::array<uint8_t, 12> gmacNonce(ByteSpan message) {
  std::array<uint8_t, 12> nonce{};
  std::copy_n(message.begin() + kHeaderMessageIdOffset, 8, nonce.begin());
  uint32_t flags = loadU32(message.data() + kHeaderFlagsOffset);
  uint16_t command = loadU16(message.data() + kHeaderCommandOffset);
  uint32_t word = 0;
  if (flags & smb2::SMB2_FLAGS_SERVER_TO_REDIR) word |= 1;
  if (command == smb2::SMB2_CANCEL) word |= 2;
  storeU32(nonce.data() + 8, word);
  return nonce;
}

}  // namespace

Key16 computeSignature(SigningAlgorithm alg, ByteSpan key, ByteSpan message) {
  Key16 sig{};
  if (message.size() < smb2::kHeaderSize) return sig;
  static const uint8_t kZeroSignature[kHeaderSignatureSize] = {};
  ByteSpan head = message.first(kHeaderSignatureOffset);
  ByteSpan zero(kZeroSignature, kHeaderSignatureSize);
  ByteSpan rest = message.subspan(kHeaderSignatureOffset + kHeaderSignatureSize);
  switch (alg) {
    case SigningAlgorithm::kHmacSha256: {
      std::array<uint8_t, 32> full = internal::hmacSha256Parts(key, {head, zero, rest});
      std::copy_n(full.begin(), sig.size(), sig.begin());
      return sig;
    }
    case SigningAlgorithm::kAesCmac:
      return internal::aesCmacParts(key, {head, zero, rest});
    case SigningAlgorithm::kAesGmac: {
      std::array<uint8_t, 12> nonce = gmacNonce(message);
      return internal::aesGmacParts(key, nonce, {head, zero, rest});
    }
  }
  return sig;
}

bool verifySignature(SigningAlgorithm alg, ByteSpan key, ByteSpan message) {
  if (message.size() < smb2::kHeaderSize) return false;
  Key16 expected = computeSignature(alg, key, message);
  return constantTimeEqual(expected, message.subspan(kHeaderSignatureOffset, kHeaderSignatureSize));
}

void signInPlace(SigningAlgorithm alg, ByteSpan key, std::span<uint8_t> message) {
  if (message.size() < smb2::kHeaderSize) return;
  Key16 sig = computeSignature(alg, key, message);
  std::copy(sig.begin(), sig.end(), message.begin() + kHeaderSignatureOffset);
}

}  // namespace xsmb::crypto
