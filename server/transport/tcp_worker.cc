#include "server/transport/tcp_worker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "common/base/log.h"
#include "common/smb2/header.h"
#include "common/smb2/netbios.h"
#include "server/transport/tcp_ack_check.h"

namespace xsmb::transport {

using namespace netbios;
namespace {

constexpr size_t kScratchSize = 256 * 1024;
// Messages with more than this still to come when the socket runs dry set SO_RCVLOWAT (see
// Worker::setReadMark()).
constexpr size_t kLowatMin = 64 * 1024;
// After a large message the next read takes this much: the NetBIOS header, the SMB2 header and
// a WRITE request's fixed part (MS-SMB2 2.2.21), which is where a WRITE's data begins.
constexpr size_t kWriteRequestFixedSize = 48;  // MS-SMB2 2.2.21, up to Buffer
constexpr size_t kLargeStreamHeadRead =
    kNetBiosHeaderSize + smb2::kHeaderSize + kWriteRequestFixedSize;
constexpr uint64_t kListenerTag = 1ULL << 63;
constexpr uint64_t kEventFdTag = (1ULL << 63) - 1;
constexpr uint64_t kWatchTagBase = (1ULL << 62);  // watch(): kWatchTagBase + fd

std::mutex& acceptMutex() {
  static std::mutex mu;
  return mu;
}

// Loops allowed to busy-poll at the same time: half the CPUs (none on a single CPU, where a
// polling loop could only take the CPU from the work). With every loop polling, a two-CPU
// machine measured path-contention-shared 15 % slower (the pollers took the CPU the requests
// needed); with one of two, faster than not polling at all.
std::atomic<int>& pollSlots() {
  static std::atomic<int> slots{static_cast<int>(std::thread::hardware_concurrency() / 2)};
  return slots;
}

bool takePollSlot() {
  std::atomic<int>& slots = pollSlots();
  int n = slots.load(std::memory_order_relaxed);
  while (n > 0) {
    if (slots.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

}  // namespace

// Calls `done` once: with the status reported, or with kClosed when never reported.
class ReportOnce {
 public:
  explicit ReportOnce(std::function<void(Connection::AckStatus)> done) : done_(std::move(done)) {}
  ~ReportOnce() {
    if (done_) done_(Connection::AckStatus{Connection::AckCheck::kClosed, {}});
  }
  void report(Connection::AckStatus st) { std::exchange(done_, nullptr)(st); }

 private:
  std::function<void(Connection::AckStatus)> done_;
};

// The protocol layer's view of one TCP connection: calls from any thread reach the worker
// through its completion queue (or directly on the loop thread).
class Worker::TcpConnection : public Connection {
 public:
  TcpConnection(Worker* w, uint64_t id, std::string peer)
      : worker_(w), id_(id), peer_(std::move(peer)) {}
  TransportKind kind() const override { return TransportKind::kTcp; }
  const std::string& peer() const override { return peer_; }
  uint32_t loopIndex() const override { return worker_->index_; }
  void send(OutMessage m) override {
    if (worker_->onLoopThread()) {
      worker_->sendUnsolicited(id_, std::move(m));
    } else {
      worker_->post({id_, Reply{std::move(m)}, true, nullptr});
    }
  }
  void runInStrand(std::function<Reply()> task) override {
    worker_->post({id_, {}, false, std::move(task)});
  }
  void close() override { worker_->post({id_, Reply{{}, /*close=*/true}, true, nullptr}); }
  bool sendsFileByReference() const override { return true; }
  void setUnackedTimeout(std::chrono::milliseconds timeout) override {
    const auto ms = static_cast<unsigned>(timeout.count());
    worker_->post({id_, {}, false, nullptr, [ms](int fd) {
                     (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
                   }});
  }
  void checkAcknowledgment(std::chrono::steady_clock::time_point since, bool reset_if_silent,
                           std::function<void(AckStatus)> done) override {
    // `once` reports kClosed if the connection is gone before the check runs (the worker then
    // drops the check, and with it the last reference).
    auto once = std::make_shared<ReportOnce>(std::move(done));
    worker_->post({id_, {}, false, nullptr, [once, since, reset_if_silent](int fd) {
                     once->report(checkTcpAcknowledgment(fd, since, reset_if_silent));
                   }});
  }

 private:
  Worker* worker_;
  uint64_t id_;
  std::string peer_;
};

Worker::Worker(Acceptor* acceptor, vfs::IoPool* pool, const TcpOptions* options,
               std::atomic<int>* connection_count, uint32_t index)
    : acceptor_(acceptor),
      pool_(pool),
      options_(options),
      connection_count_(connection_count),
      index_(index) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev);
  scratch_.resize(kScratchSize);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Worker::~Worker() {
  stop();
  std::vector<uint64_t> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) closeConn(id);
  for (int fd : listeners_) close(fd);
  if (eventfd_ >= 0) close(eventfd_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
  if (epfd_ >= 0) close(epfd_);
}

bool Worker::listen(const std::vector<ListenAddress>& addresses) {
  for (const auto& a : addresses) {
    int fd = listenOn(a);
    if (fd < 0) {
      XLOG(ERROR) << "cannot listen on " << a.host << " port " << a.port << ": "
                  << std::strerror(errno);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | static_cast<uint64_t>(fd);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    listeners_.push_back(fd);
  }
  return true;
}

void Worker::watch(int fd, std::function<void()> on_readable) {
  uint64_t tag = kWatchTagBase + static_cast<uint64_t>(fd);
  watched_[tag] = std::move(on_readable);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void Worker::start(std::function<void()> on_start) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    loop_thread_ = std::this_thread::get_id();
    if (on_start) on_start();
    run();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
  thread_.join();
}

void Worker::drain(std::chrono::milliseconds idle) {
  drain_idle_ms_ = idle.count();
  drain_ = true;
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
}

void Worker::closeListeners() {
  for (int fd : listeners_) {
    // What completed its handshake before the switch is served here; with the
    // net.ipv4.tcp_migrate_req sysctl a handshake still in flight moves to a listener of the
    // new generation when this one closes (otherwise the kernel resets it).
    acceptOn(fd);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
  }
  listeners_.clear();
  draining_ = true;
  // Idleness counts from now: a connection between two requests of a transfer is not idle.
  for (auto& [id, c] : conns_) c->last_active = std::chrono::steady_clock::now();
}

void Worker::closeIdle() {
  const auto now = std::chrono::steady_clock::now();
  const auto idle = std::chrono::milliseconds(drain_idle_ms_.load());
  std::vector<uint64_t> ids;
  for (auto& [id, c] : conns_) {
    if (!c->busy && c->pending.empty() && c->wq.empty() && c->head_len == 0 &&
        c->inflight_got == 0 && now - c->last_active >= idle) {
      ids.push_back(id);
    }
  }
  for (uint64_t id : ids) closeConn(id);
}

void Worker::run() {
  epoll_event events[128];
  // "busy poll": after an event the loop polls without sleeping for this long, so a request
  // that follows soon is found without the sender paying to wake this thread. Only half the
  // CPUs' loops poll at once (takePollSlot), so polling never takes every CPU from the work.
  const auto busy_poll = std::chrono::microseconds(options_->busy_poll_usecs);
  auto last_event = std::chrono::steady_clock::now() - std::chrono::hours(1);
  bool polling = false;  // this loop holds a poll slot
  struct SlotReturn {
    bool& polling;
    ~SlotReturn() {
      if (polling) pollSlots().fetch_add(1);
    }
  } slot_return{polling};
  while (!stop_) {
    if (listeners_paused_ && std::chrono::steady_clock::now() >= resume_listeners_at_) {
      resumeListeners();
    }
    int timeout = holdTimeout(listeners_paused_ || draining_ ? 100 : 1000);
    if (busy_poll.count() > 0 && std::chrono::steady_clock::now() - last_event < busy_poll &&
        (polling || takePollSlot())) {
      polling = true;
      timeout = 0;
    } else if (polling) {
      polling = false;
      pollSlots().fetch_add(1);
    }
    int n = epoll_wait(epfd_, events, 128, timeout);
    if (n > 0 && busy_poll.count() > 0) last_event = std::chrono::steady_clock::now();
    if (n < 0) {
      if (errno == EINTR) continue;
      XLOG(ERROR) << "epoll_wait: " << std::strerror(errno);
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kEventFdTag) {
        uint64_t v;
        (void)!read(eventfd_, &v, sizeof(v));
        drainCompletions();
        continue;
      }
      if (tag & kListenerTag) {
        acceptOn(static_cast<int>(tag & ~kListenerTag));
        continue;
      }
      if (tag >= kWatchTagBase) {  // connection ids stay below: no lookup for their events
        if (auto w = watched_.find(tag); w != watched_.end()) {
          w->second();  // e.g. an I/O engine's completions, which queue and write their replies
        }
        continue;
      }
      auto it = conns_.find(tag);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (drain_) c.last_active = std::chrono::steady_clock::now();
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        closeConn(c.id);
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        flush(c);
        if (conns_.find(tag) == conns_.end()) continue;
      }
      if (events[i].events & EPOLLIN) onReadable(c);
    }
    flushMarked();
    releaseHeld();
    expireSetups();
    if (drain_ && !draining_) closeListeners();
    if (draining_) closeIdle();
  }
}

void Worker::acceptOn(int lfd) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    // Workers accept one at a time: otherwise the descriptor one frees from its spare (below)
    // is taken by another worker's accept and the spare is lost for good.
    std::unique_lock<std::mutex> accept_lock(acceptMutex());
    int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EMFILE && errno != ENFILE) return;
      // Out of descriptors: the listener would stay readable and the loop spin. The spare
      // descriptor makes room to accept the waiting connection and close it at once.
      if (reserve_fd_ < 0) reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (reserve_fd_ >= 0) {
        close(reserve_fd_);
        int refused = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (refused >= 0) {
          close(refused);
          uint64_t n = acceptor_->onRefused();
          logRefusal(nullptr, n, "out of file descriptors (RLIMIT_NOFILE)");
        }
        reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (refused >= 0) continue;
      }
      // Another thread took the slot: stop listening for a moment rather than spin.
      pauseListeners();
      return;
    }
    accept_lock.unlock();
    uint32_t max = options_->max_connections;
    // The slot is taken before the check, so two workers cannot both admit the last one.
    if (connection_count_->fetch_add(1) >= static_cast<int>(max) && max) {
      connection_count_->fetch_sub(1);
      uint64_t refused = acceptor_->onRefused();
      logRefusal(&ss, refused, "max connections (" + std::to_string(max) + ") reached");
      close(fd);
      continue;
    }
    applySocketOptions(fd, ss.ss_family, options_->socket_options);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->id = next_id_++;
    c->peer = peerName(ss);
    c->handle = std::make_shared<TcpConnection>(this, c->id, c->peer);
    c->cb = acceptor_->onAccept(c->handle, fd, &c->max_frame);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    c->events = ev.events;
    ev.data.u64 = c->id;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    c->last_active = std::chrono::steady_clock::now();
    if (options_->setup_timeout_secs) {
      setup_deadlines_.emplace_back(
          c->last_active + std::chrono::seconds(options_->setup_timeout_secs), c->id);
    }
    XLOG(INFO) << "connection from " << c->peer;
    conns_[c->id] = std::move(c);
  }
}

void Worker::logRefusal(const sockaddr_storage* peer, uint64_t refused, const std::string& why) {
  // One line per second at most: a flood of refusals must not flood the log.
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ < std::chrono::seconds(1)) return;
  last_refusal_log_ = now;
  XLOG(WARNING) << "refusing " << (peer ? peerName(*peer) : std::string("a connection")) << ": "
                << why << " (" << refused << " refused so far)";
}

void Worker::pauseListeners() {
  if (listeners_paused_) return;
  listeners_paused_ = true;
  resume_listeners_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  for (int fd : listeners_) {
    epoll_event ev{};
    ev.data.u64 = kListenerTag | static_cast<uint64_t>(fd);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void Worker::resumeListeners() {
  listeners_paused_ = false;
  for (int fd : listeners_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | static_cast<uint64_t>(fd);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void Worker::onReadable(Conn& c) {
  const uint64_t id = c.id;
  readAvailable(c);
  auto it = conns_.find(id);
  if (it != conns_.end() && it->second->flush_pending) {
    it->second->flush_pending = false;
    flush(*it->second);
  }
}

void Worker::readAvailable(Conn& c) {
  const uint64_t id = c.id;
  const bool drained = readSocket(c);
  if (conns_.find(id) != conns_.end()) setReadMark(c, drained);
}

bool Worker::readSocket(Conn& c) {
  const uint64_t id = c.id;
  for (int rounds = 0; rounds < 16 && c.reading; ++rounds) {
    ssize_t n;
    if (!c.inflight.empty()) {
      // The rest of a large message goes straight into its own buffer, and what follows it
      // into the scratch buffer in the same call: after a large message a header's worth (in a
      // WRITE stream the next WRITE's headers, whose data then lands in its own buffer too),
      // after a smaller one as much as fits. One receive per message of a WRITE stream, not
      // two, and a socket drained by it needs no further call to find out.
      const size_t want = c.inflight.size - c.inflight_got;
      const size_t after = c.inflight.size >= kLowatMin ? kLargeStreamHeadRead : scratch_.size();
      iovec iov[2] = {{c.inflight.data.get() + c.inflight_got, want}, {scratch_.data(), after}};
      msghdr mh{};
      mh.msg_iov = iov;
      mh.msg_iovlen = 2;
      n = recvmsg(c.fd, &mh, 0);
      if (n > 0) {
        const size_t got = std::min(static_cast<size_t>(n), want);
        const size_t next = static_cast<size_t>(n) - got;  // bytes of what follows, in scratch_
        c.inflight_got += got;
        if (got < want) return true;  // drained (see below)
        c.large_stream = c.inflight.size >= kLowatMin;
        Message msg = std::move(c.inflight);
        c.inflight = {};
        c.inflight_got = 0;
        if (c.inflight_keepalive) {  // a keep-alive's payload carries nothing to answer
          c.inflight_keepalive = false;
          msg = {};
        }
        if (!deliver(c, std::move(msg))) return false;
        // deliver() never reads, so scratch_ still holds `next`; head_len is 0 while a message
        // is in flight.
        if (next > 0) {
          if (!consume(c, scratch_.data(), next)) {
            closeConn(id);
            return false;
          }
          if (conns_.find(id) == conns_.end()) return false;
        }
        if (next < after) return true;  // drained
        continue;
      }
    } else {
      std::memcpy(scratch_.data(), c.head, c.head_len);
      size_t room = scratch_.size() - c.head_len;
      if (c.large_stream) room = std::min(room, kLargeStreamHeadRead);
      n = recv(c.fd, scratch_.data() + c.head_len, room, 0);
      if (n > 0) {
        size_t total = c.head_len + static_cast<size_t>(n);
        c.head_len = 0;
        if (!consume(c, scratch_.data(), total)) {
          closeConn(id);
          return false;
        }
        if (conns_.find(id) == conns_.end()) return false;
        // A short read drained the socket: asking again would only return EAGAIN (the loop is
        // level-triggered, so anything arriving meanwhile wakes it again).
        if (static_cast<size_t>(n) < room) return true;
        continue;
      }
    }
    if (n == 0) {
      closeConn(id);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    closeConn(id);
    return false;
  }
  return false;
}

void Worker::setReadMark(Conn& c, bool drained) {
  // A large WRITE wakes the loop once, when the rest of it is there, rather than once per
  // segment (the kernel caps the mark at half the receive buffer it may grow to). Raised only
  // once the socket ran dry inside a message larger than kLowatMin: most of a pipelined WRITE
  // stream is already there when its header is read, and then the mark would cost system calls
  // for nothing. The mark must never ask for more than the rest of the message being read,
  // which may be all the client sends before a reply: woken early (memory pressure, a closing
  // window) it is lowered to what is left, and when the loop waits for anything else it is 1.
  // It is set here, as the loop goes back to waiting, and only when it changes: in a stream of
  // large WRITEs that each run dry it moves from one message's rest to the next one's in one
  // call, without a reset to 1 between them.
  // SO_RCVLOWAT is not used with the sockhash: readiness there comes from the psock queue.
  if (!options_->use_rcvlowat) return;
  int mark = 1;
  if (drained && !c.inflight.empty()) {
    const size_t left = c.inflight.size - c.inflight_got;
    if (left > kLowatMin || c.rcvlowat > 1) {
      mark = static_cast<int>(std::min<size_t>(left, INT32_MAX));
    }
  }
  if (mark == c.rcvlowat) return;
  if (setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof(mark)) == 0) c.rcvlowat = mark;
}

bool Worker::consume(Conn& c, const uint8_t* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    ByteSpan rest(data + pos, n - pos);
    Frame f = parseFrame(rest, c.max_frame);
    switch (f.status) {
      case FrameStatus::kTooLarge:
        acceptor_->onFramingError(/*oversized=*/true);
        XLOG(WARNING) << c.peer << ": frame of " << f.length << " bytes exceeds " << c.max_frame
                      << ", closing";
        return false;
      case FrameStatus::kBadType:
        acceptor_->onFramingError(/*oversized=*/false);
        XLOG(WARNING) << c.peer << ": not a NetBIOS session message, closing";
        return false;
      case FrameStatus::kKeepAlive:
        pos += kNetBiosHeaderSize + f.length;
        break;
      case FrameStatus::kMessage: {
        c.large_stream = false;
        Message msg = Message::make(f.length);
        std::memcpy(msg.data.get(), rest.data() + kNetBiosHeaderSize, f.length);
        if (!deliver(c, std::move(msg))) return false;
      }
        pos += kNetBiosHeaderSize + f.length;
        break;
      case FrameStatus::kIncomplete:
        if (rest.size() < kNetBiosHeaderSize) {
          std::memcpy(c.head, rest.data(), rest.size());
          c.head_len = rest.size();
        } else {
          // A keep-alive (at most 64 bytes of payload) is read the same way and dropped.
          c.inflight_keepalive = rest[0] == kNetBiosKeepAlive;
          c.inflight = Message::make(f.length);
          c.inflight_got = rest.size() - kNetBiosHeaderSize;
          std::memcpy(c.inflight.data.get(), rest.data() + kNetBiosHeaderSize, c.inflight_got);
          // readSocket() reads the rest at once, or the loop waits for it (setReadMark()).
        }
        return true;
    }
  }
  return true;
}

bool Worker::deliver(Conn& c, Message msg) {
  if (msg.empty()) return true;  // an empty session message carries nothing to answer
  if (!c.busy && c.pending.empty() && !c.close_after_write && !unsentFull(c)) {
    Reply r;
    if (c.cb->onMessageInline(msg, &r)) {
      // Replies to everything this read brought in go out together (onReadable flushes).
      return applyReply(c, std::move(r));
    }
  }
  c.pending_bytes += msg.size;
  c.pending.push_back(Work{std::move(msg), nullptr});
  updateReading(c);
  if (!c.busy) submitNext(c);
  return true;
}

bool Worker::applyReply(Conn& c, Reply r) {
  if (drain_) c.last_active = std::chrono::steady_clock::now();
  if (r.not_before > c.hold_until && r.not_before > std::chrono::steady_clock::now()) {
    c.hold_until = r.not_before;
    held_.emplace_back(r.not_before, c.id);
  }
  if (r.max_message) c.max_frame = r.max_message;
  if (r.established) c.established = true;
  if (!r.out.bytes.empty()) enqueue(c, frameOf(std::move(r.out)));
  if (r.close) {
    c.close_after_write = true;
    c.pending.clear();
    c.pending_bytes = 0;
    uint64_t id = c.id;
    flush(c);  // closes the connection once written
    return conns_.count(id) > 0;
  }
  markFlush(c);
  return true;
}

void Worker::submitNext(Conn& c) {
  if (c.pending.empty() || c.close_after_write) return;
  // A client that does not read its replies gets no more processed (strand tasks still run).
  if (!c.pending.front().task && unsentFull(c)) return;
  c.busy = true;
  Work work = std::move(c.pending.front());
  c.pending.pop_front();
  c.pending_bytes -= work.msg.size;
  pool_->submit([this, cb = c.cb, id = c.id, work = std::move(work)]() mutable {
    Reply r = work.task ? work.task() : cb->onMessage(work.msg);
    post({id, std::move(r), false, nullptr});
  });
}

void Worker::post(Completion c) {
  {
    std::lock_guard<std::mutex> lock(completions_mu_);
    completions_.push_back(std::move(c));
  }
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
}

void Worker::drainCompletions() {
  std::vector<Completion> done;
  {
    std::lock_guard<std::mutex> lock(completions_mu_);
    done.swap(completions_);
  }
  for (Completion& d : done) {
    auto it = conns_.find(d.conn_id);
    if (it == conns_.end()) continue;  // closed while its work ran
    Conn& c = *it->second;
    if (d.on_socket) {
      d.on_socket(c.fd);
      continue;
    }
    if (d.task) {
      // After the work in progress and the tasks posted before it, before the messages waiting
      // (Connection::runInStrand): tasks run in the order they were posted.
      auto after_tasks = std::find_if(c.pending.begin(), c.pending.end(),
                                      [](const Work& w) { return !w.task; });
      c.pending.insert(after_tasks, Work{{}, std::move(d.task)});
      if (!c.busy) submitNext(c);
      continue;
    }
    if (d.unsolicited) {
      sendUnsolicited(d.conn_id, std::move(d.reply.out));
      if (d.reply.close) {  // Connection::close()
        c.close_after_write = true;
        c.pending.clear();
        c.pending_bytes = 0;
        flush(c);  // closes the connection once written
      }
      continue;
    }
    c.busy = false;
    // A closing reply writes and closes at once; the others leave with the replies this batch
    // of completions produced.
    if (!applyReply(c, std::move(d.reply))) continue;
    updateReading(c);
    submitNext(c);
  }
}

void Worker::closeConn(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  connection_count_->fetch_sub(1);
  XLOG(INFO) << "connection from " << c.peer << " closed";
  std::shared_ptr<ConnectionCallbacks> cb = std::move(c.cb);
  conns_.erase(it);
  if (cb) cb->onClose();
}

}  // namespace xsmb::transport
