// The Ethernet/IP/UDP frames an AF_XDP socket carries: reading a received frame down to the
// UDP payload, and building one around a payload to send. Untrusted input: every length is
// checked against the frame, errors name the layer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"

namespace xsmb::xsk {

// One end of a UDP flow. addr holds 4 bytes (IPv4) or 16 (IPv6), net order; port host order.
struct UdpEndpoint {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  bool operator==(const UdpEndpoint&) const = default;
};

// The headers around a UDP payload.
struct UdpFrameHeader {
  std::array<uint8_t, 6> dst_mac{}, src_mac{};  // IEEE 802.3
  bool has_vlan = false;                        // one IEEE 802.1Q tag (TPID 0x8100)
  uint16_t vlan_tci = 0;                        // host order
  UdpEndpoint source, destination;              // same family
  uint8_t hop_limit = 64;                       // IPv4 TTL / IPv6 Hop Limit
};

struct UdpFrame {
  UdpFrameHeader header;
  ByteSpan payload;  // points into the frame given to parseUdpFrame
};

// Reads Ethernet (up to two VLAN tags; the outer one is kept in has_vlan/vlan_tci), IPv4 (RFC
// 791: IHL >= 5, not a fragment) or IPv6 (RFC 8200: UDP as the Next Header, no extension
// headers), and UDP (RFC 768: Length >= 8 and within the IP payload and the frame). The
// payload is what the UDP Length says. Checksums are not verified: frames from a local veth
// peer carry partial ones (CHECKSUM_PARTIAL), and the QUIC packet protection (RFC 9001 5)
// authenticates every byte the server uses. InvalidArgument naming the layer otherwise.
absl::StatusOr<UdpFrame> parseUdpFrame(ByteSpan frame);

// Bytes of the frame buildUdpFrame writes for a payload of payload_len bytes.
size_t udpFrameSize(const UdpFrameHeader& h, size_t payload_len);

// Writes the frame (Ethernet, optional VLAN tag, IPv4 with header checksum / IPv6, UDP with its
// checksum over the pseudo-header, RFC 768 / RFC 8200 8.1) into out; returns its size.
// InvalidArgument when the families differ or are unknown, the payload exceeds what one IP
// packet carries, or out is too small.
absl::StatusOr<size_t> buildUdpFrame(const UdpFrameHeader& h, ByteSpan payload,
                                     std::span<uint8_t> out);

// The header of an answer to a frame with header h: addresses, ports and MACs swapped.
UdpFrameHeader replyHeader(const UdpFrameHeader& h);

// RFC 1071 ones'-complement sum of data, folded to 16 bits and complemented (host order).
uint16_t internetChecksum(ByteSpan data, uint32_t initial = 0);

}  // namespace xsmb::xsk
