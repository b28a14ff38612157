#include "common/crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "common/base/unicode.h"
#include "common/crypto/mac_parts.h"

namespace xsmb::crypto {
namespace {

// Hash with one of OpenSSL's fetched digests over the concatenation of `parts`.
template <size_t N>
std::array<uint8_t, N> digest(const char* name, std::initializer_list<ByteSpan> parts) {
  initProviders();
  std::array<uint8_t, N> out{};
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int len = 0;
  bool ok = md && ctx && EVP_DigestInit_ex2(ctx, md, nullptr) == 1;
  for (ByteSpan p : parts) ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  if (ok && static_cast<size_t>(EVP_MD_get_size(md)) == N) {
    EVP_DigestFinal_ex(ctx, out.data(), &len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  return out;
}

EVP_MAC* fetchMac(const char* name) {
  initProviders();
  return EVP_MAC_fetch(nullptr, name, nullptr);
}

// One-shot MAC through EVP_MAC; `params` selects the digest or cipher. Writes up to out.size().
bool macOneShot(const char* mac_name, OSSL_PARAM* params, ByteSpan key,
                std::initializer_list<ByteSpan> parts, std::span<uint8_t> out) {
  EVP_MAC* mac = fetchMac(mac_name);
  if (!mac) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  // EVP_MAC_init rejects a null key pointer even with length 0.
  static const uint8_t kEmpty[1] = {0};
  const uint8_t* kp = key.empty() ? kEmpty : key.data();
  bool ok = ctx && EVP_MAC_init(ctx, kp, key.size(), params) == 1;
  for (ByteSpan p : parts) ok = ok && EVP_MAC_update(ctx, p.data(), p.size()) == 1;
  size_t full = 0;
  uint8_t buf[EVP_MAX_MD_SIZE];
  ok = ok && EVP_MAC_final(ctx, buf, &full, sizeof(buf)) == 1 && full >= out.size();
  if (ok) std::memcpy(out.data(), buf, out.size());
  OPENSSL_cleanse(buf, sizeof(buf));
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok;
}

bool hmac(const char* digest_name, ByteSpan key, std::initializer_list<ByteSpan> parts,
          std::span<uint8_t> out) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name), 0),
      OSSL_PARAM_construct_end()};
  return macOneShot("HMAC", params, key, parts, out);
}

}  // namespace

void initProviders() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Loading "legacy" explicitly replaces the implicit default provider, so both are loaded.
    // The handles live for the whole process; keeping them in statics also tells leak
    // checkers they are still reachable.
    static OSSL_PROVIDER* default_provider = OSSL_PROVIDER_load(nullptr, "default");
    static OSSL_PROVIDER* legacy_provider = OSSL_PROVIDER_load(nullptr, "legacy");
    (void)default_provider;
    (void)legacy_provider;
  });
}

Key16 ntHash(std::string_view password_utf8) {
  Bytes utf16 = utf8ToUtf16le(password_utf8);
  Key16 h = digest<16>("MD4", {ByteSpan(utf16)});
  OPENSSL_cleanse(utf16.data(), utf16.size());
  return h;
}

std::array<uint8_t, 64> sha512Concat(ByteSpan a, ByteSpan b) {
  return digest<64>("SHA512", {a, b});
}

Key16 md5(ByteSpan data) { return digest<16>("MD5", {data}); }

Key16 hmacMd5(ByteSpan key, ByteSpan data) {
  Key16 out{};
  hmac("MD5", key, {data}, out);
  return out;
}

std::array<uint8_t, 32> hmacSha256(ByteSpan key, ByteSpan data) {
  std::array<uint8_t, 32> out{};
  hmac("SHA256", key, {data}, out);
  return out;
}

Bytes kdfCounterHmacSha256(ByteSpan key, ByteSpan label, ByteSpan context, uint32_t l_bits) {
  size_t want = l_bits / 8;
  Bytes out;
  out.reserve(want + 32);
  uint8_t l_be[4] = {static_cast<uint8_t>(l_bits >> 24), static_cast<uint8_t>(l_bits >> 16),
                     static_cast<uint8_t>(l_bits >> 8), static_cast<uint8_t>(l_bits)};
  static const uint8_t kSeparator[1] = {0};
  for (uint32_t i = 1; out.size() < want; ++i) {
    uint8_t i_be[4] = {static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
                       static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    std::array<uint8_t, 32> k{};
    hmac("SHA256", key, {ByteSpan(i_be), label, ByteSpan(kSeparator), context, ByteSpan(l_be)},
         k);
    out.insert(out.end(), k.begin(), k.end());
  }
  out.resize(want);
  return out;
}

Rc4Stream::Rc4Stream(ByteSpan key) {
  initProviders();
  EVP_CIPHER* rc4 = EVP_CIPHER_fetch(nullptr, "RC4", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  // RC4's default key length is 16; NTLM also uses 8-byte (LM) keys, so set it explicitly.
  size_t keylen = key.size();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_KEYLEN, &keylen),
                         OSSL_PARAM_construct_end()};
  bool ok = rc4 && ctx && !key.empty() &&
            EVP_EncryptInit_ex2(ctx, rc4, nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_set_params(ctx, params) == 1 &&
            EVP_EncryptInit_ex2(ctx, nullptr, key.data(), nullptr, nullptr) == 1;
  EVP_CIPHER_free(rc4);
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    return;
  }
  ctx_ = ctx;
}

Rc4Stream::~Rc4Stream() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_)); }

Rc4Stream::Rc4Stream(Rc4Stream&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }

Rc4Stream& Rc4Stream::operator=(Rc4Stream&& other) noexcept {
  if (this != &other) {
    EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_));
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

void Rc4Stream::apply(std::span<uint8_t> data) {
  if (!ctx_ || data.empty()) return;
  int outl = 0;
  EVP_EncryptUpdate(static_cast<EVP_CIPHER_CTX*>(ctx_), data.data(), &outl, data.data(),
                    static_cast<int>(data.size()));
}

Bytes rc4(ByteSpan key, ByteSpan data) {
  Bytes out(data.begin(), data.end());
  Rc4Stream s(key);
  if (!s.valid()) return {};
  s.apply(out);
  return out;
}

Key16 aesCmac(ByteSpan key, ByteSpan data) { return internal::aesCmacParts(key, {data}); }

Key16 aesGmac(ByteSpan key, ByteSpan nonce, ByteSpan aad) {
  return internal::aesGmacParts(key, nonce, {aad});
}

namespace internal {

std::array<uint8_t, 32> hmacSha256Parts(ByteSpan key, std::initializer_list<ByteSpan> parts) {
  std::array<uint8_t, 32> out{};
  hmac("SHA256", key, parts, out);
  return out;
}

Key16 aesCmacParts(ByteSpan key, std::initializer_list<ByteSpan> data) {
  Key16 out{};
  if (key.size() != 16) return out;
  char cipher[] = "AES-128-CBC";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
                         OSSL_PARAM_construct_end()};
  if (!macOneShot("CMAC", params, key, data, out)) out.fill(0);
  return out;
}

Key16 aesGmacParts(ByteSpan key, ByteSpan nonce, std::initializer_list<ByteSpan> aad) {
  Key16 out{};
  if (key.size() != 16 || nonce.size() != 12) return out;
  char cipher[] = "AES-128-GCM";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, const_cast<uint8_t*>(nonce.data()),
                                        nonce.size()),
      OSSL_PARAM_construct_end()};
  if (!macOneShot("GMAC", params, key, aad, out)) out.fill(0);
  return out;
}

}  // namespace internal

bool constantTimeEqual(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void randomBytes(std::span<uint8_t> out) {
  initProviders();
  if (out.empty()) return;
  // RAND_bytes fails only when the CSPRNG cannot be seeded; a server must not continue with
  // predictable challenges or keys then.
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
}

}  // namespace xsmb::crypto
