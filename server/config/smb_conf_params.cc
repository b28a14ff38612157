// The parameter table: the Samba parameter names xsmbd implements (with Samba's aliases), the
// section each belongs to, and the setter that reads its value into GlobalConfig or
// ShareConfig. Adding a parameter means a field in smb_conf.h, a Param, a row in paramTable, a
// case in applyGlobal or applyShare, and a line in renderConfig (smb_conf_render.cc).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/config/smb_conf.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config::internal {
namespace {

// Keyed by normalizeKey(name), so that lookups ignore case, blanks and underscores like Samba.
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
    add("server multi channel support", Param::kServerMultiChannelSupport, Scope::kGlobal);
    add("smb2 disable oplock break retry", Param::kSmb2DisableOplockBreakRetry, Scope::kGlobal);
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
    add("worker cpus", Param::kWorkerCpus, Scope::kGlobal);
    add("takeover drain time", Param::kTakeoverDrainTime, Scope::kGlobal);
    add("user bandwidth limit", Param::kUserBandwidthLimit, Scope::kGlobal);
    add("user request rate limit", Param::kUserRequestRateLimit, Scope::kGlobal);
    add("share bandwidth limit", Param::kShareBandwidthLimit, Scope::kShare);
    add("share request rate limit", Param::kShareRequestRateLimit, Scope::kShare);
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
    add("smb3 directory leases", Param::kSmb3DirectoryLeases, Scope::kGlobal);
    add("smb direct", Param::kSmbDirectMode, Scope::kGlobal);
    add("smb direct port", Param::kSmbDirectPort, Scope::kGlobal);
    add("server smb encrypt", Param::kServerSmbEncrypt, Scope::kGlobalAndShare);
    add("smb encrypt", Param::kServerSmbEncrypt, Scope::kGlobalAndShare, "server smb encrypt");
    for (const char* name : smbDirectParamNames()) add(name, Param::kSmbDirect, Scope::kGlobal);
    for (const char* name : hardeningParamNames()) add(name, Param::kHardening, Scope::kGlobal);
    for (const char* name : opsParamNames()) add(name, Param::kOps, Scope::kGlobal);
    for (const char* name : quicParamNames()) add(name, Param::kQuic, Scope::kGlobal);

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

// The boolean `a` sets; an error naming the parameter if the word is not one (parseBool).
std::optional<bool> boolValue(const ParamInfo& info, const Assignment& a, ProblemList* problems) {
  std::optional<bool> b = parseBool(a.value);
  if (!b) {
    problems->error(a.line, absl::StrCat("invalid boolean \"", a.value, "\" for \"", info.canonical,
                                         "\" (use yes or no)"));
  }
  return b;
}

// Samba's list syntax: names replace the list; when the first item starts with '+' or '-',
// every item adds a name to (at the end) or removes it from the value so far. "default" alone
// restores the built-in list. The list is left unchanged on any error.
void algorithmList(const ParamInfo& info, const Assignment& a, std::vector<uint16_t>* list,
                   ProblemList* problems) {
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
      problems->error(a.line, absl::StrCat("\"", info.canonical,
                                           "\" mixes names with +/- edits (\"", item, "\")"));
      return;
    }
    std::string_view name = edit ? std::string_view(item).substr(1) : std::string_view(item);
    std::optional<uint16_t> id =
        encryption ? encryptionAlgorithmFromName(name) : signingAlgorithmFromName(name);
    if (!id) {
      problems->error(
          a.line,
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
        problems->warn(a.line,
                       absl::StrCat("algorithm \"", std::string(name), "\" listed twice in \"",
                                    info.canonical, "\"; the repetition is ignored"));
      }
    } else {
      out.push_back(*id);
    }
  }
  if (out.empty()) {
    problems->error(a.line, absl::StrCat("\"", info.canonical, "\" leaves no algorithm"));
    return;
  }
  *list = std::move(out);
}

// "smb direct" (no / auto / yes and the boolean words) and "smb direct port" (0 or "auto" =
// by device kind).
void applySmbDirectSwitch(const ParamInfo& info, const Assignment& a, GlobalConfig* g,
                          ProblemList* problems) {
  std::string k = normalizeKey(a.value);
  if (info.param == Param::kSmbDirectPort) {
    std::optional<uint64_t> n = k == "auto" ? std::optional<uint64_t>(0) : parseUnsigned(k, 65535);
    if (!n) {
      problems->error(a.line, absl::StrCat("invalid port \"", a.value,
                                           "\" for \"smb direct port\" (0 or auto, 1 to 65535)"));
    } else {
      g->smb_direct_port = static_cast<uint16_t>(*n);
    }
    return;
  }
  if (k == "auto") {
    g->smb_direct = SmbDirectMode::kAuto;
  } else if (std::optional<bool> b = parseBool(a.value)) {
    g->smb_direct = *b ? SmbDirectMode::kYes : SmbDirectMode::kNo;
  } else {
    problems->error(a.line, absl::StrCat("invalid value \"", a.value,
                                         "\" for \"smb direct\" (use yes, no or auto)"));
  }
}

}  // namespace

const ParamInfo* findParam(std::string_view name) {
  const std::map<std::string, ParamInfo>& table = paramTable();
  auto it = table.find(normalizeKey(name));
  return it == table.end() ? nullptr : &it->second;
}

void applyGlobal(const ParamInfo& info, const Assignment& a, GlobalConfig* g,
                 ProblemList* problems) {
  const std::string& v = a.value;
  switch (info.param) {
    case Param::kSmbDirect: {
      std::string error;
      if (!applySmbDirect(info.canonical, v, &g->smbdirect, &error)) problems->error(a.line, error);
      break;
    }
    case Param::kHardening: {
      std::string error;
      if (!applyHardening(info.canonical, v, &g->hardening, &error)) problems->error(a.line, error);
      break;
    }
    case Param::kOps: {
      std::string error;
      if (!applyOps(info.canonical, v, &g->ops, &error)) problems->error(a.line, error);
      break;
    }
    case Param::kQuic: {
      std::string error;
      if (!applyQuic(info.canonical, v, &g->quic, &error)) problems->error(a.line, error);
      break;
    }
    case Param::kWorkgroup:
      g->workgroup = asciiUpperStr(v);
      if (g->workgroup.empty()) problems->error(a.line, "\"workgroup\" must not be empty");
      break;
    case Param::kNetbiosName:
      g->netbios_name = asciiUpperStr(v);
      if (g->netbios_name.size() > 15) {
        problems->warn(a.line,
                       absl::StrCat("netbios name \"", v, "\" is longer than 15 characters"));
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
          problems->error(a.line, absl::StrCat("invalid port \"", item, "\" in \"smb ports\""));
          return;
        }
        if (std::find(ports.begin(), ports.end(), *n) == ports.end()) {
          ports.push_back(static_cast<uint16_t>(*n));
        }
      }
      if (ports.empty()) {
        problems->error(a.line, "\"smb ports\" lists no port");
        return;
      }
      g->smb_ports = std::move(ports);
      break;
    }
    case Param::kInterfaces:
      g->interfaces = splitList(v);
      break;
    case Param::kBindInterfacesOnly:
      if (auto b = boolValue(info, a, problems)) g->bind_interfaces_only = *b;
      break;
    case Param::kServerMultiChannelSupport:
      if (auto b = boolValue(info, a, problems)) g->server_multi_channel_support = *b;
      break;
    case Param::kSmb2DisableOplockBreakRetry:
      if (auto b = boolValue(info, a, problems)) g->smb2_disable_oplock_break_retry = *b;
      break;
    case Param::kBpf:
      if (auto b = boolValue(info, a, problems)) g->bpf = *b;
      break;
    case Param::kBpfSockmap:
      if (auto b = boolValue(info, a, problems)) g->bpf_sockmap = *b;
      break;
    case Param::kBpfPinDir:
      if (v.empty()) {
        problems->error(a.line, "\"bpf pin dir\" must not be empty");
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
        problems->warn(a.line, absl::StrCat("SMB1 protocol \"", v,
                                            "\" is not supported; server min protocol is SMB2_02"));
        *field = 0x0202;
        return;
      }
      problems->error(a.line,
                      absl::StrCat(smb1 ? "unsupported SMB1 protocol \"" : "unknown protocol \"", v,
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
        problems->error(
            a.line, absl::StrCat("invalid value \"", v,
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
        problems->error(a.line, absl::StrCat("invalid value \"", v,
                                             "\" for \"map to guest\" (use Never, Bad User or Bad "
                                             "Password)"));
      }
      break;
    }
    case Param::kGuestAccount:
      if (v.empty()) {
        problems->error(a.line, "\"guest account\" must not be empty");
      } else {
        g->guest_account = v;
      }
      break;
    case Param::kMaxConnections: {
      std::optional<uint64_t> n = parseUnsigned(v, UINT32_MAX);
      if (!n) {
        problems->error(a.line, absl::StrCat("invalid number \"", v, "\" for \"max connections\""));
      } else {
        g->max_connections = static_cast<uint32_t>(*n);
      }
      break;
    }
    case Param::kBusyPoll: {
      std::optional<uint64_t> n = parseUnsigned(v, kMaxBusyPollUsecs);
      if (!n) {
        problems->error(a.line, absl::StrCat("invalid number \"", v,
                                             "\" for \"busy poll\" (microseconds, 0 to ",
                                             kMaxBusyPollUsecs, ")"));
      } else {
        g->busy_poll_usecs = static_cast<uint32_t>(*n);
      }
      break;
    }
    case Param::kUserBandwidthLimit:
    case Param::kUserRequestRateLimit: {
      std::optional<uint64_t> n = parseRate(v);
      if (!n) {
        problems->error(a.line, absl::StrCat("invalid rate \"", v, "\" for \"", info.canonical,
                                             "\" (a number, K/M/G suffixes, 0 = none)"));
      } else if (info.param == Param::kUserBandwidthLimit) {
        g->user_bandwidth_limit = *n;
      } else {
        g->user_request_rate_limit = *n;
      }
      break;
    }
    case Param::kTakeoverDrainTime: {
      std::optional<uint64_t> n = parseUnsigned(v, 86400);
      if (!n) {
        problems->error(a.line, absl::StrCat("invalid number \"", v,
                                             "\" for \"takeover drain time\" (seconds, 0 to "
                                             "86400)"));
      } else {
        g->takeover_drain_secs = static_cast<uint32_t>(*n);
      }
      break;
    }
    case Param::kWorkerCpus: {
      std::string err;
      std::vector<int> cpus = parseCpuList(v, &err);
      if (!err.empty()) {
        problems->error(a.line, absl::StrCat("\"worker cpus\": ", err));
      } else {
        g->worker_cpus = std::move(cpus);
      }
      break;
    }
    case Param::kSocketOptions: {
      std::vector<SocketOption> opts;
      std::vector<std::string> ignored;
      std::string err = parseSocketOptions(v, &opts, &ignored);
      if (!err.empty()) {
        problems->error(a.line, err);
      } else {
        for (const std::string& w : ignored) {
          problems->warn(
              a.line, absl::StrCat("socket option ", w, " has no effect on a connection, ignored"));
        }
        g->socket_options = std::move(opts);
      }
      break;
    }
    case Param::kSmbPasswdFile:
      if (v.empty()) {
        problems->error(a.line, "\"smb passwd file\" must not be empty");
      } else {
        g->smb_passwd_file = v;
      }
      break;
    case Param::kLogLevel: {
      // Samba allows per-class levels after the first ("3 auth:5"); only the first counts here.
      std::vector<std::string> items = splitList(v);
      std::optional<uint64_t> n = items.empty() ? std::nullopt : parseUnsigned(items.front(), 10);
      if (!n) {
        problems->error(a.line,
                        absl::StrCat("invalid value \"", v, "\" for \"log level\" (0 to 10)"));
      } else {
        g->log_level = static_cast<int>(*n);
      }
      break;
    }
    case Param::kServerSmb3EncryptionAlgorithms:
      algorithmList(info, a, &g->server_smb3_encryption_algorithms, problems);
      break;
    case Param::kServerSmb3SigningAlgorithms:
      algorithmList(info, a, &g->server_smb3_signing_algorithms, problems);
      break;
    case Param::kKerberosKeytabFile:
      g->kerberos_keytab_file = v;
      if (!v.empty() && v.front() != '/') {
        problems->warn(
            a.line, absl::StrCat("\"kerberos keytab file\" \"", v, "\" is not an absolute path"));
      }
      break;
    case Param::kRealm:
      g->realm = asciiUpperStr(v);
      break;
    case Param::kSmb3DirectoryLeases:
      if (auto b = boolValue(info, a, problems)) g->smb3_directory_leases = *b;
      break;
    case Param::kSmbDirectMode:
    case Param::kSmbDirectPort:
      applySmbDirectSwitch(info, a, g, problems);
      break;
    default:
      break;
  }
}

void applyShare(const ParamInfo& info, const Assignment& a, ShareConfig* s, ProblemList* problems) {
  const std::string& v = a.value;
  switch (info.param) {
    case Param::kPath:
      s->path = v;
      break;
    case Param::kComment:
      s->comment = v;
      break;
    case Param::kReadOnly:
      if (auto b = boolValue(info, a, problems)) s->read_only = *b;
      break;
    case Param::kWriteable:
      if (auto b = boolValue(info, a, problems)) s->read_only = !*b;
      break;
    case Param::kGuestOk:
      if (auto b = boolValue(info, a, problems)) s->guest_ok = *b;
      break;
    case Param::kUseSendfile:
      if (auto b = boolValue(info, a, problems)) s->use_sendfile = *b;
      break;
    case Param::kValidUsers:
      s->valid_users = splitList(v);
      break;
    case Param::kInvalidUsers:
      s->invalid_users = splitList(v);
      break;
    case Param::kBrowseable:
      if (auto b = boolValue(info, a, problems)) s->browseable = *b;
      break;
    case Param::kCreateMask:
    case Param::kDirectoryMask: {
      std::optional<uint32_t> m = parseOctalMask(v);
      if (!m) {
        problems->error(a.line, absl::StrCat("invalid octal mask \"", v, "\" for \"",
                                             info.canonical, "\" (e.g. 0755)"));
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
    case Param::kShareBandwidthLimit:
    case Param::kShareRequestRateLimit: {
      std::optional<uint64_t> n = parseRate(v);
      if (!n) {
        problems->error(a.line, absl::StrCat("invalid rate \"", v, "\" for \"", info.canonical,
                                             "\" (a number, K/M/G suffixes, 0 = none)"));
      } else if (info.param == Param::kShareBandwidthLimit) {
        s->bandwidth_limit = *n;
      } else {
        s->request_rate_limit = *n;
      }
      break;
    }
    case Param::kServerSmbEncrypt:
      if (std::optional<EncryptPolicy> p = parseEncryptPolicy(v)) {
        s->smb_encrypt = *p;
      } else {
        problems->error(a.line, absl::StrCat("invalid value \"", v, "\" for \"", info.canonical,
                                             "\" (use off, if_required, desired or required)"));
      }
      break;
    default:
      break;
  }
}

}  // namespace xsmb::config::internal
