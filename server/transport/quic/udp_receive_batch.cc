#include "server/transport/quic/udp_receive_batch.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#ifndef UDP_GRO
#define UDP_GRO 104  // linux/udp.h (5.0)
#endif

namespace xsmb::transport::quic {

UdpReceiveBatch::UdpReceiveBatch() : data_(kMessages * kMessageBytes) {}

bool UdpReceiveBatch::enableGro(int fd) {
  const int one = 1;
  return setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

int UdpReceiveBatch::receive(int fd) {
  for (size_t i = 0; i < kMessages; ++i) {
    iov_[i] = {data_.data() + i * kMessageBytes, kMessageBytes};
    msghdr& h = msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &from_[i];
    h.msg_namelen = sizeof(from_[i]);
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = control_[i].bytes;
    h.msg_controllen = sizeof(control_[i].bytes);
  }
  received_ = 0;
  const int n = recvmmsg(fd, msgs_.data(), kMessages, MSG_DONTWAIT, nullptr);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  received_ = n;
  return n;
}

size_t UdpReceiveBatch::segmentSize(size_t i) {
  msghdr& h = msgs_[i].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof(size));
      return size > 0 ? static_cast<size_t>(size) : 0;
    }
  }
  return 0;
}

}  // namespace xsmb::transport::quic
