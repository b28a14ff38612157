#include "server/transport/quic/quic_steering_link.h"

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "server/transport/xsk/quic_steering.h"

namespace xsmb::transport::quic {

std::shared_ptr<xsk::QuicSteering> attachQuicSteering(uint16_t port,
                                                      const std::vector<std::vector<int>>& groups) {
  const size_t nworkers = groups.empty() ? 0 : groups.front().size();
  auto steering = xsk::QuicSteering::load({.port = port, .nworkers = static_cast<uint16_t>(nworkers)});
  if (!steering.ok()) {
    XLOG(WARNING) << "quic: BPF steering not loaded (" << steering.status().message()
                  << "); datagrams are handed to their worker in userspace";
    return nullptr;
  }
  for (size_t a = 0; a < groups.size() && a < XSMB_QUIC_MAX_GROUPS; ++a) {
    if (absl::Status st = (*steering)->attachReuseport(groups[a], static_cast<uint32_t>(a));
        !st.ok()) {
      XLOG(WARNING) << "quic: BPF steering not attached (" << st.message()
                    << "); datagrams are handed to their worker in userspace";
      return nullptr;
    }
  }
  XLOG(WARNING) << "quic: datagrams steered to their worker by connection ID in the kernel"
                << " (sk_reuseport, " << nworkers << " workers)";
  return std::shared_ptr<xsk::QuicSteering>(std::move(*steering));
}

std::string quicSteeringStatus(const xsk::QuicSteering& steering,
                               const std::vector<const QuicStats*>& workers) {
  const auto c = steering.counters();
  auto at = [&c](int i) { return static_cast<size_t>(i) < c.size() ? c[i].second : 0; };
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

}  // namespace xsmb::transport::quic
