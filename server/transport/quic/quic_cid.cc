#include "server/transport/quic/quic_cid.h"

namespace xsmb::transport::quic {

Cid quicCidForWorker(uint8_t worker, const RandomFill& rng) {
  Cid cid{};
  cid[0] = kCidLayoutVersion;
  cid[1] = worker;
  rng(cid.data() + 2, cid.size() - 2);
  return cid;
}

std::optional<uint8_t> quicCidWorker(ByteSpan cid) {
  if (cid.size() != kCidLength || cid[0] != kCidLayoutVersion) return std::nullopt;
  return cid[1];
}

}  // namespace xsmb::transport::quic
