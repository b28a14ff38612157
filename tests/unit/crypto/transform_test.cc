#include "common/crypto/transform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "common/base/unicode.h"
#include "common/crypto/crypto.h"
#include "common/crypto/smb3_keys.h"
#include "common/smb2/constants.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::crypto {
namespace {

using testing::fromHex;
using testing::toHex;

constexpr Cipher kAllCiphers[] = {Cipher::kAes128Ccm, Cipher::kAes128Gcm, Cipher::kAes256Ccm,
                                  Cipher::kAes256Gcm};

Bytes loadTestdata(const std::string& name) {
  std::ifstream f(std::string(XSMB_CRYPTO_TESTDATA) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Bytes testKey(Cipher c, uint8_t seed) {
  Bytes k(cipherKeySize(c));
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + i * 13);
  return k;
}

Bytes testPlaintext(size_t n) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 31 + 5);
  return p;
}

uint32_t le32(ByteSpan b, size_t off) {
  return b[off] | b[off + 1] << 8 | b[off + 2] << 16 | static_cast<uint32_t>(b[off + 3]) << 24;
}

TEST(Transform, CipherSizes) {
  struct Case {
    Cipher cipher;
    size_t key, nonce;
  } cases[] = {{Cipher::kAes128Ccm, 16, 11},
               {Cipher::kAes128Gcm, 16, 12},
               {Cipher::kAes256Ccm, 32, 11},
               {Cipher::kAes256Gcm, 32, 12}};
  for (const Case& c : cases) {
    EXPECT_EQ(cipherKeySize(c.cipher), c.key);
    EXPECT_EQ(cipherNonceSize(c.cipher), c.nonce);
    EXPECT_TRUE(isKnownCipher(static_cast<uint16_t>(c.cipher)));
  }
  EXPECT_EQ(cipherKeySize(static_cast<Cipher>(5)), 0u);
  EXPECT_EQ(cipherNonceSize(static_cast<Cipher>(0)), 0u);
  EXPECT_FALSE(isKnownCipher(0));
  EXPECT_FALSE(isKnownCipher(5));
}

TEST(Transform, RoundTripAllCiphers) {
  for (Cipher c : kAllCiphers) {
    for (size_t n : {size_t{1}, size_t{15}, size_t{16}, size_t{64}, size_t{1000}, size_t{65537}}) {
      SCOPED_TRACE("cipher " + std::to_string(static_cast<int>(c)) + " size " + std::to_string(n));
      Bytes key = testKey(c, 1);
      Bytes plain = testPlaintext(n);
      Bytes msg = encryptMessage(c, key, 0x1122334455667788ull, plain);
      ASSERT_EQ(msg.size(), kTransformHeaderSize + n);

      // The wire layout of MS-SMB2 2.2.41, read from the bytes rather than through the parser.
      EXPECT_EQ(toHex(ByteSpan(msg).first(4)), "fd534d42");
      EXPECT_EQ(le32(msg, 36), n);
      EXPECT_EQ(msg[40], 0);  // Reserved
      EXPECT_EQ(msg[41], 0);
      EXPECT_EQ(msg[42], 1);  // Flags/EncryptionAlgorithm
      EXPECT_EQ(msg[43], 0);
      EXPECT_EQ(toHex(ByteSpan(msg).subspan(44, 8)), "8877665544332211");
      // Only the first 11 (CCM) or 12 (GCM) nonce bytes are used; the rest is zero padding.
      for (size_t i = 20 + cipherNonceSize(c); i < 36; ++i) EXPECT_EQ(msg[i], 0) << i;
      // With a random nonce a 1-byte ciphertext equals its plaintext once in 256 runs; from 16
      // bytes on a match would mean no encryption happened.
      if (n >= 16) EXPECT_NE(Bytes(msg.begin() + 52, msg.end()), plain);

      TransformHeader h{};
      ASSERT_TRUE(parseTransformHeader(msg, &h));
      EXPECT_EQ(h.original_size, n);
      EXPECT_EQ(h.flags, 1);
      EXPECT_EQ(h.session_id, 0x1122334455667788ull);
      EXPECT_EQ(toHex(h.signature), toHex(ByteSpan(msg).subspan(4, 16)));
      EXPECT_EQ(toHex(h.nonce), toHex(ByteSpan(msg).subspan(20, 16)));

      auto back = decryptMessage(c, key, msg);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, plain);

      // A fresh nonce per message: the same plaintext never encrypts to the same bytes.
      Bytes again = encryptMessage(c, key, 0x1122334455667788ull, plain);
      EXPECT_NE(toHex(ByteSpan(again).subspan(20, 16)), toHex(ByteSpan(msg).subspan(20, 16)));
      EXPECT_NE(again, msg);
    }
  }
}

TEST(Transform, DeterministicWithNonce) {
  // Same key, nonce and plaintext give the same bytes; CCM and GCM differ from each other.
  Bytes key = testKey(Cipher::kAes128Gcm, 9);
  Bytes plain = testPlaintext(100);
  Bytes n12 = fromHex("0102030405060708090a0b0c");
  Bytes a = encryptMessageWithNonce(Cipher::kAes128Gcm, key, 7, n12, plain);
  Bytes b = encryptMessageWithNonce(Cipher::kAes128Gcm, key, 7, n12, plain);
  ASSERT_EQ(a.size(), 152u);
  EXPECT_EQ(a, b);
  Bytes ccm = encryptMessageWithNonce(Cipher::kAes128Ccm, key, 7, ByteSpan(n12).first(11), plain);
  ASSERT_EQ(ccm.size(), 152u);
  EXPECT_NE(Bytes(ccm.begin() + 52, ccm.end()), Bytes(a.begin() + 52, a.end()));
  // Wrong nonce lengths are refused.
  EXPECT_TRUE(encryptMessageWithNonce(Cipher::kAes128Gcm, key, 7, ByteSpan(n12).first(11), plain)
                  .empty());
  EXPECT_TRUE(encryptMessageWithNonce(Cipher::kAes128Ccm, key, 7, n12, plain).empty());
}

// Known answers computed independently (Python `cryptography`'s AESCCM(tag_length=16) and
// AESGCM over the same nonce, AAD = header bytes 20..52, and plaintext): key bytes 0x40, 0x41,
// ...; nonce a1 a2 ... truncated to 11/12 bytes; SessionId 0x0000400000000065; 33 bytes of
// testPlaintext (a partial last block).
TEST(Transform, KnownAnswers) {
  struct Case {
    Cipher cipher;
    const char* message;
  } cases[] = {
      {Cipher::kAes128Ccm,
       "fd534d425351b8c020c6cd00224978107301bce8a1a2a3a4a5a6a7a8a9aaab0000000000210000000000010065"
       "00000000400000db52292a9e25817a2a3f9112930a9f56a546eb6d47c12d134894b5c2bb6ab51958"},
      {Cipher::kAes128Gcm,
       "fd534d42b8d4ae4f43590f4ed80e1cf1cc1bedb7a1a2a3a4a5a6a7a8a9aaabac00000000210000000000010065"
       "0000000040000019d06d8007cb996d2c8cdf6e89d4aa745e937b3e08a5ec6ff931fd50474fdd0d10"},
      {Cipher::kAes256Ccm,
       "fd534d42820b4e058a0f6be472707964abdcec22a1a2a3a4a5a6a7a8a9aaab0000000000210000000000010065"
       "0000000040000095cba4dc3b795be794a7f366e587408790533220320b38a9b7b2653dca584e5751"},
      {Cipher::kAes256Gcm,
       "fd534d424cfd698149a877adce5823d4f2058f8ca1a2a3a4a5a6a7a8a9aaabac00000000210000000000010065"
       "0000000040000048cc8bd53a290c54aea0ba876f12db560cffcdb5df2eefcdd5216094ad8b0a024f"},
  };
  Bytes key32(32);
  for (size_t i = 0; i < 32; ++i) key32[i] = static_cast<uint8_t>(0x40 + i);
  Bytes nonce = fromHex("a1a2a3a4a5a6a7a8a9aaabac");
  Bytes plain = testPlaintext(33);
  for (const Case& c : cases) {
    SCOPED_TRACE("cipher " + std::to_string(static_cast<int>(c.cipher)));
    ByteSpan key = ByteSpan(key32).first(cipherKeySize(c.cipher));
    Bytes msg = encryptMessageWithNonce(c.cipher, key, 0x0000400000000065ull,
                                        ByteSpan(nonce).first(cipherNonceSize(c.cipher)), plain);
    EXPECT_EQ(toHex(msg), c.message);
    auto back = decryptMessage(c.cipher, key, fromHex(c.message));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
  }
}

TEST(Transform, BadParametersAreRefused) {
  Bytes plain = testPlaintext(80);
  for (Cipher c : kAllCiphers) {
    Bytes short_key(cipherKeySize(c) - 1, 0x11);
    Bytes long_key(cipherKeySize(c) + 16, 0x11);
    EXPECT_TRUE(encryptMessage(c, short_key, 1, plain).empty());
    EXPECT_TRUE(encryptMessage(c, long_key, 1, plain).empty());
    EXPECT_TRUE(encryptMessage(c, testKey(c, 1), 1, {}).empty());

    Bytes msg = encryptMessage(c, testKey(c, 1), 1, plain);
    EXPECT_EQ(decryptMessage(c, short_key, msg).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(decryptMessage(c, long_key, msg).status().code(),
              absl::StatusCode::kInvalidArgument);
    // Right length, wrong key.
    EXPECT_EQ(decryptMessage(c, testKey(c, 2), msg).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  Bytes key16 = testKey(Cipher::kAes128Gcm, 1);
  EXPECT_TRUE(encryptMessage(static_cast<Cipher>(0), key16, 1, plain).empty());
  Bytes msg = encryptMessage(Cipher::kAes128Gcm, key16, 1, plain);
  EXPECT_EQ(decryptMessage(static_cast<Cipher>(5), key16, msg).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Same key length, other mode: the tag cannot verify.
  EXPECT_EQ(decryptMessage(Cipher::kAes128Ccm, key16, msg).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(Transform, ParseRejectsMalformedHeaders) {
  Bytes key = testKey(Cipher::kAes128Gcm, 3);
  const Bytes good = encryptMessage(Cipher::kAes128Gcm, key, 42, testPlaintext(70));
  ASSERT_EQ(good.size(), 122u);
  struct Case {
    const char* what;
    size_t offset;
    uint8_t value;
  } cases[] = {
      {"SMB2 ProtocolId 0xFE", 0, 0xfe},
      {"ProtocolId 'S' changed", 1, 's'},
      {"Flags 0", 42, 0x00},
      {"Flags 2", 42, 0x02},
      {"Flags high byte", 43, 0x01},
      {"OriginalMessageSize one less", 36, 69},
      {"OriginalMessageSize one more", 36, 71},
      {"OriginalMessageSize huge", 39, 0x80},
  };
  for (const Case& c : cases) {
    Bytes m = good;
    m[c.offset] = c.value;
    TransformHeader h{};
    h.session_id = 0xabcdef;
    EXPECT_FALSE(parseTransformHeader(m, &h)) << c.what;
    EXPECT_EQ(h.session_id, 0xabcdefu) << c.what << ": out written on failure";
    EXPECT_EQ(decryptMessage(Cipher::kAes128Gcm, key, m).status().code(),
              absl::StatusCode::kInvalidArgument)
        << c.what;
  }
  // A bare header claiming an empty message (MS-SMB2 3.3.5.2.1.1).
  Bytes bare(good.begin(), good.begin() + 52);
  bare[36] = bare[37] = bare[38] = bare[39] = 0;
  TransformHeader h{};
  EXPECT_FALSE(parseTransformHeader(bare, &h));
  // Reserved is not checked: it is authenticated anyway.
  Bytes reserved = good;
  reserved[40] = 0x55;
  EXPECT_TRUE(parseTransformHeader(reserved, &h));
  EXPECT_EQ(decryptMessage(Cipher::kAes128Gcm, key, reserved).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(Transform, EveryBitFlipFailsAuthentication) {
  for (Cipher c : kAllCiphers) {
    SCOPED_TRACE("cipher " + std::to_string(static_cast<int>(c)));
    Bytes key = testKey(c, 5);
    const Bytes good = encryptMessage(c, key, 0x0000000dc8eb5e6ull, testPlaintext(90));
    ASSERT_TRUE(decryptMessage(c, key, good).ok());
    // Bytes 4..52 are the tag and the 32-byte AAD, the rest the ciphertext; ProtocolId is
    // covered by the parser test above.
    for (size_t byte = 4; byte < good.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes m = good;
        m[byte] ^= static_cast<uint8_t>(1u << bit);
        auto r = decryptMessage(c, key, m);
        ASSERT_FALSE(r.ok()) << "byte " << byte << " bit " << bit;
        // OriginalMessageSize and Flags are also checked by the parser; everything else must
        // reach the AEAD and fail there.
        bool parsed_field = (byte >= 36 && byte < 40) || (byte >= 42 && byte < 44);
        EXPECT_EQ(r.status().code(), parsed_field ? absl::StatusCode::kInvalidArgument
                                                  : absl::StatusCode::kPermissionDenied)
            << "byte " << byte << " bit " << bit;
      }
    }
  }
}

TEST(Transform, TruncationAndExtensionFailCleanly) {
  for (Cipher c : kAllCiphers) {
    Bytes key = testKey(c, 6);
    const Bytes good = encryptMessage(c, key, 3, testPlaintext(75));
    for (size_t len = 0; len < good.size(); ++len) {
      ByteSpan cut = ByteSpan(good).first(len);
      TransformHeader h{};
      EXPECT_FALSE(parseTransformHeader(cut, &h)) << len;
      EXPECT_EQ(decryptMessage(c, key, cut).status().code(), absl::StatusCode::kInvalidArgument)
          << len;
    }
    Bytes longer = good;
    longer.push_back(0);
    EXPECT_EQ(decryptMessage(c, key, longer).status().code(), absl::StatusCode::kInvalidArgument);
    // A consistent header over a shortened ciphertext parses but does not authenticate.
    Bytes shorter(good.begin(), good.end() - 1);
    shorter[36] = static_cast<uint8_t>(good[36] - 1);
    EXPECT_EQ(decryptMessage(c, key, shorter).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
}

// --- A real SMB 3.1.1 encrypted session: Samba 4.17 smbclient --client-protection=encrypt
// against smbd, user bench / benchpass. NEGOTIATE selected AES-128-GCM
// (SMB2_ENCRYPTION_CAPABILITIES); the messages below are frames 4-15 of
// /work/shared/captures/smbclient-SMB3_11-encrypted.pcapng without their NetBIOS headers.

// Locates the NTLMSSP message of `type` in a SESSION_SETUP security buffer (inside SPNEGO).
ByteSpan findNtlmssp(ByteSpan smb2_message, uint8_t type) {
  const uint8_t sig[12] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, type, 0, 0, 0};
  for (size_t i = 0; i + sizeof(sig) <= smb2_message.size(); ++i) {
    if (std::equal(sig, sig + sizeof(sig), smb2_message.begin() + i)) {
      return smb2_message.subspan(i);
    }
  }
  return {};
}

// An NTLMSSP field descriptor (Len, MaxLen, BufferOffset; MS-NLMP 2.2.1.3) at `at`.
ByteSpan ntlmField(ByteSpan msg, size_t at) {
  ByteReader r(msg);
  r.seek(at);
  uint16_t len = r.u16();
  r.u16();
  uint32_t off = r.u32();
  ByteSpan s = r.slice(off, len);
  return r.ok() ? s : ByteSpan{};
}

// The NTLMv2 ExportedSessionKey (MS-NLMP 3.3.2, 3.4.5.1) from the recorded CHALLENGE and
// AUTHENTICATE messages and the known password, computed with this layer's primitives only.
Bytes exportedSessionKey(ByteSpan challenge, ByteSpan authenticate, std::string_view password) {
  ByteSpan server_challenge = challenge.subspan(24, 8);
  ByteSpan nt_response = ntlmField(authenticate, 20);
  ByteSpan domain = ntlmField(authenticate, 28);
  ByteSpan user = ntlmField(authenticate, 36);
  ByteSpan encrypted_key = ntlmField(authenticate, 52);
  EXPECT_GT(nt_response.size(), 16u);
  EXPECT_EQ(encrypted_key.size(), 16u);
  if (nt_response.size() <= 16 || encrypted_key.size() != 16) return {};

  std::string user_utf8 = utf16leToUtf8(user).value_or("");
  EXPECT_EQ(user_utf8, "bench");
  Bytes identity = utf8ToUtf16le(upcaseUtf8(user_utf8));
  identity.insert(identity.end(), domain.begin(), domain.end());
  Key16 nt_hash = ntHash(password);
  Key16 ntowf_v2 = hmacMd5(nt_hash, identity);

  // NTProofStr must match what the client sent: proves the password (and our parsing).
  Bytes proof_input(server_challenge.begin(), server_challenge.end());
  proof_input.insert(proof_input.end(), nt_response.begin() + 16, nt_response.end());
  Key16 nt_proof = hmacMd5(ntowf_v2, proof_input);
  EXPECT_EQ(toHex(nt_proof), toHex(nt_response.first(16)));

  Key16 session_base_key = hmacMd5(ntowf_v2, nt_proof);  // = KeyExchangeKey for NTLMv2
  return rc4(session_base_key, encrypted_key);           // NTLMSSP_NEGOTIATE_KEY_EXCH is set
}

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes setup_req2 = loadTestdata("smb311enc_session_setup_req2.bin");
    Bytes setup_resp1 = loadTestdata("smb311enc_session_setup_resp1.bin");
    ByteSpan challenge = findNtlmssp(setup_resp1, 2);
    ByteSpan authenticate = findNtlmssp(setup_req2, 3);
    ASSERT_FALSE(challenge.empty());
    ASSERT_FALSE(authenticate.empty());
    Bytes session_key = exportedSessionKey(challenge, authenticate, "benchpass");
    ASSERT_EQ(session_key.size(), 16u);

    // Preauth integrity hash (MS-SMB2 3.3.5.4, 3.3.5.5): NEGOTIATE request and response, then
    // every SESSION_SETUP message but the final response.
    std::array<uint8_t, 64> hash{};
    for (const char* name :
         {"smb311enc_negotiate_req.bin", "smb311enc_negotiate_resp.bin",
          "smb311enc_session_setup_req1.bin", "smb311enc_session_setup_resp1.bin",
          "smb311enc_session_setup_req2.bin"}) {
      Bytes msg = loadTestdata(name);
      ASSERT_FALSE(msg.empty()) << name;
      hash = sha512Concat(hash, msg);
    }
    keys_ = deriveSmb3ServerKeys(0x0311, session_key, hash);
    ASSERT_EQ(keys_.decryption_key.size(), 16u);
    ASSERT_EQ(keys_.encryption_key.size(), 16u);
  }

  Smb3ServerKeys keys_;
};

// Offsets in the 64-byte SMB2 header (MS-SMB2 2.2.1.2).
struct Smb2Fields {
  uint32_t protocol_id, status, flags;
  uint16_t structure_size, command;
  uint64_t message_id, session_id;
};

Smb2Fields readSmb2Header(ByteSpan m) {
  ByteReader r(m);
  Smb2Fields f{};
  f.protocol_id = r.u32();
  f.structure_size = r.u16();
  r.skip(2);
  f.status = r.u32();
  f.command = r.u16();
  r.skip(2);
  f.flags = r.u32();
  r.skip(4);
  f.message_id = r.u64();
  r.skip(8);
  f.session_id = r.u64();
  EXPECT_TRUE(r.ok());
  return f;
}

TEST_F(CaptureTest, NegotiatedAes128Gcm) {
  // The server's SMB2_ENCRYPTION_CAPABILITIES context names exactly one cipher: 0x0002.
  Bytes resp = loadTestdata("smb311enc_negotiate_resp.bin");
  const uint8_t ctx[] = {0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00};
  bool found = false;
  for (size_t i = 0; i + sizeof(ctx) <= resp.size(); ++i) {
    found = found || std::equal(ctx, ctx + sizeof(ctx), resp.begin() + i);
  }
  EXPECT_TRUE(found);
}

TEST_F(CaptureTest, DecryptsClientTreeConnect) {
  Bytes wire = loadTestdata("smb311enc_transform_c2s_1.bin");
  ASSERT_EQ(wire.size(), 156u);
  TransformHeader h{};
  ASSERT_TRUE(parseTransformHeader(wire, &h));
  EXPECT_EQ(h.session_id, 0x00000000dc8eb5e6ull);
  EXPECT_EQ(h.original_size, 104u);

  auto plain = decryptMessage(Cipher::kAes128Gcm, keys_.decryption_key, wire);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->size(), 104u);
  Smb2Fields f = readSmb2Header(*plain);
  EXPECT_EQ(f.protocol_id, smb2::kProtocolId);
  EXPECT_EQ(f.structure_size, 64);
  EXPECT_EQ(f.command, smb2::SMB2_TREE_CONNECT);
  EXPECT_EQ(f.flags & smb2::SMB2_FLAGS_SERVER_TO_REDIR, 0u);
  EXPECT_EQ(f.session_id, h.session_id);
  // The share path follows the 8-byte TREE_CONNECT request body (StructureSize 9).
  std::string path = utf16leToUtf8(ByteSpan(*plain).subspan(72)).value_or("<bad UTF-16>");
  EXPECT_EQ(path, "\\\\127.0.0.1\\IPC$") << path;

  // Re-encrypting with the recorded nonce reproduces smbclient's bytes exactly.
  Bytes again = encryptMessageWithNonce(Cipher::kAes128Gcm, keys_.decryption_key, h.session_id,
                                        ByteSpan(h.nonce).first(12), *plain);
  EXPECT_EQ(toHex(again), toHex(wire));

  // Wrong direction's key, wrong cipher: rejected.
  EXPECT_EQ(decryptMessage(Cipher::kAes128Gcm, keys_.encryption_key, wire).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(decryptMessage(Cipher::kAes128Ccm, keys_.decryption_key, wire).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(CaptureTest, DecryptsServerResponses) {
  for (const char* name : {"smb311enc_transform_s2c_1.bin", "smb311enc_transform_s2c_2.bin"}) {
    SCOPED_TRACE(name);
    Bytes wire = loadTestdata(name);
    ASSERT_GT(wire.size(), kTransformHeaderSize + 64);
    auto plain = decryptMessage(Cipher::kAes128Gcm, keys_.encryption_key, wire);
    ASSERT_TRUE(plain.ok()) << plain.status();
    Smb2Fields f = readSmb2Header(*plain);
    EXPECT_EQ(f.protocol_id, smb2::kProtocolId);
    EXPECT_EQ(f.structure_size, 64);
    EXPECT_NE(f.flags & smb2::SMB2_FLAGS_SERVER_TO_REDIR, 0u);
    EXPECT_EQ(f.session_id, 0x00000000dc8eb5e6ull);
    TransformHeader h{};
    ASSERT_TRUE(parseTransformHeader(wire, &h));
    Bytes again = encryptMessageWithNonce(Cipher::kAes128Gcm, keys_.encryption_key,
                                          h.session_id, ByteSpan(h.nonce).first(12), *plain);
    EXPECT_EQ(toHex(again), toHex(wire));
    EXPECT_FALSE(decryptMessage(Cipher::kAes128Gcm, keys_.decryption_key, wire).ok());
  }
  // The first response answers the TREE_CONNECT above: same MessageId, STATUS_SUCCESS.
  auto req = decryptMessage(Cipher::kAes128Gcm, keys_.decryption_key,
                            loadTestdata("smb311enc_transform_c2s_1.bin"));
  auto resp = decryptMessage(Cipher::kAes128Gcm, keys_.encryption_key,
                             loadTestdata("smb311enc_transform_s2c_1.bin"));
  ASSERT_TRUE(req.ok() && resp.ok());
  Smb2Fields q = readSmb2Header(*req), s = readSmb2Header(*resp);
  EXPECT_EQ(s.command, smb2::SMB2_TREE_CONNECT);
  EXPECT_EQ(s.status, 0u);
  EXPECT_EQ(s.message_id, q.message_id);
}

}  // namespace
}  // namespace xsmb::crypto
