// QUIC connection IDs that name their owning worker, and the first bytes of a QUIC datagram
// read far enough to find the Destination Connection ID (the same steps the XDP and
// sk_reuseport programs of bpf/xsmb_quic.bpf.c take; the layout is bpf/include/xsmb_quic.h).
//
// A server-chosen connection ID (RFC 9000 5.1) is kCidLength = 16 bytes: byte 0 the layout
// version kCidLayoutV1, byte 1 the worker index, bytes 2..15 random.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "bpf/include/xsmb_quic.h"
#include "common/base/bytes.h"

namespace xsmb::quic {

constexpr size_t kCidLength = XSMB_QUIC_CID_LEN;
constexpr uint8_t kCidLayoutV1 = XSMB_QUIC_CID_LAYOUT_V1;
constexpr size_t kCidRandomLength = XSMB_QUIC_CID_RANDOM_LEN;
constexpr size_t kMaxCidLength = XSMB_QUIC_MAX_CID_LEN;  // QUIC v1, RFC 9000 17.2

using ConnectionId = std::array<uint8_t, kCidLength>;

// A connection ID for `worker` with the given 14 random bytes (tests; the layout check).
ConnectionId makeCid(uint8_t worker, const std::array<uint8_t, kCidRandomLength>& random);
// A connection ID for `worker` with 14 bytes from getrandom(2) (RFC 9000 9.5: unlinkable).
// Error only when the kernel gives no randomness.
absl::StatusOr<ConnectionId> makeCid(uint8_t worker);

// The owning worker of a server-chosen connection ID: InvalidArgument when `cid` is not
// kCidLength bytes or byte 0 is not kCidLayoutV1.
absl::StatusOr<uint8_t> cidWorker(ByteSpan cid);

// The ID as the key of the xsmb_quic_cids map (struct xsmb_quic_cid).
xsmb_quic_cid cidKey(const ConnectionId& cid);

enum class HeaderForm { kLong, kShort };  // RFC 8999 5.1 / 5.2: bit 0x80 of byte 0

// Long Packet Type (RFC 9000 17.2), meaningful for Version 1 long headers.
enum class LongType : uint8_t {
  kInitial = XSMB_QUIC_TYPE_INITIAL,
  kZeroRtt = XSMB_QUIC_TYPE_0RTT,
  kHandshake = XSMB_QUIC_TYPE_HANDSHAKE,
  kRetry = XSMB_QUIC_TYPE_RETRY,
};

// What the first packet of a datagram says about where it goes. `dcid` points into the
// datagram given to parseFirstHeader (valid while it is).
struct FirstHeader {
  HeaderForm form = HeaderForm::kShort;
  uint32_t version = 0;                // long header: Version (net order decoded); short: 0
  LongType type = LongType::kInitial;  // long header, version 1 only
  ByteSpan dcid;                       // Destination Connection ID
};

// Reads the first packet header of a UDP payload (coalesced packets, RFC 9000 12.2, all carry
// the same DCID, so the first is enough):
//  - long header (RFC 8999 5.1, RFC 9000 17.2): byte 0 with bit 0x80 set, Version (4 bytes,
//    big-endian), DCID Length (1 byte), DCID. Version 1 limits the DCID to 20 bytes; other
//    versions only to what the datagram holds (RFC 8999 allows 255). A Version Negotiation
//    packet (Version 0) is reported as such.
//  - short header (RFC 8999 5.2, RFC 9000 17.3): byte 0 with bit 0x80 clear, then a DCID of
//    `short_dcid_length` bytes (the server knows it: kCidLength).
// InvalidArgument naming the field when the datagram is empty or ends inside the header, or a
// version 1 long header has a DCID Length above 20 (RFC 9000 17.2). The Fixed Bit is not
// checked: the server advertises grease_quic_bit (RFC 9287; ngtcp2 always does), after which
// clients may clear it in Handshake and 1-RTT packets.
absl::StatusOr<FirstHeader> parseFirstHeader(ByteSpan datagram,
                                             size_t short_dcid_length = kCidLength);

// Whether a datagram whose first header is `h` can be placed by its DCID: not an Initial or
// 0-RTT packet whose DCID the client chose (RFC 9000 7.2), QUIC v1, and a DCID of our layout.
bool isPlaceable(const FirstHeader& h);

}  // namespace xsmb::quic
