#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/vfs/path.h"

namespace xsmb::vfs {
namespace {

struct WildcardCase {
  const char* description;
  std::string pattern;
  std::string name;
  bool expected;
};

TEST(MatchWildcard, Table) {
  const std::vector<WildcardCase> cases = {
      {"star matches anything", "*", "anything.txt", true},
      {"star matches the empty name", "*", "", true},
      {"star-dot-star matches names without a dot", "*.*", "README", true},
      {"star-dot-star matches names with dots", "*.*", "a.b.c", true},
      {"literal, case folded", "File.txt", "FILE.TXT", true},
      {"literal mismatch", "File.txt", "File.tx", false},
      {"extension, case folded", "*.txt", "report.TXT", true},
      {"extension only name", "*.txt", ".txt", true},
      {"extension must be at the end", "*.txt", "a.txt.bak", false},
      {"star in the middle", "a*b*c", "aXXbYYc", true},
      {"star in the middle, missing tail", "a*b*c", "aXXbYY", false},
      {"trailing literal after star", "*a", "", false},
      {"empty pattern matches only empty", "", "", true},
      {"empty pattern vs name", "", "a", false},
      {"question mark is one character", "f?le", "file", true},
      {"question mark needs a character", "f?le", "fle", false},
      {"two question marks vs one char", "??", "a", false},
      {"question mark matches a dot", "a?b", "a.b", true},
      {"question mark is one code point", "?", "\xC3\xA9", true},
      {"non-ASCII case folding", "\xC3\xA9*", "\xC3\x89T\xC3\x89", true},
      {"DOS_QM matches a char", "a>>", "ab", true},
      {"DOS_QM matches zero at the end", "a>>", "a", true},
      {"DOS_QM count is a maximum", "a>>", "abcd", false},
      {"DOS_QM stops at a dot", "file>.txt", "file.txt", true},
      {"DOS_QM single char before dot", "file>.txt", "file1.txt", true},
      {"DOS_QM at most one before dot", "file>.txt", "file12.txt", false},
      {"DOS_QM never consumes a dot", "a>b", "a.b", false},
      {"DOS_STAR stops before the last dot", "<", "has.ext", false},
      {"DOS_STAR without dots", "<", "noext", true},
      {"DOS_STAR eats inner dots", "<.txt", "a.b.txt", true},
      {"DOS_STAR dot DOS_STAR", "<.<", "a.b.c", true},
      {"DOS_STAR dot DOS_STAR without dot", "<.<", "abc", false},
      {"DOS_DOT matches a dot", "a\"b", "a.b", true},
      {"DOS_DOT matches nothing only at the end", "a\"b", "ab", false},
      {"DOS_DOT at the end, no dot", "a\"", "a", true},
      {"DOS_DOT at the end, dot", "a\"", "a.", true},
      {"DOS_DOT is not any char", "a\"", "ab", false},
      {"8.3 mask vs short name", ">>>>>>>>\">>>", "abc", true},
      {"8.3 mask vs 8.3 name", ">>>>>>>>\">>>", "abcdefgh.txt", true},
      {"8.3 mask vs long name", ">>>>>>>>\">>>", "abcdefghi", false},
      {"8.3 mask vs long extension", ">>>>>>>>\">>>", "a.text", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(matchWildcard(c.pattern, c.name), c.expected)
        << c.description << ": '" << c.pattern << "' vs '" << c.name << "'";
  }
}

TEST(HasWildcard, Table) {
  EXPECT_FALSE(hasWildcard("plain.txt"));
  EXPECT_FALSE(hasWildcard(""));
  EXPECT_TRUE(hasWildcard("*"));
  EXPECT_TRUE(hasWildcard("a?"));
  EXPECT_TRUE(hasWildcard("a<"));
  EXPECT_TRUE(hasWildcard("a>"));
  EXPECT_TRUE(hasWildcard("a\""));
}

TEST(MatchWildcard, LongInputsStayLinear) {
  // Would be exponential with naive backtracking.
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(matchWildcard(pattern, std::string(4000, 'a')));
  EXPECT_TRUE(matchWildcard(pattern, std::string(4000, 'a') + "b"));
}

}  // namespace
}  // namespace xsmb::vfs
