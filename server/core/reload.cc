#include "server/core/reload.h"

#include <ctime>
#include <set>
#include <string_view>

#include "common/base/log.h"
#include "server/config/smb_conf.h"

namespace xsmb::core {
namespace {

// The "name = value" lines of [global] as renderConfig writes them.
std::set<std::string> globalLines(const config::GlobalConfig& g) {
  config::Config c;
  c.global = g;
  std::set<std::string> lines;
  std::string text = config::renderConfig(c);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.find(" = ") != std::string_view::npos) lines.emplace(line);
    pos = end + 1;
  }
  return lines;
}

// The names of the [global] parameters whose value differs.
std::set<std::string> changedGlobals(const config::GlobalConfig& a, const config::GlobalConfig& b) {
  std::set<std::string> la = globalLines(a), lb = globalLines(b), names;
  auto nameOf = [](const std::string& line) {
    size_t start = line.find_first_not_of(" \t");
    return line.substr(start, line.find(" = ") - start);
  };
  for (const auto& l : la) {
    if (!lb.count(l)) names.insert(nameOf(l));
  }
  for (const auto& l : lb) {
    if (!la.count(l)) names.insert(nameOf(l));
  }
  return names;
}

bool refuse(session::ServerContext& server, const std::string& why) {
  XLOG(ERROR) << "SIGHUP: " << why << "; the configuration in use stays";
  server.metrics.lifecycle.reloads_failed++;
  return false;
}

}  // namespace

bool reloadConfiguration(session::ServerContext& server, const std::string& path,
                         const session::ServerContext::ShareOpener& open_share,
                         bool apply_log_level) {
  config::Config next = server.config;  // the embedded configuration: users only
  if (!path.empty()) {
    auto parsed = config::loadSmbConf(path);
    if (!parsed.ok()) return refuse(server, path + ": " + std::string(parsed.status().message()));
    for (const auto& p : parsed->problems) {
      const bool error = p.severity == config::Problem::Severity::kError;
      XLOG(WARNING) << "SIGHUP: " << path << ":" << p.line << ": " << (error ? "error: " : "")
                    << p.message;
    }
    if (parsed->hasErrors()) return refuse(server, path + " has errors");
    next = std::move(parsed->config);
  }
  for (const std::string& name : changedGlobals(server.config.global, next.global)) {
    if (name == "log level" && apply_log_level) {
      g_log_level = next.global.log_level;
      XLOG(WARNING) << "SIGHUP: log level " << next.global.log_level;
      continue;
    }
    XLOG(WARNING) << "SIGHUP: [global] \"" << name << "\" changed: applies after a restart";
  }
  std::string summary = server.reloadShares(next.shares, open_share);
  server.metrics.lifecycle.reloads_ok++;
  server.metrics.lifecycle.last_reload_ok_unix = static_cast<uint64_t>(time(nullptr));
  XLOG(WARNING) << "SIGHUP: configuration reloaded (" << summary << ")";
  return true;
}

}  // namespace xsmb::core
