// Microsoft's published SMB 3.x encryption examples, checked byte for byte against
// common/crypto/transform.h and common/crypto/smb3_keys.h.
//
// Sources (Microsoft Open Specifications blog, the examples MS-SMB2's encryption sections point
// implementers to):
//  [SMB30] "Encryption in SMB 3.0: A protocol perspective" (2012-10-05): AES-128-CCM, an SMB2
//          WRITE request and the matching READ response of session 0x8e40014000011.
//  [SMB311] "SMB 3.1.1 Encryption in Windows 10" (2015-09-09): AES-128-GCM, the same WRITE and
//          READ exchange over a 3.1.1 session 0x100000000025 with a preauth integrity hash.
//  [PREAUTH] "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11): the session
//          key and final preauth hash of a 3.1.1 logon and the signing key derived from them.
//
// No published example exists for AES-256-CCM or AES-256-GCM (cipher ids 3 and 4, added with
// Windows Server 2022) nor for an AES-128-CCM message of dialect 3.1.1: neither the blogs above
// nor MS-SMB2 give keys, nonces and ciphertext for them, and none is invented here. Those
// ciphers are covered by transform_test.cc (round trips, known answers computed independently
// with Python `cryptography`, and a real smbclient capture).
//
// The blogs speak from the client's side: the client's EncryptionKey ("ServerIn ") is the
// server's Session.DecryptionKey, the client's DecryptionKey ("ServerOut") is the server's
// Session.EncryptionKey (MS-SMB2 3.3.5.5.3).

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "common/base/bytes.h"
#include "common/crypto/smb3_keys.h"
#include "common/crypto/transform.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::crypto {
namespace {

using testing::fromHex;
using testing::toHex;

std::string lowerHex(std::string_view printed) { return toHex(fromHex(printed)); }

// --- [SMB30] ----------------------------------------------------------------------------------

constexpr char kSmb30SessionKey[] = "B4546771B515F766A86735532DD6C4F0";
constexpr uint64_t kSmb30SessionId = 0x0008e40014000011ull;

// WRITE of "Smb3 encryption testing" to FileId {0x200003900000115, 0x23900000001}.
constexpr char kSmb30WritePlain[] =
    "FE534D4240000100000000000900400008000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "3100700017000000000000000000000015010000390000020100000039020000"
    "00000000000000007000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67";
// The client's TRANSFORM message. Windows 2012 filled all 16 Nonce bytes although CCM uses only
// the first 11; the AAD (header bytes 20..52) covers all 16, so the tag depends on the 5 extra.
constexpr char kSmb30WriteTransform[] =
    "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A"
    "744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5"
    "2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4"
    "4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5"
    "AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6"
    "C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB";
// The server's READ response carrying the 23 bytes back.
constexpr char kSmb30ReadTransform[] =
    "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
    "00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
    "E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
    "1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
    "77309E5B";
constexpr char kSmb30ReadPlain[] =
    "FE534D4240000100000000000900210009000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "11000000170000000000000000000000";

TEST(PublishedVectors, Smb30KeyDerivation) {
  Smb3ServerKeys keys = deriveSmb3ServerKeys(0x0300, fromHex(kSmb30SessionKey), {});
  EXPECT_EQ(toHex(keys.signing_key), lowerHex("F773CD23C18FD1E08EE510CADA7CF852"));
  EXPECT_EQ(toHex(keys.decryption_key), lowerHex("261B72350558F2E9DCF613070383EDBF"));
  EXPECT_EQ(toHex(keys.encryption_key), lowerHex("8FE2B57EC34D2DB5B1A9727F526BBDB5"));
  EXPECT_EQ(toHex(keys.application_key), lowerHex("77432F808CE99156B5BC6A3676D730D1"));
  // 3.0.2 uses the same labels and contexts as 3.0 (MS-SMB2 3.3.5.5.3); the preauth hash is
  // ignored below 3.1.1.
  Smb3ServerKeys keys302 =
      deriveSmb3ServerKeys(0x0302, fromHex(kSmb30SessionKey), Bytes(64, 0xAB));
  EXPECT_EQ(toHex(keys302.decryption_key), toHex(keys.decryption_key));
  EXPECT_EQ(toHex(keys302.encryption_key), toHex(keys.encryption_key));
}

TEST(PublishedVectors, Smb30WriteRequestAes128Ccm) {
  Smb3ServerKeys keys = deriveSmb3ServerKeys(0x0300, fromHex(kSmb30SessionKey), {});
  Bytes wire = fromHex(kSmb30WriteTransform);
  ASSERT_EQ(wire.size(), kTransformHeaderSize + 0x87);

  TransformHeader h{};
  ASSERT_TRUE(parseTransformHeader(wire, &h));
  EXPECT_EQ(h.session_id, kSmb30SessionId);
  EXPECT_EQ(h.original_size, 0x87u);
  EXPECT_EQ(h.flags, kTransformFlagEncrypted);  // EncryptionAlgorithm = SMB2_ENCRYPTION_AES128_CCM
  EXPECT_EQ(toHex(h.signature), lowerHex("81A286535415445DAE393921E44FA42E"));

  // The server decrypts the client's request with its DecryptionKey.
  auto plain = decryptMessage(Cipher::kAes128Ccm, keys.decryption_key, wire);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(toHex(*plain), lowerHex(kSmb30WritePlain));

  // Encrypting with the 11-byte CCM nonce gives the published ciphertext. The header differs
  // only in the Nonce padding (this implementation zeroes bytes 11..15, as MS-SMB2 2.2.41's
  // AES_CCM_Nonce/Reserved layout asks), so the tag differs and the rest is identical.
  Bytes again = encryptMessageWithNonce(Cipher::kAes128Ccm, keys.decryption_key, kSmb30SessionId,
                                        ByteSpan(h.nonce).first(11), *plain);
  ASSERT_EQ(again.size(), wire.size());
  EXPECT_EQ(toHex(ByteSpan(again).subspan(kTransformHeaderSize)),
            toHex(ByteSpan(wire).subspan(kTransformHeaderSize)));
  EXPECT_EQ(toHex(ByteSpan(again).subspan(20, 11)), toHex(ByteSpan(wire).subspan(20, 11)));
  EXPECT_EQ(toHex(ByteSpan(again).subspan(31, 5)), "0000000000");
  EXPECT_EQ(toHex(ByteSpan(again).subspan(36, 16)), toHex(ByteSpan(wire).subspan(36, 16)));
  // And that message round-trips with its own (zero-padded) AAD.
  auto back = decryptMessage(Cipher::kAes128Ccm, keys.decryption_key, again);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *plain);

  // The 5 padding bytes are authenticated: changing one fails the tag.
  Bytes tampered = wire;
  tampered[35] ^= 0x01;
  EXPECT_EQ(decryptMessage(Cipher::kAes128Ccm, keys.decryption_key, tampered).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The other direction's key does not open it.
  EXPECT_EQ(decryptMessage(Cipher::kAes128Ccm, keys.encryption_key, wire).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(PublishedVectors, Smb30ReadResponseAes128Ccm) {
  Smb3ServerKeys keys = deriveSmb3ServerKeys(0x0300, fromHex(kSmb30SessionKey), {});
  Bytes wire = fromHex(kSmb30ReadTransform);
  ASSERT_EQ(wire.size(), kTransformHeaderSize + 0x50);
  // The server's response is sealed with the server's EncryptionKey.
  auto plain = decryptMessage(Cipher::kAes128Ccm, keys.encryption_key, wire);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(toHex(*plain), lowerHex(kSmb30ReadPlain));
  TransformHeader h{};
  ASSERT_TRUE(parseTransformHeader(wire, &h));
  Bytes again = encryptMessageWithNonce(Cipher::kAes128Ccm, keys.encryption_key, kSmb30SessionId,
                                        ByteSpan(h.nonce).first(11), *plain);
  EXPECT_EQ(toHex(ByteSpan(again).subspan(kTransformHeaderSize)),
            toHex(ByteSpan(wire).subspan(kTransformHeaderSize)));
  EXPECT_FALSE(decryptMessage(Cipher::kAes128Ccm, keys.decryption_key, wire).ok());
}

// --- [SMB311] ---------------------------------------------------------------------------------

constexpr char kSmb311SessionKey[] = "419FDDF34C1E001909D362AE7FB6AF79";
constexpr char kSmb311PreauthHash[] =
    "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9"
    "77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";
constexpr uint64_t kSmb311SessionId = 0x0000100000000025ull;

constexpr char kSmb311WritePlain[] =
    "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000031007000170000000000000000000000"
    "0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
    "72797074696F6E2074657374696E67";
constexpr char kSmb311WriteNonce[] = "C7D6822D269CAF48904C664C";
constexpr char kSmb311WriteTransform[] =
    "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000"
    "0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02"
    "D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4"
    "4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
    "1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8";
constexpr char kSmb311ReadTransform[] =
    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
    "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
    "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
    "82E03C9E18A050FF0EA1C967";
constexpr char kSmb311ReadPlain[] =
    "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000011000000170000000000000000000000";

Smb3ServerKeys smb311Keys(bool aes256 = false) {
  return deriveSmb3ServerKeys(0x0311, fromHex(kSmb311SessionKey), fromHex(kSmb311PreauthHash),
                              aes256);
}

TEST(PublishedVectors, Smb311KeyDerivation) {
  Smb3ServerKeys keys = smb311Keys();
  EXPECT_EQ(toHex(keys.decryption_key), lowerHex("A2F5E80E5D59103034F32E52F698E5EC"));
  EXPECT_EQ(toHex(keys.encryption_key), lowerHex("748C50868C90F302962A5C35F5F9A8BF"));
  // The preauth hash is part of the 3.1.1 context: another hash gives other keys.
  Bytes other_hash = fromHex(kSmb311PreauthHash);
  other_hash[63] ^= 0x01;
  Smb3ServerKeys other = deriveSmb3ServerKeys(0x0311, fromHex(kSmb311SessionKey), other_hash);
  EXPECT_NE(toHex(other.decryption_key), toHex(keys.decryption_key));
  // AES-256 keys (no published value): 32 bytes, and not the 128-bit key padded.
  Smb3ServerKeys keys256 = smb311Keys(/*aes256=*/true);
  ASSERT_EQ(keys256.decryption_key.size(), 32u);
  ASSERT_EQ(keys256.encryption_key.size(), 32u);
  EXPECT_NE(toHex(ByteSpan(keys256.decryption_key).first(16)), toHex(keys.decryption_key));
}

TEST(PublishedVectors, Smb311WriteRequestAes128Gcm) {
  Smb3ServerKeys keys = smb311Keys();
  Bytes plain = fromHex(kSmb311WritePlain);
  ASSERT_EQ(plain.size(), 0x87u);
  // With the published nonce the whole TRANSFORM message is reproduced exactly.
  Bytes msg = encryptMessageWithNonce(Cipher::kAes128Gcm, keys.decryption_key, kSmb311SessionId,
                                      fromHex(kSmb311WriteNonce), plain);
  EXPECT_EQ(toHex(msg), lowerHex(kSmb311WriteTransform));

  Bytes wire = fromHex(kSmb311WriteTransform);
  TransformHeader h{};
  ASSERT_TRUE(parseTransformHeader(wire, &h));
  EXPECT_EQ(h.session_id, kSmb311SessionId);
  EXPECT_EQ(h.original_size, 0x87u);
  EXPECT_EQ(h.flags, kTransformFlagEncrypted);
  auto back = decryptMessage(Cipher::kAes128Gcm, keys.decryption_key, wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(toHex(*back), lowerHex(kSmb311WritePlain));

  // Same key, nonce and plaintext under CCM: neither the published tag nor the ciphertext.
  EXPECT_EQ(decryptMessage(Cipher::kAes128Ccm, keys.decryption_key, wire).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A flipped SessionId (AAD) fails authentication.
  Bytes tampered = wire;
  tampered[44] ^= 0x01;
  EXPECT_EQ(decryptMessage(Cipher::kAes128Gcm, keys.decryption_key, tampered).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(PublishedVectors, Smb311ReadResponseAes128Gcm) {
  Smb3ServerKeys keys = smb311Keys();
  Bytes wire = fromHex(kSmb311ReadTransform);
  auto plain = decryptMessage(Cipher::kAes128Gcm, keys.encryption_key, wire);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(toHex(*plain), lowerHex(kSmb311ReadPlain));
  // Re-sealing with the recorded nonce reproduces the server's message byte for byte.
  TransformHeader h{};
  ASSERT_TRUE(parseTransformHeader(wire, &h));
  Bytes again = encryptMessageWithNonce(Cipher::kAes128Gcm, keys.encryption_key, h.session_id,
                                        ByteSpan(h.nonce).first(12), *plain);
  EXPECT_EQ(toHex(again), lowerHex(kSmb311ReadTransform));
  EXPECT_FALSE(decryptMessage(Cipher::kAes128Gcm, keys.decryption_key, wire).ok());
}

// --- [PREAUTH] --------------------------------------------------------------------------------

TEST(PublishedVectors, Smb311SigningKeyFromPreauthHash) {
  Bytes session_key = fromHex("270E1BA896585EEB7AF3472D3B4C75A7");
  Bytes preauth = fromHex(
      "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97"
      "51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01");
  Smb3ServerKeys keys = deriveSmb3ServerKeys(0x0311, session_key, preauth);
  EXPECT_EQ(toHex(keys.signing_key), lowerHex("73FE7A9A77BEF0BDE49C650D8CCB5F76"));
}

}  // namespace
}  // namespace xsmb::crypto
