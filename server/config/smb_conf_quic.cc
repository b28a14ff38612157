#include "server/config/smb_conf_quic.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace xsmb::config::internal {
namespace {

// A decimal number in [min, max], or false.
bool number(std::string_view value, uint32_t min, uint32_t max, uint32_t* out) {
  uint64_t n = 0;
  bool ok = !value.empty() && value.size() <= 10;
  for (char ch : value) {
    ok = ok && std::isdigit(static_cast<unsigned char>(ch));
    if (ok) n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (!ok || n < min || n > max) return false;
  *out = static_cast<uint32_t>(n);
  return true;
}

// Samba's list: names replace the default "tcp, nbt"; when the first starts with '+' or '-',
// each adds to or removes from it.
bool transports(std::string_view value, QuicConfig* c, std::string* error) {
  std::vector<std::string> items =
      absl::StrSplit(std::string(value), absl::ByAnyChar(", \t"), absl::SkipWhitespace());
  const bool relative = !items.empty() && (items[0][0] == '+' || items[0][0] == '-');
  bool tcp = relative, quic = false;
  for (std::string item : items) {
    const bool remove = relative && item[0] == '-';
    if (relative && (item[0] == '+' || item[0] == '-')) item.erase(0, 1);
    absl::AsciiStrToLower(&item);
    if (item == "tcp") {
      tcp = !remove;
    } else if (item == "quic") {
      quic = !remove;
    } else if (item != "nbt") {  // NetBIOS framing is served on whatever "smb ports" lists
      *error = absl::StrCat("invalid transport \"", item,
                            "\" in \"server smb transports\" (use tcp, nbt, quic)");
      return false;
    }
  }
  c->tcp = tcp;
  c->quic = quic;
  return true;
}

}  // namespace

const char* xdpModeName(QuicConfig::XdpMode m) {
  switch (m) {
    case QuicConfig::XdpMode::kCopy:
      return "copy";
    case QuicConfig::XdpMode::kZeroCopy:
      return "zerocopy";
    case QuicConfig::XdpMode::kAuto:
      break;
  }
  return "auto";
}

const std::vector<const char*>& quicParamNames() {
  static const auto* names = new std::vector<const char*>{
      "server smb transports", "tls certfile", "tls keyfile", "quic port", "quic idle timeout",
      "quic xdp interface",    "quic xdp mode"};
  return *names;
}

bool applyQuic(std::string_view name, std::string_view value, QuicConfig* c, std::string* error) {
  if (name == "server smb transports") return transports(value, c, error);
  if (name == "tls certfile") {
    c->tls_certfile = std::string(value);
    return true;
  }
  if (name == "tls keyfile") {
    c->tls_keyfile = std::string(value);
    return true;
  }
  if (name == "quic port") {
    if (number(value, 1, 65535, &c->quic_port)) return true;
    *error =
        absl::StrCat("invalid value \"", std::string(value), "\" for \"quic port\" (1 to 65535)");
    return false;
  }
  if (name == "quic idle timeout") {
    if (number(value, 5, 3600, &c->quic_idle_timeout_secs)) return true;
    *error = absl::StrCat("invalid value \"", std::string(value),
                          "\" for \"quic idle timeout\" (5 to 3600 s)");
    return false;
  }
  if (name == "quic xdp interface") {
    if (value.size() < 16 && value.find_first_of(" \t/") == std::string_view::npos) {
      c->quic_xdp_interface = std::string(value);
      return true;
    }
    *error = absl::StrCat("invalid interface name \"", std::string(value),
                          "\" for \"quic xdp interface\" (at most 15 characters, no '/' or blank)");
    return false;
  }
  if (name == "quic xdp mode") {
    std::string v(value);
    absl::AsciiStrToLower(&v);
    if (v == "auto") {
      c->quic_xdp_mode = QuicConfig::XdpMode::kAuto;
    } else if (v == "copy") {
      c->quic_xdp_mode = QuicConfig::XdpMode::kCopy;
    } else if (v == "zerocopy" || v == "zero-copy") {
      c->quic_xdp_mode = QuicConfig::XdpMode::kZeroCopy;
    } else {
      *error = absl::StrCat("invalid value \"", std::string(value),
                            "\" for \"quic xdp mode\" (auto, copy or zerocopy)");
      return false;
    }
    return true;
  }
  *error = absl::StrCat("unknown QUIC parameter \"", std::string(name), "\"");
  return false;
}

std::string checkQuic(const QuicConfig& c) {
  if (!c.quic || (!c.tls_certfile.empty() && !c.tls_keyfile.empty())) return "";
  return absl::StrCat("\"server smb transports\" lists quic, which needs TLS: set ",
                      c.tls_certfile.empty() ? "\"tls certfile\"" : "",
                      c.tls_certfile.empty() && c.tls_keyfile.empty() ? " and " : "",
                      c.tls_keyfile.empty() ? "\"tls keyfile\"" : "",
                      " (PEM files of the server's certificate and key)");
}

void renderQuic(const QuicConfig& c,
                const std::function<void(const char*, const std::string&)>& line) {
  std::string t = c.tcp ? "tcp" : "";
  if (c.quic) t += t.empty() ? "quic" : ", quic";
  line("server smb transports", t);
  line("tls certfile", c.tls_certfile);
  line("tls keyfile", c.tls_keyfile);
  line("quic port", std::to_string(c.quic_port));
  line("quic idle timeout", std::to_string(c.quic_idle_timeout_secs));
  line("quic xdp interface", c.quic_xdp_interface);
  line("quic xdp mode", xdpModeName(c.quic_xdp_mode));
}

}  // namespace xsmb::config::internal
