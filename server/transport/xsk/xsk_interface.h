// The AF_XDP mode's receive side for one interface: xsmb_quic_xdp attached, and on every
// receive queue an XskQueue with one XSK per worker, each registered in the XSKMAP
// (an XSK only takes frames of its own queue, Documentation/networking/af_xdp.rst, so each
// worker needs one on every queue the NIC may put its connections' packets on).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/transport/xsk/quic_steering.h"
#include "server/transport/xsk/xsk_socket.h"

namespace xsmb::xsk {

// Receive queues of an interface (ETHTOOL_GCHANNELS: rx + combined channels, ethtool(8) -l),
// 1 when the driver does not report channels. NotFound for an unknown interface.
absl::StatusOr<uint32_t> rxQueueCount(const std::string& ifname);

class XskInterface {
 public:
  ~XskInterface();  // takes the XSKs out of the XSKMAP, closes them, detaches XDP
  XskInterface(const XskInterface&) = delete;
  XskInterface& operator=(const XskInterface&) = delete;

  // Attaches steering's XDP program to options.ifname (xdp_mode) and opens options.workers
  // XSKs on each of its receive queues (options.queue is ignored), at most
  // XSMB_QUIC_MAX_QUEUES. `steering` must outlive the result.
  static absl::StatusOr<std::unique_ptr<XskInterface>> open(QuicSteering& steering,
                                                            const XskOptions& options,
                                                            XdpMode xdp_mode = XdpMode::kAuto);

  uint32_t queues() const { return static_cast<uint32_t>(queues_.size()); }
  XskQueue& queue(uint32_t q) { return *queues_.at(q); }
  // Worker w's sockets, one per queue: the worker polls all of their fds.
  std::vector<XskSocket*> socketsOf(uint32_t worker);
  // The kernel's and this side's ring counters of worker w, summed over its queues.
  XskStats statsOf(uint32_t worker);

 private:
  XskInterface(QuicSteering& steering) : steering_(steering) {}
  QuicSteering& steering_;
  int ifindex_ = 0;
  uint32_t workers_ = 0;
  std::vector<std::unique_ptr<XskQueue>> queues_;
};

}  // namespace xsmb::xsk
