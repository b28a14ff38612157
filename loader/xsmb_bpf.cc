#include "loader/xsmb_bpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "loader/objects.h"
#include "xsmb_sock.skel.h"

namespace xsmb::bpf {

struct SockObject {
  SockSkel skel;
};

namespace {

std::string errnoText(int err) { return strerror(err < 0 ? -err : err); }

// Page-rounded size of an mmapable array map (the kernel maps whole pages).
size_t mmapLength(size_t value_size, size_t entries) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t bytes = value_size * entries;
  return (bytes + page - 1) / page * page;
}

void* mapShared(int fd, size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : p;
}

template <typename T>
void atomicAdd(T* p, T v) {
  std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
}

// This thread's stripe of the server latency histogram: threads take stripes in turn, so up
// to XSMB_SRV_LAT_STRIPES workers each write their own cache lines.
uint32_t threadStripe() {
  static std::atomic<uint32_t> next{0};
  thread_local const uint32_t stripe =
      next.fetch_add(1, std::memory_order_relaxed) % XSMB_SRV_LAT_STRIPES;
  return stripe;
}

uint32_t log2Bucket(uint64_t ns) {
  uint32_t b = ns == 0 ? 0 : 63 - static_cast<uint32_t>(__builtin_clzll(ns));
  return b < XSMB_HIST_BUCKETS ? b : XSMB_HIST_BUCKETS - 1;
}

}  // namespace

DataPlane::~DataPlane() {
  if (config_ != nullptr) munmap(config_, config_len_);
  if (srv_lat_ != nullptr) munmap(srv_lat_, srv_lat_len_);
  if (wload_ != nullptr) munmap(wload_, wload_len_);
  if (limits_ != nullptr) munmap(limits_, limits_len_);
  for (int fd : {config_fd_, sessions_fd_, counters_fd_, srv_lat_fd_, sockhash_fd_, workers_fd_,
                 wload_fd_, rp_groups_fd_, limits_fd_, reuseport_prog_fd_}) {
    if (fd >= 0) close(fd);
  }
}

std::unique_ptr<DataPlane> DataPlane::open(const std::string& pin_dir, std::string* why_not) {
  std::unique_ptr<DataPlane> dp(new DataPlane());
  dp->pin_dir_ = pin_dir.empty() ? XSMB_PIN_DIR_DEFAULT : pin_dir;
  auto get = [&](const char* name, int* fd) {
    *fd = bpf_obj_get(mapPinPath(dp->pin_dir_, name).c_str());
    if (*fd >= 0) return true;
    int err = errno;
    if (why_not != nullptr) {
      if (err == ENOENT) {
        *why_not = "no BPF maps pinned under " + dp->pin_dir_ + " (run xsmb-loader load)";
      } else if (err == EPERM || err == EACCES) {
        *why_not = "BPF not permitted (" + errnoText(err) + ") opening " + dp->pin_dir_;
      } else {
        *why_not = std::string("opening ") + name + ": " + errnoText(err);
      }
    }
    return false;
  };
  if (!get("xsmb_config", &dp->config_fd_) || !get("xsmb_sessions", &dp->sessions_fd_) ||
      !get("xsmb_counters", &dp->counters_fd_) || !get("xsmb_srv_lat", &dp->srv_lat_fd_) ||
      !get("xsmb_wload", &dp->wload_fd_) || !get("xsmb_rp_groups", &dp->rp_groups_fd_) ||
      !get("xsmb_limits", &dp->limits_fd_)) {
    return nullptr;
  }
  // Optional parts (xsmb-loader load --without, or a kernel without them): absent, -1.
  dp->sockhash_fd_ = bpf_obj_get(mapPinPath(dp->pin_dir_, "xsmb_sockhash").c_str());
  dp->workers_fd_ = bpf_obj_get(mapPinPath(dp->pin_dir_, "xsmb_workers").c_str());
  dp->config_len_ = mmapLength(sizeof(xsmb_config), 1);
  dp->srv_lat_len_ = mmapLength(sizeof(xsmb_hist), XSMB_SRV_LAT_STRIPES * XSMB_CMD_SLOTS);
  dp->wload_len_ = mmapLength(sizeof(xsmb_wload), XSMB_GENERATIONS * XSMB_MAX_WORKERS);
  dp->config_ = static_cast<xsmb_config*>(mapShared(dp->config_fd_, dp->config_len_));
  dp->srv_lat_ = static_cast<xsmb_hist*>(mapShared(dp->srv_lat_fd_, dp->srv_lat_len_));
  dp->wload_ = static_cast<xsmb_wload*>(mapShared(dp->wload_fd_, dp->wload_len_));
  dp->limits_len_ = mmapLength(sizeof(xsmb_limit), XSMB_MAX_LIMITS);
  dp->limits_ = static_cast<xsmb_limit*>(mapShared(dp->limits_fd_, dp->limits_len_));
  if (dp->config_ == nullptr || dp->srv_lat_ == nullptr || dp->wload_ == nullptr ||
      dp->limits_ == nullptr) {
    if (why_not != nullptr) *why_not = "mapping the BPF arrays: " + errnoText(errno);
    return nullptr;
  }
  // Accelerated connections need the verdict on the sockhash (xsmb-loader load attaches it).
  uint32_t count = 0;
  dp->sockhash_ready_ = bpf_prog_query(dp->sockhash_fd_, BPF_SK_SKB_STREAM_VERDICT, 0, nullptr,
                                       nullptr, &count) == 0 &&
                        count > 0;
  // A stream parser left attached by an older loader would frame in the kernel (the mode
  // that stalls, docs/bpf.md); the verdict runs alone.
  if (dp->sockhash_ready_) detachStreamParser(dp->sockhash_fd_);
  return dp;
}

bool DataPlane::ensureSockPrograms(std::string* error) {
  if (reuseport_prog_fd_ >= 0 && (sockhash_ready_ || sockhash_fd_ < 0)) return true;
  reuseport_prog_fd_ = bpf_obj_get(progPinPath(pin_dir_, "xsmb_reuseport").c_str());
  if (reuseport_prog_fd_ >= 0 && (sockhash_ready_ || sockhash_fd_ < 0)) return true;
  if (workers_fd_ < 0) {
    if (error != nullptr) {
      *error =
          "no reuseport socket array pinned (xsmb-loader load --without reuseport, or a "
          "kernel without it): the kernel's hash places connections";
    }
    return false;
  }
  // Not pinned by the loader: load the socket object here, on the pinned maps (without the
  // verdict when the loader left the sockhash out).
  std::string e;
  auto obj = std::make_unique<SockObject>();
  obj->skel = openSock(&e);
  if (!obj->skel) {
    if (error != nullptr) *error = e;
    return false;
  }
  Features f;
  f.sockmap = sockhash_fd_ >= 0;
  applyFeatures(objectOf(obj->skel.get()), f);
  int err = setPinPaths(objectOf(obj->skel.get()), pin_dir_);
  if (!err) err = loadSock(obj->skel.get());
  if (err) {
    if (error != nullptr) *error = "loading the socket programs: " + errnoText(err);
    return false;
  }
  if (reuseport_prog_fd_ < 0) {
    reuseport_prog_fd_ = dup(bpf_program__fd(obj->skel->progs.xsmb_reuseport));
  }
  if (!sockhash_ready_ && sockhash_fd_ >= 0) {
    // The verdict alone: no kernel stream parser (docs/bpf.md, "Why no stream parser").
    detachStreamParser(sockhash_fd_);
    if (bpf_prog_attach(bpf_program__fd(obj->skel->progs.xsmb_sk_verdict), sockhash_fd_,
                        BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
      if (error != nullptr) *error = "attaching the stream verdict: " + errnoText(errno);
      return false;
    }
    sockhash_ready_ = true;
  }
  sock_ = std::move(obj);
  return true;
}

bool DataPlane::attachReuseport(const std::vector<int>& listen_fds, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (listen_fds.empty()) return true;
  if (listen_fds.size() > XSMB_MAX_WORKERS) {
    if (error != nullptr) *error = "more than 64 workers in one reuseport group";
    return false;
  }
  if (!ensureSockPrograms(error)) return false;
  sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getsockname(listen_fds[0], reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    if (error != nullptr) *error = "getsockname: " + errnoText(errno);
    return false;
  }
  // The group's key as the reuseport program reads it from the listener's bpf_sock.
  xsmb_rp_key rk = {};
  if (ss.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss);
    rk.family = AF_INET6;
    rk.gen = generation_ & 1;
    rk.port = ntohs(a6.sin6_port);
    std::memcpy(rk.addr.b, &a6.sin6_addr, 16);
  } else {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(ss);
    rk.family = AF_INET;
    rk.gen = generation_ & 1;
    rk.port = ntohs(a4.sin_port);
    rk.addr.b[10] = rk.addr.b[11] = 0xff;
    std::memcpy(&rk.addr.b[12], &a4.sin_addr, 4);
  }
  if (rp_groups_ >= XSMB_MAX_RP_GROUPS) {
    if (error != nullptr) *error = "more than 16 listening addresses";
    return false;
  }
  const uint32_t group = rp_groups_;
  for (size_t i = 0; i < listen_fds.size(); i++) {
    uint32_t key = XSMB_WORKER_SLOT(generation_, group, static_cast<uint32_t>(i));
    uint64_t fd = static_cast<uint64_t>(listen_fds[i]);
    if (bpf_map_update_elem(workers_fd_, &key, &fd, BPF_ANY) != 0) {
      if (error != nullptr) *error = "adding a listening socket: " + errnoText(errno);
      return false;
    }
  }
  if (bpf_map_update_elem(rp_groups_fd_, &rk, &group, BPF_ANY) != 0) {
    if (error != nullptr) *error = "registering the listening address: " + errnoText(errno);
    return false;
  }
  rp_groups_++;
  int prog = reuseport_prog_fd_;
  if (setsockopt(listen_fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) != 0) {
    if (error != nullptr) *error = "SO_ATTACH_REUSEPORT_EBPF: " + errnoText(errno);
    return false;
  }
  return true;
}

void DataPlane::beginGeneration(bool takeover) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint32_t serving = std::atomic_ref<__u32>(config_->generation).load();
  generation_ = takeover ? serving + 1 : serving;
  // What an earlier xsmbd of this slot registered: this process numbers its groups afresh.
  std::vector<xsmb_rp_key> stale;
  xsmb_rp_key key = {}, next = {};
  for (void* prev = nullptr; bpf_map_get_next_key(rp_groups_fd_, prev, &next) == 0; prev = &key) {
    key = next;
    if (key.gen == (generation_ & 1)) stale.push_back(key);
  }
  for (const xsmb_rp_key& k : stale) bpf_map_delete_elem(rp_groups_fd_, &k);
  for (uint32_t w = 0; w < XSMB_MAX_WORKERS; w++) {
    xsmb_wload& e = wload_[(generation_ & 1) * XSMB_MAX_WORKERS + w];
    std::atomic_ref<__u32>(e.load).store(0);
    std::atomic_ref<__u32>(e.cpu).store(XSMB_CPU_NONE);
  }
}

void DataPlane::activateGeneration(uint32_t nworkers) {
  // The worker count first: a SYN that reads the new generation finds its count.
  std::atomic_ref<__u32>(config_->nworkers).store(nworkers, std::memory_order_release);
  std::atomic_ref<__u32>(config_->generation).store(generation_, std::memory_order_release);
}

uint32_t DataPlane::servingGeneration() const {
  return std::atomic_ref<__u32>(config_->generation).load(std::memory_order_acquire);
}

bool DataPlane::addConnection(int fd) {
  if (!sockhash_ready_) return false;
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return false;
  uint64_t value = static_cast<uint64_t>(fd);
  return bpf_map_update_elem(sockhash_fd_, &cookie, &value, BPF_NOEXIST) == 0;
}

void DataPlane::sessionUp(const SessionRecord& r) {
  const xsmb_session& value = r;
  bpf_map_update_elem(sessions_fd_, &r.session_id, &value, BPF_ANY);
}

void DataPlane::updateSessionRate(uint64_t session_id, uint64_t rate_bps, uint64_t throttled_ns) {
  // Read, change, write: a count the programs add between the two is lost (once a second at
  // most, the programs' own counters stay exact in cmd_stats).
  xsmb_session v = {};
  if (bpf_map_lookup_elem(sessions_fd_, &session_id, &v) != 0) return;
  v.rate_bps = rate_bps;
  v.throttled_ns = throttled_ns;
  bpf_map_update_elem(sessions_fd_, &session_id, &v, BPF_EXIST);
}

void DataPlane::sessionDown(uint64_t session_id) { bpf_map_delete_elem(sessions_fd_, &session_id); }

void DataPlane::recordLatency(uint16_t command, uint64_t nanoseconds) {
  // Atomic still: threads beyond XSMB_SRV_LAT_STRIPES share a stripe, and a reader may run
  // at any time; uncontended, a relaxed add costs little more than a plain one.
  xsmb_hist& h = srv_lat_[threadStripe() * XSMB_CMD_SLOTS + commandSlot(command)];
  atomicAdd<__u64>(&h.count, 1);
  atomicAdd<__u64>(&h.sum_ns, nanoseconds);
  atomicAdd<__u64>(&h.buckets[log2Bucket(nanoseconds)], 1);
}

void DataPlane::setMaxMessageSize(uint32_t bytes) {
  std::atomic_ref<__u32>(config_->max_msg_size).store(bytes, std::memory_order_relaxed);
}

void DataPlane::setWorkerLoad(uint32_t worker, uint32_t connections) {
  if (worker >= XSMB_MAX_WORKERS) return;
  std::atomic_ref<__u32>(wload_[(generation_ & 1) * XSMB_MAX_WORKERS + worker].load)
      .store(connections, std::memory_order_relaxed);
}

void DataPlane::setWorkerCpu(uint32_t worker, uint32_t cpu) {
  if (worker >= XSMB_MAX_WORKERS) return;
  std::atomic_ref<__u32>(wload_[(generation_ & 1) * XSMB_MAX_WORKERS + worker].cpu)
      .store(cpu, std::memory_order_relaxed);
}

std::vector<std::pair<std::string, uint64_t>> DataPlane::counters() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto values = readPercpuCounters(counters_fd_, XSMB_CNT_MAX);
  for (size_t i = 0; i < values.size(); i++) out.emplace_back(counterNames()[i], values[i]);
  return out;
}

bool DataPlane::lookupSession(uint64_t session_id, xsmb_session* out) const {
  return bpf_map_lookup_elem(sessions_fd_, &session_id, out) == 0;
}

xsmb_hist DataPlane::serverLatency(uint32_t slot) const {
  xsmb_hist h = {};
  if (slot >= XSMB_CMD_SLOTS) return h;
  for (uint32_t stripe = 0; stripe < XSMB_SRV_LAT_STRIPES; stripe++) {
    xsmb_hist& s = srv_lat_[stripe * XSMB_CMD_SLOTS + slot];
    h.count += std::atomic_ref<__u64>(s.count).load(std::memory_order_relaxed);
    h.sum_ns += std::atomic_ref<__u64>(s.sum_ns).load(std::memory_order_relaxed);
    for (int b = 0; b < XSMB_HIST_BUCKETS; b++) {
      h.buckets[b] += std::atomic_ref<__u64>(s.buckets[b]).load(std::memory_order_relaxed);
    }
  }
  return h;
}

}  // namespace xsmb::bpf
