#include "server/core/control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <sstream>
#include <utility>

#include "common/base/log.h"
#include "common/smb2/ntstatus.h"
#include "server/config/smb_conf.h"

namespace xsmb::core {
namespace {

std::string describe(const session::ConnState& c) {
  std::ostringstream o;
  o << "connection " << c.peer << " dialect " << config::protocolNameFromDialect(c.dialect)
    << " worker " << c.worker << "\n";
  // Per connection, so per channel of a multichannel session (each channel is a connection).
  o << "  traffic: requests " << c.messages_received << ", bytes in " << c.bytes_received
    << ", bytes out " << c.bytes_sent << "\n";
  for (const auto& [id, s] : c.sessions) {
    // Multichannel: the home (holding trees and opens) says how many connections the session
    // has; each bound channel's connection lists the session as "channel".
    std::optional<session::ServerContext::SessionEntry> e;
    if (!s->bound_channel) e = c.server->lookupSession(id);
    const size_t channels = e ? e->channels.size() + 1 : 1;
    o << "  session " << id << " user "
      << (s->anonymous ? "(anonymous)"
          : s->guest   ? "(guest)"
                       : s->user)
      << " uid " << s->identity.uid << (s->bound_channel ? " channel" : "")
      << (channels > 1 ? " channels " + std::to_string(channels) : "")
      << (s->signing_required ? " signing-required" : "")
      << (s->encrypt_data ? " encrypted" : "") << "\n";
    for (const auto& [tid, t] : s->trees) {
      o << "    tree " << tid << " share " << (t.share ? t.share->cfg.name : "?")
        << (t.read_only ? " ro" : " rw") << (t.encrypt_data ? " encrypted" : "") << "\n";
    }
  }
  for (const auto& [vid, op] : c.opens) {
    o << "  open " << vid << " session " << op->session_id << " tree " << op->tree_id << " "
      << (op->pipe_id     ? "pipe "
          : op->directory ? "dir "
                          : "file ")
      << "\\" << op->smb_path << " access 0x" << std::hex << op->granted_access << std::dec
      << (op->delete_on_close ? " delete-on-close" : "") << "\n";
  }
  for (const auto& [aid, op] : c.async_ops) {  // requests waiting (session::AsyncOp)
    o << "  async " << aid << " command " << op->reply.command << " mid " << op->reply.message_id
      << " open " << op->volatile_id << "\n";
  }
  return o.str();
}

// The client's optional one-line command: "status" (the default) or "ready". A client that sends
// nothing (or only closes its side) gets the status report after at most kCommandWait.
constexpr int kCommandWaitMs = 200;

std::string readCommand(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, kCommandWaitMs) <= 0) return "status";
  char buf[32];
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n <= 0) return "status";
  std::string cmd(buf, static_cast<size_t>(n));
  cmd.erase(cmd.find_last_not_of("\r\n ") + 1);
  return cmd;
}

}  // namespace

std::string buildStatusReport(session::ServerContext& server,
                              const std::function<std::string()>& more) {
  std::ostringstream o;
  const auto& st = server.stats;
  o << "xsmbd status\n"
    << "state: " << server.metrics.lifecycle.state() << "\n"
    << "counters: connections " << st.connections_accepted << ", refused " << st.connections_refused
    << ", requests " << st.requests << ", bad signatures " << st.bad_signatures
    << ", decryption failures " << st.decrypt_failures << ", malformed frames "
    << st.malformed_frames << ", oversized frames " << st.oversized_frames << ", logon failures "
    << st.logon_failures << ", sendfile reads " << st.sendfile_reads << ", " << server.io_engine
    << " file I/O " << st.engine_ios << "\n";
  // Per-file records (share modes, oplocks, byte-range locks) of every connection: none once
  // the last open of each file is closed.
  o << "file table: " << server.files.fileCount() << " files\n";
  std::vector<std::pair<std::shared_ptr<session::ConnState>, std::future<std::string>>> asks;
  for (const auto& conn : server.liveConnections()) {
    if (!conn->run_in_strand) continue;
    auto promise = std::make_shared<std::promise<std::string>>();
    asks.emplace_back(conn, promise->get_future());
    conn->run_in_strand([promise](session::ConnState& c) { promise->set_value(describe(c)); });
  }
  for (auto& [conn, fut] : asks) {
    if (fut.wait_for(std::chrono::seconds(1)) == std::future_status::ready) {
      o << fut.get();
    } else {
      o << "connection " << conn->peer << " (busy, not described)\n";
    }
  }
  if (server.dataplane) {
    o << "bpf counters (" << server.dataplane->pinDir() << "):\n";
    for (const auto& [name, value] : server.dataplane->counters()) {
      if (value) o << "  " << name << " " << value << "\n";
    }
  } else {
    o << "bpf: plain socket mode\n";
  }
  if (more) o << more();
  return o.str();
}

ControlSocket::~ControlSocket() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_.get(), &one, sizeof(one));
    thread_.join();
  }
  if (fd_) unlink(path_.c_str());
}

bool ControlSocket::start(const std::string& path, session::ServerContext* server,
                          std::function<std::string()> more) {
  server_ = server;
  more_ = std::move(more);
  path_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    XLOG(ERROR) << "control socket path too long: " << path;
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  unlink(path.c_str());
  mode_t old = umask(0177);
  bool ok = fd_ && bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            listen(fd_.get(), 8) == 0;
  umask(old);
  if (!ok) {
    XLOG(ERROR) << "control socket " << path << ": " << std::strerror(errno);
    return false;
  }
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  thread_ = std::thread([this] { run(); });
  return true;
}

void ControlSocket::run() {
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    UniqueFd c(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) continue;
    std::string report = readCommand(c.get()) == "ready"
                             ? std::string("state: ") + server_->metrics.lifecycle.state() + "\n"
                             : buildStatusReport(*server_, more_);
    size_t off = 0;
    while (off < report.size()) {
      ssize_t n = send(c.get(), report.data() + off, report.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
}

}  // namespace xsmb::core
