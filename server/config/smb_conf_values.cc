// The words smb.conf values are made of, read and spelled: blanks and lists, booleans, numbers
// and masks, "server smb encrypt" words, socket options, SMB3 algorithm names (MS-SMB2
// 2.2.3.1.2, 2.2.3.1.7) and protocol names (MS-SMB2 2.2.3), as Samba spells them.
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/config/smb_conf.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config {
namespace internal {
namespace {

char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char asciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string asciiUpperStr(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiUpper(c);
  return out;
}

std::string normalizeKey(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (isSpace(c) || c == '_') continue;
    out.push_back(asciiLower(c));
  }
  return out;
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_quotes = false;
  bool have = false;
  for (char c : s) {
    if (c == '"') {
      in_quotes = !in_quotes;
      have = true;
      continue;
    }
    if (!in_quotes && (isSpace(c) || c == ',')) {
      if (have) out.push_back(std::move(cur));
      cur.clear();
      have = false;
      continue;
    }
    cur.push_back(c);
    have = true;
  }
  if (have) out.push_back(std::move(cur));
  // Empty quoted items ("") carry no name.
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

std::optional<bool> parseBool(std::string_view v) {
  std::string k = normalizeKey(v);
  if (k == "yes" || k == "true" || k == "1" || k == "on") return true;
  if (k == "no" || k == "false" || k == "0" || k == "off") return false;
  return std::nullopt;
}

std::optional<EncryptPolicy> parseEncryptPolicy(std::string_view v) {
  std::string k = normalizeKey(v);
  if (k == "off" || k == "no" || k == "false" || k == "0" || k == "disabled") {
    return EncryptPolicy::kOff;
  }
  if (k == "ifrequired" || k == "default" || k == "yes" || k == "true" || k == "1" || k == "on" ||
      k == "enabled" || k == "auto") {
    return EncryptPolicy::kIfRequired;
  }
  if (k == "desired") return EncryptPolicy::kDesired;
  if (k == "required" || k == "mandatory" || k == "force" || k == "forced" || k == "enforced") {
    return EncryptPolicy::kRequired;
  }
  return std::nullopt;
}

std::optional<uint64_t> parseUnsigned(std::string_view v, uint64_t max) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;  // n * 10 + d > max, without overflowing
    n = n * 10 + d;
  }
  return n;
}

std::optional<uint32_t> parseOctalMask(std::string_view v) {
  if (v.empty() || v.size() > 12) return std::nullopt;
  uint32_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '7') return std::nullopt;
    n = n * 8 + static_cast<uint32_t>(c - '0');
    if (n > 07777) return std::nullopt;
  }
  return n;
}

std::string parseSocketOptions(std::string_view v, std::vector<SocketOption>* out,
                               std::vector<std::string>* ignored) {
  enum Kind { kFlag, kNumber, kTos, kIgnored, kRefused };
  struct Known {
    const char* name;
    Kind kind;
    int level, opt, tos;
    const char* why;
  };
  static constexpr Known kKnown[] = {
      {"TCP_NODELAY", kFlag, IPPROTO_TCP, TCP_NODELAY, 0, nullptr},
      {"SO_KEEPALIVE", kFlag, SOL_SOCKET, SO_KEEPALIVE, 0, nullptr},
      {"TCP_QUICKACK", kFlag, IPPROTO_TCP, TCP_QUICKACK, 0, nullptr},
      {"SO_SNDBUF", kNumber, SOL_SOCKET, SO_SNDBUF, 0, nullptr},
      {"SO_RCVBUF", kNumber, SOL_SOCKET, SO_RCVBUF, 0, nullptr},
      {"TCP_KEEPIDLE", kNumber, IPPROTO_TCP, TCP_KEEPIDLE, 0, nullptr},
      {"TCP_KEEPINTVL", kNumber, IPPROTO_TCP, TCP_KEEPINTVL, 0, nullptr},
      {"TCP_KEEPCNT", kNumber, IPPROTO_TCP, TCP_KEEPCNT, 0, nullptr},
      {"TCP_USER_TIMEOUT", kNumber, IPPROTO_TCP, TCP_USER_TIMEOUT, 0, nullptr},
      {"IPTOS_LOWDELAY", kTos, IPPROTO_IP, IP_TOS, IPTOS_LOWDELAY, nullptr},
      {"IPTOS_THROUGHPUT", kTos, IPPROTO_IP, IP_TOS, IPTOS_THROUGHPUT, nullptr},
      {"SO_REUSEADDR", kIgnored, 0, 0, 0, nullptr},
      {"SO_REUSEPORT", kIgnored, 0, 0, 0, nullptr},
      {"SO_BROADCAST", kIgnored, 0, 0, 0, nullptr},
      {"SO_RCVLOWAT", kRefused, 0, 0, 0, "xsmbd sets it itself for large WRITEs"},
      {"SO_SNDLOWAT", kRefused, 0, 0, 0, "Linux does not let it change"},
      {"SO_SNDTIMEO", kRefused, 0, 0, 0, "xsmbd's sockets are non-blocking"},
      {"SO_RCVTIMEO", kRefused, 0, 0, 0, "xsmbd's sockets are non-blocking"},
  };
  out->clear();
  size_t pos = 0;
  while (pos < v.size()) {
    size_t end = v.find_first_of(" \t,", pos);
    if (end == std::string_view::npos) end = v.size();
    std::string_view word = v.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    size_t eq = word.find('=');
    std::string name(word.substr(0, eq));
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = word.substr(eq + 1);
    const Known* k = nullptr;
    for (const Known& c : kKnown) {
      if (name == c.name) k = &c;
    }
    if (!k) return absl::StrCat("unknown socket option \"", std::string(word), "\"");
    if (k->kind == kRefused) {
      return absl::StrCat("socket option ", name, " is not supported (", k->why, ")");
    }
    if (k->kind == kIgnored) {
      ignored->push_back(name);
      continue;
    }
    SocketOption o{k->level, k->opt, 1, name};
    if (k->kind == kTos) {
      if (value) return absl::StrCat("socket option ", name, " takes no value");
      o.value = k->tos;
    } else if (k->kind == kFlag) {
      if (value && *value != "0" && *value != "1") {
        return absl::StrCat("invalid value \"", std::string(*value), "\" for socket option ", name,
                            " (0 or 1)");
      }
      if (value) {
        o.value = *value == "1";
        o.text = absl::StrCat(name, "=", std::string(*value));
      }
    } else {
      std::optional<uint64_t> n = value ? parseUnsigned(*value, INT32_MAX) : std::nullopt;
      if (!n) {
        return absl::StrCat("socket option ", name, " needs a number (", name, "=value), got \"",
                            std::string(word), "\"");
      }
      o.value = static_cast<int>(*n);
      o.text = absl::StrCat(name, "=", *n);
    }
    out->push_back(std::move(o));
  }
  return "";
}

}  // namespace internal

namespace {

struct AlgorithmName {
  const char* name;  // Samba's spelling
  uint16_t id;
};

// MS-SMB2 2.2.3.1.2 cipher ids.
constexpr AlgorithmName kEncryptionAlgorithms[] = {
    {"AES-128-GCM", 2}, {"AES-128-CCM", 1}, {"AES-256-GCM", 4}, {"AES-256-CCM", 3}};
// MS-SMB2 2.2.3.1.7 signing algorithm ids; "HMAC-SHA-256" is accepted as well.
constexpr AlgorithmName kSigningAlgorithms[] = {
    {"AES-128-GMAC", 2}, {"AES-128-CMAC", 1}, {"HMAC-SHA256", 0}, {"HMAC-SHA-256", 0}};

template <size_t N>
std::optional<uint16_t> algorithmId(const AlgorithmName (&table)[N], std::string_view name) {
  std::string upper = internal::asciiUpperStr(internal::trim(name));
  for (const AlgorithmName& a : table) {
    if (upper == a.name) return a.id;
  }
  return std::nullopt;
}

template <size_t N>
std::string algorithmName(const AlgorithmName (&table)[N], uint16_t id) {
  for (const AlgorithmName& a : table) {
    if (a.id == id) return a.name;
  }
  return absl::StrFormat("0x%04x", id);
}

}  // namespace

SocketOption defaultSocketOption() { return {IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"}; }

std::optional<uint16_t> encryptionAlgorithmFromName(std::string_view name) {
  return algorithmId(kEncryptionAlgorithms, name);
}

std::optional<uint16_t> signingAlgorithmFromName(std::string_view name) {
  return algorithmId(kSigningAlgorithms, name);
}

std::string encryptionAlgorithmName(uint16_t id) {
  return algorithmName(kEncryptionAlgorithms, id);
}

std::string signingAlgorithmName(uint16_t id) { return algorithmName(kSigningAlgorithms, id); }

std::optional<uint16_t> dialectFromProtocolName(std::string_view name) {
  static const std::pair<const char*, uint16_t> kNames[] = {
      {"SMB2", 0x0210},    {"SMB2_02", 0x0202}, {"SMB2_10", 0x0210}, {"SMB3", 0x0311},
      {"SMB3_00", 0x0300}, {"SMB3_02", 0x0302}, {"SMB3_11", 0x0311},
  };
  std::string upper = internal::asciiUpperStr(internal::trim(name));
  for (const auto& [n, d] : kNames) {
    if (upper == n) return d;
  }
  return std::nullopt;
}

std::string protocolNameFromDialect(uint16_t dialect) {
  switch (dialect) {
    case 0x0202:
      return "SMB2_02";
    case 0x0210:
      return "SMB2_10";
    case 0x0300:
      return "SMB3_00";
    case 0x0302:
      return "SMB3_02";
    case 0x0311:
      return "SMB3_11";
    default:
      return absl::StrFormat("0x%04x", dialect);
  }
}

std::vector<int> parseCpuList(std::string_view text, std::string* error) {
  std::vector<int> out;
  std::vector<bool> seen(kMaxCpuNumber, false);
  auto bad = [&](std::string why) {
    *error = std::move(why);
    return std::vector<int>{};
  };
  // Debian's Abseil has its own string_view type (not std's).
  for (absl::string_view piece : absl::StrSplit(absl::string_view(text.data(), text.size()),
                                                absl::ByAnyChar(", \t"), absl::SkipEmpty())) {
    std::string_view item(piece.data(), piece.size());
    std::string_view lo = item, hi = item;
    if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      lo = item.substr(0, dash);
      hi = item.substr(dash + 1);
    }
    std::optional<uint64_t> a = internal::parseUnsigned(lo, kMaxCpuNumber - 1);
    std::optional<uint64_t> b = internal::parseUnsigned(hi, kMaxCpuNumber - 1);
    if (!a || !b || *a > *b) {
      return bad(absl::StrCat("\"", piece, "\" is not a CPU number or range (0 to ",
                              kMaxCpuNumber - 1, ", like 0-3,8)"));
    }
    for (uint64_t c = *a; c <= *b; ++c) {
      if (seen[c]) return bad(absl::StrCat("CPU ", c, " is listed twice"));
      seen[c] = true;
      out.push_back(static_cast<int>(c));
    }
  }
  if (out.empty()) return bad("no CPU listed");
  error->clear();
  return out;
}

std::optional<uint64_t> parseRate(std::string_view text) {
  std::string t(text);
  for (const char* tail : {"/s", "iB", "B", "ib", "b"}) {
    if (t.size() > strlen(tail) && t.compare(t.size() - strlen(tail), strlen(tail), tail) == 0) {
      t.resize(t.size() - strlen(tail));
      break;
    }
  }
  uint64_t scale = 1;
  if (!t.empty()) {
    switch (std::toupper(static_cast<unsigned char>(t.back()))) {
      case 'K':
        scale = 1ULL << 10;
        break;
      case 'M':
        scale = 1ULL << 20;
        break;
      case 'G':
        scale = 1ULL << 30;
        break;
      case 'T':
        scale = 1ULL << 40;
        break;
      default:
        break;
    }
    if (scale != 1) t.pop_back();
  }
  std::optional<uint64_t> n = internal::parseUnsigned(t, UINT64_MAX / scale);
  if (!n) return std::nullopt;
  return *n * scale;
}

}  // namespace xsmb::config
