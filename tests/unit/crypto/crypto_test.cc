#include "common/crypto/crypto.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/unit/crypto/hex.h"

namespace xsmb::crypto {
namespace {

using testing::asBytes;
using testing::fromHex;
using testing::toHex;

TEST(NtHash, MsNlmpPassword) {
  // MS-NLMP 4.2.2.1.2 / 4.2.4.1.1: NTOWFv1("Password").
  EXPECT_EQ(toHex(ntHash("Password")), "a4f49c406510bdcab6824ee7c30fd852");
}

TEST(NtHash, EmptyAndNonAscii) {
  // MD4 of the empty string (RFC 1320 A.5).
  EXPECT_EQ(toHex(ntHash("")), "31d6cfe0d16ae931b73c59d7e0c089c0");
  // U+00E9 becomes E9 00 in UTF-16LE, not the two UTF-8 bytes.
  Key16 utf8 = ntHash("\xc3\xa9");
  Key16 direct = ntHash("\xc3\xa9");
  EXPECT_EQ(utf8, direct);
  EXPECT_NE(toHex(utf8), toHex(ntHash("\xc3")));
}

TEST(Sha512Concat, AbcSplitAnywhere) {
  // FIPS 180-2 C.1: SHA-512("abc").
  const std::string kAbc =
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
  EXPECT_EQ(toHex(sha512Concat(asBytes("a"), asBytes("bc"))), kAbc);
  EXPECT_EQ(toHex(sha512Concat(asBytes(""), asBytes("abc"))), kAbc);
  EXPECT_EQ(toHex(sha512Concat(asBytes("abc"), {})), kAbc);
}

struct MacVector {
  const char* description;
  Bytes key;
  Bytes data;
  std::string expected;
};

TEST(HmacSha256, Rfc4231) {
  const std::vector<MacVector> kVectors = {
      {"case 1", Bytes(20, 0x0b), Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'},
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case 2", fromHex("4a656665"),
       fromHex("7768617420646f2079612077616e7420666f72206e6f7468696e673f"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case 3", Bytes(20, 0xaa), Bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"case 6 (key longer than block)", Bytes(131, 0xaa),
       Bytes(asBytes("Test Using Larger Than Block-Size Key - Hash Key First").begin(),
             asBytes("Test Using Larger Than Block-Size Key - Hash Key First").end()),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  for (const auto& v : kVectors) {
    EXPECT_EQ(toHex(hmacSha256(v.key, v.data)), v.expected) << v.description;
  }
}

TEST(HmacMd5, Rfc2104) {
  const std::vector<MacVector> kVectors = {
      {"case 1", Bytes(16, 0x0b), Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'},
       "9294727a3638bb1c13f48ef8158bfc9d"},
      {"case 2", fromHex("4a656665"),
       fromHex("7768617420646f2079612077616e7420666f72206e6f7468696e673f"),
       "750c783e6ab0b503eaa86e310a5db738"},
      {"case 3", Bytes(16, 0xaa), Bytes(50, 0xdd), "56be34521d144c88dbb8c733f0e8b3f6"},
  };
  for (const auto& v : kVectors) {
    EXPECT_EQ(toHex(hmacMd5(v.key, v.data)), v.expected) << v.description;
  }
}

TEST(Md5, Rfc1321) {
  EXPECT_EQ(toHex(md5(asBytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(toHex(md5(asBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(AesCmac, Rfc4493) {
  const Bytes kKey = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
  const Bytes kMsg = fromHex(
      "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710");
  struct {
    size_t len;
    const char* expected;
  } const kVectors[] = {
      {0, "bb1d6929e95937287fa37d129b756746"},
      {16, "070a16b46b4d4144f79bdd9dd04a287c"},
      {40, "dfa66747de9ae63030ca32611497c827"},
      {64, "51f0bebf7e3b9d92fc49741779363cfe"},
  };
  for (const auto& v : kVectors) {
    EXPECT_EQ(toHex(aesCmac(kKey, ByteSpan(kMsg).first(v.len))), v.expected) << v.len;
  }
  // A wrong key size is refused rather than silently padded.
  EXPECT_EQ(aesCmac(Bytes(15, 1), kMsg), Key16{});
}

TEST(AesGmac, NistGcmVectors) {
  // McGrew & Viega GCM test case 1 (all-zero key and IV, no data).
  EXPECT_EQ(toHex(aesGmac(Bytes(16, 0), Bytes(12, 0), {})), "58e2fccefa7e3061367f1d57a4e7455a");
  // NIST CAVS gcmEncryptExtIV128, PTlen 0, AADlen 128, Count 0.
  EXPECT_EQ(toHex(aesGmac(fromHex("77be63708971c4e240d1cb79e8d77feb"),
                          fromHex("e0e00f19fed7ba0136a797f3"),
                          fromHex("7a43ec1d9c0a5a78a0b16533a6213cab"))),
            "209fcc8d3675ed938e9c7166709dd946");
  EXPECT_EQ(aesGmac(Bytes(16, 0), Bytes(11, 0), {}), Key16{});
}

TEST(Rc4, Rfc6229Keystream) {
  // RFC 6229: keystream bytes 0..15 for a 40-bit and a 128-bit key (encrypting zeros).
  EXPECT_EQ(toHex(rc4(fromHex("0102030405"), Bytes(16, 0))), "b2396305f03dc027ccc3524a0a1118a8");
  EXPECT_EQ(toHex(rc4(fromHex("0102030405060708090a0b0c0d0e0f10"), Bytes(16, 0))),
            "9ac7cc9a609d1ef7b2932899cde41b97");
  // Classic "Key" / "Plaintext" example.
  EXPECT_EQ(toHex(rc4(asBytes("Key"), asBytes("Plaintext"))), "bbf316e8d940af0ad3");
}

TEST(Rc4, StreamContinuesAcrossCalls) {
  const Bytes kKey = fromHex("0102030405060708090a0b0c0d0e0f10");
  Bytes whole = rc4(kKey, Bytes(32, 0));
  Rc4Stream s(kKey);
  ASSERT_TRUE(s.valid());
  Bytes a(10, 0), b(22, 0);
  s.apply(a);
  s.apply(b);
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(a, whole);
  Rc4Stream moved = std::move(s);
  EXPECT_TRUE(moved.valid());
  EXPECT_FALSE(s.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified.
}

TEST(Kdf, MatchesHandComputedHmac) {
  // K(1) = HMAC-SHA256(key, 00000001 || label || 00 || context || 00000080), first 16 bytes.
  const Bytes kKey = fromHex("000102030405060708090a0b0c0d0e0f");
  const Bytes kLabel = {'S', 'M', 'B', '2', 'A', 'E', 'S', 'C', 'M', 'A', 'C', 0};
  const Bytes kContext = {'S', 'm', 'b', 'S', 'i', 'g', 'n', 0};
  Bytes input = {0, 0, 0, 1};
  input.insert(input.end(), kLabel.begin(), kLabel.end());
  input.push_back(0);
  input.insert(input.end(), kContext.begin(), kContext.end());
  for (uint8_t b : {0, 0, 0, 0x80}) input.push_back(b);
  auto full = hmacSha256(kKey, input);
  Bytes got = kdfCounterHmacSha256(kKey, kLabel, kContext);
  ASSERT_EQ(got.size(), 16u);
  EXPECT_EQ(got, Bytes(full.begin(), full.begin() + 16));

  // 256 bits: one block whose L field says 256.
  input[input.size() - 2] = 0x01;
  input[input.size() - 1] = 0x00;
  auto full256 = hmacSha256(kKey, input);
  EXPECT_EQ(kdfCounterHmacSha256(kKey, kLabel, kContext, 256),
            Bytes(full256.begin(), full256.end()));

  // 384 bits: the second block uses counter 2.
  Bytes in2 = input;
  in2[3] = 2;
  in2[in2.size() - 2] = 0x01;
  in2[in2.size() - 1] = 0x80;
  input[input.size() - 2] = 0x01;
  input[input.size() - 1] = 0x80;
  auto b1 = hmacSha256(kKey, input), b2 = hmacSha256(kKey, in2);
  Bytes expect(b1.begin(), b1.end());
  expect.insert(expect.end(), b2.begin(), b2.begin() + 16);
  EXPECT_EQ(kdfCounterHmacSha256(kKey, kLabel, kContext, 384), expect);
}

TEST(ConstantTimeEqual, Basics) {
  EXPECT_TRUE(constantTimeEqual(fromHex("0102"), fromHex("0102")));
  EXPECT_FALSE(constantTimeEqual(fromHex("0102"), fromHex("0103")));
  EXPECT_FALSE(constantTimeEqual(fromHex("0102"), fromHex("010200")));
  EXPECT_TRUE(constantTimeEqual({}, {}));
}

TEST(RandomBytes, FillsAndDiffers) {
  std::array<uint8_t, 32> a{}, b{};
  randomBytes(a);
  randomBytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<uint8_t, 32>{}));
}

TEST(InitProviders, ConcurrentFirstUse) {
  std::vector<std::thread> threads;
  std::vector<Key16> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&results, i] { results[i] = ntHash("Password"); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(toHex(r), "a4f49c406510bdcab6824ee7c30fd852");
}

}  // namespace
}  // namespace xsmb::crypto
