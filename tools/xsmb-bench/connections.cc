#include "tools/xsmb-bench/connections.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/crypto.h"
#include "common/smb2/constants.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::bench {
namespace {

using namespace xsmb::smb2;

// How often connections with a request outstanding are checked for the hard timeout.
constexpr auto kTimeoutCheck = std::chrono::milliseconds(250);

enum class Phase { kOpening, kAccepted, kRefused, kFailed };

struct Slot {
  std::unique_ptr<Client> client;
  Phase phase = Phase::kOpening;
  Clock::time_point t0;
};

// One client thread's share of the connections and what happened to them.
struct ThreadRun {
  std::vector<Slot> slots;
  int window = 1;
  Histogram setup_latency;
  // accepted + refused + failed: every connection attempted; served*: ECHOes answered.
  uint64_t accepted = 0, refused = 0, failed = 0, served = 0, served_after_hold = 0;
  double setup_seconds = 0;
  std::string first_error;
  std::string dialect;               // as negotiated on the first accepted connection, e.g. "3.1.1"
  std::atomic<uint64_t> settled{0};  // progress: connections accepted, refused or failed
};

class ConnectionsThread {
 public:
  ConnectionsThread(const BenchOptions& o, const Endpoint& server, ThreadRun* run,
                    const std::function<bool()>& interrupted)
      : o_(o), server_(server), run_(run), interrupted_(interrupted) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~ConnectionsThread() {
    for (Slot& s : run_->slots) {
      if (s.client) s.client->transport().close(absl::CancelledError("done"));
    }
    if (ep_ >= 0) ::close(ep_);
  }

  void establish() {
    Clock::time_point start = Clock::now();
    if (o_.logon) {
      establishWithLogon();
    } else {
      establishNegotiated();
    }
    run_->setup_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }

  // One ECHO on every accepted connection; returns how many were answered with success.
  uint64_t echoRound() {
    uint64_t answered = 0;
    int outstanding = 0;
    for (Slot& s : run_->slots) {
      if (s.phase != Phase::kAccepted) continue;
      if (!s.client->transport().connected()) {
        noteError(absl::UnavailableError("an accepted connection was lost"));
        continue;
      }
      ++outstanding;
      s.client->submit(SMB2_ECHO, echoBody(), [&](const Reply& r) {
        --outstanding;
        if (r.status.ok() && r.ntStatus() == 0) {
          ++answered;
        } else {
          noteError(r.status.ok() ? ntError("ECHO", r.ntStatus()) : r.status);
        }
      });
    }
    Clock::time_point last_check = Clock::now();
    while (outstanding > 0) {
      pollOnce();
      if (Clock::now() - last_check > kTimeoutCheck) {
        last_check = Clock::now();
        checkTimeouts(Phase::kAccepted);
      }
    }
    return answered;
  }

 private:
  void noteError(const absl::Status& st) {
    if (run_->first_error.empty()) run_->first_error = st.ToString();
  }

  // A connection that was not established: refused or failed.
  void fail(Slot& s, const absl::Status& st) {
    Transport& t = s.client->transport();
    // Closed by the server before it answered anything: what a `max connections` refusal is.
    if (t.stats().peer_closes > 0 && t.stats().replies == 0) {
      s.phase = Phase::kRefused;
      ++run_->refused;
    } else {
      s.phase = Phase::kFailed;
      ++run_->failed;
      noteError(st);
    }
    if (t.connected()) t.close(absl::CancelledError("failed"));
  }

  void accept(Slot& s, uint16_t dialect) {
    if (run_->dialect.empty()) {
      run_->dialect = absl::StrFormat("%x.%x", dialect >> 8, (dialect >> 4) & 0xf);
      if (dialect & 0xf) run_->dialect += absl::StrFormat(".%x", dialect & 0xf);
    }
    s.phase = Phase::kAccepted;
    ++run_->accepted;
    run_->setup_latency.record(static_cast<uint64_t>((Clock::now() - s.t0).count()));
  }

  void establishNegotiated() {
    size_t next = 0;
    int in_flight = 0;
    Clock::time_point last_check = Clock::now();
    while ((next < run_->slots.size() && !interrupted_()) || in_flight > 0) {
      while (next < run_->slots.size() && in_flight < run_->window && !interrupted_()) {
        Slot& s = run_->slots[next++];
        s.client = std::make_unique<Client>(o_.client);
        Transport& t = s.client->transport();
        t.setEpoll(ep_);
        s.t0 = Clock::now();
        if (auto st = t.connectAsync(server_, nullptr); !st.ok()) {
          fail(s, st);  // EMFILE, EADDRNOTAVAIL: nothing was sent
          run_->settled.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        ++in_flight;
        std::array<uint8_t, 32> salt;
        crypto::randomBytes(salt);
        Guid guid;
        crypto::randomBytes(guid);
        Request neg;
        neg.command = SMB2_NEGOTIATE;
        neg.body = negotiateBody(o_.client.max_dialect, o_.client.sign, guid, salt,
                                 o_.client.transport_security);
        t.submit(std::move(neg), [&, slot = &s](const Reply& r) {
          --in_flight;
          run_->settled.fetch_add(1, std::memory_order_relaxed);
          NegotiateReply info;
          if (r.status.ok() && r.ntStatus() == 0 && decodeNegotiateReply(r.message, &info)) {
            accept(*slot, info.dialect);
          } else if (r.status.ok() && r.ntStatus() == 0) {
            fail(*slot, absl::DataLossError("malformed NEGOTIATE response"));
          } else {
            fail(*slot, r.status.ok() ? ntError("NEGOTIATE", r.ntStatus()) : r.status);
          }
        });
      }
      pollOnce();
      if (Clock::now() - last_check > kTimeoutCheck) {
        last_check = Clock::now();
        checkTimeouts(Phase::kOpening);
      }
    }
  }

  void establishWithLogon() {
    for (Slot& s : run_->slots) {
      if (interrupted_()) break;
      s.client = std::make_unique<Client>(o_.client);
      s.t0 = Clock::now();
      absl::Status st = s.client->connect();
      if (st.ok()) {
        s.client->transport().setEpoll(ep_);
        accept(s, s.client->dialect());
      } else {
        fail(s, st);
      }
      run_->settled.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void pollOnce() {
    epoll_event evs[256];
    int n = epoll_wait(ep_, evs, 256, 20);
    for (int i = 0; i < n; ++i) {
      auto* t = static_cast<Transport*>(evs[i].data.ptr);
      if (!t->connected()) continue;
      bool readable = evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR);
      bool writable = evs[i].events & EPOLLOUT;
      (void)t->handleEvents(readable, writable);  // failures complete the requests
    }
  }

  // Hard timeouts of connections in `phase` that wait for a reply.
  void checkTimeouts(Phase phase) {
    Clock::time_point now = Clock::now();
    for (Slot& s : run_->slots) {
      if (!s.client || s.phase != phase) continue;
      Transport& t = s.client->transport();
      if (t.connected() && t.inFlight() > 0) (void)t.checkTimeouts(now);
    }
  }

  const BenchOptions& o_;
  const Endpoint& server_;
  ThreadRun* run_;
  const std::function<bool()>& interrupted_;
  int ep_ = -1;
};

}  // namespace

absl::StatusOr<WorkloadResult> runConnections(const BenchOptions& opts,
                                              const std::function<bool()>& interrupted) {
  BenchOptions o = opts;
  // Probes would add replies of their own; a silent server is caught by the hard timeout.
  o.client.transport.soft_timeout = std::chrono::milliseconds(0);
  if (o.client.transport.hard_timeout.count() == 0) {
    o.client.transport.hard_timeout = std::chrono::seconds(30);  // every round must end
  }
  auto server = resolveEndpoint(o.client.host, o.client.port);
  if (!server.ok()) return server.status();
  int conns = o.connections;
  int threads = std::max(1, std::min(o.threads, conns));
  std::vector<std::unique_ptr<ThreadRun>> runs;
  for (int t = 0; t < threads; ++t) {
    auto r = std::make_unique<ThreadRun>();
    r->slots.resize(conns / threads + (t < conns % threads ? 1 : 0));
    r->window = std::max(1, o.connect_window / threads);
    runs.push_back(std::move(r));
  }
  // Phases: establish + first ECHO round | hold (this thread) | second ECHO round + close.
  std::barrier<> ready(threads + 1), resume(threads + 1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, run = runs[t].get()] {
      ConnectionsThread ct(o, *server, run, interrupted);
      ct.establish();
      run->served = ct.echoRound();
      ready.arrive_and_wait();
      resume.arrive_and_wait();
      run->served_after_hold = ct.echoRound();
    });
  }
  bool tty = isatty(2);
  std::atomic<bool> up{false};
  std::thread progress([&] {
    while (o.progress && !up.load()) {
      uint64_t n = 0;
      for (auto& r : runs) n += r->settled.load(std::memory_order_relaxed);
      std::fprintf(stderr, "%s[connections] %llu/%d opened%s", tty ? "\r" : "",
                   static_cast<unsigned long long>(n), conns, tty ? "" : "\n");
      for (int i = 0; i < 10 && !up.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  ready.arrive_and_wait();
  up = true;
  progress.join();

  WorkloadResult res;
  res.name = "connections";
  res.connections = conns;
  res.queue_depth = 1;
  for (auto& r : runs) {
    res.accepted += r->accepted;
    res.refused += r->refused;
    res.failed += r->failed;
    res.served += r->served;
    res.setup_seconds = std::max(res.setup_seconds, r->setup_seconds);
    res.latency.merge(r->setup_latency);
    if (res.first_error.empty()) res.first_error = r->first_error;
    if (res.dialect.empty()) res.dialect = r->dialect;
  }
  // The line a driving script waits for before it looks at the server (it is flushed now).
  std::fprintf(stderr,
               "%sxsmb-bench: %d connections: %llu accepted, %llu refused, %llu failed in %.2f s; "
               "%llu served; holding\n",
               tty ? "\n" : "", conns, static_cast<unsigned long long>(res.accepted),
               static_cast<unsigned long long>(res.refused),
               static_cast<unsigned long long>(res.failed), res.setup_seconds,
               static_cast<unsigned long long>(res.served));
  std::fflush(stderr);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.hold));
  while (!interrupted() && (o.hold <= 0 || Clock::now() < deadline)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  resume.arrive_and_wait();
  for (auto& th : pool) th.join();

  for (auto& r : runs) {
    res.served_after_hold += r->served_after_hold;
    if (res.first_error.empty()) res.first_error = r->first_error;
  }
  res.ops = res.accepted;
  res.seconds = res.setup_seconds;
  res.errors = res.failed;
  if (!res.first_error.empty() && res.accepted == 0) return absl::UnavailableError(res.first_error);
  return res;
}

}  // namespace xsmb::bench
