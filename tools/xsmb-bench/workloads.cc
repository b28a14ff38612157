#include "tools/xsmb-bench/workloads.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/smb2/constants.h"
#include "common/smb2/ntstatus.h"
#include "tools/xsmb-bench/connections.h"

namespace xsmb::bench {
namespace {

using namespace xsmb::smb2;

std::atomic<bool> g_interrupted{false};

void onSignal(int) { g_interrupted.store(true); }

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

const Bytes& pattern() {
  static const Bytes p = [] {
    Bytes b(8u << 20);
    std::mt19937_64 rng(42);
    for (size_t i = 0; i + 8 <= b.size(); i += 8) storeU64(b.data() + i, rng());
    return b;
  }();
  return p;
}

constexpr uint32_t kAllShare = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
constexpr uint32_t kListBuffer = 65536;

struct Shared {
  std::atomic<int64_t> measure_start{INT64_MAX};
  std::atomic<int64_t> measure_end{INT64_MAX};
  std::atomic<bool> stop{false};
};

struct ThreadState {
  std::vector<int> conn_indices;
  Histogram latency;
  uint64_t ops = 0, bytes = 0, entries = 0, errors = 0, reconnects = 0, requests = 0;
  uint64_t soft_timeouts = 0, hard_timeouts = 0, out_of_order = 0;
  std::atomic<uint64_t> progress_ops{0}, progress_bytes{0};
  absl::Status setup_status;
  std::string dialect;
  bool signing = false;
};

class Driver {
 public:
  Driver(Workload w, const BenchOptions& o, int index, ThreadState* ts, Shared* sh)
      : w_(w), o_(o), index_(index), ts_(ts), sh_(sh), client_(o.client), rng_(index * 7919 + 1) {}

  Client& client() { return client_; }
  bool broken() const { return broken_; }
  int active() const { return active_; }
  void setRunning(bool r) { running_ = r; }

  // Logs on (or again) and opens what the workload needs.
  absl::Status setup() {
    broken_ = false;
    auto st = client_.transport().connected() ? client_.reconnect() : client_.connect();
    if (!st.ok()) return st;
    switch (w_) {
      case Workload::kStat:
      case Workload::kSeqRead:
      case Workload::kRandRead:
      case Workload::kSeqWrite:
      case Workload::kRandWrite: {
        uint32_t access = FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE;
        auto id = client_.open(o_.path, access, FILE_OPEN_IF, FILE_NON_DIRECTORY_FILE);
        if (!id.ok()) return id.status();
        file_ = *id;
        has_file_ = true;
        break;
      }
      default:
        break;
    }
    return absl::OkStatus();
  }

  void startSlots() {
    for (int s = 0; s < o_.queue_depth; ++s) {
      ++active_;
      startOp(s);
    }
    (void)client_.transport().flush();
  }

  void teardown() {
    if (has_file_ && client_.transport().connected()) (void)client_.close(file_);
    has_file_ = false;
    client_.transport().close(absl::CancelledError("done"));
  }

 private:
  struct Op {
    Clock::time_point t0;
    int slot = 0;
    FileId id;
    uint64_t entries = 0;
    uint32_t requests = 1;  // SMB2 requests sent for it so far
  };

  bool transportFailed(const Reply& r) {
    if (r.status.ok()) return false;
    broken_ = true;
    --active_;
    return true;
  }

  void finish(const Op& op, bool ok, uint64_t bytes) {
    int64_t now = nowNs();
    ts_->progress_ops.fetch_add(1, std::memory_order_relaxed);
    ts_->progress_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (now >= sh_->measure_start.load(std::memory_order_relaxed) &&
        now <= sh_->measure_end.load(std::memory_order_relaxed)) {
      ts_->requests += op.requests;
      if (ok) {
        ++ts_->ops;
        ts_->bytes += bytes;
        ts_->entries += op.entries;
        ts_->latency.record(static_cast<uint64_t>((Clock::now() - op.t0).count()));
      } else {
        ++ts_->errors;
      }
    }
    if (running_ && !broken_ && !sh_->stop.load(std::memory_order_relaxed)) {
      startOp(op.slot);
    } else {
      --active_;
    }
  }

  uint64_t nextOffset(bool random) {
    uint64_t blocks = std::max<uint64_t>(o_.file_size / o_.block_size, 1);
    if (random) return (rng_() % blocks) * o_.block_size;
    uint64_t off = next_offset_;
    next_offset_ = (next_offset_ + o_.block_size) % (blocks * o_.block_size);
    return off;
  }

  // One operation of the create and open workloads: the CREATE `body`, then the CLOSE of what it
  // opened; the op fails with the first status that is not STATUS_SUCCESS.
  void createThenClose(Bytes body, const std::shared_ptr<Op>& op) {
    client_.submit(SMB2_CREATE, std::move(body), [this, op](const Reply& r) {
      if (transportFailed(r)) return;
      if (r.ntStatus() != 0 || !decodeCreateReply(r.message, &op->id, nullptr)) {
        return finish(*op, false, 0);
      }
      ++op->requests;
      client_.submit(SMB2_CLOSE, closeBody(op->id), [this, op](const Reply& r2) {
        if (transportFailed(r2)) return;
        finish(*op, r2.ntStatus() == 0, 0);
      });
    });
  }

  void startOp(int slot) {
    auto op = std::make_shared<Op>();
    op->t0 = Clock::now();
    op->slot = slot;
    switch (w_) {
      case Workload::kEcho:
        client_.submit(SMB2_ECHO, echoBody(), [this, op](const Reply& r) {
          if (transportFailed(r)) return;
          finish(*op, r.ntStatus() == 0, 0);
        });
        break;
      case Workload::kCreate: {
        std::string name = o_.shared_path ? o_.path : absl::StrCat(o_.path, "-", index_, "-", slot);
        createThenClose(createBody(name, FILE_READ_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                                   FILE_OPEN_IF, FILE_NON_DIRECTORY_FILE, kAllShare, o_.mxac),
                        op);
        break;
      }
      case Workload::kOpen:
        createThenClose(createBody(o_.path, FILE_READ_ATTRIBUTES, FILE_OPEN,
                                   FILE_OPEN_REPARSE_POINT, kAllShare, o_.mxac),
                        op);
        break;
      case Workload::kStat:
        client_.submit(SMB2_QUERY_INFO,
                       queryInfoBody(file_, SMB2_0_INFO_FILE, FileAllInformation, 4096),
                       [this, op](const Reply& r) {
                         if (transportFailed(r)) return;
                         finish(*op, r.ntStatus() == 0, 0);
                       });
        break;
      case Workload::kList:
        client_.submit(SMB2_CREATE,
                       createBody(o_.path, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                                  FILE_OPEN, FILE_DIRECTORY_FILE, kAllShare),
                       [this, op](const Reply& r) {
                         if (transportFailed(r)) return;
                         if (r.ntStatus() != 0 || !decodeCreateReply(r.message, &op->id, nullptr)) {
                           return finish(*op, false, 0);
                         }
                         listNext(op, true);
                       });
        break;
      case Workload::kSeqRead:
      case Workload::kRandRead: {
        uint64_t off = nextOffset(w_ == Workload::kRandRead);
        client_.submit(
            SMB2_READ, readBody(file_, off, o_.block_size),
            [this, op](const Reply& r) {
              if (transportFailed(r)) return;
              ByteSpan data;
              bool ok = r.ntStatus() == 0 && decodeReadReply(r.message, &data) &&
                        data.size() == o_.block_size;
              finish(*op, ok, ok ? data.size() : 0);
            },
            {}, o_.block_size);
        break;
      }
      case Workload::kSeqWrite:
      case Workload::kRandWrite: {
        uint64_t off = nextOffset(w_ == Workload::kRandWrite);
        client_.submit(
            SMB2_WRITE, writeBody(file_, off, o_.block_size),
            [this, op](const Reply& r) {
              if (transportFailed(r)) return;
              bool ok = r.ntStatus() == 0;
              finish(*op, ok, ok ? o_.block_size : 0);
            },
            ByteSpan(pattern()).first(o_.block_size), o_.block_size);
        break;
      }
      case Workload::kSessions:
      case Workload::kConnections:
        break;
    }
  }

  void listNext(std::shared_ptr<Op> op, bool restart) {
    ++op->requests;
    client_.submit(
        SMB2_QUERY_DIRECTORY,
        queryDirectoryBody(op->id, FileIdBothDirectoryInformation, restart ? SMB2_RESTART_SCANS : 0,
                           "*", kListBuffer),
        [this, op](const Reply& r) {
          if (transportFailed(r)) return;
          bool more = false, ok = true;
          if (r.ntStatus() == 0) {
            ByteSpan buf;
            if (decodeOutputBuffer(r.message, &buf)) {
              op->entries += countDirectoryEntries(buf);
              more = true;
            } else {
              ok = false;
            }
          } else if (r.ntStatus() != static_cast<uint32_t>(STATUS_NO_MORE_FILES)) {
            ok = false;
          }
          if (more) return listNext(op, false);
          ++op->requests;
          client_.submit(SMB2_CLOSE, closeBody(op->id), [this, op, ok](const Reply& r2) {
            if (transportFailed(r2)) return;
            finish(*op, ok && r2.ntStatus() == 0, 0);
          });
        },
        {}, kListBuffer);
  }

  Workload w_;
  const BenchOptions& o_;
  int index_;
  ThreadState* ts_;
  Shared* sh_;
  Client client_;
  std::mt19937_64 rng_;
  FileId file_;
  bool has_file_ = false;
  bool broken_ = false;
  bool running_ = true;
  int active_ = 0;
  uint64_t next_offset_ = 0;
};

// Makes `o.path` at least `o.file_size` bytes long (read workloads), writing 1 MiB blocks.
absl::Status prepareFile(const BenchOptions& o) {
  Client c(o.client);
  if (auto st = c.connect(); !st.ok()) return st;
  uint64_t eof = 0;
  auto id = c.open(o.path, FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE, FILE_OPEN_IF,
                   FILE_NON_DIRECTORY_FILE, &eof);
  if (!id.ok()) return id.status();
  uint32_t block = std::min<uint32_t>({1u << 20, c.maxWrite(), 8u << 20});
  uint64_t off = eof - eof % block;
  int in_flight = 0;
  absl::Status failure;
  while (off < o.file_size || in_flight > 0) {
    while (off < o.file_size && in_flight < 8 && failure.ok()) {
      uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(block, o.file_size - off));
      ++in_flight;
      c.submit(
          SMB2_WRITE, writeBody(*id, off, len),
          [&](const Reply& r) {
            --in_flight;
            if (!r.status.ok())
              failure = r.status;
            else if (r.ntStatus() != 0)
              failure = ntError("WRITE", r.ntStatus());
          },
          ByteSpan(pattern()).first(len), len);
      off += len;
    }
    if (!failure.ok() && in_flight == 0) break;
    int target = in_flight - 1;
    if (auto st =
            c.transport().runUntil([&] { return in_flight <= target; }, std::chrono::seconds(60));
        !st.ok()) {
      return st;
    }
  }
  (void)c.close(*id);
  return failure;
}

using Drivers = std::vector<std::unique_ptr<Driver>>;
using DriverIndex = std::unordered_map<Transport*, Driver*>;

// Logs on a Driver for each of the thread's connections on epoll set `ep`. kSessions counts
// each logon as an op (a failed one as an error, and goes on); other workloads stop at the first
// failure, which goes to ts->setup_status.
void setupDrivers(Workload w, const BenchOptions& o, int ep, ThreadState* ts, Shared* sh,
                  Drivers* drivers, DriverIndex* by_transport) {
  for (int idx : ts->conn_indices) {
    auto d = std::make_unique<Driver>(w, o, idx, ts, sh);
    d->client().transport().setEpoll(ep);
    Clock::time_point t0 = Clock::now();
    absl::Status st = d->setup();
    if (w == Workload::kSessions) {
      ts->progress_ops.fetch_add(1, std::memory_order_relaxed);
      if (st.ok()) {
        ++ts->ops;
        ts->latency.record(static_cast<uint64_t>((Clock::now() - t0).count()));
      } else {
        ++ts->errors;
        if (ts->setup_status.ok()) ts->setup_status = st;
        continue;
      }
    } else if (!st.ok()) {
      ts->setup_status = st;
      break;
    }
    if (ts->dialect.empty()) {
      uint16_t dl = d->client().dialect();  // 0x0302 -> "3.0.2", 0x0210 -> "2.1"
      ts->dialect = absl::StrFormat("%x.%x", dl >> 8, (dl >> 4) & 0xf);
      if (dl & 0xf) ts->dialect += absl::StrFormat(".%x", dl & 0xf);
      ts->signing = d->client().signing();
    }
    (*by_transport)[&d->client().transport()] = d.get();
    drivers->push_back(std::move(d));
  }
}

// One epoll_wait (at most 20 ms) on `ep`, and the ready connections' events handled.
void handleReadyEvents(int ep, const DriverIndex& by_transport) {
  epoll_event evs[64];
  int n = epoll_wait(ep, evs, 64, 20);
  for (int i = 0; i < n; ++i) {
    auto* t = static_cast<Transport*>(evs[i].data.ptr);
    auto it = by_transport.find(t);
    if (it == by_transport.end() || !t->connected()) continue;
    bool readable = evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR);
    bool writable = evs[i].events & EPOLLOUT;
    (void)t->handleEvents(readable, writable);
  }
}

// Logs on again (and restarts the slots of) every driver whose connection broke or dropped;
// kSessions only those whose connection dropped.
void reviveDrivers(Workload w, ThreadState* ts, const Drivers& drivers) {
  for (auto& d : drivers) {
    bool dead = !d->client().transport().connected();
    if (!(d->broken() || dead)) continue;
    if (w == Workload::kSessions && !dead) continue;
    ++ts->reconnects;
    if (d->setup().ok()) {
      if (w != Workload::kSessions) d->startSlots();
    }
  }
}

// Runs the thread's connections until sh->stop, then lets the operations in flight finish (at
// most 5 s more).
void serveDrivers(Workload w, const BenchOptions& o, int ep, ThreadState* ts, Shared* sh,
                  const Drivers& drivers, const DriverIndex& by_transport) {
  if (w != Workload::kSessions) {
    for (auto& d : drivers) d->startSlots();
  }
  Clock::time_point last_check = Clock::now();
  bool stopping = false;
  Clock::time_point drain_deadline{};
  while (true) {
    if (!stopping && sh->stop.load()) {
      stopping = true;
      drain_deadline = Clock::now() + std::chrono::seconds(5);
      for (auto& d : drivers) d->setRunning(false);
    }
    if (stopping) {
      bool busy = false;
      for (auto& d : drivers) busy |= d->active() > 0 && !d->broken();
      if (!busy || Clock::now() > drain_deadline) break;
    }
    handleReadyEvents(ep, by_transport);
    Clock::time_point now = Clock::now();
    if (now - last_check > std::chrono::milliseconds(100)) {
      last_check = now;
      for (auto& d : drivers) {
        if (d->client().transport().connected()) {
          (void)d->client().transport().checkTimeouts(now);
        }
      }
    }
    if (!stopping && o.reconnect) reviveDrivers(w, ts, drivers);
  }
}

void runThread(Workload w, const BenchOptions& o, ThreadState* ts, Shared* sh,
               std::barrier<>* ready) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  Drivers drivers;
  DriverIndex by_transport;
  setupDrivers(w, o, ep, ts, sh, &drivers, &by_transport);
  ready->arrive_and_wait();
  if (ts->setup_status.ok() || w == Workload::kSessions) {
    serveDrivers(w, o, ep, ts, sh, drivers, by_transport);
  }
  for (auto& d : drivers) {
    auto& st = d->client().transport().stats();
    ts->soft_timeouts += st.soft_timeouts;
    ts->hard_timeouts += st.hard_timeouts;
    ts->out_of_order += st.out_of_order;
    d->teardown();
  }
  close(ep);
}

using States = std::vector<std::unique_ptr<ThreadState>>;

// The options with what the workload needs and the caller left open: a default path, and no
// soft timeout for idle sessions (their connections are silent on purpose).
BenchOptions effectiveOptions(Workload w, const BenchOptions& in) {
  BenchOptions o = in;
  if (o.path.empty()) {
    switch (w) {
      case Workload::kCreate:
        o.path = "xsmb-bench-create";
        break;
      case Workload::kList:
      case Workload::kOpen:
        o.path = "";
        break;
      default:
        o.path = "xsmb-bench.dat";
        break;
    }
  }
  if (w == Workload::kSessions) {
    o.client.transport.soft_timeout = std::chrono::milliseconds(0);
  }
  return o;
}

// Waits at `ready` until every thread has set up its connections; for kSessions with progress
// on, prints how many have logged on every second meanwhile.
void awaitSetup(Workload w, const BenchOptions& o, const States& states, int conns,
                std::barrier<>* ready) {
  if (w != Workload::kSessions || !o.progress) {
    ready->arrive_and_wait();
    return;
  }
  bool tty = isatty(2);
  std::atomic<bool> up{false};
  std::thread progress([&] {
    while (!up.load()) {
      uint64_t n = 0;
      for (auto& s : states) n += s->progress_ops.load(std::memory_order_relaxed);
      std::fprintf(stderr, "%s[sessions] %llu/%d logged on%s", tty ? "\r" : "",
                   static_cast<unsigned long long>(n), conns, tty ? "" : "\n");
      for (int i = 0; i < 10 && !up.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  ready->arrive_and_wait();
  up = true;
  progress.join();
}

// kSessions: reports the sessions ready, then holds them for `o.hold` seconds (0: until
// SIGINT/SIGTERM).
void holdSessions(const BenchOptions& o, const States& states, double setup_seconds) {
  uint64_t ok = 0;
  for (auto& s : states) ok += s->ops;
  std::fprintf(stderr, "%sxsmb-bench: %llu sessions ready (%.1f s)\n", isatty(2) ? "\n" : "",
               static_cast<unsigned long long>(ok), setup_seconds);
  std::fflush(stderr);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.hold));
  while (!g_interrupted.load() && (o.hold <= 0 ? true : Clock::now() < deadline)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The progress line on stderr: the rates since the previous line.
class ProgressLine {
 public:
  ProgressLine(const char* name, int64_t start) : name_(name), start_(start) {}

  void print(const States& states) {
    uint64_t ops = 0, bytes = 0;
    for (auto& s : states) {
      ops += s->progress_ops.load(std::memory_order_relaxed);
      bytes += s->progress_bytes.load(std::memory_order_relaxed);
    }
    int64_t t = nowNs();
    double dt = std::max(1e-9, (t - last_t_) / 1e9);
    std::fprintf(stderr, "%s[%s] %5.1fs %s %10.0f ops/s %9.1f MB/s%s", tty_ ? "\r" : "", name_,
                 (t - start_) / 1e9, t < start_ ? "warmup " : "running", (ops - last_ops_) / dt,
                 (bytes - last_bytes_) / dt / 1e6, tty_ ? "   " : "\n");
    last_ops_ = ops;
    last_bytes_ = bytes;
    last_t_ = t;
  }
  void end() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  const char* name_;
  int64_t start_;
  bool tty_ = isatty(2);
  uint64_t last_ops_ = 0, last_bytes_ = 0;
  int64_t last_t_ = nowNs();
};

// The measured window: its length, and the server's CPU at its two ends (when asked for).
struct Window {
  double seconds = 0;
  std::optional<CpuSample> cpu_before, cpu_after;
};

// Opens the measured window `o.warmup` seconds from now for `o.duration` seconds (shorter when
// interrupted), printing a progress line about once a second, and reads the CPU of
// `o.server_pids` as the window opens and as it closes.
Window measure(const BenchOptions& o, const char* name, const States& states, Shared* sh) {
  std::optional<ServerCpu> server;
  if (!o.server_pids.empty()) server.emplace(o.server_pids);
  Window win;
  int64_t start = nowNs() + static_cast<int64_t>(o.warmup * 1e9);
  int64_t end = start + static_cast<int64_t>(o.duration * 1e9);
  sh->measure_start = start;
  sh->measure_end = end;
  ProgressLine progress(name, start);
  while (nowNs() < end && !g_interrupted.load()) {
    int64_t now = nowNs();
    int64_t wake = std::min(end, now + 1000000000);
    // The server's CPU is read as the window opens, not at the next whole second after it.
    if (server && !win.cpu_before && now < start) wake = std::min(wake, start);
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::max<int64_t>(1000000, wake - now)));
    if (server && !win.cpu_before && nowNs() >= start) win.cpu_before = server->sample();
    if (o.progress) progress.print(states);
  }
  if (win.cpu_before) win.cpu_after = server->sample();
  if (o.progress) progress.end();
  int64_t actual_end = std::min<int64_t>(nowNs(), end);
  sh->measure_end = actual_end;
  win.seconds = std::max(0.0, (actual_end - start) / 1e9);
  return win;
}

// Adds every thread's counts, latencies and the first thread's dialect to *res.
void mergeThreadResults(const States& states, WorkloadResult* res) {
  for (auto& s : states) {
    res->ops += s->ops;
    res->bytes += s->bytes;
    res->entries += s->entries;
    res->errors += s->errors;
    res->reconnects += s->reconnects;
    res->requests += s->requests;
    res->soft_timeouts += s->soft_timeouts;
    res->hard_timeouts += s->hard_timeouts;
    res->out_of_order += s->out_of_order;
    res->latency.merge(s->latency);
    if (res->dialect.empty()) {
      res->dialect = s->dialect;
      res->signing = s->signing;
    }
  }
}

}  // namespace

bool parseWorkload(const std::string& name, Workload* out) {
  static const std::pair<const char*, Workload> kNames[] = {
      {"echo", Workload::kEcho},         {"create", Workload::kCreate},
      {"open", Workload::kOpen},
      {"stat", Workload::kStat},         {"list", Workload::kList},
      {"seqread", Workload::kSeqRead},   {"randread", Workload::kRandRead},
      {"seqwrite", Workload::kSeqWrite}, {"randwrite", Workload::kRandWrite},
      {"sessions", Workload::kSessions}, {"connections", Workload::kConnections},
  };
  for (auto& [n, w] : kNames) {
    if (name == n) {
      *out = w;
      return true;
    }
  }
  return false;
}

const char* workloadName(Workload w) {
  switch (w) {
    case Workload::kEcho:
      return "echo";
    case Workload::kCreate:
      return "create";
    case Workload::kOpen:
      return "open";
    case Workload::kStat:
      return "stat";
    case Workload::kList:
      return "list";
    case Workload::kSeqRead:
      return "seqread";
    case Workload::kRandRead:
      return "randread";
    case Workload::kSeqWrite:
      return "seqwrite";
    case Workload::kRandWrite:
      return "randwrite";
    case Workload::kSessions:
      return "sessions";
    case Workload::kConnections:
      return "connections";
  }
  return "?";
}

absl::StatusOr<WorkloadResult> runWorkload(Workload w, const BenchOptions& opts_in) {
  BenchOptions o = effectiveOptions(w, opts_in);
  int conns = w == Workload::kSessions ? o.sessions : o.connections;
  if (conns <= 0) return absl::InvalidArgumentError("no connections/sessions to run");
  if (w == Workload::kSeqRead || w == Workload::kRandRead || w == Workload::kStat) {
    if (auto st = prepareFile(o); !st.ok()) return st;
  }
  if (o.block_size > pattern().size()) return absl::InvalidArgumentError("block size > 8 MiB");

  g_interrupted = false;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
  if (w == Workload::kConnections) {
    return runConnections(o, [] { return g_interrupted.load(std::memory_order_relaxed); });
  }

  int threads = std::max(1, std::min(o.threads, conns));
  States states;
  for (int t = 0; t < threads; ++t) states.push_back(std::make_unique<ThreadState>());
  for (int c = 0; c < conns; ++c) states[c % threads]->conn_indices.push_back(c);
  Shared sh;
  std::barrier<> ready(threads + 1);
  std::vector<std::thread> pool;
  Clock::time_point setup_start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(runThread, w, std::cref(o), states[t].get(), &sh, &ready);
  }
  awaitSetup(w, o, states, conns, &ready);
  double setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();
  for (auto& s : states) {
    if (!s->setup_status.ok() && w != Workload::kSessions) {
      sh.stop = true;
      for (auto& th : pool) th.join();
      return s->setup_status;
    }
  }

  WorkloadResult res;
  res.name = workloadName(w);
  if (w == Workload::kSessions) {
    holdSessions(o, states, setup_seconds);
    res.seconds = setup_seconds;
  } else {
    Window win = measure(o, res.name.c_str(), states, &sh);
    res.seconds = win.seconds;
    if (win.cpu_before && win.cpu_after) {
      res.server_cpu_measured = true;
      res.server_cpu_before = *win.cpu_before;
      res.server_cpu_after = *win.cpu_after;
    }
  }
  sh.stop = true;
  for (auto& th : pool) th.join();

  res.connections = conns;
  res.queue_depth = o.queue_depth;
  res.block_size = (w >= Workload::kSeqRead && w <= Workload::kRandWrite) ? o.block_size : 0;
  res.setup_seconds = setup_seconds;
  mergeThreadResults(states, &res);
  if (w == Workload::kSessions && res.ops == 0) {
    for (auto& s : states) {
      if (!s->setup_status.ok()) return s->setup_status;
    }
  }
  return res;
}

}  // namespace xsmb::bench
