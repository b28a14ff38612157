// Validation of the whole configuration: each assignment of the syntax looked up in the
// parameter table and applied in its section's scope, then what no single line can check (the
// protocol range, share names and paths), and the IPC$ share every server has.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/unicode.h"
#include "server/config/smb_conf.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config::internal {
namespace {

// A share name Windows clients can use (at most 80 characters, NNLEN in Windows' lmcons.h; none
// of \/:*?"<>| or control characters), and a path that is an existing directory (IPC$ has
// none). `path_line` is where the path was set: 0 reports at the section header.
void checkShare(const ShareConfig& share, int path_line, ProblemList* problems) {
  if (share.name.empty()) return;  // already reported
  if (share.name.size() > 80) {
    problems->error(share.line,
                    absl::StrCat("share name [", share.name, "] is longer than 80 characters"));
  }
  for (char c : share.name) {
    if (strchr("\\/:*?\"<>|", c) != nullptr || static_cast<unsigned char>(c) < 0x20) {
      problems->error(share.line,
                      absl::StrCat("share name [", share.name,
                                   "] contains a character not allowed in share names"));
      break;
    }
  }
  if (share.is_ipc) return;
  int line = path_line ? path_line : share.line;
  if (share.path.empty()) {
    problems->error(line, absl::StrCat("share [", share.name, "] has no \"path\""));
    return;
  }
  struct stat st;
  if (stat(share.path.c_str(), &st) != 0) {
    problems->error(line, absl::StrCat("path \"", share.path, "\" of share [", share.name,
                                       "] does not exist: ", strerror(errno)));
  } else if (!S_ISDIR(st.st_mode)) {
    problems->error(line, absl::StrCat("path \"", share.path, "\" of share [", share.name,
                                       "] is not a directory"));
  }
}

// The table entry of `a`, reporting an unknown name (nullptr) and a parameter xsmbd accepts but
// ignores with a warning.
const ParamInfo* lookupParam(const Assignment& a, ProblemList* problems) {
  const ParamInfo* info = findParam(a.name);
  if (!info) {
    problems->error(a.line, absl::StrCat("unknown parameter \"", a.name, "\""));
    return nullptr;
  }
  if (info->param == Param::kIgnoredWithWarning) {
    problems->warn(a.line,
                   absl::StrCat("parameter \"", a.name, "\" is not supported by xsmbd; ignored"));
  }
  return info;
}

// What [global] sets: the global configuration, the defaults of every share, and the lines
// where the share path and the protocol range were last set (0: not set).
struct GlobalSection {
  ShareConfig defaults;
  int default_path_line = 0;
  int min_protocol_line = 0;
  int max_protocol_line = 0;
};

// Applies the [global] assignments to config->global and to global->defaults.
void evaluateGlobal(const std::vector<Assignment>& assignments, Config* config,
                    GlobalSection* global, ProblemList* problems) {
  for (const Assignment& a : assignments) {
    const ParamInfo* info = lookupParam(a, problems);
    if (!info) continue;
    if (info->scope == Scope::kGlobal) {
      if (info->param == Param::kServerMinProtocol) global->min_protocol_line = a.line;
      if (info->param == Param::kServerMaxProtocol) global->max_protocol_line = a.line;
      applyGlobal(*info, a, &config->global, problems);
    } else if (info->scope == Scope::kShare) {
      applyShare(*info, a, &global->defaults, problems);
      if (info->param == Param::kPath) global->default_path_line = a.line;
    } else if (info->scope == Scope::kGlobalAndShare) {
      // Parsed once (one error for a bad value), then copied to the global setting.
      applyShare(*info, a, &global->defaults, problems);
      config->global.server_smb_encrypt = global->defaults.smb_encrypt;
    }
  }
}

// An inverted protocol range, reported where it was last set.
void checkProtocolRange(const GlobalConfig& g, const GlobalSection& global, ProblemList* problems) {
  if (g.server_min_protocol <= g.server_max_protocol) return;
  problems->error(
      global.min_protocol_line ? global.min_protocol_line : global.max_protocol_line,
      absl::StrCat("server min protocol ", protocolNameFromDialect(g.server_min_protocol),
                   " is above server max protocol ",
                   protocolNameFromDialect(g.server_max_protocol)));
}

// The share `section` describes: the [global] defaults with its own assignments applied (global
// parameters are warned about and ignored), then checked (checkShare).
ShareConfig evaluateShare(const Section& section, const GlobalSection& global,
                          ProblemList* problems) {
  ShareConfig share = global.defaults;
  share.name = section.name;
  share.line = section.line;
  share.is_ipc = equalsIgnoreCase(section.name, "IPC$");
  int path_line = global.default_path_line;
  for (const Assignment& a : section.assignments) {
    const ParamInfo* info = lookupParam(a, problems);
    if (!info) continue;
    if (info->scope == Scope::kGlobal) {
      problems->warn(a.line, absl::StrCat("global parameter \"", a.name, "\" in share [",
                                          section.name, "] ignored; it belongs in [global]"));
    } else if (info->scope == Scope::kShare || info->scope == Scope::kGlobalAndShare) {
      applyShare(*info, a, &share, problems);
      if (info->param == Param::kPath) path_line = a.line;
    }
  }
  checkShare(share, path_line, problems);
  return share;
}

// The IPC$ share a configuration without one gets.
ShareConfig implicitIpc(const GlobalConfig& g, const ShareConfig& defaults) {
  ShareConfig ipc;
  ipc.name = "IPC$";
  ipc.comment = absl::StrCat("IPC Service (", g.server_string, ")");
  ipc.guest_ok = true;
  ipc.is_ipc = true;
  // Like Samba's implicit IPC$, it follows the [global] encryption setting.
  ipc.smb_encrypt = defaults.smb_encrypt;
  return ipc;
}

}  // namespace

Config evaluate(const Syntax& syntax, ProblemList* problems) {
  Config config;
  GlobalSection global;
  evaluateGlobal(syntax.global, &config, &global, problems);
  if (config.global.netbios_name.empty()) config.global.netbios_name = defaultNetbiosName();
  checkProtocolRange(config.global, global, problems);
  if (std::string quic = checkQuic(config.global.quic); !quic.empty()) problems->error(0, quic);

  bool have_ipc = false;
  for (const Section& section : syntax.shares) {
    // A broken header was reported; what follows it has no share to belong to.
    if (section.name.empty()) continue;
    config.shares.push_back(evaluateShare(section, global, problems));
    have_ipc |= config.shares.back().is_ipc;
  }
  if (!have_ipc) config.shares.push_back(implicitIpc(config.global, global.defaults));
  return config;
}

}  // namespace xsmb::config::internal
