// Rendering: the effective configuration in smb.conf syntax, every parameter with its canonical
// name (what `xsmbd --check-config` prints, like Samba's testparm -sv). The output must parse
// back to the same Config (tests/fuzz/config/smbconf_fuzz.cc checks that), so values are
// written in the words smb_conf_params.cc reads.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/config/smb_conf.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config {
namespace {

// A list item with a blank or a comma would split in two when read back (splitList): quoted.
std::string quoteIfNeeded(const std::string& s) {
  bool needs = s.empty();
  for (char c : s) {
    if (internal::isSpace(c) || c == ',') needs = true;
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

const char* boolWord(bool b) { return b ? "Yes" : "No"; }

std::string octal(uint32_t v) { return absl::StrFormat("0%o", v); }

}  // namespace

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
  line("server multi channel support", boolWord(g.server_multi_channel_support));
  line("smb2 disable oplock break retry", boolWord(g.smb2_disable_oplock_break_retry));
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
  line("takeover drain time", std::to_string(g.takeover_drain_secs));
  line("user bandwidth limit", std::to_string(g.user_bandwidth_limit));
  line("user request rate limit", std::to_string(g.user_request_rate_limit));
  if (!g.worker_cpus.empty()) {
    std::vector<std::string> cpus;
    for (int c : g.worker_cpus) cpus.push_back(std::to_string(c));
    line("worker cpus", joinList(cpus, ",", false));
  }
  std::vector<std::string> socket_words;
  for (const SocketOption& o : g.socket_options) socket_words.push_back(o.text);
  line("socket options", joinList(socket_words, " ", false));
  line("smb passwd file", g.smb_passwd_file);
  line("log level", std::to_string(g.log_level));
  internal::renderSmbDirect(g.smbdirect, line);
  internal::renderHardening(g.hardening, line);
  internal::renderOps(g.ops, line);
  internal::renderQuic(g.quic, line);
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
  line("smb3 directory leases", boolWord(g.smb3_directory_leases));
  line("smb direct", g.smb_direct == SmbDirectMode::kYes    ? "Yes"
                     : g.smb_direct == SmbDirectMode::kAuto ? "auto"
                                                            : "No");
  line("smb direct port", std::to_string(g.smb_direct_port));
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
    line("share bandwidth limit", std::to_string(s.bandwidth_limit));
    line("share request rate limit", std::to_string(s.request_rate_limit));
    line("use sendfile", boolWord(s.use_sendfile));
  }
  return out;
}

}  // namespace xsmb::config
