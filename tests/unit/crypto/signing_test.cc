#include "common/crypto/signing.h"

#include <gtest/gtest.h>

#include "common/crypto/smb3_keys.h"
#include "common/smb2/constants.h"
#include "tests/unit/crypto/hex.h"

namespace xsmb::crypto {
namespace {

using testing::asBytes;
using testing::fromHex;
using testing::toHex;

const SigningAlgorithm kAllAlgorithms[] = {SigningAlgorithm::kHmacSha256,
                                           SigningAlgorithm::kAesCmac,
                                           SigningAlgorithm::kAesGmac};

// A plausible SMB2 message: header with MessageId, Flags and Command set, a small body.
Bytes sampleMessage(uint16_t command, uint32_t flags, uint64_t message_id, size_t body = 24) {
  ByteWriter w;
  w.u32(smb2::kProtocolId);
  w.u16(64);
  w.u16(1);      // CreditCharge
  w.u32(0);      // Status
  w.u16(command);
  w.u16(1);      // Credits
  w.u32(flags | smb2::SMB2_FLAGS_SIGNED);
  w.u32(0);      // NextCommand
  w.u64(message_id);
  w.u32(0);      // Reserved
  w.u32(7);      // TreeId
  w.u64(0x1122334455667788ull);  // SessionId
  for (int i = 0; i < 16; ++i) w.u8(0xEE);  // Signature: garbage before signing
  for (size_t i = 0; i < body; ++i) w.u8(static_cast<uint8_t>(i * 7 + 1));
  return w.take();
}

Bytes zeroSignature(Bytes m) {
  std::fill(m.begin() + 48, m.begin() + 64, 0);
  return m;
}

TEST(Signing, MatchesPrimitiveOverZeroedSignatureField) {
  const Bytes key = fromHex("00112233445566778899aabbccddeeff");
  Bytes msg = sampleMessage(smb2::SMB2_READ, smb2::SMB2_FLAGS_SERVER_TO_REDIR, 0x0102030405060708);
  Bytes zeroed = zeroSignature(msg);

  auto h = hmacSha256(key, zeroed);
  EXPECT_EQ(toHex(computeSignature(SigningAlgorithm::kHmacSha256, key, msg)),
            toHex(ByteSpan(h).first(16)));
  EXPECT_EQ(computeSignature(SigningAlgorithm::kAesCmac, key, msg), aesCmac(key, zeroed));
  // MS-SMB2 3.1.4.1 nonce: MessageId LE, then 1 for the server role.
  EXPECT_EQ(computeSignature(SigningAlgorithm::kAesGmac, key, msg),
            aesGmac(key, fromHex("080706050403020101000000"), zeroed));
}

TEST(Signing, GmacNonceRoleAndCancelBits) {
  const Bytes key = fromHex("000102030405060708090a0b0c0d0e0f");
  struct {
    uint16_t command;
    uint32_t flags;
    const char* nonce;
  } const kCases[] = {
      {smb2::SMB2_WRITE, 0, "2a0000000000000000000000"},
      {smb2::SMB2_WRITE, smb2::SMB2_FLAGS_SERVER_TO_REDIR, "2a0000000000000001000000"},
      {smb2::SMB2_CANCEL, 0, "2a0000000000000002000000"},
      {smb2::SMB2_CANCEL, smb2::SMB2_FLAGS_SERVER_TO_REDIR | smb2::SMB2_FLAGS_ASYNC_COMMAND,
       "2a0000000000000003000000"},
  };
  for (const auto& c : kCases) {
    Bytes msg = sampleMessage(c.command, c.flags, 42);
    Bytes nonce = fromHex(c.nonce);
    EXPECT_EQ(computeSignature(SigningAlgorithm::kAesGmac, key, msg),
              aesGmac(key, nonce, zeroSignature(msg)))
        << c.command << " " << c.flags;
  }
}

TEST(Signing, SignatureFieldContentDoesNotMatter) {
  const Bytes key = fromHex("00112233445566778899aabbccddeeff");
  for (SigningAlgorithm alg : kAllAlgorithms) {
    Bytes a = sampleMessage(smb2::SMB2_CREATE, 0, 5);
    Bytes b = a;
    std::fill(b.begin() + 48, b.begin() + 64, 0x00);
    EXPECT_EQ(computeSignature(alg, key, a), computeSignature(alg, key, b));
  }
}

TEST(Signing, SignThenVerifyAndEveryFlippedByteFails) {
  const Bytes key = fromHex("00112233445566778899aabbccddeeff");
  for (SigningAlgorithm alg : kAllAlgorithms) {
    Bytes msg = sampleMessage(smb2::SMB2_QUERY_INFO, 0, 77, 40);
    signInPlace(alg, key, msg);
    ASSERT_TRUE(verifySignature(alg, key, msg)) << static_cast<int>(alg);
    EXPECT_NE(toHex(ByteSpan(msg).subspan(48, 16)), std::string(32, 'e'));
    for (size_t i = 0; i < msg.size(); ++i) {
      Bytes bad = msg;
      bad[i] ^= 0x01;
      EXPECT_FALSE(verifySignature(alg, key, bad)) << "alg " << static_cast<int>(alg) << " byte "
                                                   << i;
    }
    Bytes longer = msg;
    longer.push_back(0);
    EXPECT_FALSE(verifySignature(alg, key, longer));
    Bytes other_key = key;
    other_key[0] ^= 0x80;
    EXPECT_FALSE(verifySignature(alg, other_key, msg));
  }
}

TEST(Signing, ShortMessages) {
  const Bytes key(16, 1);
  Bytes short_msg(63, 0xAB);
  for (SigningAlgorithm alg : kAllAlgorithms) {
    EXPECT_EQ(computeSignature(alg, key, short_msg), Key16{});
    EXPECT_FALSE(verifySignature(alg, key, short_msg));
    Bytes copy = short_msg;
    signInPlace(alg, key, copy);
    EXPECT_EQ(copy, short_msg);
  }
}

TEST(Smb3Keys, LabelsAndContexts) {
  const Bytes session_key = fromHex("0123456789abcdef0123456789abcdef");
  auto nul = [](std::string_view s) {
    Bytes b(s.begin(), s.end());
    b.push_back(0);
    return b;
  };
  Smb3ServerKeys k30 = deriveSmb3ServerKeys(0x0300, session_key, {});
  EXPECT_EQ(toHex(k30.signing_key),
            toHex(kdfCounterHmacSha256(session_key, nul("SMB2AESCMAC"), nul("SmbSign"))));
  EXPECT_EQ(k30.encryption_key,
            kdfCounterHmacSha256(session_key, nul("SMB2AESCCM"), nul("ServerOut")));
  EXPECT_EQ(k30.decryption_key,
            kdfCounterHmacSha256(session_key, nul("SMB2AESCCM"), nul("ServerIn ")));
  EXPECT_EQ(toHex(k30.application_key),
            toHex(kdfCounterHmacSha256(session_key, nul("SMB2APP"), nul("SmbRpc"))));

  Bytes preauth(64);
  for (size_t i = 0; i < preauth.size(); ++i) preauth[i] = static_cast<uint8_t>(i);
  Smb3ServerKeys k311 = deriveSmb3ServerKeys(0x0311, session_key, preauth, /*aes256=*/true);
  EXPECT_EQ(toHex(k311.signing_key),
            toHex(kdfCounterHmacSha256(session_key, nul("SMBSigningKey"), preauth)));
  EXPECT_EQ(k311.encryption_key.size(), 32u);
  EXPECT_EQ(k311.encryption_key,
            kdfCounterHmacSha256(session_key, nul("SMBS2CCipherKey"), preauth, 256));
  EXPECT_EQ(k311.decryption_key,
            kdfCounterHmacSha256(session_key, nul("SMBC2SCipherKey"), preauth, 256));
  EXPECT_NE(k311.encryption_key, k311.decryption_key);
}

}  // namespace
}  // namespace xsmb::crypto
