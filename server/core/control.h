// The control socket (smb.conf "control socket"): a Unix stream socket on which xsmbd writes a
// status report — connections, sessions, tree connects, open files and counters, like Samba's
// smbstatus — to whoever connects (xsmbctl status), then closes. Root-only (mode 0600).
// A client may first send one line: "status" (the report, also what a silent client gets
// after 200 ms) or "ready", answered with the one line "state: S" (S as
// metrics::Lifecycle::state(): "ready", "starting", "draining", "taken over", ...), which
// `xsmbctl ready` turns into its exit status for a readiness probe.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "common/base/unique_fd.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::core {

// Builds the report. Each connection describes itself on its own serialized request path
// (ConnState::run_in_strand), so nothing is read while a request changes it; a connection that
// does not answer within a second is listed as busy.
// `more`, when set, adds lines of parts this layer does not see (SMB Direct's state and
// counters, which the daemon hands in).
std::string buildStatusReport(session::ServerContext& server,
                              const std::function<std::string()>& more = nullptr);

class ControlSocket {
 public:
  ControlSocket() = default;
  ~ControlSocket();
  // Binds `path` (replacing a stale socket file) and starts serving reports. Logs and returns
  // false on failure.
  bool start(const std::string& path, session::ServerContext* server,
             std::function<std::string()> more = nullptr);

 private:
  void run();
  session::ServerContext* server_ = nullptr;
  std::function<std::string()> more_;
  std::string path_;
  UniqueFd fd_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace xsmb::core
