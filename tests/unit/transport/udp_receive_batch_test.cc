// UdpReceiveBatch (server/transport/quic/udp_receive_batch.h) on real loopback UDP sockets:
// recvmmsg batches keep each datagram's bytes and its own sender; a UDP GSO send (UDP_SEGMENT)
// arriving as one GRO message is split back into its datagrams; an empty datagram is one
// empty datagram; nothing waiting is 0.
#include "server/transport/quic/udp_receive_batch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace xsmb::transport::quic {
namespace {

struct Received {
  Bytes data;
  uint16_t from_port;
};

int boundSocket(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// Everything waiting on `fd` (after a short wait for the first), datagram by datagram.
std::vector<Received> drain(UdpReceiveBatch& b, int fd, size_t* messages) {
  std::vector<Received> out;
  pollfd p{fd, POLLIN, 0};
  poll(&p, 1, 1000);
  *messages = 0;
  for (int n; (n = b.receive(fd)) > 0;) {
    *messages += static_cast<size_t>(n);
    b.forEach([&](ByteSpan d, const sockaddr_storage& from, socklen_t len) {
      EXPECT_EQ(len, sizeof(sockaddr_in));
      out.push_back({Bytes(d.begin(), d.end()),
                     ntohs(reinterpret_cast<const sockaddr_in&>(from).sin_port)});
    });
  }
  return out;
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

TEST(UdpReceiveBatch, BatchesKeepEachDatagramAndItsSender) {
  uint16_t rport, aport, bport;
  const int r = boundSocket(&rport), a = boundSocket(&aport), b = boundSocket(&bport);
  const sockaddr_in to = loopback(rport);
  std::vector<Received> sent;
  for (int i = 0; i < 40; ++i) {  // more than two batches, two senders interleaved
    const int from = i % 2 ? b : a;
    Bytes d = pattern(1 + static_cast<size_t>(i) * 37, static_cast<uint8_t>(i));
    ASSERT_EQ(sendto(from, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof(to)),
              static_cast<ssize_t>(d.size()));
    sent.push_back({d, i % 2 ? bport : aport});
  }
  UdpReceiveBatch batch;
  size_t messages = 0;
  const std::vector<Received> got = drain(batch, r, &messages);
  ASSERT_EQ(got.size(), sent.size());
  EXPECT_EQ(messages, sent.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].data, sent[i].data) << i;
    EXPECT_EQ(got[i].from_port, sent[i].from_port) << i;
  }
  EXPECT_EQ(batch.receive(r), 0);  // drained: EAGAIN is 0
  close(r), close(a), close(b);
}

TEST(UdpReceiveBatch, EmptyDatagramIsOneEmptyDatagram) {
  uint16_t rport, sport;
  const int r = boundSocket(&rport), s = boundSocket(&sport);
  ASSERT_TRUE(UdpReceiveBatch::enableGro(r));
  const sockaddr_in to = loopback(rport);
  ASSERT_EQ(sendto(s, "", 0, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 0);
  ASSERT_EQ(sendto(s, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 1);
  UdpReceiveBatch batch;
  size_t messages = 0;
  const std::vector<Received> got = drain(batch, r, &messages);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].data.empty());
  EXPECT_EQ(got[1].data, Bytes{'x'});
  close(r), close(s);
}

// A sender's UDP GSO batch of 10 segments of 1200 bytes and a shorter last one reaches a GRO
// socket as one message with gso_size 1200 (loopback keeps the GSO packet whole for it).
TEST(UdpReceiveBatch, GroMessageIsSplitIntoItsDatagrams) {
  uint16_t rport, sport;
  const int r = boundSocket(&rport), s = boundSocket(&sport);
  if (!UdpReceiveBatch::enableGro(r)) GTEST_SKIP() << "no UDP_GRO: " << std::strerror(errno);
  const int segment = 1200;  // the socket option takes an int, the control message a u16
  if (setsockopt(s, IPPROTO_UDP, UDP_SEGMENT, &segment, sizeof(segment)) != 0) {
    GTEST_SKIP() << "no UDP_SEGMENT: " << std::strerror(errno);
  }
  const Bytes d = pattern(10 * 1200 + 345, 3);
  const sockaddr_in to = loopback(rport);
  ASSERT_EQ(sendto(s, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(d.size()));
  UdpReceiveBatch batch;
  size_t messages = 0;
  const std::vector<Received> got = drain(batch, r, &messages);
  EXPECT_EQ(messages, 1u);
  ASSERT_EQ(got.size(), 11u);
  Bytes joined;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].data.size(), i < 10 ? 1200u : 345u) << i;
    EXPECT_EQ(got[i].from_port, sport);
    joined.insert(joined.end(), got[i].data.begin(), got[i].data.end());
  }
  EXPECT_EQ(joined, d);
  close(r), close(s);
}

}  // namespace
}  // namespace xsmb::transport::quic
