#include "rpc/rpcd_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "common/base/log.h"
#include "rpc/rpcd_fault.h"

namespace xsmb::rpc {

namespace {

std::chrono::milliseconds toChrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

// The first restart waits this long (a helper killed by accident is back at once); a helper
// that ran at least kHealthyRun before it ended resets the backoff to it.
constexpr absl::Duration kMinRestartDelay = absl::Milliseconds(50);
constexpr absl::Duration kHealthyRun = absl::Seconds(1);

absl::Status unavailable(const char* why) {
  return absl::UnavailableError(std::string("xsmb-rpcd: ") + why);
}

// Reaps the helper whose socket reached its end and says how it ended ("was killed by signal
// 9 (Killed)", "exited with status 1"). A helper that closed its socket but has not exited
// within 200 ms is killed.
std::string reap(pid_t pid) {
  int status = 0;
  pid_t r = 0;
  for (int i = 0; i < 20 && (r = waitpid(pid, &status, WNOHANG)) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (r == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return "closed its socket without exiting (killed)";
  }
  if (r < 0) return "is gone (" + std::string(std::strerror(errno)) + ")";
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

RpcdClient::RpcdClient(std::string path, ServerInfo info, RpcdOptions opts)
    : path_(std::move(path)), opts_(std::move(opts)), config_(serializeServerInfo(info)) {}

absl::StatusOr<std::unique_ptr<RpcdClient>> RpcdClient::start(std::string rpcd_path,
                                                              ServerInfo info, RpcdOptions opts) {
  if (access(rpcd_path.c_str(), X_OK) != 0) {
    return absl::NotFoundError("xsmb-rpcd not executable: " + rpcd_path);
  }
  std::unique_ptr<RpcdClient> c(new RpcdClient(std::move(rpcd_path), std::move(info), opts));
  UniqueFd fd;
  pid_t pid = 0;
  if (auto st = c->spawn(&fd, &pid); !st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(c->mu_);
    c->fd_ = std::move(fd);
    c->pid_ = pid;
    c->generation_ = 1;
  }
  c->supervisor_ = std::thread([raw = c.get()] { raw->supervise(); });
  Frame f{MsgType::kConfig, 0, 0, c->config_};
  auto reply = c->roundTrip(std::move(f));
  if (!reply.ok()) return reply.status();
  if (reply->type != MsgType::kConfigOk) {
    return absl::InternalError("xsmb-rpcd rejected the server information");
  }
  return c;
}

RpcdClient::~RpcdClient() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (pid_ > 0 && kill(pid_, SIGKILL) != 0) {
      // The helper runs as the guest account: without CAP_KILL (a bounded capability set) it
      // cannot be killed; the shutdown below still ends it (EOF on its socket) and wakes the
      // supervisor's read, so this destructor does not wait forever.
      XLOG(WARNING) << "cannot kill xsmb-rpcd (pid " << pid_ << "): " << std::strerror(errno)
                    << "; closing its socket instead";
    }
    if (fd_.get() >= 0) shutdown(fd_.get(), SHUT_RDWR);
    cv_.notify_all();
  }
  if (supervisor_.joinable()) supervisor_.join();
}

absl::Status RpcdClient::spawn(UniqueFd* fd, pid_t* pid) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(std::string("socketpair: ") + std::strerror(errno));
  }
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls are made (xsmbd is multi-threaded).
  std::vector<std::string> args = {path_, "--user", opts_.user};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) {
    int err = errno;  // before the two ends are closed
    return absl::InternalError(std::string("fork: ") + std::strerror(err));
  }
  if (child == 0) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (theirs.get() == 3) {
      fcntl(3, F_SETFD, 0);
    } else if (dup2(theirs.get(), 3) != 3) {
      _exit(126);
    }
    syscall(SYS_close_range, 4, ~0U, 0);  // the helper closes the rest itself as well
    execv(argv[0], argv.data());
    _exit(127);
  }
  theirs.reset();
  struct timeval tv;
  int64_t ms = absl::ToInt64Milliseconds(opts_.call_timeout);
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  setsockopt(ours.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  *fd = std::move(ours);
  *pid = child;
  return absl::OkStatus();
}

bool RpcdClient::sendFrame(uint64_t generation, const Frame& f) {
  Bytes b = encodeFrame(f);
  std::lock_guard<std::mutex> wlock(write_mu_);
  int fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_ || fd_.get() < 0) return false;
    fd = fd_.get();
  }
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

absl::StatusOr<Frame> RpcdClient::roundTrip(Frame f, uint64_t* generation, bool* sent) {
  auto call = std::make_shared<Call>();
  uint64_t gen;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, toChrono(opts_.start_timeout),
                      [&] { return fd_.get() >= 0 || stopping_; }) ||
        stopping_) {
      return unavailable("helper is not running");
    }
    f.request_id = next_request_++;
    gen = generation_;
    if (generation) *generation = gen;
    calls_[f.request_id] = call;
  }
  if (!sendFrame(gen, f)) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.erase(f.request_id);
    return unavailable("helper went away");
  }
  if (sent) *sent = true;
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, toChrono(opts_.call_timeout), [&] { return call->done; })) {
    calls_.erase(f.request_id);
    // A helper that does not answer would stall every pipe: replace it.
    if (gen == generation_ && pid_ > 0) {
      XLOG(WARNING) << "xsmb-rpcd (pid " << pid_ << ") did not answer within "
                    << absl::FormatDuration(opts_.call_timeout) << "; killing it";
      kill(pid_, SIGKILL);
    }
    return absl::DeadlineExceededError("xsmb-rpcd did not answer in time");
  }
  return std::move(call->result);
}

bool RpcdClient::readLoop(int fd) {
  FrameDecoder decoder;
  std::vector<uint8_t> buf(1 << 16);
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    decoder.append(ByteSpan(buf.data(), static_cast<size_t>(n)));
    while (auto f = decoder.next()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = calls_.find(f->request_id);
      if (it == calls_.end()) continue;  // timed out, or the restart CONFIG (id 0)
      it->second->done = true;
      it->second->result = *std::move(f);
      calls_.erase(it);
      cv_.notify_all();
    }
    if (decoder.bad()) return false;  // treated like a crash: the helper is replaced
  }
}

void RpcdClient::supervise() {
  absl::Duration delay = kMinRestartDelay;
  while (true) {
    int fd;
    pid_t pid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fd = fd_.get();
      pid = pid_;
    }
    const absl::Time started = absl::Now();
    if (fd >= 0 && !readLoop(fd) && pid > 0) {
      XLOG(WARNING) << "xsmb-rpcd (pid " << pid << ") sent a malformed frame; killing it";
      kill(pid, SIGKILL);
    }
    if (!helperEnded()) return;
    // A helper that served for a while is restarted at once; one that keeps dying right
    // after its start is restarted less and less often (up to max_restart_delay).
    if (absl::Now() - started > kHealthyRun) delay = kMinRestartDelay;
    const absl::Time ended = absl::Now();
    if (!restart(&delay)) return;
    uint64_t restarts;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pid = pid_;
      restarts = restarts_;
    }
    XLOG(INFO) << "xsmb-rpcd is back as pid " << pid << " after "
               << absl::ToInt64Milliseconds(absl::Now() - ended) << " ms (restart " << restarts
               << "); pipes opened before it must be reopened";
  }
}

bool RpcdClient::helperEnded() {
  pid_t pid;
  size_t in_flight;
  bool stopping;
  {
    std::lock_guard<std::mutex> wlock(write_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    fd_.reset();
    pid = pid_;
    pid_ = 0;
    in_flight = calls_.size();
    stopping = stopping_;
    for (auto& [id, call] : calls_) {
      call->done = true;
      call->result = unavailable("helper exited during the call");
    }
    calls_.clear();
    cv_.notify_all();
  }
  if (pid > 0) {
    const std::string how = reap(pid);
    if (!stopping) {
      XLOG(WARNING) << "xsmb-rpcd (pid " << pid << ") " << how << "; " << in_flight
                    << " call(s) in flight ended with an error or an RPC fault; restarting it";
    }
  }
  return !stopping;
}

bool RpcdClient::restart(absl::Duration* delay) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, toChrono(*delay), [&] { return stopping_; })) return false;
    }
    *delay = std::min(*delay * 2, opts_.max_restart_delay);
    UniqueFd nfd;
    pid_t npid = 0;
    if (auto st = spawn(&nfd, &npid); !st.ok()) {
      XLOG(WARNING) << "xsmb-rpcd could not be restarted: " << st.message();
      continue;
    }
    // The new helper gets the last snapshot before anyone else can write to it; frames
    // are handled in order, so every later request sees it.
    Bytes cfg;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cfg = config_;
    }
    Bytes b = encodeFrame(Frame{MsgType::kConfig, 0, 0, std::move(cfg)});
    bool sent =
        send(nfd.get(), b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !sent) {
      nfd.reset();
      kill(npid, SIGKILL);
      waitpid(npid, nullptr, 0);
      if (stopping_) return false;
      XLOG(WARNING) << "xsmb-rpcd (pid " << npid << ") did not take the server information";
      continue;
    }
    fd_ = std::move(nfd);
    pid_ = npid;
    ++generation_;
    ++restarts_;
    cv_.notify_all();
    return true;
  }
}

void RpcdClient::updateServerInfo(ServerInfo info) {
  Bytes cfg = serializeServerInfo(info);
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = cfg;
  }
  // A failure here means the helper is restarting, and the restart sends config_.
  (void)roundTrip(Frame{MsgType::kConfig, 0, 0, std::move(cfg)});
}

absl::StatusOr<uint64_t> RpcdClient::openPipe(std::string_view name, const CallerInfo& caller) {
  if (name.size() > 256) return absl::NotFoundError("pipe name too long");
  ByteWriter w;
  w.u16(static_cast<uint16_t>(name.size()));
  w.bytes(name.data(), name.size());
  w.bytes(serializeCallerInfo(caller));
  uint64_t pipe_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pipe_id = next_pipe_++;
  }
  uint64_t gen = 0;
  auto reply = roundTrip(Frame{MsgType::kOpen, 0, pipe_id, w.take()}, &gen);
  if (!reply.ok()) return reply.status();
  if (reply->type != MsgType::kOpenOk) {
    return absl::NotFoundError("no such pipe: " + std::string(name));
  }
  std::lock_guard<std::mutex> lock(mu_);
  // A reply comes from the helper the request went to; if it was replaced since, the
  // open is lost with it, and the first transact says so.
  pipes_[pipe_id] = gen;
  return pipe_id;
}

absl::StatusOr<Bytes> RpcdClient::transact(uint64_t pipe_id, ByteSpan client_bytes) {
  if (client_bytes.size() > kMaxFramePayload) return absl::AbortedError("pipe write too large");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipes_.find(pipe_id);
    if (it == pipes_.end()) return absl::NotFoundError("unknown pipe id");
    if (it->second != generation_) {
      pipes_.erase(it);
      return unavailable("pipe was lost in a helper restart");
    }
  }
  bool sent = false;
  auto reply =
      roundTrip(Frame{MsgType::kData, 0, pipe_id, Bytes(client_bytes.begin(), client_bytes.end())},
                nullptr, &sent);
  if (!reply.ok()) {
    const bool lost =
        absl::IsUnavailable(reply.status()) || absl::IsDeadlineExceeded(reply.status());
    if (lost) {
      std::lock_guard<std::mutex> lock(mu_);
      pipes_.erase(pipe_id);
    }
    // The helper died (or hung and was killed) holding the request: the client's call ends
    // with a fault; the pipe is gone, so its next call finds it disconnected.
    if (lost && sent) {
      if (auto fault = faultForRequest(client_bytes, kNcaFaultRemoteCommFailure)) {
        return *std::move(fault);
      }
    }
    return reply.status();
  }
  if (reply->type != MsgType::kDataReply) {
    std::lock_guard<std::mutex> lock(mu_);
    pipes_.erase(pipe_id);
    return absl::AbortedError("DCE/RPC protocol error on the pipe");
  }
  return std::move(reply->payload);
}

void RpcdClient::closePipe(uint64_t pipe_id) {
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipes_.find(pipe_id);
    if (it == pipes_.end()) return;
    gen = it->second;
    pipes_.erase(it);
  }
  sendFrame(gen, Frame{MsgType::kClose, 0, pipe_id, {}});
}

pid_t RpcdClient::helperPid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pid_;
}

uint64_t RpcdClient::restarts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return restarts_;
}

absl::StatusOr<Frame> RpcdClient::testCall(MsgType type, Bytes payload) {
  return roundTrip(Frame{type, 0, 0, std::move(payload)});
}

}  // namespace xsmb::rpc
