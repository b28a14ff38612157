// Socket-mode steering of SMB over QUIC in the kernel (docs/bpf.md "SMB over QUIC steering"):
// xsk::QuicSteering's sk_reuseport program gives each datagram to the UDP socket of the worker
// its Destination Connection ID names (byte 1, common/quic/cid.h), so a worker rarely sees
// another worker's datagram and QuicWorker's userspace hand-over stays the fallback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/transport/quic/quic_worker.h"

namespace xsmb::xsk {
class QuicSteering;
}

namespace xsmb::transport::quic {

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

}  // namespace xsmb::transport::quic
