// The connection IDs this server chooses for itself (RFC 9000 5.1: an endpoint picks the IDs
// its peer puts in the Destination Connection ID of every packet it sends), in the layout the
// BPF side steers by (common/quic/cid.h, bpf/include/xsmb_quic.h): exactly 16 bytes,
//   byte 0      layout version, 0x01
//   byte 1      the owning worker's index (0..255)
//   bytes 2..15 random (GnuTLS's random generator here).
// The transport's two entry points into that codec.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/base/bytes.h"
#include "common/quic/cid.h"

namespace xsmb::transport::quic {

constexpr size_t kCidLength = ::xsmb::quic::kCidLength;
constexpr uint8_t kCidLayoutVersion = ::xsmb::quic::kCidLayoutV1;

using Cid = ::xsmb::quic::ConnectionId;
// Fills `n` bytes at `out` with random bytes.
using RandomFill = std::function<void(uint8_t* out, size_t n)>;

// A new connection ID owned by `worker`.
Cid quicCidForWorker(uint8_t worker, const RandomFill& rng);

// The worker a connection ID names: std::nullopt unless it is 16 bytes of layout 0x01.
std::optional<uint8_t> quicCidWorker(ByteSpan cid);

}  // namespace xsmb::transport::quic
