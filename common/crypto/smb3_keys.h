// SMB 3.x session key derivation (MS-SMB2 3.3.5.5.3, server side): the signing, encryption,
// decryption and application keys derived from Session.SessionKey with the SP800-108 KDF.
#pragma once

#include <cstdint>

#include "common/base/bytes.h"
#include "common/crypto/crypto.h"

namespace xsmb::crypto {

struct Smb3ServerKeys {
  Key16 signing_key{};    // Session.SigningKey (also Channel.SigningKey of the first channel)
  Bytes encryption_key;   // Session.EncryptionKey: server-to-client, 16 or 32 bytes
  Bytes decryption_key;   // Session.DecryptionKey: client-to-server, 16 or 32 bytes
  Key16 application_key{};
};

// `dialect` is the negotiated Connection.Dialect (0x0300, 0x0302 or 0x0311); `session_key` is
// Session.SessionKey (16 bytes for NTLM); `preauth_hash` is Session.PreauthIntegrityHashValue
// (64 bytes, used for 3.1.1 only); `aes256` selects 32-byte cipher keys (AES-256-CCM/GCM).
// Labels and contexts are MS-SMB2 3.3.5.5.3's, each including its terminating NUL.
Smb3ServerKeys deriveSmb3ServerKeys(uint16_t dialect, ByteSpan session_key, ByteSpan preauth_hash,
                                    bool aes256 = false);

}  // namespace xsmb::crypto
