#include "server/smbdirect/smbd_worker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>

#include "common/base/log.h"
#include "server/vfs/file_io.h"

namespace xsmb::smbdirect {
namespace {

constexpr uint64_t kWakeTag = 0;  // epoll tag of the worker's eventfd; connections use their id
// A transfer waits at most this long for its completions (they come or the connection fails;
// this only bounds a pool thread should the loop stop first).
constexpr auto kTransferWait = std::chrono::seconds(60);

}  // namespace

// What the SMB2 layer holds: transport::Connection and the RDMA channel of one connection.
// Every call posts to the loop; after the connection closed they do nothing.
class SmbdWorker::SmbdConnection : public transport::Connection,
                                   public smbd::RdmaChannel,
                                   public std::enable_shared_from_this<SmbdConnection> {
 public:
  SmbdConnection(SmbdWorker* w, uint64_t id, std::string peer, std::shared_ptr<BufferPool> pool,
                 uint32_t max_rw)
      : worker_(w), id_(id), peer_(std::move(peer)), pool_(std::move(pool)), max_rw_(max_rw) {}

  transport::TransportKind kind() const override { return transport::TransportKind::kRdma; }
  const std::string& peer() const override { return peer_; }
  uint32_t loopIndex() const override { return worker_->index_; }
  void send(transport::OutMessage m) override {
    worker_->post([w = worker_, id = id_, m = std::move(m)]() mutable {
      if (Conn* c = w->find(id)) w->sendOut(*c, std::move(m), 0);
    });
  }
  void runInStrand(std::function<transport::Reply()> task) override {
    worker_->post([w = worker_, id = id_, task = std::move(task)]() mutable {
      Conn* c = w->find(id);
      if (!c) return;
      // After the work in progress, before the messages waiting (as over TCP).
      c->pending.push_front(Work{{}, std::move(task)});
      w->submitNext(*c);
    });
  }
  void close() override {
    worker_->post([w = worker_, id = id_] {
      if (Conn* c = w->find(id)) {
        c->closing = true;
        c->pending.clear();  // messages not yet processed are dropped
        w->service(*c);
      }
    });
  }
  bool sendsFileByReference() const override { return false; }
  std::shared_ptr<smbd::RdmaChannel> rdmaChannel() override { return shared_from_this(); }

  // smbd::RdmaChannel
  uint32_t maxReadWriteSize() const override { return max_rw_; }
  std::shared_ptr<smbd::RegisteredBuffer> acquire(size_t size) override {
    return pool_->acquire(size);
  }
  bool writeToPeer(std::span<const smbd::BufferDescriptorV1> d, const smbd::RegisteredBuffer& b,
                   size_t length) override {
    return transfer(true, d, b.bytes.first(std::min(length, b.bytes.size())), length);
  }
  bool readFromPeer(std::span<const smbd::BufferDescriptorV1> d, smbd::RegisteredBuffer& b,
                    size_t length) override {
    return transfer(false, d, b.bytes.first(std::min(length, b.bytes.size())), length);
  }
  void invalidateWithReply(uint32_t token) override {
    uint32_t none = 0;
    invalidate_.compare_exchange_strong(none, token);
  }
  uint32_t takeInvalidate() { return invalidate_.exchange(0); }

 private:
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    bool ok = true;
    void one(bool good) {
      std::lock_guard<std::mutex> lock(mu);
      ok = ok && good;
      if (--left == 0) cv.notify_all();
    }
  };
  // Posts one RDMA operation per descriptor (in order, each filled before the next) on the
  // loop and waits for all of them.
  bool transfer(bool write, std::span<const smbd::BufferDescriptorV1> d, std::span<uint8_t> local,
                size_t length) {
    if (worker_->onLoopThread() || local.size() < length || length == 0) return false;
    struct Op {
      size_t at;
      smbd::BufferDescriptorV1 to;
    };
    std::vector<Op> ops;
    size_t at = 0;
    for (const smbd::BufferDescriptorV1& x : d) {
      if (at == length) break;
      const size_t n = std::min<size_t>(x.length, length - at);
      if (n == 0) continue;
      ops.push_back({at, {x.offset, x.token, static_cast<uint32_t>(n)}});
      at += n;
    }
    if (at < length) return false;  // the client's buffers are too small
    auto wait = std::make_shared<Wait>();
    wait->left = ops.size();
    worker_->post([w = worker_, id = id_, write, ops, local, wait] {
      Conn* c = w->find(id);
      for (const Op& op : ops) {
        std::span<uint8_t> part = local.subspan(op.at, op.to.length);
        auto done = [w, write, wait, n = op.to.length](bool ok) {
          if (ok) {
            (write ? w->stats_.rdma_writes : w->stats_.rdma_reads)++;
            (write ? w->stats_.rdma_write_bytes : w->stats_.rdma_read_bytes) += n;
          }
          wait->one(ok);
        };
        const bool posted =
            c && (write ? c->engine->rdmaWrite(part, op.to.offset, op.to.token, done)
                        : c->engine->rdmaRead(part, op.to.offset, op.to.token, done));
        if (!posted) wait->one(false);
      }
    });
    std::unique_lock<std::mutex> lock(wait->mu);
    if (!wait->cv.wait_for(lock, kTransferWait, [&] { return wait->left == 0; })) return false;
    return wait->ok;
  }

  SmbdWorker* const worker_;
  const uint64_t id_;
  const std::string peer_;
  std::shared_ptr<BufferPool> pool_;
  const uint32_t max_rw_;
  std::atomic<uint32_t> invalidate_{0};
};

SmbdOptions smbdOptionsFrom(const config::SmbDirectConfig& c) {
  SmbdOptions o;
  o.limits.receive_credit_max = static_cast<uint16_t>(c.receive_credit_max);
  o.limits.send_credit_target = static_cast<uint16_t>(c.send_credit_target);
  o.limits.max_send_size = c.max_send_size;
  o.limits.max_receive_size = c.max_receive_size;
  o.limits.max_fragmented_size = c.max_fragmented_size;
  o.limits.max_read_write_size = c.max_read_write_size;
  o.timeouts.idle = std::chrono::seconds(c.idle_timeout_secs);
  o.timeouts.keepalive = std::chrono::seconds(c.keepalive_timeout_secs);
  o.timeouts.negotiate = std::chrono::seconds(c.negotiate_timeout_secs);
  return o;
}

SmbdWorker::SmbdWorker(transport::Acceptor* acceptor, vfs::IoPool* pool, const SmbdOptions* options,
                       uint32_t index)
    : acceptor_(acceptor), pool_(pool), options_(options), index_(index) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev);
}

SmbdWorker::~SmbdWorker() {
  stop();
  if (eventfd_ >= 0) ::close(eventfd_);
  if (epfd_ >= 0) ::close(epfd_);
}

void SmbdWorker::start(std::function<void()> on_start) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    loop_thread_ = std::this_thread::get_id();
    if (on_start) on_start();
    run();
  });
}

void SmbdWorker::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
  thread_.join();
}

void SmbdWorker::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  (void)!write(eventfd_, &one, sizeof(one));
}

void SmbdWorker::adopt(std::unique_ptr<Verbs> verbs, std::string peer) {
  // Built here, and the receive for the negotiate request posted before this returns (before
  // the backend accepts the connection: a peer's request must find it, MS-SMBD 3.1.5.2).
  auto c = std::make_shared<std::unique_ptr<Conn>>(std::make_unique<Conn>());
  Conn& n = **c;
  n.peer = peer;
  n.verbs = std::shared_ptr<Verbs>(std::move(verbs));
  n.engine = std::make_unique<Engine>(n.verbs.get(), options_->limits, Engine::Role::kListener,
                                      options_->timeouts);
  const bool started = n.engine->start();
  post([this, c, started] {
    std::unique_ptr<Conn> conn = std::move(*c);
    conn->id = next_id_++;
    if (options_->setup_timeout.count() > 0) {
      conn->setup_deadline = Engine::Clock::now() + options_->setup_timeout;
    }
    auto pool = std::make_shared<BufferPool>(conn->verbs, options_->limits.max_read_write_size,
                                             options_->rdma_buffers);
    conn->handle = std::make_shared<SmbdConnection>(this, conn->id, conn->peer, std::move(pool),
                                                    options_->limits.max_read_write_size);
    if (const int fd = conn->verbs->completionFd(); fd >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = conn->id;
      epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    }
    const uint64_t id = conn->id;
    Conn& ref = *conn;
    conns_.emplace(id, std::move(conn));
    if (!started) return closeConn(id, "could not post the first receive");
    service(ref);
  });
}

SmbdWorker::Conn* SmbdWorker::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void SmbdWorker::run() {
  epoll_event events[64];
  while (!stop_) {
    const int n = epoll_wait(epfd_, events, 64, waitMillis());
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        uint64_t v;
        (void)!read(eventfd_, &v, sizeof(v));
        continue;
      }
      if (Conn* c = find(events[i].data.u64)) {
        c->verbs->ackEvents();
        service(*c);
      }
    }
    runPosted();
    // Timers, and connections whose provider has no completion channel (polled each round).
    const auto now = Engine::Clock::now();
    releaseHeld(now);
    expireSetups(now);
    std::vector<uint64_t> ids;
    for (auto& [id, c] : conns_) ids.push_back(id);
    for (uint64_t id : ids) {
      Conn* c = find(id);
      if (!c) continue;
      if (c->engine->nextTimer() <= now) c->engine->onTimer(now);
      if (c->verbs->completionFd() < 0 || c->engine->state() == Engine::State::kFailed) {
        service(*c);
      }
    }
  }
  runPosted();
  std::vector<uint64_t> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) closeConn(id, "worker stopped");
}

void SmbdWorker::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

int SmbdWorker::waitMillis() const {
  auto next = Engine::Clock::time_point::max();
  bool polled = false;
  for (const auto& [id, c] : conns_) {
    next = std::min(next, c->engine->nextTimer());
    if (c->held) next = std::min(next, c->hold_until);
    if (!c->established) next = std::min(next, c->setup_deadline);
    polled |= c->verbs->completionFd() < 0;
  }
  if (polled) return 1;
  if (next == Engine::Clock::time_point::max()) return 1000;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Engine::Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
}

void SmbdWorker::service(Conn& c) {
  const uint64_t id = c.id;
  Engine& e = *c.engine;
  const bool alive = e.process();
  if (!alive) {
    if (!c.cb) {
      stats_.negotiate_failures++;
    } else if (!c.closing) {
      stats_.protocol_errors++;
    }
    return closeConn(id, e.failure());
  }
  if (e.state() == Engine::State::kConnected && !c.cb) {
    stats_.connections++;
    size_t max_message = 0;
    c.cb = acceptor_->onAccept(c.handle, -1, &max_message);
    c.max_message = max_message;
    if (!c.cb) return closeConn(id, "refused by the acceptor");
  }
  if (c.cb) deliver(c);
  Conn* again = find(id);
  if (again && again->closing && again->pending.empty() && !again->busy && e.sendQueueEmpty()) {
    closeConn(id, "");
  }
}

void SmbdWorker::deliver(Conn& c) {
  std::deque<Bytes>& in = c.engine->received();
  while (!in.empty()) {
    Bytes m = std::move(in.front());
    in.pop_front();
    if (c.closing) continue;  // messages not yet processed are dropped
    if (c.max_message && m.size() > c.max_message) {
      acceptor_->onFramingError(true);
      return closeConn(c.id, "message over the size limit");
    }
    transport::Message msg = transport::Message::make(m.size());
    std::memcpy(msg.data.get(), m.data(), m.size());
    c.pending.push_back(Work{std::move(msg), {}});
  }
  submitNext(c);
}

void SmbdWorker::submitNext(Conn& c) {
  if (c.busy || c.pending.empty() || !c.cb || c.closing) return;
  c.busy = true;
  Work work = std::move(c.pending.front());
  c.pending.pop_front();
  pool_->submit([this, id = c.id, cb = c.cb, handle = c.handle, work = std::move(work)] {
    transport::Reply r = work.task ? work.task() : cb->onMessage(work.msg);
    const uint32_t invalidate = handle->takeInvalidate();
    post([this, id, r = std::move(r), invalidate]() mutable {
      applyReply(id, std::move(r), invalidate);
    });
  });
}

void SmbdWorker::applyReply(uint64_t id, transport::Reply r, uint32_t invalidate_token) {
  Conn* c = find(id);
  if (!c) return;
  if (r.not_before > Engine::Clock::now()) {  // paced: releaseHeld() sends it
    c->hold_until = std::exchange(r.not_before, {});
    c->held = std::move(r);
    c->held_invalidate = invalidate_token;
    return;
  }
  c->busy = false;
  if (r.established) c->established = true;
  if (r.max_message) c->max_message = r.max_message;
  sendOut(*c, std::move(r.out), invalidate_token);
  if (r.close) {
    c->closing = true;
    c->pending.clear();  // messages not yet processed are dropped
  }
  if (!find(id)) return;
  submitNext(*c);
  service(*c);
}

void SmbdWorker::releaseHeld(Engine::Clock::time_point now) {
  std::vector<uint64_t> due;
  for (const auto& [id, c] : conns_) {
    if (c->held && c->hold_until <= now) due.push_back(id);
  }
  for (uint64_t id : due) {
    Conn* c = find(id);
    if (!c || !c->held) continue;
    transport::Reply r = std::move(*c->held);
    c->held.reset();
    applyReply(id, std::move(r), c->held_invalidate);
  }
}

void SmbdWorker::expireSetups(Engine::Clock::time_point now) {
  std::vector<uint64_t> due;
  for (const auto& [id, c] : conns_) {
    if (!c->established && c->setup_deadline <= now) due.push_back(id);
  }
  for (uint64_t id : due) {
    closeConn(id, "no session " + std::to_string(options_->setup_timeout.count()) +
                      " s after connect (session setup timeout)");
  }
}

void SmbdWorker::sendOut(Conn& c, transport::OutMessage m, uint32_t invalidate_token) {
  if (c.closing) return;
  Bytes bytes = std::move(m.bytes);
  if (const vfs::FileSegment& f = m.file; f.length > 0) {
    // Data follows the message: from memory, or read from the file here (no sendfile).
    const size_t at = bytes.size();
    bytes.resize(at + f.length);
    if (f.data) {
      std::memcpy(bytes.data() + at, f.data.get(), f.length);
    } else if (!f.fd || vfs::preadFull(f.fd->get(), bytes.data() + at, f.length, f.offset, 0) !=
                            static_cast<ssize_t>(f.length)) {
      return closeConn(c.id, "file data of a reply could not be read");
    }
  }
  if (bytes.empty()) return;
  if (invalidate_token) stats_.send_invalidates++;
  if (!c.engine->send(std::move(bytes), invalidate_token)) {
    closeConn(c.id, "reply larger than the peer reassembles, or connection failed");
  }
}

void SmbdWorker::closeConn(uint64_t id, const std::string& why) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> c = std::move(it->second);
  conns_.erase(it);
  if (!why.empty()) {
    XLOG(INFO) << "smbdirect " << c->peer << ": closed: " << why;
  }
  stats_.keepalives_sent += c->engine->keepalivesSent();
  if (const int fd = c->verbs->completionFd(); fd >= 0) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }
  c->engine->abort("closed");  // waiting transfers learn it
  c->verbs->disconnect();
  if (c->cb) c->cb->onClose();
}

}  // namespace xsmb::smbdirect
