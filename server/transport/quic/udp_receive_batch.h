// The QUIC worker's batched UDP receive (RFC 9000 5.2 reads a connection's packets datagram by
// datagram; how they leave the kernel is up to us): one recvmmsg(2) takes up to kMessages
// messages, and with UDP_GRO on the socket (Linux udp(7), 5.0+) one message may carry several
// datagrams of one sender coalesced, all gso_size bytes but the last, which forEach() splits
// again. Every datagram keeps its own source address, so the real path of each (migration,
// RFC 9000 9) is what the caller sees.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"

namespace xsmb::transport::quic {

class UdpReceiveBatch {
 public:
  static constexpr size_t kMessages = 16;          // messages per recvmmsg
  static constexpr size_t kMessageBytes = 65536;  // a GRO message holds up to 64 KiB

  UdpReceiveBatch();
  UdpReceiveBatch(const UdpReceiveBatch&) = delete;
  UdpReceiveBatch& operator=(const UdpReceiveBatch&) = delete;

  // Sets UDP_GRO on `fd`; false (errno set) when the kernel refuses: its messages are then one
  // datagram each, which forEach() handles the same.
  static bool enableGro(int fd);
  // One non-blocking recvmmsg on `fd`: the number of messages received, 0 when none waited
  // (EAGAIN), -1 (errno set) on another error.
  int receive(int fd);
  // Calls f(ByteSpan datagram, const sockaddr_storage& from, socklen_t from_len) for every
  // datagram of the messages the last receive() returned, in arrival order. A message that
  // did not fit (MSG_TRUNC) is skipped and counted in truncated().
  template <class F>
  void forEach(F&& f);
  uint64_t truncated() const { return truncated_; }

 private:
  // The gso_size control message of message `i`, 0 when it has none (one datagram).
  size_t segmentSize(size_t i);

  std::vector<uint8_t> data_;  // kMessages * kMessageBytes
  std::array<mmsghdr, kMessages> msgs_{};
  std::array<iovec, kMessages> iov_{};
  std::array<sockaddr_storage, kMessages> from_{};
  struct alignas(cmsghdr) Control {
    uint8_t bytes[CMSG_SPACE(sizeof(int))];
  };
  std::array<Control, kMessages> control_{};
  int received_ = 0;
  uint64_t truncated_ = 0;
};

template <class F>
void UdpReceiveBatch::forEach(F&& f) {
  for (size_t i = 0; i < static_cast<size_t>(received_); ++i) {
    const mmsghdr& m = msgs_[i];
    if (m.msg_hdr.msg_flags & MSG_TRUNC) {
      truncated_++;
      continue;
    }
    const uint8_t* p = data_.data() + i * kMessageBytes;
    const size_t len = m.msg_len;
    const size_t seg = segmentSize(i);
    const size_t step = seg ? seg : (len ? len : 1);
    if (len == 0) f(ByteSpan(p, size_t{0}), from_[i], m.msg_hdr.msg_namelen);
    for (size_t at = 0; at < len; at += step) {
      f(ByteSpan(p + at, std::min(step, len - at)), from_[i], m.msg_hdr.msg_namelen);
    }
  }
}

}  // namespace xsmb::transport::quic
