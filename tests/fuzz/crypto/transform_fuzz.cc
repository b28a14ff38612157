// Feeds arbitrary bytes to parseTransformHeader and decryptMessage. The first input byte picks
// the cipher, the rest is the TRANSFORM message; the key is fixed (kFuzzKey), so seeds encrypted
// with it reach the successful decryption path and mutations of them the tag checks.
#include <cstddef>
#include <cstdint>

#include "common/crypto/transform.h"

namespace {

// Bytes 0x00, 0x01, ... 0x1f; AES-128 ciphers use the first 16.
constexpr uint8_t kFuzzKey[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  using namespace xsmb::crypto;
  if (size < 1) return 0;
  auto cipher = static_cast<Cipher>(data[0] % 4 + 1);
  ByteSpan message(data + 1, size - 1);
  ByteSpan key(kFuzzKey, cipherKeySize(cipher));

  TransformHeader header{};
  bool parsed = parseTransformHeader(message, &header);
  if (parsed && header.original_size != message.size() - kTransformHeaderSize) __builtin_trap();

  auto plain = decryptMessage(cipher, key, message);
  // Malformed headers are InvalidArgument, everything the parser accepts reaches the AEAD.
  if (!parsed && (plain.ok() || plain.status().code() != absl::StatusCode::kInvalidArgument)) {
    __builtin_trap();
  }
  if (parsed && !plain.ok() && plain.status().code() != absl::StatusCode::kPermissionDenied) {
    __builtin_trap();
  }
  if (plain.ok()) {
    if (plain->size() != header.original_size) __builtin_trap();
    // Re-encrypting with the same nonce reproduces the input exactly.
    Bytes again = encryptMessageWithNonce(cipher, key, header.session_id,
                                          ByteSpan(header.nonce).first(cipherNonceSize(cipher)),
                                          *plain);
    if (again.size() != message.size()) __builtin_trap();
    // The nonce padding and Reserved are authenticated but written as zero by the encryptor, so
    // the tag matches only when they are zero in the input; the ciphertext always does.
    bool zero_fill = message[40] == 0 && message[41] == 0;
    for (size_t i = 20 + cipherNonceSize(cipher); i < 36; ++i) zero_fill = zero_fill && !message[i];
    for (size_t i = zero_fill ? 0 : kTransformHeaderSize; i < again.size(); ++i) {
      if (again[i] != message[i]) __builtin_trap();
    }
  }
  return 0;
}
