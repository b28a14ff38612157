// xsmbd: the SMB2/SMB3 file server daemon.
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/manual.h"
#include "common/base/manual_flags.h"
#include "common/crypto/crypto.h"
#include "server/config/smb_conf.h"
#include "server/config/user_db.h"
#include "server/core/control.h"
#include "server/core/metrics_report.h"
#include "server/core/reload.h"
#include "server/core/smb_connection.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "server/session/network_interfaces.h"
#include "server/smbdirect/rdma_start.h"
#include "server/smbdirect/smbd_worker.h"
#include "server/transport/quic/quic_service.h"
#include "server/transport/tcp_worker.h"
#include "server/vfs/attributes.h"
#include "server/vfs/file_table.h"
#include "server/vfs/io_pool.h"
#include "server/vfs/path.h"

ABSL_FLAG(std::string, config, "",
          "smb.conf-style configuration file (default: the embedded "
          "demo configuration)");
ABSL_FLAG(bool, foreground, false, "stay in the foreground instead of becoming a daemon");
ABSL_FLAG(int, log_level, -1,
          "log level (0 errors, 1 warnings, 2 connections and logons, 3 "
          "debug); overrides \"log level\"");
ABSL_FLAG(bool, check_config, false,
          "print the effective configuration and every problem "
          "found, then exit (1 when there are errors)");
ABSL_FLAG(std::string, rpcd, "",
          "path of the xsmb-rpcd helper (default: next to xsmbd, ../libexec/xsmbd as cmake "
          "--install lays it out, or ../rpc in the build tree)");
ABSL_FLAG(bool, takeover, false,
          "zero-downtime upgrade: start beside a running xsmbd of the same configuration "
          "(bpf = yes), take its new connections, and let it finish its own and exit");
ABSL_FLAG(int, workers, 0,
          "event-loop threads (default: one per CPU of \"worker cpus\", which they are pinned to)");
ABSL_FLAG(int, io_threads, 0, "threads for request handling and file I/O (default: 2 per CPU)");

// Start-up information an operator needs at every "log level" (the addresses served, the
// descriptor limit, the generation, the final counters): printed unconditionally and marked "I",
// information, instead of being logged as an error to get past the level filter.
#define XLOG_NOTICE ::xsmb::LogLine(::xsmb::LogLevel::INFO)

namespace xsmb {
namespace {

constexpr uint16_t kDemoPort = 4455;
// Descriptors beyond one per connection: listeners, epoll and event fds, share roots, the RPC
// helper's sockets, open files of clients and the I/O pool's own.
constexpr rlim_t kFdHeadroom = 1024;

std::string currentUserName() {
  struct passwd* pw = getpwuid(geteuid());
  return pw ? pw->pw_name : "root";
}

// The embedded default: a demo share under ./.demo (or $XSMBD_DEMO_DIR), 127.0.0.1 on
// $XSMBD_PORT or 4455, guest access, and user "demo" with password "demo".
config::Config demoConfig() {
  const char* dir_env = getenv("XSMBD_DEMO_DIR");
  std::filesystem::path base =
      dir_env ? std::filesystem::path(dir_env) : std::filesystem::current_path() / ".demo";
  std::filesystem::path share = base / "share";
  std::error_code ec;
  std::filesystem::create_directories(share, ec);
  chmod(share.c_str(), 0777);  // the guest account writes here when xsmbd runs as root
  chmod(base.c_str(), 0755);
  const char* port_env = getenv("XSMBD_PORT");
  uint16_t port = port_env ? static_cast<uint16_t>(atoi(port_env)) : kDemoPort;
  std::string db_path = (base / "users.db").string();
  auto db = config::UserDb::load(db_path);
  if (db.ok() && !db->find("demo")) {
    config::UserEntry e;
    e.name = "demo";
    e.unix_name = currentUserName();
    e.nt_hash = crypto::ntHash("demo");
    if (db->add(e).ok()) (void)db->save(db_path);
  }
  return config::embeddedDefault(share.string(), port, db_path);
}

// The server's domain SID (S-1-5-21-a-b-c) for the RPC services: made once at random and kept
// beside the user database, so SIDs stay the same across restarts.
std::string loadDomainSid(const std::string& passwd_file) {
  std::filesystem::path p = std::filesystem::path(passwd_file).parent_path() / "domain.sid";
  if (FILE* f = fopen(p.c_str(), "r")) {
    char buf[96] = {};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    std::string sid(buf, n);
    while (!sid.empty() && (sid.back() == '\n' || sid.back() == ' ')) sid.pop_back();
    if (sid.rfind("S-1-5-21-", 0) == 0) return sid;
  }
  uint32_t sub[3];
  crypto::randomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(sub), sizeof(sub)));
  std::string sid = "S-1-5-21-" + std::to_string(sub[0]) + "-" + std::to_string(sub[1]) + "-" +
                    std::to_string(sub[2]);
  if (FILE* f = fopen(p.c_str(), "w")) {
    fprintf(f, "%s\n", sid.c_str());
    fclose(f);
  } else {
    XLOG(WARNING) << "cannot store the domain SID in " << p << ": SIDs change at restart";
  }
  return sid;
}

// Raises RLIMIT_NOFILE so `max connections` (0 = unlimited) can be reached: the soft limit to the
// hard one, and as root the hard limit to max connections + kFdHeadroom, capped by
// /proc/sys/fs/nr_open. Logs the resulting limit once; warns when it cannot hold max connections.
void raiseFileLimit(uint32_t max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    XLOG(WARNING) << "getrlimit(RLIMIT_NOFILE): " << std::strerror(errno);
    return;
  }
  rlim_t want = max_connections ? max_connections + kFdHeadroom : rl.rlim_max;
  if (want > rl.rlim_max && geteuid() == 0) {
    rlim_t nr_open = want;
    if (FILE* f = fopen("/proc/sys/fs/nr_open", "r")) {
      unsigned long long v = 0;
      if (fscanf(f, "%llu", &v) == 1) nr_open = static_cast<rlim_t>(v);
      fclose(f);
    }
    rlimit raised{std::min(want, nr_open), std::min(want, nr_open)};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    } else {
      XLOG(WARNING) << "cannot raise the RLIMIT_NOFILE hard limit to " << raised.rlim_max << ": "
                    << std::strerror(errno);
    }
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit soft{rl.rlim_max, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &soft) == 0) {
      rl = soft;
    } else {
      XLOG(WARNING) << "cannot raise the RLIMIT_NOFILE soft limit: " << std::strerror(errno);
    }
  }
  // At every log level, like the "listening" line: the limit bounds how many clients are served.
  XLOG_NOTICE << "open file limit (RLIMIT_NOFILE) " << rl.rlim_cur;
  if (max_connections && rl.rlim_cur < want) {
    XLOG(WARNING) << "max connections " << max_connections << " needs about " << want
                  << " descriptors but RLIMIT_NOFILE is " << rl.rlim_cur
                  << ": connections beyond about "
                  << (rl.rlim_cur > kFdHeadroom ? rl.rlim_cur - kFdHeadroom : 0)
                  << " may not be accepted (raise the hard limit, e.g. LimitNOFILE=)";
  }
}

std::string findRpcd() {
  if (!absl::GetFlag(FLAGS_rpcd).empty()) return absl::GetFlag(FLAGS_rpcd);
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (auto candidate : {self / "xsmb-rpcd", self / ".." / "libexec" / "xsmbd" / "xsmb-rpcd",
                         self / ".." / "rpc" / "xsmb-rpcd"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal().string();
  }
  return "";
}

// --check-config: the effective configuration on stdout, each problem on stderr; the exit code.
int checkConfig(const config::ParseResult& parsed, const std::string& source) {
  for (const auto& p : parsed.problems) {
    std::cerr << (p.severity == config::Problem::Severity::kError ? "error" : "warning");
    if (p.line) std::cerr << ": line " << p.line;
    std::cerr << ": " << p.message << "\n";
  }
  std::cout << config::renderConfig(parsed.config);
  std::cerr << "Loaded " << source << ": " << parsed.problems.size() << " problem(s)\n";
  return parsed.hasErrors() ? 1 : 0;
}

// The share as served: its root directory, volume identity and forced identities. A share whose
// path or forced user/group cannot be found stays listed but unavailable (no root).
std::unique_ptr<session::Share> openShare(const config::ShareConfig& sc) {
  auto sh = std::make_unique<session::Share>();
  sh->cfg = sc;
  if (sc.is_ipc) return sh;
  sh->root.reset(open(sc.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!sh->root) {
    XLOG(ERROR) << "share [" << sc.name << "]: cannot open path " << sc.path << ": "
                << std::strerror(errno) << "; the share is unavailable";
  } else {
    vfs::FileMeta m;
    vfs::readFileMeta(sh->root.get(), &m);
    sh->creation_time = m.creation_time;
    sh->volume_serial = static_cast<uint32_t>(std::hash<std::string>{}(sc.path));
  }
  if (!sc.force_user.empty()) {
    auto id = vfs::lookupUnixIdentity(sc.force_user);
    if (id.ok()) {
      sh->force_identity = *id;
    } else {
      XLOG(ERROR) << "share [" << sc.name << "]: force user " << sc.force_user
                  << " not found; the share is unavailable";
      sh->root.reset();
    }
  }
  if (!sc.force_group.empty()) {
    struct group* g = getgrnam(sc.force_group.c_str());
    if (g) {
      sh->force_gid = g->gr_gid;
    } else {
      XLOG(ERROR) << "share [" << sc.name << "]: force group " << sc.force_group
                  << " not found; the share is unavailable";
      sh->root.reset();
    }
  }
  return sh;
}

// Process-wide settings before serving: descriptors, OpenSSL providers, the allocator, umask.
// Every path of every share is opened with openat2(RESOLVE_BENEATH) (vfs::openBeneath): without
// it (a kernel before 5.6, or a seccomp filter that refuses it with ENOSYS, such as systemd's
// RestrictSUIDSGID=) no file could be served, so this says why at start instead of each CREATE
// failing with STATUS_UNSUCCESSFUL.
bool checkOpenat2() {
  int fd = vfs::openBeneath(AT_FDCWD, ".", O_PATH | O_DIRECTORY);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  XLOG(ERROR) << "openat2 (RESOLVE_BENEATH) is refused: " << std::strerror(errno)
              << "; xsmbd needs Linux 5.6 or later and no seccomp filter that blocks openat2 "
                 "(systemd: do not set RestrictSUIDSGID=)";
  return false;
}

void prepareProcess(const config::Config& cfg) {
  raiseFileLimit(cfg.global.max_connections);
  crypto::initProviders();
  // Response buffers of up to 8 MiB are made and freed per request: keep them in the heap
  // (instead of a fresh mmap, page faults and munmap each time) and keep freed memory around.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  umask(0);  // "create mask" and "directory mask" are applied exactly
}

// The sandboxed DCE/RPC helper behind IPC$, or nullptr (logged) when it cannot start.
std::unique_ptr<rpc::RpcdClient> startRpcd(session::ServerContext& server) {
  std::string rpcd = findRpcd();
  if (rpcd.empty()) {
    XLOG(ERROR) << "xsmb-rpcd not found (--rpcd): named pipes on IPC$ are unavailable";
    return nullptr;
  }
  rpc::RpcdOptions opts;
  opts.user = server.config.global.guest_account;
  auto client = rpc::RpcdClient::start(rpcd, server.rpcServerInfo(), opts);
  if (!client.ok()) {
    XLOG(ERROR) << "cannot start " << rpcd << ": " << client.status().message()
                << "; named pipes on IPC$ are unavailable";
    return nullptr;
  }
  XLOG(INFO) << "RPC helper " << rpcd << " running as pid " << (*client)->helperPid();
  return std::move(*client);
}

// The server-wide state: configuration, identities, shares, users, the BPF data plane's maps,
// the domain SID and the sandboxed RPC helper.
std::unique_ptr<session::ServerContext> makeServer(const config::Config& cfg) {
  auto server = std::make_unique<session::ServerContext>();
  server->config = cfg;
  server->run_as_root = geteuid() == 0;
  server->start_time = vfs::ntTimeNow();
  crypto::randomBytes(server->server_guid);
  auto guest = vfs::lookupUnixIdentity(cfg.global.guest_account);
  if (guest.ok()) {
    server->guest_identity = *guest;
  } else {
    XLOG(WARNING) << "guest account " << cfg.global.guest_account
                  << " not found; guests use uid/gid 65534";
    server->guest_identity = {65534, 65534, {65534}};
  }
  for (const auto& sc : cfg.shares) server->shares.push_back(openShare(sc));
  server->findUser("");  // loads the user database
  // "bpf = no" leaves whatever is pinned alone: no map is opened, read or written.
  std::string why = "bpf = no";
  if (cfg.global.bpf) server->dataplane = bpf::DataPlane::open(cfg.global.bpf_pin_dir, &why);
  if (!server->dataplane) {
    XLOG(WARNING) << "plain socket mode: no BPF data plane (" << why << ")";
  } else {
    server->limits = std::make_unique<session::Limits>(server->dataplane->limits());
  }
  // Each share's entry starts from smb.conf (a user's keeps what an operator set).
  for (size_t i = 0; i < server->shares.size(); ++i) {
    session::Share& sh = *server->shares[i];
    sh.limit_slot = server->limits->slot(XSMB_LIMIT_SHARE, sh.cfg.name, static_cast<uint32_t>(i),
                                         sh.cfg.bandwidth_limit, sh.cfg.request_rate_limit);
    if (sh.limit_slot >= 0) {
      server->limits->setLimits(sh.limit_slot, sh.cfg.bandwidth_limit, sh.cfg.request_rate_limit);
    }
  }
  server->domain_sid = loadDomainSid(cfg.global.smb_passwd_file);
  server->rpcd = startRpcd(*server);
  return server;
}

// The event loops: per worker an acceptor (protocol side and file I/O engine) and the TCP
// worker with its listening sockets; the BPF reuseport groups. Empty when a listen fails.
struct Loops {
  std::unique_ptr<vfs::IoPool> pool;
  transport::TcpOptions tcp;
  std::atomic<int> connections{0};
  std::vector<std::unique_ptr<core::SmbAcceptor>> acceptors;
  std::vector<std::unique_ptr<transport::Worker>> workers;
};

// The CPUs the workers are pinned to: "worker cpus", else every CPU this process may run on.
std::vector<int> workerCpus(const config::GlobalConfig& g) {
  if (!g.worker_cpus.empty()) return g.worker_cpus;
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

// Pins the calling thread to `cpu`; a CPU outside the affinity mask (or offline) is logged
// and the thread keeps running where the scheduler puts it.
void pinThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); err != 0) {
    XLOG(WARNING) << "worker cpus: cannot pin a worker to CPU " << cpu << ": "
                  << std::strerror(err);
  }
}

bool startLoops(session::ServerContext& server, const std::vector<transport::ListenAddress>& addrs,
                int nworkers, int nio, Loops* loops) {
  const config::GlobalConfig& g = server.config.global;
  loops->pool = std::make_unique<vfs::IoPool>(nio);
  loops->tcp.busy_poll_usecs = g.busy_poll_usecs;
  loops->tcp.max_connections = g.max_connections;
  loops->tcp.socket_options = g.socket_options;
  loops->tcp.use_rcvlowat = !g.bpf_sockmap;
  loops->tcp.setup_timeout_secs = g.hardening.session_setup_timeout_secs;
  loops->tcp.max_pending_bytes = g.hardening.max_pending_request_bytes;
  loops->tcp.max_unsent_bytes = g.hardening.max_unsent_reply_bytes;
  for (int i = 0; i < nworkers; ++i) {
    auto index = static_cast<uint32_t>(i);
    auto a = std::make_unique<core::SmbAcceptor>(&server, loops->pool.get(), index);
    auto w = std::make_unique<transport::Worker>(a.get(), loops->pool.get(), &loops->tcp,
                                                 &loops->connections, index);
    if (!w->listen(addrs)) return false;
    core::SmbAcceptor* ap = a.get();
    w->watch(a->ioEngine().eventFd(), [ap] { ap->ioEngine().reap(); });
    loops->acceptors.push_back(std::move(a));
    loops->workers.push_back(std::move(w));
  }
  if (absl::GetFlag(FLAGS_takeover) && !(server.dataplane && g.bpf)) {
    XLOG(ERROR) << "--takeover needs the BPF data plane (bpf = yes, maps pinned by xsmb-loader):"
                   " the generation switch is a pinned map entry";
    return false;
  }
  if (server.dataplane && g.bpf) {
    server.dataplane->beginGeneration(absl::GetFlag(FLAGS_takeover));
    server.dataplane->setMaxMessageSize(server.max_io_size + 64 * 1024);
    // sk_reuseport: one group per address; socket i of a group belongs to worker i.
    for (size_t a = 0; a < addrs.size(); ++a) {
      std::vector<int> group;
      for (auto& w : loops->workers) group.push_back(w->listeners()[a]);
      std::string err;
      if (!server.dataplane->attachReuseport(group, &err)) {
        XLOG(WARNING) << "bpf: reuseport selection not attached (" << err << ")";
      }
    }
  }
  server.io_engine = std::string(loops->acceptors.front()->ioEngine().name());
  // Worker i runs on the i-th CPU of "worker cpus" (wrapping): its connections' home CPU.
  const std::vector<int> cpus = workerCpus(g);
  for (size_t i = 0; i < loops->workers.size(); ++i) {
    const int cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
    server.worker_cpus.push_back(cpu < 0 ? XSMB_CPU_NONE : static_cast<uint32_t>(cpu));
    if (server.dataplane && g.bpf) {
      server.dataplane->setWorkerCpu(static_cast<uint32_t>(i), server.worker_cpus.back());
    }
    // Requests run on a loop must never wait for what only that loop can deliver.
    loops->workers[i]->start([cpu] {
      if (cpu >= 0) pinThread(cpu);
      vfs::setOnEventLoopThread();
    });
  }
  if (server.dataplane && g.bpf) {
    // From here new connections come to this generation's sockets (a takeover's old xsmbd
    // sees the switch and drains).
    server.dataplane->activateGeneration(static_cast<uint32_t>(loops->workers.size()));
    XLOG_NOTICE << "serving as generation " << server.dataplane->generation();
  }
  return true;
}

void stopLoops(Loops* loops) {
  for (auto& w : loops->workers) w->stop();
  loops->pool.reset();
  loops->workers.clear();
  loops->acceptors.clear();  // after the loops ended: their I/O engines belong to those threads
}

// Once a newer generation serves (xsmbd --takeover): the workers stop accepting and close
// their connections as they go idle; returns when none is left or at "takeover drain time".
// SIGTERM/SIGINT (Kubernetes ends the old pod once the new one is ready) shortens what is left
// of that to "shutdown timeout", the bound of every drain; a second signal ends it at once.
void drainAfterTakeover(const sigset_t& sigs, const session::ServerContext& server, Loops& loops) {
  const uint32_t secs = server.config.global.takeover_drain_secs;
  XLOG(WARNING) << "generation " << server.dataplane->servingGeneration()
                << " took over: no new connections here; " << loops.connections.load()
                << " connections finish (at most " << secs << " s)";
  // A handshake still queued on a listening socket moves to the new generation's when it
  // closes, instead of being reset (Linux 5.14; per network namespace).
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_migrate_req", "w")) {
    std::fputs("1", f);
    std::fclose(f);
  } else {
    XLOG(WARNING) << "net.ipv4.tcp_migrate_req: " << std::strerror(errno)
                  << " (a connection in its handshake at the switch may be reset)";
  }
  for (auto& w : loops.workers) w->drain(std::chrono::seconds(2));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
  const timespec tick{0, 200 * 1000 * 1000};
  bool signalled = false;
  while (loops.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    int sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig != SIGTERM && sig != SIGINT) continue;
    if (signalled) {
      XLOG(WARNING) << "signal " << sig << " again: shutting down";
      return;
    }
    signalled = true;
    const uint32_t bound = server.config.global.ops.shutdown_timeout_secs;
    deadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(bound));
    XLOG(WARNING) << "signal " << sig << ": " << loops.connections.load()
                  << " connections finish within " << bound << " s (shutdown timeout)";
  }
  XLOG(WARNING) << "generation " << server.dataplane->generation() << " exits ("
                << loops.connections.load() << " connections left)";
}

// Waits for SIGTERM or SIGINT (true: the caller drains), or for a newer generation to take over
// (drains here, false). SIGHUP reloads smb.conf and the user database (core/reload.h).
bool waitForShutdown(const sigset_t& sigs, session::ServerContext& server, Loops& loops,
                     metrics::HttpEndpoint& endpoint) {
  const bool generations = server.dataplane && server.config.global.bpf;
  const timespec tick{0, 200 * 1000 * 1000};
  for (;;) {
    int sig = generations ? sigtimedwait(&sigs, nullptr, &tick) : sigwaitinfo(&sigs, nullptr);
    if (sig < 0) {
      if (generations && server.dataplane->servingGeneration() != server.dataplane->generation()) {
        server.metrics.lifecycle.taken_over = true;  // /readyz: 503
        // The new generation listens on the metrics address too (SO_REUSEPORT): from here
        // scrapes and probes reach it alone.
        endpoint.stop();
        drainAfterTakeover(sigs, server, loops);
        return false;
      }
      continue;
    }
    if (sig == SIGHUP) {
      core::reloadConfiguration(server, absl::GetFlag(FLAGS_config), openShare,
                                absl::GetFlag(FLAGS_log_level) < 0);
      continue;
    }
    XLOG(WARNING) << "signal " << sig << ": shutting down";
    return true;
  }
}

// SIGTERM/SIGINT (docs/operations.md "Shutdown"): /readyz turns 503, the listeners close, and
// each connection closes once nothing of it is in flight (its requests answered and written);
// after "shutdown timeout", or at a second signal, what is left is cut.
void drainForShutdown(const sigset_t& sigs, session::ServerContext& server, Loops& loops) {
  server.metrics.lifecycle.draining = true;
  const uint32_t secs = server.config.global.ops.shutdown_timeout_secs;
  XLOG(WARNING) << "draining " << loops.connections.load() << " connections (at most " << secs
                << " s)";
  for (auto& w : loops.workers) w->drain(std::chrono::milliseconds(0));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
  const timespec tick{0, 20 * 1000 * 1000};
  while (loops.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    if (int sig = sigtimedwait(&sigs, nullptr, &tick); sig == SIGTERM || sig == SIGINT) break;
  }
  if (int left = loops.connections.load(); left > 0) {
    XLOG(WARNING) << "shutdown: cutting " << left << " connections still busy";
  }
}

void logStats(const session::Stats& st) {
  XLOG_NOTICE << "stats: connections " << st.connections_accepted << ", requests " << st.requests
                << ", bad signatures " << st.bad_signatures << ", decryption failures "
                << st.decrypt_failures << ", malformed frames " << st.malformed_frames
                << ", oversized frames " << st.oversized_frames << ", logon failures "
                << st.logon_failures;
}

void announce(const session::ServerContext& server,
              const std::vector<transport::ListenAddress>& addrs, int nworkers, int nio,
              bool embedded) {
  const config::Config& cfg = server.config;
  for (const auto& a : addrs) {
    XLOG_NOTICE << "xsmbd listening on " << a.host << " port " << a.port << " (" << nworkers
                << " workers, " << nio << " I/O threads, file I/O by " << server.io_engine << ", "
                << (server.dataplane ? "BPF data plane at " + cfg.global.bpf_pin_dir
                                     : std::string("plain socket mode"))
                << ")";
  }
  if (embedded) {
    uint16_t port = addrs.empty() ? kDemoPort : addrs[0].port;
    std::cout << "xsmbd is serving the demo share " << cfg.shares[0].path << "\n"
              << "  as guest: smbclient //127.0.0.1/demo -p " << port << " -N\n"
              << "  as user:  smbclient //127.0.0.1/demo -p " << port << " -U demo%demo\n"
              << std::flush;
  }
}

// SMB Direct on rdma-core ("smb direct", docs/smbdirect.md): listens where an RDMA device
// exists; otherwise one line says why, and xsmbd serves TCP only. Connected queue pairs go to
// one SmbdWorker (its own event loop; requests run on the I/O pool as TCP's do), whose
// acceptor creates the same SMB connections as TCP's.
struct SmbDirect {
  smbdirect::RdmaCounters counters;
  smbdirect::SmbdOptions options;
  std::unique_ptr<core::SmbAcceptor> acceptor;
  std::unique_ptr<smbdirect::SmbdWorker> worker;
  std::unique_ptr<smbdirect::SmbDirectService> service;  // the listener: stopped first
  // Stops listening, then the worker's loop (before the I/O pool goes); idempotent.
  void stop() {
    service.reset();
    if (worker) worker->stop();
  }
  ~SmbDirect() { stop(); }
};

// The network interfaces of the RDMA devices (/sys/class/infiniband/DEV/device/net/NAME),
// which FSCTL_QUERY_NETWORK_INTERFACE_INFO then reports RDMA_CAPABLE.
std::vector<std::string> rdmaNetdevs() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& dev : std::filesystem::directory_iterator("/sys/class/infiniband", ec)) {
    std::error_code ec2;
    for (const auto& net : std::filesystem::directory_iterator(dev.path() / "device/net", ec2)) {
      names.push_back(net.path().filename().string());
    }
  }
  return names;
}

void startSmbDirect(session::ServerContext& server, const std::vector<std::string>& hosts,
                    vfs::IoPool* pool, uint32_t index, SmbDirect* out) {
  const config::GlobalConfig& g = server.config.global;
  smbdirect::RdmaSettings s;
  s.mode = g.smb_direct == config::SmbDirectMode::kYes    ? smbdirect::RdmaSettings::Mode::kYes
           : g.smb_direct == config::SmbDirectMode::kAuto ? smbdirect::RdmaSettings::Mode::kAuto
                                                          : smbdirect::RdmaSettings::Mode::kNo;
  s.hosts = hosts;
  s.port = g.smb_direct_port;
  out->options = smbdirect::smbdOptionsFrom(g.smbdirect);
  out->options.setup_timeout = std::chrono::seconds(g.hardening.session_setup_timeout_secs);
  s.limits = out->options.limits;
  if (s.mode != smbdirect::RdmaSettings::Mode::kNo) {
    out->acceptor = std::make_unique<core::SmbAcceptor>(&server, pool, index);
    out->worker =
        std::make_unique<smbdirect::SmbdWorker>(out->acceptor.get(), pool, &out->options, index);
    out->worker->start([] { vfs::setOnEventLoopThread(); });
  }
  smbdirect::SmbdWorker* worker = out->worker.get();
  auto handler = [worker](std::unique_ptr<smbdirect::Verbs>& verbs, const std::string& peer) {
    worker->adopt(std::move(verbs), peer);
    return true;
  };
  smbdirect::RdmaStart r = smbdirect::startSmbDirect(s, handler, &out->counters);
  if (r.log_line.empty()) return;
  if (r.service || s.mode == smbdirect::RdmaSettings::Mode::kYes) {
    XLOG(WARNING) << r.log_line;
  } else {
    XLOG(INFO) << r.log_line;
  }
  out->service = std::move(r.service);
  if (out->service) {
    session::setRdmaInterfaces(rdmaNetdevs());
  } else if (out->worker) {
    out->worker->stop();
    out->worker.reset();
  }
}

// The "smb direct" lines of the status report: the backend's counters, then the transport's.
std::string smbDirectStatus(const SmbDirect& d) {
  std::string out = smbdirect::formatRdmaStatus(d.counters);
  if (d.worker) {
    const smbdirect::SmbdStats& st = d.worker->stats();
    out += absl::StrCat("smb direct transport: negotiated ", st.connections.load(),
                        ", negotiate failures ", st.negotiate_failures.load(),
                        ", protocol errors ", st.protocol_errors.load(), ", keepalives sent ",
                        st.keepalives_sent.load(), "\n");
  }
  return out;
}

// The QUIC transport's families of /metrics (docs/operations.md), from QuicService::metrics():
// nothing when QUIC is not served; the xdp/xsk families only in its AF_XDP mode.
void writeQuicMetrics(const transport::quic::QuicService& quic, metrics::Exposition& e) {
  const transport::quic::QuicService::Metrics m = quic.metrics();
  if (m.workers.empty()) return;
  uint64_t open = 0, handshakes = 0, failures = 0, migrations = 0;
  for (const auto& w : m.workers) {
    open += w.stats->open.load();
    handshakes += w.stats->handshakes.load();
    failures += w.stats->handshake_failures.load();
    migrations += w.stats->migrations.load();
  }
  e.gauge("xsmbd_quic_connections", "SMB over QUIC connections open now",
          static_cast<double>(open));
  e.family("xsmbd_quic_handshakes_total", "counter", "QUIC handshakes, by result");
  e.sample("xsmbd_quic_handshakes_total", {{"result", "completed"}}, handshakes);
  e.sample("xsmbd_quic_handshakes_total", {{"result", "failed"}}, failures);
  e.counter("xsmbd_quic_migrations_total", "client address changes a connection survived",
            migrations);
  std::vector<std::string> names;
  for (size_t w = 0; w < m.workers.size(); ++w) names.push_back(std::to_string(w));
  e.family("xsmbd_quic_datagrams_total", "counter",
           "UDP datagrams of the QUIC workers, by worker and direction (AF_XDP frames included)");
  for (size_t w = 0; w < m.workers.size(); ++w) {
    e.sample("xsmbd_quic_datagrams_total", {{"worker", names[w]}, {"direction", "in"}},
             m.workers[w].stats->datagrams_in.load());
    e.sample("xsmbd_quic_datagrams_total", {{"worker", names[w]}, {"direction", "out"}},
             m.workers[w].stats->datagrams_out.load());
  }
  e.family("xsmbd_quic_dropped_datagrams_total", "counter",
           "datagrams the QUIC workers dropped, by reason");
  uint64_t undecodable = 0, unknown = 0;
  for (const auto& w : m.workers) {
    undecodable += w.stats->undecodable.load();
    unknown += w.stats->unknown_cid.load();
  }
  e.sample("xsmbd_quic_dropped_datagrams_total", {{"reason", "undecodable"}}, undecodable);
  e.sample("xsmbd_quic_dropped_datagrams_total", {{"reason", "unknown_cid"}}, unknown);
  if (m.xdp_verdicts.empty()) return;
  e.family("xsmbd_quic_xdp_packets_total", "counter",
           "packets the QUIC XDP program saw, by verdict (redirect to an XSK, or a pass reason)");
  for (const auto& [reason, n] : m.xdp_verdicts) {
    e.sample("xsmbd_quic_xdp_packets_total", {{"verdict", reason}}, n);
  }
  e.family("xsmbd_quic_xsk_packets_total", "counter",
           "AF_XDP mode, per worker: placed by XDP on its XSKs, read by it, read but naming "
           "another worker, dropped by the kernel (no fill frame, invalid), RX ring full");
  for (size_t w = 0; w < m.workers.size(); ++w) {
    const auto& x = *m.workers[w].xdp;
    const std::pair<const char*, uint64_t> kinds[] = {{"placed", x.placed},
                                                      {"received", x.xsk},
                                                      {"not_owner", x.not_owner},
                                                      {"dropped", x.dropped},
                                                      {"ring_full", x.ring_full}};
    for (const auto& [kind, n] : kinds) {
      e.sample("xsmbd_quic_xsk_packets_total", {{"worker", names[w]}, {"kind", kind}}, n);
    }
  }
}

void startControlSocket(core::ControlSocket& control, session::ServerContext& server,
                        std::function<std::string()> more) {
  const config::GlobalConfig& g = server.config.global;
  std::string path = g.control_socket;
  if (path.empty()) {
    path = (std::filesystem::path(g.smb_passwd_file).parent_path() / "xsmbd.sock").string();
  }
  if (!path.empty() && control.start(path, &server, std::move(more))) {
    XLOG(INFO) << "control socket " << path << " (xsmbctl status)";
  }
}

int run() {
  std::string path = absl::GetFlag(FLAGS_config);
  const bool embedded = path.empty();
  config::ParseResult parsed;
  if (embedded) {
    parsed.config = demoConfig();
  } else {
    auto r = config::loadSmbConf(path);
    if (!r.ok()) {
      std::cerr << "xsmbd: " << path << ": " << r.status().message() << "\n";
      return 1;
    }
    parsed = std::move(*r);
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    return checkConfig(parsed, embedded ? "the embedded default" : path);
  }
  const config::Config& cfg = parsed.config;
  g_log_level =
      absl::GetFlag(FLAGS_log_level) >= 0 ? absl::GetFlag(FLAGS_log_level) : cfg.global.log_level;
  for (const auto& p : parsed.problems) {
    if (p.severity == config::Problem::Severity::kError) {
      XLOG(ERROR) << path << ":" << p.line << ": " << p.message;
    } else {
      XLOG(WARNING) << path << ":" << p.line << ": " << p.message;
    }
  }
  prepareProcess(cfg);
  if (!checkOpenat2()) return 1;
  auto server = makeServer(cfg);
  auto hosts = config::listenAddresses(cfg.global);
  if (!hosts.ok()) {
    XLOG(ERROR) << "interfaces: " << hosts.status().message();
    return 1;
  }
  std::vector<transport::ListenAddress> addrs;
  for (const auto& h : *hosts) {
    for (uint16_t port : cfg.global.smb_ports) addrs.push_back({h, port});
  }
  if (!absl::GetFlag(FLAGS_foreground) && !embedded && daemon(0, 1) != 0) {
    XLOG(ERROR) << "daemon: " << std::strerror(errno);
    return 1;
  }
  // Signals are taken by this thread only (sigwait below); workers inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const size_t pinned = workerCpus(server->config.global).size();
  int nworkers = absl::GetFlag(FLAGS_workers) > 0 ? absl::GetFlag(FLAGS_workers)
                 : pinned > 0                     ? static_cast<int>(pinned)
                                                  : static_cast<int>(cpus);
  int nio = absl::GetFlag(FLAGS_io_threads) > 0 ? absl::GetFlag(FLAGS_io_threads) : 2 * cpus;
  Loops loops;
  if (!startLoops(*server, addrs, nworkers, nio, &loops)) return 1;
  SmbDirect smb_direct;
  startSmbDirect(*server, *hosts, loops.pool.get(), static_cast<uint32_t>(nworkers), &smb_direct);
  transport::quic::QuicService quic;  // SMB over QUIC ("server smb transports = quic")
  quic.start(server->config.global, *hosts, nworkers, loops.pool.get(),
             static_cast<uint32_t>(nworkers) + 1,
             [&server, &loops](uint32_t loop, transport::quic::QuicService::LoopHooks* hooks) {
               auto a = std::make_unique<core::SmbAcceptor>(server.get(), loops.pool.get(), loop);
               // As on the TCP loops: messages answered on the loop, their file I/O on the
               // acceptor's engine, whose completions the loop reaps.
               core::SmbAcceptor* ap = a.get();
               hooks->watches.emplace_back(ap->ioEngine().eventFd(),
                                           [ap] { ap->ioEngine().reap(); });
               hooks->on_start = [] { vfs::setOnEventLoopThread(); };
               return a;
             });
  core::ControlSocket control;
  startControlSocket(control, *server, [&smb_direct, &quic] {
    return smbDirectStatus(smb_direct) + quic.status();
  });
  server->metrics.lifecycle.bpf_missing = cfg.global.bpf && !server->dataplane;
  server->metrics.lifecycle.rdma_active = smb_direct.service != nullptr;
  server->metrics.lifecycle.listening = true;
  metrics::HttpEndpoint endpoint;                 // /metrics, /healthz, /readyz
  // Logs when it cannot listen; serving goes on.
  core::startMetricsEndpoint(endpoint, *server,
                             [&quic](metrics::Exposition& e) { writeQuicMetrics(quic, e); });
  announce(*server, addrs, nworkers, nio, embedded);
  if (waitForShutdown(sigs, *server, loops, endpoint)) drainForShutdown(sigs, *server, loops);
  endpoint.stop();
  smb_direct.stop();
  quic.stop();
  stopLoops(&loops);
  server->rpcd.reset();
  logStats(server->stats);
  return 0;
}

}  // namespace
}  // namespace xsmb

namespace xsmb {
namespace {

Manual xsmbdManual() {
  Manual m;
  m.name = "xsmbd - SMB2/SMB3 file server";
  m.synopsis = "xsmbd [--config FILE] [--foreground] [--log-level N] [--takeover]\n"
               "xsmbd --check-config [--config FILE]\nxsmbd --help";
  m.description =
      "xsmbd serves the shares of an smb.conf file (Samba's syntax and parameter names) to "
      "SMB 2.0.2 to 3.1.1 clients over TCP, and over SMB Direct where an RDMA device exists. "
      "Each request touches the file system with its user's identity when xsmbd runs as root. "
      "The DCE/RPC services of IPC$ run in the sandboxed helper xsmb-rpcd, which xsmbd starts. "
      "With \"bpf = yes\" it uses the BPF data plane that xsmb-loader pinned; without one it "
      "serves in plain socket mode and says so.\n\n"
      "Without --config it serves a demo share on 127.0.0.1 (./.demo/share, port $XSMBD_PORT "
      "or 4455, user demo with password demo) and prints the smbclient command lines. Logs go "
      "to stderr.";
  m.entries = flagEntries("server/main.cc", true);
  m.sections = {
      {"SIGNALS", "SIGTERM and SIGINT stop the server. SIGHUP asks it to reload the "
                  "configuration and the user database."},
      {"EXIT STATUS", "0 after a clean stop; 1 when the configuration cannot be read, an "
                      "address cannot be listened on, or --check-config found errors."},
      {"FILES", "/etc/xsmbd/smb.conf (as installed), /var/lib/xsmbd/users.db (\"smb passwd "
                "file\"; the domain SID and the control socket beside it)."},
      {"SEE ALSO", "xsmbctl(8), xsmb-loader(8), xsmb-rpcd(8), smb.conf(5); docs/deploy.md."}};
  return m;
}

}  // namespace
}  // namespace xsmb

int main(int argc, char** argv) {
  if (xsmb::wantsManual(argc, argv)) {
    std::fputs(xsmb::renderManual(xsmb::xsmbdManual()).c_str(), stdout);
    return 0;
  }
  absl::SetProgramUsageMessage(
      "xsmbd [--config FILE] [--foreground] [--log-level N] [--check-config]\n"
      "Serves SMB2/SMB3 shares. Without --config it serves a demo share on 127.0.0.1.");
  // Accept the documented spellings --log-level / --check-config for Abseil's underscore names.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> fixed;
  for (std::string& a : args) {
    if (a.rfind("--", 0) == 0) {
      size_t end = a.find('=');
      for (size_t i = 2; i < std::min(end, a.size()); ++i) {
        if (a[i] == '-') a[i] = '_';
      }
    }
    fixed.push_back(a.data());
  }
  absl::ParseCommandLine(static_cast<int>(fixed.size()), fixed.data());
  return xsmb::run();
}
