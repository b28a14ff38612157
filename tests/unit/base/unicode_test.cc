#include "common/base/unicode.h"

#include <gtest/gtest.h>

namespace xsmb {
namespace {

TEST(Unicode, RoundTripsBmpAndSupplementary) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  Bytes u16 = utf8ToUtf16le(s);
  EXPECT_EQ(u16.size(), 2u + 2 + 2 + 4);
  auto back = utf16leToUtf8(u16);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, s);
}

TEST(Unicode, RejectsOddLengthAndLoneSurrogate) {
  EXPECT_FALSE(utf16leToUtf8(Bytes{0x41}).has_value());
  EXPECT_FALSE(utf16leToUtf8(Bytes{0x00, 0xD8}).has_value());
  EXPECT_FALSE(utf16leToUtf8(Bytes{0x00, 0xDC, 0x41, 0x00}).has_value());
}

TEST(Unicode, CaseInsensitiveCompare) {
  EXPECT_TRUE(equalsIgnoreCase("Hello.TXT", "hello.txt"));
  EXPECT_TRUE(equalsIgnoreCase("\xC3\xA9t\xC3\xA9", "\xC3\x89T\xC3\x89"));  // été / ÉTÉ
  EXPECT_FALSE(equalsIgnoreCase("abc", "abd"));
  EXPECT_FALSE(equalsIgnoreCase("abc", "abcd"));
}

}  // namespace
}  // namespace xsmb
