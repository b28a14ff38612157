#include "server/transport/quic/quic_steering_link.h"

#include <net/if.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "server/transport/quic/quic_cid.h"
#include "server/transport/xsk/quic_steering.h"
#include "server/transport/xsk/xsk_interface.h"

namespace xsmb::transport::quic {
namespace {

// A worker's XSK on one receive queue, as the worker reads it.
class XskSource : public DatagramSource {
 public:
  explicit XskSource(xsk::XskSocket* socket) : socket_(socket) {}
  int fd() const override { return socket_->fd(); }
  size_t receive(size_t max, const std::function<void(const ExternalDatagram&)>& fn) override {
    return socket_->receive(max, [&fn](const xsk::UdpFrame& f) {
      ExternalDatagram d;
      d.payload = f.payload;
      d.from_len = toSockaddr(f.header.source, &d.from);
      d.to_len = toSockaddr(f.header.destination, &d.to);
      fn(d);
    });
  }

 private:
  static socklen_t toSockaddr(const xsk::UdpEndpoint& e, sockaddr_storage* out) {
    *out = {};
    if (e.family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(out);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(e.port);
      std::memcpy(&a->sin6_addr, e.addr.data(), 16);
      return sizeof(sockaddr_in6);
    }
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(e.port);
    std::memcpy(&a->sin_addr, e.addr.data(), 4);
    return sizeof(sockaddr_in);
  }

  xsk::XskSocket* socket_;
};

// Registers the workers' connection IDs in xsmb_quic_cids (thread-safe: one bpf() call each).
class CidRegistrar : public CidListener {
 public:
  explicit CidRegistrar(xsk::QuicSteering* steering) : steering_(steering) {}
  void cidIssued(ByteSpan cid) override {
    if (cid.size() != kCidLength) return;
    if (absl::Status st = steering_->registerCid(toCid(cid)); !st.ok()) {
      failures_++;  // the connection's packets then take the socket path
    }
  }
  void cidRetired(ByteSpan cid) override {
    if (cid.size() == kCidLength) steering_->unregisterCid(toCid(cid)).IgnoreError();
  }
  uint64_t failures() const { return failures_.load(); }

 private:
  static Cid toCid(ByteSpan b) {
    Cid c{};
    std::memcpy(c.data(), b.data(), c.size());
    return c;
  }
  xsk::QuicSteering* steering_;
  std::atomic<uint64_t> failures_{0};
};

// Counter i of QuicSteering::counters() (0 when the object has fewer).
uint64_t counterAt(const std::vector<std::pair<std::string, uint64_t>>& c, int i) {
  return static_cast<size_t>(i) < c.size() ? c[static_cast<size_t>(i)].second : 0;
}

// Attaches the reuseport program to each address's socket group (the first
// XSMB_QUIC_MAX_GROUPS; the others keep the kernel's hash).
absl::Status attachGroups(xsk::QuicSteering& steering,
                          const std::vector<std::vector<int>>& groups) {
  for (size_t a = 0; a < groups.size() && a < XSMB_QUIC_MAX_GROUPS; ++a) {
    if (absl::Status st = steering.attachReuseport(groups[a], static_cast<uint32_t>(a));
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace

class QuicXdp {
 public:
  std::string ifname;
  std::shared_ptr<xsk::QuicSteering> steering;
  std::unique_ptr<xsk::XskInterface> iface;  // destroyed before `steering` (declared after)
  std::unique_ptr<CidRegistrar> registrar;
  bool zero_copy = false;
};

std::shared_ptr<xsk::QuicSteering> attachQuicSteering(uint16_t port,
                                                      const std::vector<std::vector<int>>& groups) {
  const size_t nworkers = groups.empty() ? 0 : groups.front().size();
  auto steering = xsk::QuicSteering::load({.port = port, .nworkers = static_cast<uint16_t>(nworkers)});
  if (!steering.ok()) {
    XLOG(WARNING) << "quic: BPF steering not loaded (" << steering.status().message()
                  << "); datagrams are handed to their worker in userspace";
    return nullptr;
  }
  if (absl::Status st = attachGroups(**steering, groups); !st.ok()) {
    XLOG(WARNING) << "quic: BPF steering not attached (" << st.message()
                  << "); datagrams are handed to their worker in userspace";
    return nullptr;
  }
  XLOG(WARNING) << "quic: datagrams steered to their worker by connection ID in the kernel"
                << " (sk_reuseport, " << nworkers << " workers)";
  return std::shared_ptr<xsk::QuicSteering>(std::move(*steering));
}

std::string quicSteeringStatus(const xsk::QuicSteering& steering,
                               const std::vector<const QuicStats*>& workers) {
  const auto c = steering.counters();
  auto at = [&c](int i) { return counterAt(c, i); };
  std::string out = absl::StrCat(
      "quic steering (reuseport): datagrams ", at(XSMB_QCNT_RQ_DATAGRAMS), ", by cid ",
      at(XSMB_QCNT_RQ_SELECT_CID), ", hash initial ", at(XSMB_QCNT_RQ_HASH_INITIAL),
      ", hash unknown ", at(XSMB_QCNT_RQ_HASH_UNKNOWN), ", hash malformed ",
      at(XSMB_QCNT_RQ_HASH_MALFORMED), ", select failed ", at(XSMB_QCNT_RQ_SELECT_FAILED));
  for (size_t w = 0; w < workers.size(); ++w) {
    absl::StrAppend(&out, "; worker ", w, " in ", workers[w]->datagrams_in.load(), " steered ",
                    steering.workerStat(static_cast<uint32_t>(w)).socket_packets, " handshakes ",
                    workers[w]->handshakes.load());
  }
  return out + "\n";
}

std::shared_ptr<QuicXdp> attachQuicXdp(const std::string& ifname, config::QuicConfig::XdpMode mode,
                                       uint16_t port, const std::vector<std::vector<int>>& groups,
                                       const std::vector<QuicWorker*>& workers) {
  auto fail = [&ifname](const absl::Status& st) -> std::shared_ptr<QuicXdp> {
    XLOG(WARNING) << "quic: AF_XDP mode on " << ifname << " not started (" << st.message()
                  << "); datagrams are read from the UDP sockets";
    return nullptr;
  };
  if (ifname.empty() || if_nametoindex(ifname.c_str()) == 0) {
    return fail(absl::NotFoundError(absl::StrCat("no interface ", ifname)));
  }
  auto steering = xsk::QuicSteering::load(
      {.port = port, .nworkers = static_cast<uint16_t>(workers.size()), .xsk = true});
  if (!steering.ok()) return fail(steering.status());
  auto x = std::make_shared<QuicXdp>();
  x->ifname = ifname;
  x->steering = std::shared_ptr<xsk::QuicSteering>(std::move(*steering));
  xsk::XskOptions o;
  o.ifname = ifname;
  o.workers = static_cast<uint32_t>(workers.size());
  xsk::XdpMode xdp_mode = xsk::XdpMode::kAuto;
  switch (mode) {
    case config::QuicConfig::XdpMode::kAuto:
      o.mode = xsk::BindMode::kAuto;
      break;
    case config::QuicConfig::XdpMode::kCopy:
      o.mode = xsk::BindMode::kCopy;
      break;
    case config::QuicConfig::XdpMode::kZeroCopy:
      o.mode = xsk::BindMode::kZeroCopy;
      xdp_mode = xsk::XdpMode::kNative;  // zero-copy needs the driver's XDP
      break;
  }
  auto iface = xsk::XskInterface::open(*x->steering, o, xdp_mode);
  if (!iface.ok()) return fail(iface.status());
  x->iface = std::move(*iface);
  x->zero_copy = x->iface->queues() > 0 && x->iface->queue(0).zeroCopy();
  // Last (a reuseport program attached cannot be taken off again): Initial packets and
  // unknown IDs, which XDP passes, reach the worker the ID names.
  if (absl::Status st = attachGroups(*x->steering, groups); !st.ok()) return fail(st);
  x->registrar = std::make_unique<CidRegistrar>(x->steering.get());
  for (size_t w = 0; w < workers.size(); ++w) {
    for (xsk::XskSocket* s : x->iface->socketsOf(static_cast<uint32_t>(w))) {
      workers[w]->addSource(std::make_unique<XskSource>(s));
    }
    workers[w]->setCidListener(x->registrar.get());
  }
  XLOG(WARNING) << "quic: AF_XDP mode on " << ifname << ": " << x->iface->queues()
                << " receive queues x " << workers.size() << " workers, "
                << (x->zero_copy ? "zero-copy" : "copy") << " XSKs; datagrams of known"
                << " connection IDs are read from their owner's XSK";
  return x;
}

std::shared_ptr<xsk::QuicSteering> quicXdpSteering(const QuicXdp& xdp) { return xdp.steering; }

QuicXdpWorkerCounters quicXdpWorkerCounters(const QuicXdp& xdp, uint32_t worker,
                                            const QuicStats& stats) {
  const xsk::XskStats k = xdp.iface->statsOf(worker);
  QuicXdpWorkerCounters c;
  c.placed = xdp.steering->workerStat(worker).xsk_packets;
  c.xsk = stats.xsk_in.load();
  c.not_owner = stats.xsk_not_owner.load();
  c.dropped = k.rx_dropped + k.rx_invalid_descs + k.rx_not_udp;
  c.ring_full = k.rx_ring_full;
  return c;
}

std::vector<std::pair<std::string, uint64_t>> quicXdpVerdicts(const QuicXdp& xdp) {
  const auto c = xdp.steering->counters();
  auto at = [&c](int i) { return counterAt(c, i); };
  return {{"redirect", at(XSMB_QCNT_XQ_REDIRECT_XSK)},
          {"initial", at(XSMB_QCNT_XQ_PASS_INITIAL)},
          {"unknown_cid", at(XSMB_QCNT_XQ_PASS_UNKNOWN_CID)},
          {"malformed", at(XSMB_QCNT_XQ_PASS_MALFORMED) + at(XSMB_QCNT_XQ_PASS_TRUNC) +
                            at(XSMB_QCNT_XQ_PASS_BAD_LAYOUT)},
          {"no_xsk", at(XSMB_QCNT_XQ_PASS_NO_XSK) + at(XSMB_QCNT_XQ_PASS_SOCKET)},
          {"not_quic", at(XSMB_QCNT_XQ_PASS_NOT_QUIC)}};
}

std::string quicXdpStatus(const QuicXdp& xdp, const std::vector<const QuicStats*>& workers) {
  std::string out = absl::StrCat(
      "quic xdp: interface ", xdp.ifname, xdp.zero_copy ? " (zero-copy)" : " (copy)",
      ", queues ", xdp.iface->queues(), ", packets ",
      counterAt(xdp.steering->counters(), XSMB_QCNT_XQ_PACKETS));
  // "redirected N, pass initial N, pass unknown cid N, ...": the verdicts /metrics names.
  for (const auto& [verdict, n] : quicXdpVerdicts(xdp)) {
    std::string label = verdict == "redirect" ? "redirected" : "pass " + verdict;
    std::replace(label.begin(), label.end(), '_', ' ');
    absl::StrAppend(&out, ", ", label, " ", n);
  }
  absl::StrAppend(&out, ", cid registration failures ", xdp.registrar->failures());
  for (size_t w = 0; w < workers.size(); ++w) {
    const QuicStats& s = *workers[w];
    // xsk before datagrams_in (the worker counts them the other way round): socket >= 0.
    const QuicXdpWorkerCounters k = quicXdpWorkerCounters(xdp, static_cast<uint32_t>(w), s);
    absl::StrAppend(&out, "; worker ", w, " placed ", k.placed, " xsk ", k.xsk, " not owner ",
                    k.not_owner, " socket ", s.datagrams_in.load() - k.xsk, " dropped ",
                    k.dropped, " ring full ", k.ring_full, " handshakes ", s.handshakes.load());
  }
  return out + "\n";
}

}  // namespace xsmb::transport::quic
