// xsmb-rpcd: the DCE/RPC helper of xsmbd. Started by RpcdClient with one end of a socketpair
// as fd 3; sandboxes itself (rpc/sandbox.h), then serves the frames of rpc/rpcd_protocol.h
// until xsmbd closes the socket. Single-threaded: requests are answered in arrival order.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "common/base/manual.h"
#include "rpc/pipe.h"
#include "rpc/rpcd_protocol.h"
#include "rpc/sandbox.h"
#include "rpc/server_info.h"

namespace xsmb::rpc {
namespace {

constexpr int kChannelFd = 3;
constexpr size_t kMaxPipes = 4096;

class Rpcd {
 public:
  // Handles one request; appends its reply (if any) to out.
  void handle(Frame f, Bytes* out) {
    switch (f.type) {
      case MsgType::kConfig: {
        auto info = parseServerInfo(f.payload);
        if (info) info_ = std::make_shared<const ServerInfo>(*std::move(info));
        reply(f, info ? MsgType::kConfigOk : MsgType::kPipeError, {}, out);
        return;
      }
      case MsgType::kOpen: {
        ByteReader r(f.payload);
        uint16_t n = r.u16();
        ByteSpan name = r.bytes(n);
        auto caller = parseCallerInfo(r);
        std::unique_ptr<PipeEndpoint> ep;
        if (r.ok() && caller && r.remaining() == 0 && !pipes_.count(f.pipe_id) &&
            pipes_.size() < kMaxPipes) {
          ep = PipeEndpoint::create(std::string(name.begin(), name.end()), info_, *caller);
        }
        bool ok = ep != nullptr;
        if (ok) pipes_[f.pipe_id] = std::move(ep);
        reply(f, ok ? MsgType::kOpenOk : MsgType::kOpenFail, {}, out);
        return;
      }
      case MsgType::kData: {
        auto it = pipes_.find(f.pipe_id);
        if (it == pipes_.end()) {
          reply(f, MsgType::kPipeError, {}, out);
          return;
        }
        Bytes data = it->second->write(f.payload);
        if (it->second->broken()) {
          pipes_.erase(it);
          reply(f, MsgType::kPipeError, {}, out);
          return;
        }
        reply(f, MsgType::kDataReply, std::move(data), out);
        return;
      }
      case MsgType::kClose:
        pipes_.erase(f.pipe_id);
        return;
      case MsgType::kTestOpenFile: {
        std::string path(f.payload.begin(), f.payload.end());
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        int err = fd >= 0 ? 0 : errno;
        if (fd >= 0) close(fd);
        ByteWriter w;
        w.u32(static_cast<uint32_t>(err));
        w.u32(getuid());
        w.u32(geteuid());
        w.u32(getgid());
        reply(f, MsgType::kTestResult, w.take(), out);
        return;
      }
      case MsgType::kTestHold:
        return;  // deliberately unanswered
      default:
        reply(f, MsgType::kPipeError, {}, out);
        return;
    }
  }

 private:
  static void reply(const Frame& req, MsgType type, Bytes payload, Bytes* out) {
    Frame f{type, req.request_id, req.pipe_id, std::move(payload)};
    Bytes b = encodeFrame(f);
    out->insert(out->end(), b.begin(), b.end());
  }

  std::shared_ptr<const ServerInfo> info_ = std::make_shared<const ServerInfo>();
  std::map<uint64_t, std::unique_ptr<PipeEndpoint>> pipes_;
};

bool writeAll(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = write(fd, b.data() + off, b.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Manual manual() {
  Manual m;
  m.name = "xsmb-rpcd - the DCE/RPC helper of xsmbd";
  m.synopsis = "xsmb-rpcd [--user NAME]   (started by xsmbd, fd 3 = its socket)\nxsmb-rpcd --help";
  m.description =
      "xsmb-rpcd answers the named pipes of IPC$ (srvsvc, wkssvc, lsarpc, samr) for xsmbd. "
      "xsmbd starts it with one end of a socket pair as descriptor 3 and restarts it when it "
      "dies. It sandboxes itself before reading a byte: drops to the account --user names "
      "(xsmbd passes its guest account), sets no_new_privs, resource limits and a seccomp "
      "filter, then serves one request at a time until xsmbd closes the socket. It is not "
      "meant to be run by hand.";
  m.entries = {{"--user NAME", "the unprivileged account to run as (when started as root)"}};
  m.sections = {{"EXIT STATUS", "0 when xsmbd closed the socket; 1 when the sandbox could not "
                                "be entered; 2 usage (or descriptor 3 not open); 3 a malformed "
                                "frame from xsmbd."},
                {"SEE ALSO", "xsmbd(8)."}};
  return m;
}

int run(int argc, char** argv) {
  if (wantsManual(argc, argv)) {
    std::fputs(renderManual(manual()).c_str(), stdout);
    return 0;
  }
  SandboxOptions opts;
  opts.channel_fd = kChannelFd;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--user" && i + 1 < argc) {
      opts.user = argv[++i];
    } else {
      std::fprintf(stderr, "usage: xsmb-rpcd [--user NAME]  (started by xsmbd, fd 3 = socket)\n");
      return 2;
    }
  }
  if (fcntl(kChannelFd, F_GETFD) < 0) {
    std::fprintf(stderr, "xsmb-rpcd: fd 3 is not open; this program is started by xsmbd\n");
    return 2;
  }
  // A write to a closed socket must not kill the helper silently; the write fails instead.
  signal(SIGPIPE, SIG_IGN);
  // The helper lives as long as xsmbd wants it: it ends at EOF on fd 3 or by xsmbd's SIGKILL.
  // A stop signal sent to the whole process group or cgroup (systemd's KillMode=control-group,
  // Ctrl-C in a terminal) must not end it while xsmbd still drains its connections' pipe calls.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  if (auto st = enterSandbox(opts); !st.ok()) {
    std::fprintf(stderr, "xsmb-rpcd: sandbox: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!sandboxHasSeccomp()) {
    std::fprintf(stderr, "xsmb-rpcd: built without libseccomp: no syscall filter\n");
  }
  Rpcd rpcd;
  FrameDecoder decoder;
  std::vector<uint8_t> buf(1 << 16);
  while (true) {
    ssize_t n = read(kChannelFd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // xsmbd closed the channel (or went away)
    decoder.append(ByteSpan(buf.data(), static_cast<size_t>(n)));
    Bytes out;
    while (auto f = decoder.next()) rpcd.handle(*std::move(f), &out);
    if (decoder.bad()) {
      std::fprintf(stderr, "xsmb-rpcd: malformed frame from xsmbd\n");
      return 3;
    }
    if (!out.empty() && !writeAll(kChannelFd, out)) return 0;
  }
}

}  // namespace
}  // namespace xsmb::rpc

int main(int argc, char** argv) { return xsmb::rpc::run(argc, argv); }
