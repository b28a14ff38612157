// Private to server/config: what the stages of smb.conf parsing share. parseSmbConf
// (smb_conf.cc) runs them in order: readSyntax (smb_conf_syntax.cc) cuts the text into sections
// of `name = value` assignments; evaluate (smb_conf_validate.cc) looks each name up in the
// parameter table (smb_conf_params.cc), applies it in its section's scope and checks the whole
// configuration. The value words every stage reads are in smb_conf_values.cc. Nothing outside
// server/config includes this header; the public API is smb_conf.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/config/smb_conf.h"

namespace xsmb::config::internal {

// ---------------------------------------------------------------------------------------------
// Problems: each stage appends to the one list of ParseResult, in the order it finds them;
// parseSmbConf orders the list by line at the end (stable, so one line keeps that order).

class ProblemList {
 public:
  explicit ProblemList(std::vector<Problem>* problems) : problems_(problems) {}
  void warn(int line, std::string message) {
    problems_->push_back({Problem::Severity::kWarning, line, std::move(message)});
  }
  void error(int line, std::string message) {
    problems_->push_back({Problem::Severity::kError, line, std::move(message)});
  }

 private:
  std::vector<Problem>* problems_;
};

// ---------------------------------------------------------------------------------------------
// Value words (smb_conf_values.cc). std::string_view throughout; this abseil build has its own
// string_view type, so absl::StripAsciiWhitespace and friends are not used.

// The blanks Samba's parser skips: space, tab, CR, FF, VT (not '\n', which ends a line).
bool isSpace(char c);
// `s` without leading and trailing blanks (isSpace).
std::string_view trim(std::string_view s);
// `s` with ASCII a-z upper-cased; other bytes unchanged.
std::string asciiUpperStr(std::string_view s);
// Samba compares parameter names and enum words ignoring case, blanks and underscores:
// "Bind_Interfaces Only" -> "bindinterfacesonly".
std::string normalizeKey(std::string_view s);
// Splits on whitespace and commas; a double-quoted run is one item (quotes removed), so
// `valid users = "Domain Users", bob` yields {"Domain Users", "bob"}. Empty items are dropped.
std::vector<std::string> splitList(std::string_view s);
// yes/true/1/on -> true, no/false/0/off -> false (compared like normalizeKey); else nullopt.
std::optional<bool> parseBool(std::string_view v);
// Samba's enum_smb_encryption_vals words (see EncryptPolicy in smb_conf.h); nullopt if unknown.
std::optional<EncryptPolicy> parseEncryptPolicy(std::string_view v);
// Unsigned decimal, no sign, no junk; nullopt if empty, not all digits, or above `max`.
std::optional<uint64_t> parseUnsigned(std::string_view v, uint64_t max);
// Octal permission mask such as "0744" or "744" (at most 07777); nullopt otherwise.
std::optional<uint32_t> parseOctalMask(std::string_view v);
// "socket options" words (see GlobalConfig::socket_options) into *out (cleared first). Returns
// "" or the error message; words Samba knows that mean nothing on a connection go to *ignored.
std::string parseSocketOptions(std::string_view v, std::vector<SocketOption>* out,
                               std::vector<std::string>* ignored);

// ---------------------------------------------------------------------------------------------
// Syntax (smb_conf_syntax.cc): the file as sections of assignments, nothing interpreted yet.

struct Assignment {
  std::string name;  // as written (trimmed)
  std::string value;
  int line;  // of the first physical line when continued with '\'
};

struct Section {
  // "" for an empty name or a header without its closing ']': reported, and its lines dropped.
  std::string name;
  int line;
  std::vector<Assignment> assignments;
};

struct Syntax {
  std::vector<Assignment> global;  // [global], and lines before any section header
  std::vector<Section> shares;     // in order of first appearance; a repeated header merges
};

// Reads smb.conf text: a leading UTF-8 BOM, '\n' or "\r\n" line ends, '\' continuation, ';' and
// '#' comment lines, "[section]" headers and `name = value` lines. Malformed lines, a header
// without ']', an empty or repeated section name and text after a header go to *problems.
Syntax readSyntax(std::string_view text, ProblemList* problems);

// ---------------------------------------------------------------------------------------------
// Parameter table (smb_conf_params.cc): Samba's parameter names, their scope and setters.

enum class Param {
  // [global] only.
  kWorkgroup,
  kNetbiosName,
  kServerString,
  kSmbPorts,
  kInterfaces,
  kBindInterfacesOnly,
  kServerMultiChannelSupport,
  kSmb2DisableOplockBreakRetry,
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
  kWorkerCpus,
  kTakeoverDrainTime,
  kUserBandwidthLimit,
  kUserRequestRateLimit,
  kShareBandwidthLimit,
  kShareRequestRateLimit,
  kSocketOptions,
  kSmbPasswdFile,
  kLogLevel,
  kServerSmb3EncryptionAlgorithms,
  kServerSmb3SigningAlgorithms,
  kKerberosKeytabFile,
  kRealm,
  kSmbDirect,  // every "smb direct ..." parameter (smb_conf_smbdirect.h)
  kSmb3DirectoryLeases,
  kSmbDirectMode,  // "smb direct" itself (no | auto | yes)
  kSmbDirectPort,
  kHardening,  // limits under abuse, "restrict anonymous" (smb_conf_hardening.h)
  kOps,        // "metrics address", "shutdown timeout" (smb_conf_ops.h)
  kQuic,  // SMB over QUIC: transports, TLS files, port (smb_conf_quic.h)
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

// The table entry of a parameter name as written (compared like normalizeKey, so aliases and
// Samba's spelling variants find the same entry); nullptr if xsmbd does not know the name.
const ParamInfo* findParam(std::string_view name);

// Sets the field of `info` (a Scope::kGlobal parameter) in *g from `a.value`. A value that does
// not parse is reported on a.line and leaves the field unchanged.
void applyGlobal(const ParamInfo& info, const Assignment& a, GlobalConfig* g,
                 ProblemList* problems);
// Sets the field of `info` (Scope::kShare or kGlobalAndShare) in *s, reporting like applyGlobal.
void applyShare(const ParamInfo& info, const Assignment& a, ShareConfig* s, ProblemList* problems);

// ---------------------------------------------------------------------------------------------
// Validation (smb_conf_validate.cc).

// The configuration `syntax` describes: every assignment applied in its section's scope
// ([global] share parameters become every share's default, global parameters in a share are
// warned about), then the checks that need the whole file (protocol range, share names and
// paths) and the implicit IPC$ share. Problems go to *problems in the order they are found.
Config evaluate(const Syntax& syntax, ProblemList* problems);

}  // namespace xsmb::config::internal
