// Cryptographic primitives used by signing, key derivation and NTLM, all through OpenSSL 3
// (EVP / EVP_MAC). Keys and digests are fixed-size arrays so their lengths are checked at
// compile time; variable-length outputs are Bytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/base/bytes.h"

namespace xsmb::crypto {

using Key16 = std::array<uint8_t, 16>;

// Loads OpenSSL's default and legacy providers once (thread-safe); called by functions below.
void initProviders();

// NTOWFv1 (MS-NLMP 3.3.1): MD4 of the UTF-16LE password (UTF-8 in). 16 bytes.
Key16 ntHash(std::string_view password_utf8);

// SHA-512(a || b): the preauth integrity hash step, MS-SMB2 3.3.5.4 / 3.2.5.2. 64 bytes.
std::array<uint8_t, 64> sha512Concat(ByteSpan a, ByteSpan b);

// HMAC-MD5 and HMAC-SHA256 (RFC 2104).
Key16 hmacMd5(ByteSpan key, ByteSpan data);
std::array<uint8_t, 32> hmacSha256(ByteSpan key, ByteSpan data);

// MD5 digest (RFC 1321); NTLM's signing/sealing key derivation uses it (MS-NLMP 3.4.5.2).
Key16 md5(ByteSpan data);

// SP800-108 counter-mode KDF with HMAC-SHA256, r = 32, as MS-SMB2 3.1.4.2 uses it:
// K(i) = HMAC-SHA256(key, i (32-bit BE) || label || 0x00 || context || L (32-bit BE));
// `label` and `context` are passed WITHOUT the separator byte. Returns l_bits/8 bytes.
Bytes kdfCounterHmacSha256(ByteSpan key, ByteSpan label, ByteSpan context, uint32_t l_bits = 128);

// RC4 (for the NTLM key exchange, MS-NLMP 3.4.5.1 / 3.1.5.1.2).
Bytes rc4(ByteSpan key, ByteSpan data);

// Stateful RC4 keystream: NTLM sealing keeps one cipher handle per direction for the life of
// the security context (MS-NLMP 3.4.4.2), so successive calls continue the keystream.
class Rc4Stream {
 public:
  Rc4Stream() = default;
  explicit Rc4Stream(ByteSpan key);
  ~Rc4Stream();
  Rc4Stream(Rc4Stream&& other) noexcept;
  Rc4Stream& operator=(Rc4Stream&& other) noexcept;
  Rc4Stream(const Rc4Stream&) = delete;
  Rc4Stream& operator=(const Rc4Stream&) = delete;

  bool valid() const { return ctx_ != nullptr; }
  // XORs `data` with the next data.size() keystream bytes, in place.
  void apply(std::span<uint8_t> data);

 private:
  void* ctx_ = nullptr;  // EVP_CIPHER_CTX*
};

// AES-128-CMAC (RFC 4493) of `data`; key must be 16 bytes (else all-zero result).
Key16 aesCmac(ByteSpan key, ByteSpan data);

// AES-128-GMAC (NIST SP800-38D, GCM with empty plaintext): the 16-byte tag over `aad` with a
// 12-byte `nonce`; key must be 16 bytes and nonce 12 bytes (else all-zero result).
Key16 aesGmac(ByteSpan key, ByteSpan nonce, ByteSpan aad);

// Constant-time comparison.
bool constantTimeEqual(ByteSpan a, ByteSpan b);

// Fills `out` from the OpenSSL CSPRNG.
void randomBytes(std::span<uint8_t> out);

}  // namespace xsmb::crypto
