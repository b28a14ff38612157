#include "common/crypto/smb3_keys.h"

#include <algorithm>
#include <string_view>

namespace xsmb::crypto {
namespace {

// The NUL terminator is part of every label and context in MS-SMB2 3.3.5.5.3.
ByteSpan withNul(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size() + 1);
}

Key16 toKey16(const Bytes& b) {
  Key16 k{};
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

}  // namespace

Smb3ServerKeys deriveSmb3ServerKeys(uint16_t dialect, ByteSpan session_key, ByteSpan preauth_hash,
                                    bool aes256) {
  Smb3ServerKeys keys;
  uint32_t cipher_bits = aes256 ? 256 : 128;
  if (dialect >= 0x0311) {
    keys.signing_key = toKey16(kdfCounterHmacSha256(session_key, withNul("SMBSigningKey"),
                                                    preauth_hash));
    keys.application_key =
        toKey16(kdfCounterHmacSha256(session_key, withNul("SMBAppKey"), preauth_hash));
    keys.encryption_key = kdfCounterHmacSha256(session_key, withNul("SMBS2CCipherKey"),
                                               preauth_hash, cipher_bits);
    keys.decryption_key = kdfCounterHmacSha256(session_key, withNul("SMBC2SCipherKey"),
                                               preauth_hash, cipher_bits);
  } else {
    keys.signing_key =
        toKey16(kdfCounterHmacSha256(session_key, withNul("SMB2AESCMAC"), withNul("SmbSign")));
    keys.application_key =
        toKey16(kdfCounterHmacSha256(session_key, withNul("SMB2APP"), withNul("SmbRpc")));
    keys.encryption_key =
        kdfCounterHmacSha256(session_key, withNul("SMB2AESCCM"), withNul("ServerOut"));
    // The space before the NUL is in the specification's context string.
    keys.decryption_key =
        kdfCounterHmacSha256(session_key, withNul("SMB2AESCCM"), withNul("ServerIn "));
  }
  return keys;
}

}  // namespace xsmb::crypto
