#include "common/base/unicode.h"

#include <cwctype>

namespace xsmb {
namespace {

void appendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one code point from UTF-8 at s[*i]; advances *i. Invalid -> U+FFFD.
char32_t nextCodePoint(std::string_view s, size_t* i) {
  auto b = static_cast<unsigned char>(s[*i]);
  int extra = 0;
  char32_t cp;
  if (b < 0x80) {
    ++*i;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    extra = 1;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    extra = 2;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    extra = 3;
    cp = b & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (s.size() - *i <= static_cast<size_t>(extra)) {
    *i = s.size();
    return 0xFFFD;
  }
  for (int k = 1; k <= extra; ++k) {
    auto c = static_cast<unsigned char>(s[*i + k]);
    if ((c & 0xC0) != 0x80) {
      *i += k;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += extra + 1;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  return cp;
}

char32_t upcase(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp == 0xFF) return 0x178;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
  // Cyrillic, Greek and Latin Extended ranges by their regular layouts.
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;
  if (cp >= 0x100 && cp <= 0x17F && cp != 0x131 && cp != 0x138 && cp != 0x149 && cp != 0x17F) {
    bool odd_is_lower = !((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E));
    if (odd_is_lower ? (cp & 1) : !(cp & 1)) return cp - 1;
    return cp;
  }
  return cp;
}

}  // namespace

std::optional<std::string> utf16leToUtf8(ByteSpan in) {
  if (in.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 2);
  for (size_t i = 0; i < in.size(); i += 2) {
    char32_t u = loadU16(&in[i]);
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 3 >= in.size()) return std::nullopt;
      char32_t lo = loadU16(&in[i + 2]);
      if (lo < 0xDC00 || lo > 0xDFFF) return std::nullopt;
      u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      i += 2;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return std::nullopt;
    }
    appendUtf8(u, &out);
  }
  return out;
}

size_t appendUtf16le(std::string_view in, Bytes* out) {
  size_t start = out->size();
  size_t i = 0;
  while (i < in.size()) {
    char32_t cp = nextCodePoint(in, &i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      uint16_t hi = static_cast<uint16_t>(0xD800 + (cp >> 10));
      uint16_t lo = static_cast<uint16_t>(0xDC00 + (cp & 0x3FF));
      out->push_back(hi & 0xFF);
      out->push_back(hi >> 8);
      out->push_back(lo & 0xFF);
      out->push_back(lo >> 8);
    } else {
      out->push_back(static_cast<uint8_t>(cp & 0xFF));
      out->push_back(static_cast<uint8_t>(cp >> 8));
    }
  }
  return out->size() - start;
}

Bytes utf8ToUtf16le(std::string_view in) {
  Bytes out;
  out.reserve(in.size() * 2);
  appendUtf16le(in, &out);
  return out;
}

std::string upcaseUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) appendUtf8(upcase(nextCodePoint(in, &i)), &out);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (upcase(nextCodePoint(a, &i)) != upcase(nextCodePoint(b, &j))) return false;
  }
  return i == a.size() && j == b.size();
}

}  // namespace xsmb
