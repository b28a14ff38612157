#include "server/transport/xsk/quic_steering.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "loader/objects.h"
#include "xsmb_quic.skel.h"

namespace xsmb::xsk {
namespace {

absl::Status errnoStatus(const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string text = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(text);
    case EINVAL:
      return absl::InvalidArgumentError(text);
    case EEXIST:
    case EBUSY:
      return absl::AlreadyExistsError(text);
    default:
      return absl::InternalError(text);
  }
}

}  // namespace

void QuicSteering::SkelDeleter::operator()(::xsmb_quic* s) const { xsmb_quic__destroy(s); }

QuicSteering::~QuicSteering() {
  for (int ifindex : attached_ifindexes_) detachXdp(ifindex).IgnoreError();
}

const std::vector<std::string>& QuicSteering::counterNames() {
  static const std::vector<std::string> names = {
#define XSMB_QUIC_X_NAME(name, doc) #name,
      XSMB_QUIC_COUNTERS(XSMB_QUIC_X_NAME)
#undef XSMB_QUIC_X_NAME
  };
  return names;
}

absl::StatusOr<std::unique_ptr<QuicSteering>> QuicSteering::load(const SteeringOptions& options) {
  bpf::installLibbpfLogging();
  std::unique_ptr<QuicSteering> s(new QuicSteering());
  errno = 0;
  s->skel_.reset(xsmb_quic__open());
  if (!s->skel_) return errnoStatus("opening the xsmb_quic BPF object", errno ? errno : EINVAL);
  if (!options.pin_dir.empty()) {
    int err = bpf::setPinPaths(s->skel_->obj, options.pin_dir);
    if (err != 0) return errnoStatus("pin paths under " + options.pin_dir, err);
  }
  int err = xsmb_quic__load(s->skel_.get());
  if (err != 0) return errnoStatus("loading the xsmb_quic BPF object", err);
  absl::Status st = s->configure(options);
  if (!st.ok()) return st;
  return s;
}

absl::Status QuicSteering::configure(const SteeringOptions& options) {
  if (options.nworkers > XSMB_QUIC_MAX_WORKERS) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.nworkers, " workers: at most ", XSMB_QUIC_MAX_WORKERS));
  }
  xsmb_quic_config cfg{};
  cfg.port = options.port;
  cfg.nworkers = options.nworkers;
  cfg.flags = options.xsk ? XSMB_QUIC_CFG_XSK : 0;
  uint32_t zero = 0;
  if (bpf_map_update_elem(mapFd("xsmb_quic_cfg"), &zero, &cfg, BPF_ANY) != 0) {
    return errnoStatus("writing xsmb_quic_cfg", errno);
  }
  return absl::OkStatus();
}

absl::Status QuicSteering::attachReuseport(const std::vector<int>& udp_fds, uint32_t group) {
  if (udp_fds.empty() || udp_fds.size() > XSMB_QUIC_MAX_WORKERS) {
    return absl::InvalidArgumentError(absl::StrCat(udp_fds.size(), " sockets: want 1..256"));
  }
  if (group >= XSMB_QUIC_MAX_GROUPS) {
    return absl::InvalidArgumentError(absl::StrCat("group ", group, ": at most 3"));
  }
  int map = mapFd("xsmb_quic_socks");
  for (size_t i = 0; i < udp_fds.size(); i++) {
    uint32_t key = XSMB_QUIC_SOCK_SLOT(group, static_cast<uint32_t>(i));
    uint64_t fd = static_cast<uint64_t>(udp_fds[i]);
    if (bpf_map_update_elem(map, &key, &fd, BPF_ANY) != 0) {
      return errnoStatus(absl::StrCat("worker ", i, "'s socket into xsmb_quic_socks"), errno);
    }
  }
  int prog = reuseportProgramFd();
  if (setsockopt(udp_fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) != 0) {
    return errnoStatus("SO_ATTACH_REUSEPORT_EBPF", errno);
  }
  return absl::OkStatus();
}

absl::Status QuicSteering::attachXdp(int ifindex, XdpMode mode) {
  auto attach = [&](uint32_t flags) {
    return bpf_xdp_attach(ifindex, xdpProgramFd(), flags | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  };
  int err = -EINVAL;
  if (mode != XdpMode::kGeneric) err = attach(XDP_FLAGS_DRV_MODE);
  if (err != 0 && mode != XdpMode::kNative) err = attach(XDP_FLAGS_SKB_MODE);
  if (err != 0) return errnoStatus(absl::StrCat("attaching xsmb_quic_xdp to ifindex ", ifindex), err);
  attached_ifindexes_.push_back(ifindex);
  return absl::OkStatus();
}

absl::Status QuicSteering::detachXdp(int ifindex) {
  std::erase(attached_ifindexes_, ifindex);
  // Only our program: XDP_FLAGS_REPLACE with old_prog_fd makes the kernel check it is ours.
  for (uint32_t mode : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdpProgramFd());
    if (bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &opts) == 0) return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("xsmb_quic_xdp is not attached to ifindex ", ifindex));
}

absl::Status QuicSteering::setXsk(uint32_t queue, uint32_t worker, int xsk_fd) {
  if (queue >= XSMB_QUIC_MAX_QUEUES || worker >= XSMB_QUIC_MAX_WORKERS) {
    return absl::InvalidArgumentError(absl::StrCat("queue ", queue, " worker ", worker));
  }
  uint32_t key = XSMB_QUIC_XSK_SLOT(queue, worker);
  uint32_t fd = static_cast<uint32_t>(xsk_fd);
  if (bpf_map_update_elem(mapFd("xsmb_quic_xsks"), &key, &fd, BPF_ANY) != 0) {
    return errnoStatus("XSK into xsmb_quic_xsks", errno);
  }
  return absl::OkStatus();
}

absl::Status QuicSteering::clearXsk(uint32_t queue, uint32_t worker) {
  uint32_t key = XSMB_QUIC_XSK_SLOT(queue, worker);
  if (bpf_map_delete_elem(mapFd("xsmb_quic_xsks"), &key) != 0) {
    return errnoStatus("removing an XSK from xsmb_quic_xsks", errno);
  }
  return absl::OkStatus();
}

absl::Status QuicSteering::registerCid(const quic::ConnectionId& cid, uint32_t flags) {
  auto worker = quic::cidWorker(cid);
  if (!worker.ok()) return worker.status();
  xsmb_quic_cid key = quic::cidKey(cid);
  xsmb_quic_cid_info info{};
  info.worker = *worker;
  info.flags = flags;
  if (bpf_map_update_elem(mapFd("xsmb_quic_cids"), &key, &info, BPF_ANY) != 0) {
    return errnoStatus("registering a connection ID", errno);
  }
  return absl::OkStatus();
}

absl::Status QuicSteering::unregisterCid(const quic::ConnectionId& cid) {
  xsmb_quic_cid key = quic::cidKey(cid);
  if (bpf_map_delete_elem(mapFd("xsmb_quic_cids"), &key) != 0) {
    return errnoStatus("unregistering a connection ID", errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<xsmb_quic_cid_info> QuicSteering::lookupCid(const quic::ConnectionId& cid) const {
  xsmb_quic_cid key = quic::cidKey(cid);
  xsmb_quic_cid_info info{};
  if (bpf_map_lookup_elem(mapFd("xsmb_quic_cids"), &key, &info) != 0) {
    return errnoStatus("looking up a connection ID", errno);
  }
  return info;
}

std::vector<std::pair<std::string, uint64_t>> QuicSteering::counters() const {
  std::vector<uint64_t> sums = bpf::readPercpuCounters(mapFd("xsmb_quic_stats"), XSMB_QCNT_MAX);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < sums.size() && i < counterNames().size(); i++) {
    out.emplace_back(counterNames()[i], sums[i]);
  }
  return out;
}

xsmb_quic_worker_stat QuicSteering::workerStat(uint32_t worker) const {
  std::vector<xsmb_quic_worker_stat> per_cpu(libbpf_num_possible_cpus());
  xsmb_quic_worker_stat sum{};
  if (bpf_map_lookup_elem(mapFd("xsmb_quic_wstat"), &worker, per_cpu.data()) != 0) return sum;
  for (const xsmb_quic_worker_stat& c : per_cpu) {
    sum.xsk_packets += c.xsk_packets;
    sum.xsk_bytes += c.xsk_bytes;
    sum.xsk_missing += c.xsk_missing;
    sum.socket_packets += c.socket_packets;
  }
  return sum;
}

void QuicSteering::resetCounters() {
  size_t ncpu = static_cast<size_t>(libbpf_num_possible_cpus());
  std::vector<xsmb_quic_counters> zero_counters(ncpu);
  std::memset(zero_counters.data(), 0, ncpu * sizeof(xsmb_quic_counters));
  uint32_t zero = 0;
  bpf_map_update_elem(mapFd("xsmb_quic_stats"), &zero, zero_counters.data(), BPF_ANY);
  std::vector<xsmb_quic_worker_stat> zero_ws(ncpu);
  std::memset(zero_ws.data(), 0, ncpu * sizeof(xsmb_quic_worker_stat));
  for (uint32_t w = 0; w < XSMB_QUIC_MAX_WORKERS; w++) {
    bpf_map_update_elem(mapFd("xsmb_quic_wstat"), &w, zero_ws.data(), BPF_ANY);
  }
}

int QuicSteering::xdpProgramFd() const { return bpf_program__fd(skel_->progs.xsmb_quic_xdp); }

int QuicSteering::reuseportProgramFd() const {
  return bpf_program__fd(skel_->progs.xsmb_quic_reuseport);
}

int QuicSteering::mapFd(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(skel_->obj, name);
  return m == nullptr ? -1 : bpf_map__fd(m);
}

}  // namespace xsmb::xsk
