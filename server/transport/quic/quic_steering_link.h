// Socket-mode steering of SMB over QUIC in the kernel (docs/bpf.md "SMB over QUIC steering"):
// xsk::QuicSteering's sk_reuseport program gives each datagram to the UDP socket of the worker
// its Destination Connection ID names (byte 1, common/quic/cid.h), so a worker rarely sees
// another worker's datagram and QuicWorker's userspace hand-over stays the fallback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/config/smb_conf_quic.h"
#include "server/transport/quic/quic_worker.h"

namespace xsmb::xsk {
class QuicSteering;
}

namespace xsmb::transport::quic {

class QuicXdp;  // the AF_XDP mode's attachment (quic_steering_link.cc)

// Loads the steering for UDP `port` (host order) and groups[0].size() workers and attaches its
// program to each reuseport group: groups[a][w] is worker w's socket on listening address a
// (the first XSMB_QUIC_MAX_GROUPS addresses get it, the others keep the kernel's hash).
// Null, after one log line, when it cannot be loaded (no CAP_BPF, verifier, built without the
// BPF data plane) or attached: the workers then hand datagrams over in userspace.
std::shared_ptr<xsk::QuicSteering> attachQuicSteering(uint16_t port,
                                                      const std::vector<std::vector<int>>& groups);

// The "quic steering (reuseport):" line of xsmbctl status: the reuseport program's verdicts and, per
// worker, datagrams read by the worker ("in"), given to it by the program ("steered") and its
// completed handshakes.
std::string quicSteeringStatus(const xsk::QuicSteering& steering,
                               const std::vector<const QuicStats*>& workers);

// The AF_XDP receive mode ("quic xdp interface", docs/quic.md): loads the steering with its
// XSK redirect on, opens one AF_XDP socket per worker on each receive queue of `ifname`
// (XskInterface, UMEM and rings through libxdp's xsk API; `mode` picks zero-copy or copy
// binding), attaches xsmb_quic_xdp to the interface and the reuseport program to `groups` (as
// attachQuicSteering: what XDP passes, Initial packets and unknown IDs, still reaches the
// right worker's socket), and gives each of `workers` (not yet started) its XSKs as
// DatagramSources and a CidListener that registers its connection IDs in the XDP program's
// map. Sending stays on the UDP sockets. Null, after one log line naming the reason (no such
// interface, another XDP program on it, no CAP_BPF / CAP_NET_RAW, zero-copy refused), when it
// cannot: the caller then falls back to socket mode. The result must outlive the workers'
// loops.
std::shared_ptr<QuicXdp> attachQuicXdp(const std::string& ifname, config::QuicConfig::XdpMode mode,
                                       uint16_t port, const std::vector<std::vector<int>>& groups,
                                       const std::vector<QuicWorker*>& workers);

// The steering an attached AF_XDP mode loaded (for the reuseport status line).
std::shared_ptr<xsk::QuicSteering> quicXdpSteering(const QuicXdp& xdp);

// One worker's AF_XDP counters (the "quic xdp:" line's fields; /metrics).
struct QuicXdpWorkerCounters {
  uint64_t placed = 0;     // redirected by XDP to the worker's XSKs (quic_wstat)
  uint64_t xsk = 0;        // read by the worker from them
  uint64_t not_owner = 0;  // read, but naming another worker
  uint64_t dropped = 0;    // kernel: no fill frame, invalid descriptors; frames not UDP
  uint64_t ring_full = 0;  // kernel: RX ring full
};
QuicXdpWorkerCounters quicXdpWorkerCounters(const QuicXdp& xdp, uint32_t worker,
                                            const QuicStats& stats);
// The XDP program's verdicts: (reason, packets) for "redirect" and each pass reason
// (initial, unknown_cid, malformed, no_xsk, not_quic).
std::vector<std::pair<std::string, uint64_t>> quicXdpVerdicts(const QuicXdp& xdp);

// The "quic xdp:" line of xsmbctl status: interface, queues, bind mode, the XDP program's
// verdicts, and per worker: "placed" (redirected by XDP to the worker's XSKs), "xsk" (read
// by the worker from them), "not owner" (read, but naming another worker), "socket" (read
// from its UDP sockets), "dropped" (kernel: no room, invalid descriptors), "ring full"
// (kernel: RX ring full), "handshakes".
std::string quicXdpStatus(const QuicXdp& xdp, const std::vector<const QuicStats*>& workers);

}  // namespace xsmb::transport::quic
