#include "common/crypto/transform.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "common/crypto/crypto.h"
#include "common/smb2/constants.h"

namespace xsmb::crypto {
namespace {

// Header layout, MS-SMB2 2.2.41.
constexpr size_t kSignatureOffset = XSMB_TRANSFORM_OFF_SIGNATURE;
constexpr size_t kNonceOffset = XSMB_TRANSFORM_OFF_NONCE;
constexpr size_t kOriginalSizeOffset = XSMB_TRANSFORM_OFF_ORIGINAL_SIZE;
constexpr size_t kFlagsOffset = XSMB_TRANSFORM_OFF_FLAGS;
constexpr size_t kSessionIdOffset = XSMB_TRANSFORM_OFF_SESSION_ID;

bool isCcm(Cipher c) { return c == Cipher::kAes128Ccm || c == Cipher::kAes256Ccm; }

// Fetched once: an implicit fetch (EVP_aes_128_gcm()) on every message costs a provider lookup.
const EVP_CIPHER* evpCipher(Cipher c) {
  struct Table {
    EVP_CIPHER* ccm128;
    EVP_CIPHER* gcm128;
    EVP_CIPHER* ccm256;
    EVP_CIPHER* gcm256;
  };
  static const Table table = [] {
    initProviders();
    return Table{EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr),
                 EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr),
                 EVP_CIPHER_fetch(nullptr, "AES-256-CCM", nullptr),
                 EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)};
  }();
  switch (c) {
    case Cipher::kAes128Ccm:
      return table.ccm128;
    case Cipher::kAes128Gcm:
      return table.gcm128;
    case Cipher::kAes256Ccm:
      return table.ccm256;
    case Cipher::kAes256Gcm:
      return table.gcm256;
  }
  return nullptr;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

void putLe(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// One AEAD pass over a non-empty `in`; `out` has the same length. On encryption `tag` receives
// the tag, on decryption it supplies the expected one. Returns false on any failure, including a
// tag that does not verify.
bool aead(bool encrypt, Cipher c, ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan in,
          uint8_t* out, uint8_t* tag) {
  const EVP_CIPHER* cipher = evpCipher(c);
  if (cipher == nullptr || in.empty() || in.size() > static_cast<size_t>(INT_MAX)) return false;
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return false;
  const int enc = encrypt ? 1 : 0;
  const int len = static_cast<int>(in.size());
  int outl = 0;
  if (EVP_CipherInit_ex2(ctx.get(), cipher, nullptr, nullptr, enc, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()),
                          nullptr) != 1) {
    return false;
  }
  // CCM fixes the tag length (and, on decryption, the expected tag) before the key.
  if (isCcm(c) && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTransformTagSize,
                                      encrypt ? nullptr : tag) != 1) {
    return false;
  }
  if (EVP_CipherInit_ex2(ctx.get(), nullptr, key.data(), nonce.data(), enc, nullptr) != 1) {
    return false;
  }
  // CCM encodes the payload length in its first block, so it must be known before the AAD.
  if (isCcm(c) && EVP_CipherUpdate(ctx.get(), nullptr, &outl, nullptr, len) != 1) return false;
  if (EVP_CipherUpdate(ctx.get(), nullptr, &outl, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  // For CCM decryption this call also verifies the tag.
  if (EVP_CipherUpdate(ctx.get(), out, &outl, in.data(), len) != 1) return false;
  if (encrypt) {
    int final_len = 0;
    if (EVP_CipherFinal_ex(ctx.get(), out + outl, &final_len) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTransformTagSize, tag) == 1;
  }
  if (isCcm(c)) return true;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTransformTagSize, tag) != 1) {
    return false;
  }
  int final_len = 0;
  return EVP_CipherFinal_ex(ctx.get(), out + outl, &final_len) == 1;
}

}  // namespace

bool isKnownCipher(uint16_t id) { return id >= 1 && id <= 4; }

size_t cipherKeySize(Cipher c) {
  switch (c) {
    case Cipher::kAes128Ccm:
    case Cipher::kAes128Gcm:
      return 16;
    case Cipher::kAes256Ccm:
    case Cipher::kAes256Gcm:
      return 32;
  }
  return 0;
}

size_t cipherNonceSize(Cipher c) {
  switch (c) {
    case Cipher::kAes128Ccm:
    case Cipher::kAes256Ccm:
      return 11;
    case Cipher::kAes128Gcm:
    case Cipher::kAes256Gcm:
      return 12;
  }
  return 0;
}

Bytes encryptMessage(Cipher c, ByteSpan key, uint64_t session_id, ByteSpan plaintext) {
  // MS-SMB2 3.1.4.3 leaves the nonce to the implementation as long as it is unique within the
  // session. Random 88/96-bit nonces stay within NIST SP800-38D's 2^32 messages per key bound
  // for any realistic session; callers wanting a counter use encryptMessageWithNonce.
  uint8_t nonce[12];
  size_t nonce_size = cipherNonceSize(c);
  if (nonce_size == 0) return {};
  randomBytes(std::span<uint8_t>(nonce, nonce_size));
  return encryptMessageWithNonce(c, key, session_id, ByteSpan(nonce, nonce_size), plaintext);
}

Bytes encryptMessageWithNonce(Cipher c, ByteSpan key, uint64_t session_id, ByteSpan nonce,
                              ByteSpan plaintext) {
  size_t key_size = cipherKeySize(c);
  if (key_size == 0 || key.size() != key_size || nonce.size() != cipherNonceSize(c) ||
      plaintext.empty() || plaintext.size() > static_cast<size_t>(INT_MAX)) {
    return {};
  }
  Bytes out(kTransformHeaderSize + plaintext.size(), 0);
  uint8_t* h = out.data();
  putLe(h, smb2::kTransformProtocolId, 4);
  std::memcpy(h + kNonceOffset, nonce.data(), nonce.size());  // rest of the field stays zero
  putLe(h + kOriginalSizeOffset, plaintext.size(), 4);
  putLe(h + kFlagsOffset, kTransformFlagEncrypted, 2);
  putLe(h + kSessionIdOffset, session_id, 8);
  if (!aead(true, c, key, nonce, ByteSpan(h + kNonceOffset, kTransformAadSize), plaintext,
            h + kTransformHeaderSize, h + kSignatureOffset)) {
    OPENSSL_cleanse(out.data(), out.size());
    return {};
  }
  return out;
}

bool encryptInPlace(Cipher c, ByteSpan key, uint64_t session_id, std::span<uint8_t> message) {
  size_t key_size = cipherKeySize(c);
  size_t nonce_size = cipherNonceSize(c);
  if (key_size == 0 || key.size() != key_size || message.size() <= kTransformHeaderSize ||
      message.size() - kTransformHeaderSize > static_cast<size_t>(INT_MAX)) {
    return false;
  }
  uint8_t* h = message.data();
  size_t plain = message.size() - kTransformHeaderSize;
  std::memset(h, 0, kTransformHeaderSize);
  putLe(h, smb2::kTransformProtocolId, 4);
  randomBytes(std::span<uint8_t>(h + kNonceOffset, nonce_size));
  putLe(h + kOriginalSizeOffset, plain, 4);
  putLe(h + kFlagsOffset, kTransformFlagEncrypted, 2);
  putLe(h + kSessionIdOffset, session_id, 8);
  return aead(true, c, key, ByteSpan(h + kNonceOffset, nonce_size),
              ByteSpan(h + kNonceOffset, kTransformAadSize),
              ByteSpan(h + kTransformHeaderSize, plain), h + kTransformHeaderSize,
              h + kSignatureOffset);
}

bool parseTransformHeader(ByteSpan message, TransformHeader* out) {
  ByteReader r(message);
  uint32_t protocol_id = r.u32();
  ByteSpan signature = r.bytes(16);
  ByteSpan nonce = r.bytes(16);
  uint32_t original_size = r.u32();
  r.skip(2);  // Reserved
  uint16_t flags = r.u16();
  uint64_t session_id = r.u64();
  // MS-SMB2 3.3.5.2.1.1: a message not longer than the header is dropped (so is size 0).
  if (!r.ok() || protocol_id != smb2::kTransformProtocolId || flags != kTransformFlagEncrypted ||
      original_size == 0 || original_size != r.remaining()) {
    return false;
  }
  std::memcpy(out->signature.data(), signature.data(), 16);
  std::memcpy(out->nonce.data(), nonce.data(), 16);
  out->original_size = original_size;
  out->flags = flags;
  out->session_id = session_id;
  return true;
}

absl::StatusOr<Bytes> decryptMessage(Cipher c, ByteSpan key, ByteSpan message) {
  size_t key_size = cipherKeySize(c);
  if (key_size == 0) return absl::InvalidArgumentError("unknown cipher");
  if (key.size() != key_size) return absl::InvalidArgumentError("wrong key length for cipher");
  TransformHeader header;
  if (!parseTransformHeader(message, &header)) {
    return absl::InvalidArgumentError("malformed TRANSFORM_HEADER");
  }
  if (message.size() - kTransformHeaderSize > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("encrypted message too large");
  }
  Bytes plaintext(header.original_size);
  if (!aead(false, c, key, ByteSpan(header.nonce.data(), cipherNonceSize(c)),
            message.subspan(kNonceOffset, kTransformAadSize), message.subspan(kTransformHeaderSize),
            plaintext.data(), header.signature.data())) {
    // Nothing unauthenticated leaves this function, not even in freed memory.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::PermissionDeniedError("TRANSFORM message does not authenticate");
  }
  return plaintext;
}

}  // namespace xsmb::crypto
