// Break notifications of a multichannel session: channel choice and retry (break_delivery.h).
#include "server/session/break_delivery.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::session {
namespace {

using Clock = std::chrono::steady_clock;
using ConnPtr = std::shared_ptr<ConnState>;

DelayedTasks& delayedTasks() {
  static DelayedTasks tasks;
  return tasks;
}

bool live(const ConnState& c) {
  return !c.transport_closed && c.run_in_strand && c.check_acknowledgment;
}

// The live connections of session `id` (its home and its bound channels), `home` included
// when given and live.
std::vector<ConnPtr> sessionConnections(ServerContext& server, uint64_t id, ConnPtr home) {
  std::vector<ConnPtr> out;
  auto e = server.lookupSession(id);
  if (!e) return out;
  if (!home) home = e->conn.lock();
  if (home && live(*home)) out.push_back(std::move(home));
  for (const auto& w : e->channels) {
    auto c = w.lock();
    if (c && live(*c) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

// The connection to try next among `conns`, none of `tried` (see BreakChannels).
ConnPtr choose(const std::vector<ConnPtr>& conns, BreakChannels how, uint64_t opener,
               const std::vector<uint64_t>& tried) {
  ConnPtr best;
  for (const auto& c : conns) {
    if (std::find(tried.begin(), tried.end(), c->serial) != tried.end()) continue;
    if (how == BreakChannels::kOpenersFirst && c->serial == opener) return c;
    if (!best || (how == BreakChannels::kNewestOnly ? c->serial > best->serial
                                                    : c->serial < best->serial)) {
      best = c;
    }
  }
  return best;
}

// One notification on its way (see break_delivery.h). Its steps run on the event loop of the
// channel last tried and on the delayed tasks' thread, one after another.
struct Delivery : std::enable_shared_from_this<Delivery> {
  ServerContext* server = nullptr;
  uint64_t session_id = 0;
  Bytes message;
  BreakChannels how = BreakChannels::kOldestFirst;
  uint64_t opener = 0;
  std::vector<uint64_t> tried;  // serials of the connections it was sent on
  int busy_checks = 0;
  Clock::time_point since{};
  std::chrono::milliseconds timeout{};
  std::weak_ptr<ConnState> channel;
  std::string peer;

  void sendOn(const ConnPtr& c) {
    channel = c;
    peer = c->peer;
    tried.push_back(c->serial);
    c->sendUnsolicited(message);
    since = Clock::now();
    auto self = shared_from_this();
    c->check_acknowledgment(since, false, [self](ChannelAck st, std::chrono::microseconds rto) {
      if (st == ChannelAck::kClosed) return self->failed();
      self->timeout = deliveryTimeout(rto);
      self->later();
    });
  }

  void later() {
    delayedTasks().after(timeout, [self = shared_from_this()] { self->check(); });
  }

  void check() {
    auto c = channel.lock();
    if (!c || !c->check_acknowledgment) return failed();
    auto self = shared_from_this();
    c->check_acknowledgment(since, true, [self](ChannelAck st, std::chrono::microseconds) {
      self->judge(st);
    });
  }

  void judge(ChannelAck st) {
    if (st == ChannelAck::kAcknowledged) return;
    if (st == ChannelAck::kProgress) {
      if (++busy_checks >= kMaxBusyChecks) return;  // alive and busy: taken as delivered
      since = Clock::now();
      return later();
    }
    failed();
  }

  void failed() {
    XLOG(INFO) << peer << ": break notification of session " << session_id
               << " not acknowledged; channel reset";
    if (how == BreakChannels::kNewestOnly) return;
    auto next = choose(sessionConnections(*server, session_id, nullptr), how, opener, tried);
    if (!next) {
      XLOG(INFO) << "session " << session_id << ": no channel left for its break notification";
      return;
    }
    busy_checks = 0;
    sendOn(next);
  }
};

}  // namespace

std::chrono::milliseconds deliveryTimeout(std::chrono::microseconds rto) {
  using std::chrono::microseconds;
  auto clamped = std::clamp(rto, microseconds(200000), microseconds(1000000));
  return std::chrono::duration_cast<std::chrono::milliseconds>(6 * clamped);
}

void deliverBreak(ConnState& home, uint64_t session_id, Bytes notification, BreakChannels how,
                  uint64_t opener) {
  auto e = session_id ? home.server->lookupSession(session_id) : std::nullopt;
  ConnPtr self = home.weak_from_this().lock();
  ConnPtr first;
  if (e && !e->channels.empty()) {
    first = choose(sessionConnections(*home.server, session_id, self), how, opener, {});
  }
  if (!first) {  // a session of one connection, or nothing to choose from
    home.sendUnsolicited(std::move(notification));
    return;
  }
  auto d = std::make_shared<Delivery>();
  d->server = home.server;
  d->session_id = session_id;
  d->message = std::move(notification);
  d->how = how;
  d->opener = opener;
  d->sendOn(first);
}

// DelayedTasks.

struct DelayedTasks::Impl {
  std::mutex mu;
  std::condition_variable cv;
  std::multimap<Clock::time_point, std::function<void()>> tasks;
  bool stop = false;
  std::thread thread;

  void run() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      if (tasks.empty()) {
        cv.wait(lock);
        continue;
      }
      auto first = tasks.begin();
      if (first->first > Clock::now()) {
        cv.wait_until(lock, first->first);
        continue;
      }
      auto task = std::move(first->second);
      tasks.erase(first);
      lock.unlock();
      task();
      lock.lock();
    }
  }
};

DelayedTasks::DelayedTasks() : impl_(std::make_unique<Impl>()) {}

DelayedTasks::~DelayedTasks() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void DelayedTasks::after(std::chrono::steady_clock::duration delay, std::function<void()> task) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->thread.joinable()) impl_->thread = std::thread([this] { impl_->run(); });
  impl_->tasks.emplace(Clock::now() + delay, std::move(task));
  impl_->cv.notify_all();
}

}  // namespace xsmb::session
