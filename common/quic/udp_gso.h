// UDP generic segmentation offload (Linux 4.18, UDP_SEGMENT): one sendmsg carries several
// datagrams of equal size `segment` (the last may be shorter) to one destination. Shared by the
// server's QUIC worker and the client tunnels (xsmb-quic-bridge, xsmb-bench).
#pragma once

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace xsmb::quic {

// The control message of a GSO send: its buffer and its size for msghdr::msg_control.
struct UdpSegmentControl {
  alignas(cmsghdr) uint8_t buf[CMSG_SPACE(sizeof(uint16_t))] = {};
};

// Points `m`'s control data at `c` and fills in UDP_SEGMENT = `segment` bytes (at most 65,535:
// a QUIC datagram is far smaller).
inline void setUdpSegment(msghdr& m, UdpSegmentControl& c, uint16_t segment) {
  m.msg_control = c.buf;
  m.msg_controllen = sizeof(c.buf);
  cmsghdr* cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = IPPROTO_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  std::memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
}

}  // namespace xsmb::quic
