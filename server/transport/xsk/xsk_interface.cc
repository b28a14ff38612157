#include "server/transport/xsk/xsk_interface.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xsmb::xsk {

absl::StatusOr<uint32_t> rxQueueCount(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ || if_nametoindex(ifname.c_str()) == 0) {
    return absl::NotFoundError(absl::StrCat("no interface ", ifname));
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  close(fd);
  if (rc != 0) return 1u;  // the driver reports no channels: one queue
  uint32_t n = ch.rx_count + ch.combined_count;
  return n == 0 ? 1u : n;
}

absl::StatusOr<std::unique_ptr<XskInterface>> XskInterface::open(QuicSteering& steering,
                                                                 const XskOptions& options,
                                                                 XdpMode xdp_mode) {
  auto n = rxQueueCount(options.ifname);
  if (!n.ok()) return n.status();
  if (*n > XSMB_QUIC_MAX_QUEUES) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.ifname, " has ", *n, " receive queues; at most 64 are steered"));
  }
  std::unique_ptr<XskInterface> x(new XskInterface(steering));
  x->ifindex_ = static_cast<int>(if_nametoindex(options.ifname.c_str()));
  x->workers_ = options.workers;
  for (uint32_t q = 0; q < *n; q++) {
    XskOptions o = options;
    o.queue = q;
    auto queue = XskQueue::open(o);
    if (!queue.ok()) return queue.status();
    for (uint32_t w = 0; w < options.workers; w++) {
      absl::Status st = steering.setXsk(q, w, (*queue)->socket(w).fd());
      if (!st.ok()) return st;
    }
    x->queues_.push_back(std::move(*queue));
  }
  // Last: no packet is redirected before every slot has its XSK.
  absl::Status st = steering.attachXdp(x->ifindex_, xdp_mode);
  if (!st.ok()) {
    x->ifindex_ = 0;
    return st;
  }
  return x;
}

XskInterface::~XskInterface() {
  if (ifindex_ != 0) steering_.detachXdp(ifindex_).IgnoreError();
  for (uint32_t q = 0; q < queues_.size(); q++) {
    for (uint32_t w = 0; w < workers_; w++) steering_.clearXsk(q, w).IgnoreError();
  }
}

std::vector<XskSocket*> XskInterface::socketsOf(uint32_t worker) {
  std::vector<XskSocket*> out;
  for (auto& q : queues_) out.push_back(&q->socket(worker));
  return out;
}

XskStats XskInterface::statsOf(uint32_t worker) {
  XskStats sum;
  for (XskSocket* s : socketsOf(worker)) {
    XskStats one = s->stats();
    sum.rx_dropped += one.rx_dropped;
    sum.rx_invalid_descs += one.rx_invalid_descs;
    sum.tx_invalid_descs += one.tx_invalid_descs;
    sum.rx_ring_full += one.rx_ring_full;
    sum.rx_fill_ring_empty += one.rx_fill_ring_empty;
    sum.tx_ring_empty += one.tx_ring_empty;
    sum.rx_datagrams += one.rx_datagrams;
    sum.rx_not_udp += one.rx_not_udp;
    sum.tx_datagrams += one.tx_datagrams;
    sum.tx_no_frame += one.tx_no_frame;
  }
  return sum;
}

}  // namespace xsmb::xsk
