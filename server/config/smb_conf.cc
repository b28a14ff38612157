#include "server/config/smb_conf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/unicode.h"

namespace xsmb::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Small string helpers (std::string_view; this abseil build has its own string_view type).

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char asciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string asciiUpperStr(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiUpper(c);
  return out;
}

// Samba compares parameter names and enum words ignoring case, blanks and underscores.
std::string normalizeKey(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (isSpace(c) || c == '_') continue;
    out.push_back(asciiLower(c));
  }
  return out;
}

// Splits on whitespace and commas; a double-quoted run is one item (quotes removed), so
// `valid users = "Domain Users", bob` yields {"Domain Users", "bob"}.
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

// Samba's enum_smb_encryption_vals words, compared like parameter names.
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

const char* encryptPolicyWord(EncryptPolicy p) {
  switch (p) {
    case EncryptPolicy::kOff:
      return "off";
    case EncryptPolicy::kDesired:
      return "desired";
    case EncryptPolicy::kRequired:
      return "required";
    case EncryptPolicy::kIfRequired:
      break;
  }
  return "if_required";
}

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
  std::string upper = asciiUpperStr(trim(name));
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

// Unsigned decimal, no sign, no junk; nullopt on overflow past `max`.
std::optional<uint64_t> parseUnsigned(std::string_view v, uint64_t max) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > max) return std::nullopt;
  }
  return n;
}

// "socket options" words (see GlobalConfig::socket_options). Returns "" or the error; words
// Samba knows that mean nothing on a connection go to *ignored.
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

// Octal permission mask such as "0744" or "744" (at most 07777).
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

std::string quoteIfNeeded(const std::string& s) {
  bool needs = s.empty();
  for (char c : s) {
    if (isSpace(c) || c == ',') needs = true;
  }
  return needs ? absl::StrCat("\"", s, "\"") : s;
}

std::string joinList(const std::vector<std::string>& items, const char* sep, bool quote) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += quote ? quoteIfNeeded(items[i]) : items[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameter table.

enum class Param {
  // [global] only.
  kWorkgroup,
  kNetbiosName,
  kServerString,
  kSmbPorts,
  kInterfaces,
  kBindInterfacesOnly,
  kBpf,
  kBpfSockmap,
  kBpfPinDir,
  kControlSocket,
  kServerMinProtocol,
  kServerMaxProtocol,
  kServerSigning,
  kMapToGuest,
  kGuestAccount,
  kMaxConnections,
  kBusyPoll,
  kSocketOptions,
  kSmbPasswdFile,
  kLogLevel,
  kServerSmb3EncryptionAlgorithms,
  kServerSmb3SigningAlgorithms,
  kKerberosKeytabFile,
  kRealm,
  // [global] and per share: in [global] both the global value and the default for shares.
  kServerSmbEncrypt,
  // Per share ([global] sets the default for every share).
  kPath,
  kComment,
  kReadOnly,
  kWriteable,  // inverse of read only
  kGuestOk,
  kValidUsers,
  kInvalidUsers,
  kBrowseable,
  kCreateMask,
  kDirectoryMask,
  kForceUser,
  kForceGroup,
  kUseSendfile,
  // Accepted for compatibility with copied Samba files.
  kIgnoredSilently,
  kIgnoredWithWarning,
};

enum class Scope { kGlobal, kShare, kGlobalAndShare, kIgnored };

struct ParamInfo {
  const char* canonical;  // the spelling used in messages and renderConfig
  Param param;
  Scope scope;
};

const std::map<std::string, ParamInfo>& paramTable() {
  static const auto* table = new std::map<std::string, ParamInfo>([] {
    std::map<std::string, ParamInfo> t;
    auto add = [&t](const char* name, Param p, Scope s, const char* canonical = nullptr) {
      t.emplace(normalizeKey(name), ParamInfo{canonical ? canonical : name, p, s});
    };
    add("workgroup", Param::kWorkgroup, Scope::kGlobal);
    add("netbios name", Param::kNetbiosName, Scope::kGlobal);
    add("server string", Param::kServerString, Scope::kGlobal);
    add("smb ports", Param::kSmbPorts, Scope::kGlobal);
    add("interfaces", Param::kInterfaces, Scope::kGlobal);
    add("bind interfaces only", Param::kBindInterfacesOnly, Scope::kGlobal);
    add("bpf", Param::kBpf, Scope::kGlobal);
    add("bpf sockmap", Param::kBpfSockmap, Scope::kGlobal);
    add("bpf pin dir", Param::kBpfPinDir, Scope::kGlobal);
    add("control socket", Param::kControlSocket, Scope::kGlobal);
    add("server min protocol", Param::kServerMinProtocol, Scope::kGlobal);
    add("min protocol", Param::kServerMinProtocol, Scope::kGlobal, "server min protocol");
    add("server max protocol", Param::kServerMaxProtocol, Scope::kGlobal);
    add("max protocol", Param::kServerMaxProtocol, Scope::kGlobal, "server max protocol");
    add("protocol", Param::kServerMaxProtocol, Scope::kGlobal, "server max protocol");
    add("server signing", Param::kServerSigning, Scope::kGlobal);
    add("map to guest", Param::kMapToGuest, Scope::kGlobal);
    add("guest account", Param::kGuestAccount, Scope::kGlobal);
    add("max connections", Param::kMaxConnections, Scope::kGlobal);
    add("busy poll", Param::kBusyPoll, Scope::kGlobal);
    add("socket options", Param::kSocketOptions, Scope::kGlobal);
    add("smb passwd file", Param::kSmbPasswdFile, Scope::kGlobal);
    add("log level", Param::kLogLevel, Scope::kGlobal);
    add("debuglevel", Param::kLogLevel, Scope::kGlobal, "log level");
    add("server smb3 encryption algorithms", Param::kServerSmb3EncryptionAlgorithms,
        Scope::kGlobal);
    add("server smb3 signing algorithms", Param::kServerSmb3SigningAlgorithms, Scope::kGlobal);
    add("kerberos keytab file", Param::kKerberosKeytabFile, Scope::kGlobal);
    add("dedicated keytab file", Param::kKerberosKeytabFile, Scope::kGlobal,
        "kerberos keytab file");
    add("realm", Param::kRealm, Scope::kGlobal);
    add("server smb encrypt", Param::kServerSmbEncrypt, Scope::kGlobalAndShare);
    add("smb encrypt", Param::kServerSmbEncrypt, Scope::kGlobalAndShare, "server smb encrypt");

    add("path", Param::kPath, Scope::kShare);
    add("directory", Param::kPath, Scope::kShare, "path");
    add("comment", Param::kComment, Scope::kShare);
    add("read only", Param::kReadOnly, Scope::kShare);
    add("writeable", Param::kWriteable, Scope::kShare);
    add("writable", Param::kWriteable, Scope::kShare, "writeable");
    add("write ok", Param::kWriteable, Scope::kShare, "writeable");
    add("guest ok", Param::kGuestOk, Scope::kShare);
    add("public", Param::kGuestOk, Scope::kShare, "guest ok");
    add("valid users", Param::kValidUsers, Scope::kShare);
    add("invalid users", Param::kInvalidUsers, Scope::kShare);
    add("browseable", Param::kBrowseable, Scope::kShare);
    add("use sendfile", Param::kUseSendfile, Scope::kShare);
    add("browsable", Param::kBrowseable, Scope::kShare, "browseable");
    add("create mask", Param::kCreateMask, Scope::kShare);
    add("create mode", Param::kCreateMask, Scope::kShare, "create mask");
    add("directory mask", Param::kDirectoryMask, Scope::kShare);
    add("directory mode", Param::kDirectoryMask, Scope::kShare, "directory mask");
    add("force user", Param::kForceUser, Scope::kShare);
    add("force group", Param::kForceGroup, Scope::kShare);

    for (const char* name :
         {"security", "server role", "passdb backend", "log file", "max log size", "load printers",
          "printing", "disable spoolss", "dns proxy", "unix extensions"}) {
      add(name, Param::kIgnoredSilently, Scope::kIgnored);
    }
    add("vfs objects", Param::kIgnoredWithWarning, Scope::kIgnored);
    add("include", Param::kIgnoredWithWarning, Scope::kIgnored);
    return t;
  }());
  return *table;
}

// ---------------------------------------------------------------------------------------------
// Syntax: the file as sections of assignments.

struct Assignment {
  std::string name;  // as written (trimmed)
  std::string value;
  int line;
};

struct Section {
  std::string name;
  int line;
  std::vector<Assignment> assignments;
};

class Parser {
 public:
  ParseResult run(std::string_view text);

 private:
  void warn(int line, std::string msg) {
    result_.problems.push_back({Problem::Severity::kWarning, line, std::move(msg)});
  }
  void error(int line, std::string msg) {
    result_.problems.push_back({Problem::Severity::kError, line, std::move(msg)});
  }

  void readSyntax(std::string_view text);
  void handleLine(std::string_view line, int line_no);
  void applyGlobal(const ParamInfo& info, const Assignment& a, GlobalConfig* g);
  void applyShare(const ParamInfo& info, const Assignment& a, ShareConfig* s);
  std::optional<bool> boolValue(const ParamInfo& info, const Assignment& a);
  void algorithmList(const ParamInfo& info, const Assignment& a, std::vector<uint16_t>* list);
  void evaluate();
  void checkShare(const ShareConfig& share, int path_line);

  ParseResult result_;
  std::vector<Assignment> global_;
  std::vector<Section> shares_;
  Section* current_ = nullptr;  // nullptr while in [global] (or before any section)
  int min_protocol_line_ = 0;
  int max_protocol_line_ = 0;
};

void Parser::readSyntax(std::string_view text) {
  // A UTF-8 byte order mark is what editors on Windows put in front of the file.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line_no = 0;
  std::string logical;
  int logical_start = 0;
  bool continuing = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view phys =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!phys.empty() && phys.back() == '\r') phys.remove_suffix(1);
    if (!continuing) {
      logical.clear();
      logical_start = line_no;
    }
    if (!phys.empty() && phys.back() == '\\') {
      logical.append(phys.substr(0, phys.size() - 1));
      continuing = true;
      continue;
    }
    logical.append(phys);
    continuing = false;
    handleLine(logical, logical_start);
  }
  if (continuing) {
    warn(logical_start, "line continuation '\\' at end of file");
    handleLine(logical, logical_start);
  }
}

void Parser::handleLine(std::string_view raw, int line_no) {
  std::string_view line = trim(raw);
  if (line.empty() || line.front() == ';' || line.front() == '#') return;
  if (line.front() == '[') {
    size_t close = line.find(']');
    if (close == std::string_view::npos) {
      error(line_no, "section header without closing ']'");
      // Parameters that follow must not silently land in [global] or the previous share.
      shares_.push_back(Section{"", line_no, {}});
      current_ = &shares_.back();
      return;
    }
    std::string_view name = trim(line.substr(1, close - 1));
    std::string_view rest = trim(line.substr(close + 1));
    if (!rest.empty() && rest.front() != ';' && rest.front() != '#') {
      warn(line_no, absl::StrCat("text after section header [", std::string(name), "] ignored"));
    }
    if (normalizeKey(name) == "global") {
      current_ = nullptr;
      return;
    }
    for (Section& s : shares_) {
      if (!s.name.empty() && equalsIgnoreCase(s.name, name)) {
        warn(line_no, absl::StrCat("section [", std::string(name),
                                   "] appears again; merged with the one at line ", s.line));
        current_ = &s;
        return;
      }
    }
    shares_.push_back(Section{std::string(name), line_no, {}});
    current_ = &shares_.back();
    if (name.empty()) error(line_no, "empty section name");
    return;
  }
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    error(line_no, absl::StrCat("malformed line \"", std::string(line),
                                "\" (expected \"name = value\" or \"[section]\")"));
    return;
  }
  std::string_view name = trim(line.substr(0, eq));
  std::string_view value = trim(line.substr(eq + 1));
  if (name.empty()) {
    error(line_no, "missing parameter name before '='");
    return;
  }
  Assignment a{std::string(name), std::string(value), line_no};
  if (current_) {
    current_->assignments.push_back(std::move(a));
  } else {
    global_.push_back(std::move(a));
  }
}

std::optional<bool> Parser::boolValue(const ParamInfo& info, const Assignment& a) {
  std::optional<bool> b = parseBool(a.value);
  if (!b) {
    error(a.line, absl::StrCat("invalid boolean \"", a.value, "\" for \"", info.canonical,
                               "\" (use yes or no)"));
  }
  return b;
}

// Samba's list syntax: names replace the list; when the first item starts with '+' or '-',
// every item adds a name to (at the end) or removes it from the value so far. "default" alone
// restores the built-in list. The list is left unchanged on any error.
void Parser::algorithmList(const ParamInfo& info, const Assignment& a,
                           std::vector<uint16_t>* list) {
  bool encryption = info.param == Param::kServerSmb3EncryptionAlgorithms;
  std::vector<std::string> items = splitList(a.value);
  if (items.size() == 1 && normalizeKey(items[0]) == "default") {
    GlobalConfig defaults;
    *list = encryption ? defaults.server_smb3_encryption_algorithms
                       : defaults.server_smb3_signing_algorithms;
    return;
  }
  auto isEdit = [](const std::string& item) {
    return item.size() > 1 && (item[0] == '+' || item[0] == '-');
  };
  bool edit = !items.empty() && isEdit(items[0]);
  std::vector<uint16_t> out = edit ? *list : std::vector<uint16_t>{};
  for (const std::string& item : items) {
    if (isEdit(item) != edit) {
      error(a.line,
            absl::StrCat("\"", info.canonical, "\" mixes names with +/- edits (\"", item, "\")"));
      return;
    }
    std::string_view name = edit ? std::string_view(item).substr(1) : std::string_view(item);
    std::optional<uint16_t> id = encryption ? algorithmId(kEncryptionAlgorithms, name)
                                            : algorithmId(kSigningAlgorithms, name);
    if (!id) {
      error(a.line,
            absl::StrCat("unknown algorithm \"", std::string(name), "\" in \"", info.canonical,
                         encryption ? "\" (use AES-128-GCM, AES-128-CCM, AES-256-GCM, "
                                      "AES-256-CCM or default)"
                                    : "\" (use AES-128-GMAC, AES-128-CMAC, HMAC-SHA256 "
                                      "or default)"));
      return;
    }
    auto it = std::find(out.begin(), out.end(), *id);
    if (edit && item[0] == '-') {
      if (it != out.end()) out.erase(it);
    } else if (it != out.end()) {
      if (!edit) {
        warn(a.line, absl::StrCat("algorithm \"", std::string(name), "\" listed twice in \"",
                                  info.canonical, "\"; the repetition is ignored"));
      }
    } else {
      out.push_back(*id);
    }
  }
  if (out.empty()) {
    error(a.line, absl::StrCat("\"", info.canonical, "\" leaves no algorithm"));
    return;
  }
  *list = std::move(out);
}

void Parser::applyGlobal(const ParamInfo& info, const Assignment& a, GlobalConfig* g) {
  const std::string& v = a.value;
  switch (info.param) {
    case Param::kWorkgroup:
      g->workgroup = asciiUpperStr(v);
      if (g->workgroup.empty()) error(a.line, "\"workgroup\" must not be empty");
      break;
    case Param::kNetbiosName:
      g->netbios_name = asciiUpperStr(v);
      if (g->netbios_name.size() > 15) {
        warn(a.line, absl::StrCat("netbios name \"", v, "\" is longer than 15 characters"));
      }
      break;
    case Param::kServerString:
      g->server_string = v;
      break;
    case Param::kSmbPorts: {
      std::vector<uint16_t> ports;
      for (const std::string& item : splitList(v)) {
        std::optional<uint64_t> n = parseUnsigned(item, 65535);
        if (!n || *n == 0) {
          error(a.line, absl::StrCat("invalid port \"", item, "\" in \"smb ports\""));
          return;
        }
        if (std::find(ports.begin(), ports.end(), *n) == ports.end()) {
          ports.push_back(static_cast<uint16_t>(*n));
        }
      }
      if (ports.empty()) {
        error(a.line, "\"smb ports\" lists no port");
        return;
      }
      g->smb_ports = std::move(ports);
      break;
    }
    case Param::kInterfaces:
      g->interfaces = splitList(v);
      break;
    case Param::kBindInterfacesOnly:
      if (auto b = boolValue(info, a)) g->bind_interfaces_only = *b;
      break;
    case Param::kBpf:
      if (auto b = boolValue(info, a)) g->bpf = *b;
      break;
    case Param::kBpfSockmap:
      if (auto b = boolValue(info, a)) g->bpf_sockmap = *b;
      break;
    case Param::kBpfPinDir:
      if (v.empty()) {
        error(a.line, "\"bpf pin dir\" must not be empty");
      } else {
        g->bpf_pin_dir = v;
      }
      break;
    case Param::kControlSocket:
      g->control_socket = v;
      break;
    case Param::kServerMinProtocol:
    case Param::kServerMaxProtocol: {
      bool is_min = info.param == Param::kServerMinProtocol;
      (is_min ? min_protocol_line_ : max_protocol_line_) = a.line;
      uint16_t* field = is_min ? &g->server_min_protocol : &g->server_max_protocol;
      std::string k = normalizeKey(v);
      if (k == "default") {
        *field = is_min ? GlobalConfig{}.server_min_protocol : GlobalConfig{}.server_max_protocol;
        return;
      }
      if (std::optional<uint16_t> d = dialectFromProtocolName(v)) {
        *field = *d;
        return;
      }
      bool smb1 = k == "nt1" || k == "lanman1" || k == "lanman2" || k == "core" || k == "coreplus";
      if (smb1 && is_min) {
        warn(a.line, absl::StrCat("SMB1 protocol \"", v,
                                  "\" is not supported; server min protocol is SMB2_02"));
        *field = 0x0202;
        return;
      }
      error(a.line, absl::StrCat(smb1 ? "unsupported SMB1 protocol \"" : "unknown protocol \"", v,
                                 "\" for \"", info.canonical,
                                 "\" (use SMB2_02, SMB2_10, SMB3_00, SMB3_02 or SMB3_11)"));
      break;
    }
    case Param::kServerSigning: {
      std::string k = normalizeKey(v);
      if (k == "disabled" || k == "no" || k == "off" || k == "false" || k == "0") {
        g->server_signing = SigningPolicy::kDisabled;
      } else if (k == "auto" || k == "default" || k == "yes" || k == "on" || k == "true" ||
                 k == "1" || k == "enabled" || k == "ifrequired" || k == "desired") {
        g->server_signing = SigningPolicy::kAuto;
      } else if (k == "mandatory" || k == "required" || k == "force" || k == "forced" ||
                 k == "enforced") {
        g->server_signing = SigningPolicy::kMandatory;
      } else {
        error(a.line, absl::StrCat("invalid value \"", v,
                                   "\" for \"server signing\" (use auto, mandatory or disabled)"));
      }
      break;
    }
    case Param::kMapToGuest: {
      std::string k = normalizeKey(v);
      if (k == "never") {
        g->map_to_guest = MapToGuest::kNever;
      } else if (k == "baduser") {
        g->map_to_guest = MapToGuest::kBadUser;
      } else if (k == "badpassword") {
        g->map_to_guest = MapToGuest::kBadPassword;
      } else {
        error(a.line, absl::StrCat("invalid value \"", v,
                                   "\" for \"map to guest\" (use Never, Bad User or Bad "
                                   "Password)"));
      }
      break;
    }
    case Param::kGuestAccount:
      if (v.empty()) {
        error(a.line, "\"guest account\" must not be empty");
      } else {
        g->guest_account = v;
      }
      break;
    case Param::kMaxConnections: {
      std::optional<uint64_t> n = parseUnsigned(v, UINT32_MAX);
      if (!n) {
        error(a.line, absl::StrCat("invalid number \"", v, "\" for \"max connections\""));
      } else {
        g->max_connections = static_cast<uint32_t>(*n);
      }
      break;
    }
    case Param::kBusyPoll: {
      std::optional<uint64_t> n = parseUnsigned(v, kMaxBusyPollUsecs);
      if (!n) {
        error(a.line,
              absl::StrCat("invalid number \"", v, "\" for \"busy poll\" (microseconds, 0 to ",
                           kMaxBusyPollUsecs, ")"));
      } else {
        g->busy_poll_usecs = static_cast<uint32_t>(*n);
      }
      break;
    }
    case Param::kSocketOptions: {
      std::vector<SocketOption> opts;
      std::vector<std::string> ignored;
      std::string err = parseSocketOptions(v, &opts, &ignored);
      if (!err.empty()) {
        error(a.line, err);
      } else {
        for (const std::string& w : ignored) {
          warn(a.line,
               absl::StrCat("socket option ", w, " has no effect on a connection, ignored"));
        }
        g->socket_options = std::move(opts);
      }
      break;
    }
    case Param::kSmbPasswdFile:
      if (v.empty()) {
        error(a.line, "\"smb passwd file\" must not be empty");
      } else {
        g->smb_passwd_file = v;
      }
      break;
    case Param::kLogLevel: {
      // Samba allows per-class levels after the first ("3 auth:5"); only the first counts here.
      std::vector<std::string> items = splitList(v);
      std::optional<uint64_t> n = items.empty() ? std::nullopt : parseUnsigned(items.front(), 10);
      if (!n) {
        error(a.line, absl::StrCat("invalid value \"", v, "\" for \"log level\" (0 to 10)"));
      } else {
        g->log_level = static_cast<int>(*n);
      }
      break;
    }
    case Param::kServerSmb3EncryptionAlgorithms:
      algorithmList(info, a, &g->server_smb3_encryption_algorithms);
      break;
    case Param::kServerSmb3SigningAlgorithms:
      algorithmList(info, a, &g->server_smb3_signing_algorithms);
      break;
    case Param::kKerberosKeytabFile:
      g->kerberos_keytab_file = v;
      if (!v.empty() && v.front() != '/') {
        warn(a.line, absl::StrCat("\"kerberos keytab file\" \"", v, "\" is not an absolute path"));
      }
      break;
    case Param::kRealm:
      g->realm = asciiUpperStr(v);
      break;
    default:
      break;
  }
}

void Parser::applyShare(const ParamInfo& info, const Assignment& a, ShareConfig* s) {
  const std::string& v = a.value;
  switch (info.param) {
    case Param::kPath:
      s->path = v;
      break;
    case Param::kComment:
      s->comment = v;
      break;
    case Param::kReadOnly:
      if (auto b = boolValue(info, a)) s->read_only = *b;
      break;
    case Param::kWriteable:
      if (auto b = boolValue(info, a)) s->read_only = !*b;
      break;
    case Param::kGuestOk:
      if (auto b = boolValue(info, a)) s->guest_ok = *b;
      break;
    case Param::kUseSendfile:
      if (auto b = boolValue(info, a)) s->use_sendfile = *b;
      break;
    case Param::kValidUsers:
      s->valid_users = splitList(v);
      break;
    case Param::kInvalidUsers:
      s->invalid_users = splitList(v);
      break;
    case Param::kBrowseable:
      if (auto b = boolValue(info, a)) s->browseable = *b;
      break;
    case Param::kCreateMask:
    case Param::kDirectoryMask: {
      std::optional<uint32_t> m = parseOctalMask(v);
      if (!m) {
        error(a.line, absl::StrCat("invalid octal mask \"", v, "\" for \"", info.canonical,
                                   "\" (e.g. 0755)"));
      } else {
        (info.param == Param::kCreateMask ? s->create_mask : s->directory_mask) = *m;
      }
      break;
    }
    case Param::kForceUser:
      s->force_user = v;
      break;
    case Param::kForceGroup:
      s->force_group = v;
      break;
    case Param::kServerSmbEncrypt:
      if (std::optional<EncryptPolicy> p = parseEncryptPolicy(v)) {
        s->smb_encrypt = *p;
      } else {
        error(a.line, absl::StrCat("invalid value \"", v, "\" for \"", info.canonical,
                                   "\" (use off, if_required, desired or required)"));
      }
      break;
    default:
      break;
  }
}

void Parser::checkShare(const ShareConfig& share, int path_line) {
  if (share.name.empty()) return;  // already reported
  if (share.name.size() > 80) {
    error(share.line, absl::StrCat("share name [", share.name, "] is longer than 80 characters"));
  }
  for (char c : share.name) {
    if (strchr("\\/:*?\"<>|", c) != nullptr || static_cast<unsigned char>(c) < 0x20) {
      error(share.line, absl::StrCat("share name [", share.name,
                                     "] contains a character not allowed in share names"));
      break;
    }
  }
  if (share.is_ipc) return;
  int line = path_line ? path_line : share.line;
  if (share.path.empty()) {
    error(line, absl::StrCat("share [", share.name, "] has no \"path\""));
    return;
  }
  struct stat st;
  if (stat(share.path.c_str(), &st) != 0) {
    error(line, absl::StrCat("path \"", share.path, "\" of share [", share.name,
                             "] does not exist: ", strerror(errno)));
  } else if (!S_ISDIR(st.st_mode)) {
    error(line,
          absl::StrCat("path \"", share.path, "\" of share [", share.name, "] is not a directory"));
  }
}

void Parser::evaluate() {
  Config& config = result_.config;
  ShareConfig defaults;
  int default_path_line = 0;
  const auto& table = paramTable();
  auto lookup = [&](const Assignment& a) -> const ParamInfo* {
    auto it = table.find(normalizeKey(a.name));
    if (it == table.end()) {
      error(a.line, absl::StrCat("unknown parameter \"", a.name, "\""));
      return nullptr;
    }
    if (it->second.param == Param::kIgnoredWithWarning) {
      warn(a.line, absl::StrCat("parameter \"", a.name, "\" is not supported by xsmbd; ignored"));
    }
    return &it->second;
  };

  for (const Assignment& a : global_) {
    const ParamInfo* info = lookup(a);
    if (!info) continue;
    if (info->scope == Scope::kGlobal) {
      applyGlobal(*info, a, &config.global);
    } else if (info->scope == Scope::kShare) {
      applyShare(*info, a, &defaults);
      if (info->param == Param::kPath) default_path_line = a.line;
    } else if (info->scope == Scope::kGlobalAndShare) {
      // Parsed once (one error for a bad value), then copied to the global setting.
      applyShare(*info, a, &defaults);
      config.global.server_smb_encrypt = defaults.smb_encrypt;
    }
  }
  if (config.global.netbios_name.empty()) config.global.netbios_name = defaultNetbiosName();
  if (config.global.server_min_protocol > config.global.server_max_protocol) {
    error(min_protocol_line_ ? min_protocol_line_ : max_protocol_line_,
          absl::StrCat("server min protocol ",
                       protocolNameFromDialect(config.global.server_min_protocol),
                       " is above server max protocol ",
                       protocolNameFromDialect(config.global.server_max_protocol)));
  }

  bool have_ipc = false;
  for (const Section& section : shares_) {
    // A broken header was reported; what follows it has no share to belong to.
    if (section.name.empty()) continue;
    ShareConfig share = defaults;
    share.name = section.name;
    share.line = section.line;
    share.is_ipc = equalsIgnoreCase(section.name, "IPC$");
    have_ipc |= share.is_ipc;
    int path_line = default_path_line;
    for (const Assignment& a : section.assignments) {
      const ParamInfo* info = lookup(a);
      if (!info) continue;
      if (info->scope == Scope::kGlobal) {
        warn(a.line, absl::StrCat("global parameter \"", a.name, "\" in share [", section.name,
                                  "] ignored; it belongs in [global]"));
      } else if (info->scope == Scope::kShare || info->scope == Scope::kGlobalAndShare) {
        applyShare(*info, a, &share);
        if (info->param == Param::kPath) path_line = a.line;
      }
    }
    checkShare(share, path_line);
    config.shares.push_back(std::move(share));
  }
  if (!have_ipc) {
    ShareConfig ipc;
    ipc.name = "IPC$";
    ipc.comment = absl::StrCat("IPC Service (", config.global.server_string, ")");
    ipc.guest_ok = true;
    ipc.is_ipc = true;
    // Like Samba's implicit IPC$, it follows the [global] encryption setting.
    ipc.smb_encrypt = defaults.smb_encrypt;
    config.shares.push_back(std::move(ipc));
  }
}

ParseResult Parser::run(std::string_view text) {
  // Pointers into shares_ must stay valid while sections are added.
  shares_.reserve(std::count(text.begin(), text.end(), '[') + 1);
  readSyntax(text);
  evaluate();
  // Problems not tied to a line go last; otherwise in file order.
  std::stable_sort(result_.problems.begin(), result_.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     int la = a.line == 0 ? INT32_MAX : a.line;
                     int lb = b.line == 0 ? INT32_MAX : b.line;
                     return la < lb;
                   });
  return std::move(result_);
}

const char* boolWord(bool b) { return b ? "Yes" : "No"; }

std::string octal(uint32_t v) { return absl::StrFormat("0%o", v); }

}  // namespace

SocketOption defaultSocketOption() { return {IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"}; }

const ShareConfig* Config::findShare(std::string_view name) const {
  for (const ShareConfig& s : shares) {
    if (equalsIgnoreCase(s.name, name)) return &s;
  }
  return nullptr;
}

bool ParseResult::hasErrors() const {
  return std::any_of(problems.begin(), problems.end(),
                     [](const Problem& p) { return p.severity == Problem::Severity::kError; });
}

ParseResult parseSmbConf(std::string_view text) { return Parser().run(text); }

absl::StatusOr<ParseResult> loadSmbConf(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return parseSmbConf(text);
}

std::string renderConfig(const Config& config) {
  const GlobalConfig& g = config.global;
  std::string out = "# xsmbd effective configuration\n[global]\n";
  auto line = [&out](const char* name, const std::string& value) {
    // A value ending in '\\' would continue onto the next line; a blank after it stops that
    // and is trimmed away again when parsed.
    bool backslash = !value.empty() && value.back() == '\\';
    absl::StrAppend(&out, "\t", name, " = ", value, backslash ? " \n" : "\n");
  };
  std::vector<std::string> ports;
  for (uint16_t p : g.smb_ports) ports.push_back(std::to_string(p));
  line("workgroup", g.workgroup);
  line("netbios name", g.netbios_name);
  line("server string", g.server_string);
  line("smb ports", joinList(ports, " ", false));
  line("interfaces", joinList(g.interfaces, " ", true));
  line("bind interfaces only", boolWord(g.bind_interfaces_only));
  line("bpf", boolWord(g.bpf));
  line("bpf sockmap", boolWord(g.bpf_sockmap));
  line("bpf pin dir", g.bpf_pin_dir);
  line("control socket", g.control_socket);
  line("server min protocol", protocolNameFromDialect(g.server_min_protocol));
  line("server max protocol", protocolNameFromDialect(g.server_max_protocol));
  line("server signing", g.server_signing == SigningPolicy::kDisabled    ? "disabled"
                         : g.server_signing == SigningPolicy::kMandatory ? "mandatory"
                                                                         : "auto");
  line("map to guest", g.map_to_guest == MapToGuest::kBadUser       ? "Bad User"
                       : g.map_to_guest == MapToGuest::kBadPassword ? "Bad Password"
                                                                    : "Never");
  line("guest account", g.guest_account);
  line("max connections", std::to_string(g.max_connections));
  line("busy poll", std::to_string(g.busy_poll_usecs));
  std::vector<std::string> socket_words;
  for (const SocketOption& o : g.socket_options) socket_words.push_back(o.text);
  line("socket options", joinList(socket_words, " ", false));
  line("smb passwd file", g.smb_passwd_file);
  line("log level", std::to_string(g.log_level));
  line("server smb encrypt", encryptPolicyWord(g.server_smb_encrypt));
  std::vector<std::string> ciphers, signers;
  for (uint16_t id : g.server_smb3_encryption_algorithms) {
    ciphers.push_back(encryptionAlgorithmName(id));
  }
  for (uint16_t id : g.server_smb3_signing_algorithms) {
    signers.push_back(signingAlgorithmName(id));
  }
  line("server smb3 encryption algorithms", joinList(ciphers, ", ", false));
  line("server smb3 signing algorithms", joinList(signers, ", ", false));
  line("kerberos keytab file", g.kerberos_keytab_file);
  line("realm", g.realm);
  for (const ShareConfig& s : config.shares) {
    absl::StrAppend(&out, "\n[", s.name, "]\n");
    line("path", s.path);
    line("comment", s.comment);
    line("read only", boolWord(s.read_only));
    line("guest ok", boolWord(s.guest_ok));
    line("valid users", joinList(s.valid_users, ", ", true));
    line("invalid users", joinList(s.invalid_users, ", ", true));
    line("browseable", boolWord(s.browseable));
    line("create mask", octal(s.create_mask));
    line("directory mask", octal(s.directory_mask));
    line("force user", s.force_user);
    line("force group", s.force_group);
    line("server smb encrypt", encryptPolicyWord(s.smb_encrypt));
    line("use sendfile", boolWord(s.use_sendfile));
  }
  return out;
}

Config embeddedDefault(const std::string& demo_dir, uint16_t port, const std::string& passwd_file) {
  Config c;
  c.global.netbios_name = defaultNetbiosName();
  c.global.smb_ports = {port};
  c.global.interfaces = {"127.0.0.1"};
  c.global.bind_interfaces_only = true;
  c.global.map_to_guest = MapToGuest::kBadUser;
  c.global.smb_passwd_file = passwd_file;
  ShareConfig demo;
  demo.name = "demo";
  demo.path = demo_dir;
  demo.comment = "xsmbd demo share";
  demo.read_only = false;
  demo.guest_ok = true;
  c.shares.push_back(std::move(demo));
  ShareConfig ipc;
  ipc.name = "IPC$";
  ipc.comment = absl::StrCat("IPC Service (", c.global.server_string, ")");
  ipc.guest_ok = true;
  ipc.is_ipc = true;
  c.shares.push_back(std::move(ipc));
  return c;
}

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
  std::string upper = asciiUpperStr(trim(name));
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

std::string defaultNetbiosName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "XSMBD";
  std::string_view h(host);
  h = h.substr(0, h.find('.'));
  return asciiUpperStr(h.substr(0, 15));
}

absl::StatusOr<std::vector<std::string>> listenAddresses(const GlobalConfig& global) {
  if (!global.bind_interfaces_only) return std::vector<std::string>{"0.0.0.0", "::"};
  if (global.interfaces.empty()) {
    return absl::InvalidArgumentError(
        "\"bind interfaces only\" is set but \"interfaces\" is empty");
  }
  std::vector<std::string> out;
  auto addUnique = [&out](std::string a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(std::move(a));
  };
  struct ifaddrs* ifs = nullptr;
  bool have_ifs = false;
  for (const std::string& entry : global.interfaces) {
    std::string addr = entry.substr(0, entry.find('/'));
    in_addr v4;
    in6_addr v6;
    if (inet_pton(AF_INET, addr.c_str(), &v4) == 1 || inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
      addUnique(addr);
      continue;
    }
    if (entry.find('/') != std::string::npos) {
      if (ifs) freeifaddrs(ifs);
      return absl::InvalidArgumentError(
          absl::StrCat("interfaces entry \"", entry, "\" is not a valid address/prefix"));
    }
    if (!have_ifs) {
      if (getifaddrs(&ifs) != 0) {
        int err = errno;
        return absl::ErrnoToStatus(err, "getifaddrs");
      }
      have_ifs = true;
    }
    bool found = false;
    for (struct ifaddrs* i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || !i->ifa_name || entry != i->ifa_name) continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (i->ifa_addr->sa_family == AF_INET) {
        auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        addUnique(text);
        found = true;
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        // A link-local address is only usable together with its interface.
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
          addUnique(absl::StrCat(text, "%", entry));
        } else {
          addUnique(text);
        }
        found = true;
      }
    }
    if (!found) {
      if (ifs) freeifaddrs(ifs);
      return absl::NotFoundError(
          absl::StrCat("interfaces entry \"", entry,
                       "\" is neither an IP address nor an interface with an "
                       "address"));
    }
  }
  if (ifs) freeifaddrs(ifs);
  return out;
}

}  // namespace xsmb::config
