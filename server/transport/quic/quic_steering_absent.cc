// Built without the BPF data plane (no xsmb_xsk): QUIC always hands datagrams over in
// userspace.
#include "common/base/log.h"
#include "server/transport/quic/quic_steering_link.h"

namespace xsmb::transport::quic {

std::shared_ptr<xsk::QuicSteering> attachQuicSteering(uint16_t,
                                                      const std::vector<std::vector<int>>&) {
  XLOG(WARNING) << "quic: BPF steering not built in; datagrams are handed to their worker in"
                   " userspace";
  return nullptr;
}

std::string quicSteeringStatus(const xsk::QuicSteering&, const std::vector<const QuicStats*>&) {
  return "";
}

class QuicXdp {};

std::shared_ptr<QuicXdp> attachQuicXdp(const std::string& ifname, config::QuicConfig::XdpMode,
                                       uint16_t, const std::vector<std::vector<int>>&,
                                       const std::vector<QuicWorker*>&) {
  XLOG(WARNING) << "quic: AF_XDP mode on " << ifname
                << " not started: built without the BPF data plane; sockets only";
  return nullptr;
}

std::shared_ptr<xsk::QuicSteering> quicXdpSteering(const QuicXdp&) { return nullptr; }

QuicXdpWorkerCounters quicXdpWorkerCounters(const QuicXdp&, uint32_t, const QuicStats&) {
  return {};
}

std::vector<std::pair<std::string, uint64_t>> quicXdpVerdicts(const QuicXdp&) { return {}; }

std::string quicXdpStatus(const QuicXdp&, const std::vector<const QuicStats*>&) { return ""; }

}  // namespace xsmb::transport::quic
