#include "server/transport/quic/quic_cid.h"

namespace xsmb::transport::quic {

Cid quicCidForWorker(uint8_t worker, const RandomFill& rng) {
  std::array<uint8_t, ::xsmb::quic::kCidRandomLength> random{};
  rng(random.data(), random.size());
  return ::xsmb::quic::makeCid(worker, random);
}

std::optional<uint8_t> quicCidWorker(ByteSpan cid) {
  absl::StatusOr<uint8_t> w = ::xsmb::quic::cidWorker(cid);
  if (!w.ok()) return std::nullopt;
  return *w;
}

}  // namespace xsmb::transport::quic
