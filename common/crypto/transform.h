// SMB 3.x message encryption (MS-SMB2 3.1.4.3): the SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41) and
// the AES-CCM / AES-GCM AEAD that protects one message or a whole compound chain. Keys are
// Session.EncryptionKey (server-to-client) and Session.DecryptionKey (client-to-server) from
// deriveSmb3ServerKeys (common/crypto/smb3_keys.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"
#include "common/smb2/smb2_wire.h"

namespace xsmb::crypto {

// MS-SMB2 2.2.3.1.2 cipher ids (SMB2_ENCRYPTION_CAPABILITIES); 3.0/3.0.2 always use kAes128Ccm.
enum class Cipher : uint16_t { kAes128Ccm = 1, kAes128Gcm = 2, kAes256Ccm = 3, kAes256Gcm = 4 };

// MS-SMB2 2.2.41 (values from common/smb2/smb2_wire.h; ProtocolId: smb2::kTransformProtocolId).
constexpr size_t kTransformHeaderSize = XSMB_TRANSFORM_HEADER_SIZE;
// Flags (3.1.1: Encrypted) / EncryptionAlgorithm (3.0, 3.0.2: SMB2_ENCRYPTION_AES128_CCM).
constexpr uint16_t kTransformFlagEncrypted = XSMB_TRANSFORM_FLAG_ENCRYPTED;
constexpr size_t kTransformTagSize = 16;     // the Signature field: the AEAD tag
constexpr size_t kTransformNonceField = 16;  // the Nonce field; CCM/GCM use its first 11/12 bytes
constexpr size_t kTransformAadSize = 32;     // header bytes [20, 52): Nonce .. SessionId

// True for the four ids above (for checking a cipher id read from the wire before casting).
bool isKnownCipher(uint16_t id);

// Key length in bytes for a cipher (16 or 32); 0 for an unknown value.
size_t cipherKeySize(Cipher c);

// AEAD nonce length in bytes used from the Nonce field: 11 for CCM, 12 for GCM (MS-SMB2 2.2.41);
// 0 for an unknown value.
size_t cipherNonceSize(Cipher c);

// MS-SMB2 3.1.4.3: encrypts `plaintext` (one SMB2 message or a whole compound chain, without
// NetBIOS header) into a TRANSFORM message: the 52-byte SMB2 TRANSFORM_HEADER (ProtocolId
// 0xFD 'S' 'M' 'B', Signature = AEAD tag, Nonce: 11 random bytes for CCM / 12 for GCM, zero padded
// to 16, OriginalMessageSize, Flags/EncryptionAlgorithm = 0x0001, SessionId) followed by the
// ciphertext. The AAD is the header from the Nonce field on (32 bytes).
// Returns 52 + plaintext.size() bytes; empty when key.size() != cipherKeySize(c), the cipher is
// unknown, or plaintext is empty or larger than INT32_MAX bytes.
Bytes encryptMessage(Cipher c, ByteSpan key, uint64_t session_id, ByteSpan plaintext);

// encryptMessage with a caller-chosen nonce (cipherNonceSize(c) bytes, else empty result): for
// callers that keep a per-key counter instead of random nonces, and for reproducing captured
// messages in tests. A nonce must never be reused with the same key.
Bytes encryptMessageWithNonce(Cipher c, ByteSpan key, uint64_t session_id, ByteSpan nonce,
                              ByteSpan plaintext);

// Fields of an SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41), integers in host order.
struct TransformHeader {
  std::array<uint8_t, 16> signature;
  std::array<uint8_t, 16> nonce;
  uint32_t original_size;
  uint16_t flags;
  uint64_t session_id;
};

// Parses the 52-byte header of a TRANSFORM message (untrusted bytes): false when shorter, wrong
// ProtocolId, Flags != 1, or OriginalMessageSize != message.size() - 52, and when that size is 0
// (MS-SMB2 3.3.5.2.1.1: a message not longer than the header is rejected). `out` is written only
// on success.
// Encrypts in place: `message` holds kTransformHeaderSize bytes of room followed by the
// plaintext; the header (random nonce) is written into the room and the plaintext is replaced
// by its ciphertext. False (message unusable) on a bad key or size.
bool encryptInPlace(Cipher c, ByteSpan key, uint64_t session_id, std::span<uint8_t> message);

bool parseTransformHeader(ByteSpan message, TransformHeader* out);

// Decrypts and authenticates a TRANSFORM message (header + ciphertext, no NetBIOS header) with
// the session's decryption key (MS-SMB2 3.3.5.2.1.1). Returns the OriginalMessageSize bytes of
// plaintext. InvalidArgument for malformed input (see parseTransformHeader), an unknown cipher or
// a key of the wrong length; PermissionDenied when the tag does not verify.
absl::StatusOr<Bytes> decryptMessage(Cipher c, ByteSpan key, ByteSpan message);

}  // namespace xsmb::crypto
