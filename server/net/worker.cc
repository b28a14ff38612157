#include "server/net/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
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
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include "common/base/log.h"
#include "server/handlers/dispatcher.h"
#include "common/smb2/netbios.h"
#include "common/smb2/header.h"

namespace xsmb::net {
namespace {

constexpr size_t kScratchSize = 256 * 1024;
// Messages with more than this still to come when the socket runs dry set SO_RCVLOWAT (see
// Worker::awaitRest()).
constexpr size_t kLowatMin = 64 * 1024;
// After a large message the next read takes this much: the NetBIOS header, the SMB2 header and
// a WRITE request's fixed part (MS-SMB2 2.2.21), which is where a WRITE's data begins.
constexpr size_t kWriteRequestFixedSize = 48;  // MS-SMB2 2.2.21, up to Buffer
constexpr size_t kLargeStreamHeadRead =
    kNetBiosHeaderSize + smb2::kHeaderSize + kWriteRequestFixedSize;
// Before NEGOTIATE nothing legitimate is larger than this (an SPNEGO token fits easily).
constexpr size_t kPreNegotiateMaxFrame = 256 * 1024;
// Room for headers and compounded requests above MaxWriteSize/MaxTransactSize.
constexpr size_t kFrameOverhead = 64 * 1024;
// A connection with this many complete messages waiting is not read until they drain.
constexpr size_t kMaxPending = 64;
constexpr uint64_t kListenerTag = 1ULL << 63;
constexpr uint64_t kEventFdTag = (1ULL << 63) - 1;
constexpr uint64_t kIoEngineTag = (1ULL << 63) - 2;
constexpr unsigned kIoUringEntries = 256;

// The I/O engine for one worker: io_uring unless the kernel refuses it (the first refusal is
// logged and every worker then uses the pool's threads) or XSMBD_IO_ENGINE=threads.
std::unique_ptr<IoEngine> makeEngine(IoPool* pool) {
  static std::atomic<bool> uring_ok{true};
  static std::once_flag logged;
  const char* forced = getenv("XSMBD_IO_ENGINE");
  if (forced && std::string_view(forced) == "threads") uring_ok = false;
  if (uring_ok) {
    std::string why;
    if (auto e = makeIoUringEngine(kIoUringEntries, &why)) return e;
    uring_ok = false;
    std::call_once(logged, [&] { XLOG(WARNING) << "io_uring unavailable (" << why << ")"; });
  }
  return makeThreadEngine(pool);
}

std::string peerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

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

// "socket options" on an accepted connection. IP_TOS becomes the traffic class on IPv6. A
// failure is logged once per option word (the kernel refuses the same value every time).
void applySocketOptions(int fd, int family, const std::vector<config::SocketOption>& opts) {
  static std::mutex logged_mu;
  static std::set<std::string> logged;
  for (const config::SocketOption& o : opts) {
    int level = o.level, name = o.name;
    if (family == AF_INET6 && level == IPPROTO_IP && name == IP_TOS) {
      level = IPPROTO_IPV6;
      name = IPV6_TCLASS;
    }
    if (setsockopt(fd, level, name, &o.value, sizeof(o.value)) == 0) continue;
    int err = errno;
    std::lock_guard<std::mutex> lock(logged_mu);
    if (logged.insert(o.text).second) {
      XLOG(WARNING) << "socket options: " << o.text << ": " << std::strerror(err);
    }
  }
}

}  // namespace

int listenOn(const ListenAddress& a) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family;
  if (inet_pton(AF_INET, a.host.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    family = AF_INET;
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(a.port);
    len = sizeof(sockaddr_in);
  } else {
    std::string host = a.host;
    unsigned scope = 0;
    if (auto pct = host.find('%'); pct != std::string::npos) {
      scope = if_nametoindex(host.substr(pct + 1).c_str());
      host.resize(pct);
    }
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1) {
      errno = EINVAL;
      return -1;
    }
    family = AF_INET6;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(a.port);
    sa->sin6_scope_id = scope;
    len = sizeof(sockaddr_in6);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 512) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

Worker::Worker(session::ServerContext* server, IoPool* pool, std::atomic<int>* connection_count,
               uint32_t index)
    : server_(server), pool_(pool), connection_count_(connection_count), index_(index) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev);
  scratch_.resize(kScratchSize);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  io_ = makeEngine(pool_);
  ev.events = EPOLLIN;
  ev.data.u64 = kIoEngineTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, io_->eventFd(), &ev);
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

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
  thread_.join();
}

void Worker::run() {
  session::setOnEventLoopThread();
  epoll_event events[128];
  // "busy poll": after an event the loop polls without sleeping for this long, so a request
  // that follows soon is found without the sender paying to wake this thread. Only half the
  // CPUs' loops poll at once (takePollSlot), so polling never takes every CPU from the work.
  const auto busy_poll = std::chrono::microseconds(server_->config.global.busy_poll_usecs);
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
    int timeout = listeners_paused_ ? 100 : 1000;
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
      if (tag == kIoEngineTag) {
        io_->reap();  // completion callbacks queue and write their replies
        continue;
      }
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
      auto it = conns_.find(tag);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
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
          uint64_t n = ++server_->stats.connections_refused;
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
    uint32_t max = server_->config.global.max_connections;
    // The slot is taken before the check, so two workers cannot both admit the last one.
    if (connection_count_->fetch_add(1) >= static_cast<int>(max) && max) {
      connection_count_->fetch_sub(1);
      uint64_t refused = ++server_->stats.connections_refused;
      logRefusal(&ss, refused, "max connections (" + std::to_string(max) + ") reached");
      close(fd);
      continue;
    }
    applySocketOptions(fd, ss.ss_family, server_->config.global.socket_options);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->id = next_id_++;
    c->state = std::make_shared<session::ConnState>(server_);
    c->state->peer = peerName(ss);
    c->state->worker = index_;
    server_->registerConnection(c->state);
    if (server_->dataplane && server_->config.global.bpf) {
      // Per-message policy and accounting in the kernel (sockhash verdict), only when asked.
      if (server_->config.global.bpf_sockmap) server_->dataplane->addConnection(fd);
      server_->dataplane->setWorkerLoad(index_, ++my_connections_);
    }
    uint64_t conn_id = c->id;
    c->state->send_unsolicited = [this, conn_id](Bytes frame) {
      post({conn_id, std::move(frame), false, 0, true, nullptr});
    };
    c->state->run_in_strand = [this, conn_id](std::function<void(session::ConnState&)> task) {
      post({conn_id, {}, false, 0, false, std::move(task)});
    };
    c->max_frame = kPreNegotiateMaxFrame;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    c->events = ev.events;
    ev.data.u64 = c->id;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    server_->stats.connections_accepted++;
    XLOG(INFO) << "connection from " << c->state->peer;
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
  for (int rounds = 0; rounds < 16 && c.reading; ++rounds) {
    ssize_t n;
    if (!c.inflight.empty()) {
      // The rest of a large message goes straight into its own buffer.
      const size_t want = c.inflight.size - c.inflight_got;
      n = recv(c.fd, c.inflight.data.get() + c.inflight_got, want, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        awaitRest(c);
        return;
      }
      if (n > 0) {
        c.inflight_got += static_cast<size_t>(n);
        if (static_cast<size_t>(n) < want) {  // drained (see below)
          awaitRest(c);
          return;
        }
        if (c.inflight_got == c.inflight.size) {
          c.large_stream = c.inflight.size >= kLowatMin;
          MsgBuf msg = std::move(c.inflight);
          c.inflight = {};
          c.inflight_got = 0;
          if (c.lowat) {
            int one = 1;
            setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
            c.lowat = false;
          }
          if (!deliver(c, std::move(msg))) return;
        }
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
          return;
        }
        if (conns_.find(id) == conns_.end()) return;
        // A short read drained the socket: asking again would only return EAGAIN (the loop is
        // level-triggered, so anything arriving meanwhile wakes it again).
        if (static_cast<size_t>(n) < room) {
          if (!c.inflight.empty()) awaitRest(c);
          return;
        }
        continue;
      }
    }
    if (n == 0) {
      closeConn(id);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    closeConn(id);
    return;
  }
}

void Worker::awaitRest(Conn& c) {
  // A large WRITE wakes the loop once, when the rest of it is there, rather than once per
  // segment (the kernel caps the mark at half the receive buffer it may grow to). Set only once
  // the socket ran dry: most of a pipelined WRITE stream is already there when its header is
  // read, and then the mark would cost two system calls for nothing. Woken early (memory
  // pressure, a closing window), the mark is lowered to what is left: it must not ask for more
  // than the rest of this message, which may be all the client sends before a reply.
  // SO_RCVLOWAT is not used with the sockhash: readiness there comes from the psock queue.
  size_t left = c.inflight.size - c.inflight_got;
  if ((left <= kLowatMin && !c.lowat) || server_->config.global.bpf_sockmap) return;
  int lowat = static_cast<int>(std::min<size_t>(left, INT32_MAX));
  c.lowat = setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0;
}

bool Worker::consume(Conn& c, const uint8_t* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    ByteSpan rest(data + pos, n - pos);
    Frame f = parseFrame(rest, c.max_frame);
    switch (f.status) {
      case FrameStatus::kTooLarge:
        server_->stats.oversized_frames++;
        XLOG(WARNING) << c.state->peer << ": frame of " << f.length << " bytes exceeds "
                      << c.max_frame << ", closing";
        return false;
      case FrameStatus::kBadType:
        server_->stats.malformed_frames++;
        XLOG(WARNING) << c.state->peer << ": not a NetBIOS session message, closing";
        return false;
      case FrameStatus::kKeepAlive:
        pos += kNetBiosHeaderSize + f.length;
        break;
      case FrameStatus::kMessage: {
        c.large_stream = false;
        MsgBuf msg = MsgBuf::make(f.length);
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
          c.inflight = MsgBuf::make(f.length);
          c.inflight_got = rest.size() - kNetBiosHeaderSize;
          std::memcpy(c.inflight.data.get(), rest.data() + kNetBiosHeaderSize, c.inflight_got);
          // readAvailable() reads the rest at once, or waits for it (awaitRest()).
        }
        return true;
    }
  }
  return true;
}

namespace {

// Requests that are cheap and never wait for another request are answered on the event loop
// itself when nothing else of the connection is in flight: the hop to the I/O pool and back
// (two thread wake-ups) costs more than the work. A lone ECHO, CANCEL, NEGOTIATE, READ, WRITE
// or FLUSH qualifies (READ and WRITE only touch the page cache there, RWF_NOWAIT; what would
// block, and every fsync, goes to the I/O engine, off the connection's strand), and so does a
// message or compound chain of CREATE, CLOSE and QUERY_INFO: a CREATE only while no open holds
// a BATCH or EXCLUSIVE oplock, whose break it would have to wait for. Encrypted messages go to
// the pool.
bool answerInline(ByteSpan msg, const session::ServerContext& server) {
  constexpr int kMaxChain = 8;
  size_t off = 0;
  for (int i = 0; i < kMaxChain; ++i) {
    ByteSpan m = msg.subspan(off);
    if (m.size() < smb2::kHeaderSize || loadU32(m.data()) != smb2::kProtocolId) return false;
    uint32_t next = loadU32(&m[smb2::kHeaderNextCommandOffset]);
    bool lone = off == 0 && next == 0;
    switch (loadU16(&m[12])) {
      case smb2::SMB2_ECHO:
      case smb2::SMB2_CANCEL:
      case smb2::SMB2_NEGOTIATE:
      case smb2::SMB2_READ:
      case smb2::SMB2_WRITE:
      case smb2::SMB2_FLUSH:
        return lone;
      case smb2::SMB2_CREATE:
        if (server.files.anyStrongOplocks()) return false;
        break;
      case smb2::SMB2_CLOSE:
      case smb2::SMB2_QUERY_INFO:
        break;
      default:
        return false;
    }
    if (next == 0) return true;
    if (next < smb2::kHeaderSize || next > m.size()) return false;
    off += next;
  }
  return false;
}

}  // namespace

bool Worker::deliver(Conn& c, MsgBuf msg) {
  if (msg.empty()) return true;  // an empty session message carries nothing to answer
  if (!c.busy && c.pending.empty() && !c.close_after_write && answerInline(msg.span(), *server_)) {
    auto holder = std::make_shared<MsgBuf>(std::move(msg));
    handlers::DeferredReply deferred;
    session::FileSegment segment;
    Bytes resp = handlers::processOnEventLoop(*c.state, holder->span(), &deferred, &segment);
    uint64_t conn_id = c.id;
    if (deferred.complete) {
      // Off the connection's strand: later requests are served while the disk works.
      auto d = std::make_shared<handlers::DeferredReply>(std::move(deferred));
      server_->stats.engine_ios++;
      io_->submit(d->io, [this, conn_id, holder, d](int64_t result) {
        sendUnsolicited(conn_id, d->complete(result));
      });
    }
    if (c.state->negotiated) {
      c.max_frame = std::max(c.state->max_write_size, c.state->max_transact_size) + kFrameOverhead;
    }
    if (!resp.empty()) c.wq.push_back(OutFrame{std::move(resp), std::move(segment)});
    if (c.state->disconnect) {
      c.close_after_write = true;
      uint64_t id = c.id;
      flush(c);  // closes the connection once written
      return conns_.count(id) > 0;
    }
    // Replies to everything this read brought in go out together (onReadable flushes).
    markFlush(c);
    return true;
  }
  c.pending.push_back(Work{std::move(msg), nullptr});
  if (c.pending.size() >= kMaxPending && c.reading) {
    c.reading = false;
    updateEvents(c);
  }
  if (!c.busy) submitNext(c);
  return true;
}

void Worker::submitNext(Conn& c) {
  if (c.pending.empty() || c.close_after_write) return;
  c.busy = true;
  Work work = std::move(c.pending.front());
  c.pending.pop_front();
  auto state = c.state;
  uint64_t id = c.id;
  pool_->submit([this, state, id, work = std::move(work)]() mutable {
    Bytes resp;
    if (work.task) {
      work.task(*state);
    } else {
      resp = handlers::processMessage(*state, work.msg.span());
    }
    uint32_t max_frame = state->negotiated
                             ? std::max(state->max_write_size, state->max_transact_size) +
                                   static_cast<uint32_t>(kFrameOverhead)
                             : static_cast<uint32_t>(kPreNegotiateMaxFrame);
    post({id, std::move(resp), state->disconnect, max_frame});
  });
}

void Worker::sendUnsolicited(uint64_t id, Bytes frame) {
  auto it = conns_.find(id);
  if (it == conns_.end() || frame.empty()) return;  // closed while its I/O ran
  it->second->wq.push_back(OutFrame{std::move(frame), {}});
  markFlush(*it->second);
}

void Worker::markFlush(Conn& c) {
  if (c.flush_pending) return;
  c.flush_pending = true;
  to_flush_.push_back(c.id);
}

void Worker::flushMarked() {
  // By index: whatever is marked meanwhile is written in this pass too.
  for (size_t i = 0; i < to_flush_.size(); ++i) {
    auto it = conns_.find(to_flush_[i]);
    if (it == conns_.end() || !it->second->flush_pending) continue;
    it->second->flush_pending = false;
    flush(*it->second);
  }
  to_flush_.clear();
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
    if (it == conns_.end()) continue;  // closed while its request ran
    Conn& c = *it->second;
    if (d.task) {
      c.pending.push_back(Work{{}, std::move(d.task)});
      if (!c.busy) submitNext(c);
      continue;
    }
    if (d.unsolicited) {
      sendUnsolicited(d.conn_id, std::move(d.response));
      continue;
    }
    c.busy = false;
    c.max_frame = d.max_frame;
    if (!d.response.empty()) c.wq.push_back(OutFrame{std::move(d.response), {}});
    if (d.disconnect) {
      c.close_after_write = true;
      c.pending.clear();
      flush(c);  // closes the connection once written
      it = conns_.find(d.conn_id);
      if (it == conns_.end()) continue;
    } else {
      markFlush(c);  // with the other replies this batch of completions produced
    }
    if (!c.reading && c.pending.size() < kMaxPending / 2 && !c.close_after_write) {
      c.reading = true;
      updateEvents(c);
    }
    submitNext(c);
  }
}

void Worker::flush(Conn& c) {
  while (!c.wq.empty()) {
    OutFrame& front = c.wq.front();
    ssize_t n;
    if (c.woff >= front.bytes.size() && !front.file.data) {
      // The frame's file data, from the page cache straight to the socket.
      size_t sent = c.woff - front.bytes.size();
      size_t left = front.file.length - sent;
      off_t pos = static_cast<off_t>(front.file.offset + sent);
      n = sendfile(c.fd, front.file.fd->get(), &pos, left);
      if (n == 0) {
        // The file shrank after the header promised the data: zeros keep the stream framed.
        static const uint8_t kZeros[4096] = {};
        n = send(c.fd, kZeros, std::min(left, sizeof(kZeros)), MSG_NOSIGNAL);
      }
    } else {
      // Whole frames gathered into one send; a frame whose data comes from a file ends the
      // batch (MSG_MORE: its headers wait for the data rather than leaving as a packet alone).
      // Data read into memory (file.data) goes as a second iovec of its frame.
      iovec iov[64];
      int cnt = 0;
      bool more = false;
      for (auto it = c.wq.begin(); it != c.wq.end() && cnt + 2 <= 64; ++it) {
        size_t skip = it == c.wq.begin() ? c.woff : 0;
        if (skip < it->bytes.size()) {
          iov[cnt].iov_base = it->bytes.data() + skip;
          iov[cnt].iov_len = it->bytes.size() - skip;
          ++cnt;
        }
        if (it->file.data) {
          size_t data_skip = skip > it->bytes.size() ? skip - it->bytes.size() : 0;
          iov[cnt].iov_base = it->file.data.get() + data_skip;
          iov[cnt].iov_len = it->file.length - data_skip;
          ++cnt;
        } else if (it->file.length) {
          more = true;
          break;
        }
      }
      msghdr mh{};
      mh.msg_iov = iov;
      mh.msg_iovlen = static_cast<size_t>(cnt);
      n = sendmsg(c.fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      closeConn(c.id);
      return;
    }
    size_t left = static_cast<size_t>(n);
    while (left > 0 && !c.wq.empty()) {
      OutFrame& f = c.wq.front();
      size_t avail = f.bytes.size() + f.file.length - c.woff;
      size_t take = std::min(left, avail);
      c.woff += take;
      left -= take;
      if (c.woff == f.bytes.size() + f.file.length) {
        c.wq.pop_front();
        c.woff = 0;
      }
    }
  }
  if (c.wq.empty() && c.close_after_write) {
    closeConn(c.id);
    return;
  }
  updateEvents(c);
}

void Worker::updateEvents(Conn& c) {
  uint32_t want = EPOLLRDHUP | (c.reading ? EPOLLIN : 0) | (c.wq.empty() ? 0 : EPOLLOUT);
  if (want == c.events) return;  // most flushes change nothing: no system call
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::closeConn(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  connection_count_->fetch_sub(1);
  if (server_->dataplane && server_->config.global.bpf && my_connections_ > 0) {
    server_->dataplane->setWorkerLoad(index_, --my_connections_);
  }
  XLOG(INFO) << "connection from " << c.state->peer << " closed";
  conns_.erase(it);
}

}  // namespace xsmb::net
