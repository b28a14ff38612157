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

namespace xsmb::rpc {

namespace {

std::chrono::milliseconds toChrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

absl::Status unavailable(const char* why) {
  return absl::UnavailableError(std::string("xsmb-rpcd: ") + why);
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
    if (pid_ > 0) kill(pid_, SIGKILL);
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

absl::StatusOr<Frame> RpcdClient::roundTrip(Frame f, uint64_t* generation) {
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
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, toChrono(opts_.call_timeout), [&] { return call->done; })) {
    calls_.erase(f.request_id);
    // A helper that does not answer would stall every pipe: replace it.
    if (gen == generation_ && pid_ > 0) kill(pid_, SIGKILL);
    return absl::DeadlineExceededError("xsmb-rpcd did not answer in time");
  }
  return std::move(call->result);
}

void RpcdClient::readLoop(int fd) {
  FrameDecoder decoder;
  std::vector<uint8_t> buf(1 << 16);
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
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
    if (decoder.bad()) return;  // treated like a crash: the helper is replaced
  }
}

void RpcdClient::supervise() {
  absl::Duration delay = absl::Milliseconds(50);
  while (true) {
    int fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fd = fd_.get();
    }
    absl::Time started = absl::Now();
    if (fd >= 0) readLoop(fd);
    pid_t pid;
    {
      std::lock_guard<std::mutex> wlock(write_mu_);
      std::lock_guard<std::mutex> lock(mu_);
      fd_.reset();
      pid = pid_;
      pid_ = 0;
      for (auto& [id, call] : calls_) {
        call->done = true;
        call->result = unavailable("helper exited during the call");
      }
      calls_.clear();
      cv_.notify_all();
    }
    if (pid > 0) {
      kill(pid, SIGKILL);  // EOF without exit (closed its socket): make sure it is gone
      waitpid(pid, nullptr, 0);
    }
    if (absl::Now() - started > absl::Seconds(10)) delay = absl::Milliseconds(50);
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, toChrono(delay), [&] { return stopping_; })) return;
      }
      delay = std::min(delay * 2, opts_.max_restart_delay);
      UniqueFd nfd;
      pid_t npid = 0;
      if (!spawn(&nfd, &npid).ok()) continue;
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
        if (stopping_) return;
        continue;
      }
      fd_ = std::move(nfd);
      pid_ = npid;
      ++generation_;
      ++restarts_;
      cv_.notify_all();
      break;
    }
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
  auto reply =
      roundTrip(Frame{MsgType::kData, 0, pipe_id, Bytes(client_bytes.begin(), client_bytes.end())});
  if (!reply.ok()) {
    if (absl::IsUnavailable(reply.status())) {
      std::lock_guard<std::mutex> lock(mu_);
      pipes_.erase(pipe_id);
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
