// The entry points of smb.conf parsing: parseSmbConf runs the stages (smb_conf_internal.h says
// which file holds which) and orders their problems; loading a file, the embedded default and
// the default NetBIOS name. Rendering is in smb_conf_render.cc, interface lookup in
// smb_conf_interfaces.cc, the value words and algorithm/protocol names in smb_conf_values.cc.
#include "server/config/smb_conf.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/unicode.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config {

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

ParseResult parseSmbConf(std::string_view text) {
  ParseResult result;
  internal::ProblemList problems(&result.problems);
  internal::Syntax syntax = internal::readSyntax(text, &problems);
  result.config = internal::evaluate(syntax, &problems);
  // Problems not tied to a line go last; otherwise in file order.
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     int la = a.line == 0 ? INT32_MAX : a.line;
                     int lb = b.line == 0 ? INT32_MAX : b.line;
                     return la < lb;
                   });
  return result;
}

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

std::string defaultNetbiosName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "XSMBD";
  std::string_view h(host);
  h = h.substr(0, h.find('.'));
  return internal::asciiUpperStr(h.substr(0, 15));
}

}  // namespace xsmb::config
