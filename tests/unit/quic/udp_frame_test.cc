// The AF_XDP frame codec (server/transport/xsk/udp_frame.h): frames built for IPv4, IPv6 and
// with a VLAN tag parse back to the same headers and payload, their checksums verify (RFC 1071:
// the sum over a correct header/pseudo-header is all ones), every truncation is an error naming
// its layer, and frames that are not UDP over IP are refused.
#include "server/transport/xsk/udp_frame.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

namespace xsmb::xsk {
namespace {

UdpEndpoint endpoint(int family, const char* ip, uint16_t port) {
  UdpEndpoint e;
  e.family = family;
  inet_pton(family, ip, e.addr.data());
  e.port = port;
  return e;
}

UdpFrameHeader header(int family, bool vlan) {
  UdpFrameHeader h;
  h.dst_mac = {0x02, 0, 0, 0, 0, 1};
  h.src_mac = {0x02, 0, 0, 0, 0, 2};
  h.has_vlan = vlan;
  h.vlan_tci = vlan ? 42 : 0;
  h.source = endpoint(family, family == AF_INET ? "10.0.0.2" : "fd00::2", 50000);
  h.destination = endpoint(family, family == AF_INET ? "10.0.0.1" : "fd00::1", 443);
  return h;
}

Bytes build(const UdpFrameHeader& h, const Bytes& payload) {
  Bytes out(udpFrameSize(h, payload.size()));
  auto n = buildUdpFrame(h, payload, out);
  EXPECT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n.value_or(0), out.size());
  return out;
}

TEST(UdpFrame, BuiltFramesParseBackAndTheirChecksumsVerify) {
  Bytes payload(301);
  for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<uint8_t>(i * 7);
  for (int family : {AF_INET, AF_INET6}) {
    for (bool vlan : {false, true}) {
      SCOPED_TRACE(std::to_string(family) + (vlan ? " vlan" : ""));
      UdpFrameHeader h = header(family, vlan);
      Bytes f = build(h, payload);
      auto p = parseUdpFrame(f);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(p->header.source, h.source);
      EXPECT_EQ(p->header.destination, h.destination);
      EXPECT_EQ(p->header.src_mac, h.src_mac);
      EXPECT_EQ(p->header.has_vlan, vlan);
      EXPECT_EQ(p->header.vlan_tci, h.vlan_tci);
      EXPECT_EQ(Bytes(p->payload.begin(), p->payload.end()), payload);
      size_t ip = 14 + (vlan ? 4 : 0);
      size_t ip_len = family == AF_INET ? 20 : 40;
      if (family == AF_INET) EXPECT_EQ(internetChecksum(ByteSpan(f.data() + ip, 20)), 0);
      // UDP: pseudo-header (addresses, protocol, length) + datagram sums to all ones.
      Bytes pseudo;
      size_t alen = family == AF_INET ? 4 : 16;
      pseudo.insert(pseudo.end(), h.source.addr.begin(), h.source.addr.begin() + alen);
      pseudo.insert(pseudo.end(), h.destination.addr.begin(), h.destination.addr.begin() + alen);
      size_t ulen = 8 + payload.size();
      pseudo.insert(pseudo.end(), {0, 17, static_cast<uint8_t>(ulen >> 8), static_cast<uint8_t>(ulen)});
      pseudo.insert(pseudo.end(), f.begin() + ip + ip_len, f.end());
      if (pseudo.size() % 2) pseudo.push_back(0);
      EXPECT_EQ(internetChecksum(pseudo), 0);
    }
  }
}

TEST(UdpFrame, ReplySwapsEnds) {
  UdpFrameHeader h = header(AF_INET6, false);
  UdpFrameHeader r = replyHeader(h);
  EXPECT_EQ(r.source, h.destination);
  EXPECT_EQ(r.destination, h.source);
  EXPECT_EQ(r.dst_mac, h.src_mac);
  EXPECT_EQ(r.src_mac, h.dst_mac);
}

TEST(UdpFrame, EveryTruncationIsAnError) {
  for (int family : {AF_INET, AF_INET6}) {
    Bytes f = build(header(family, true), Bytes(20, 0x33));
    for (size_t n = 0; n < f.size(); n++) {
      auto p = parseUdpFrame(ByteSpan(f.data(), n));
      ASSERT_FALSE(p.ok()) << "cut at " << n;
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    }
    EXPECT_TRUE(parseUdpFrame(f).ok());
  }
}

struct Bad {
  std::string what;
  size_t offset;  // byte of an IPv4 frame without VLAN to change
  uint8_t value;
  std::string layer;
};

TEST(UdpFrame, NotUdpOverIpIsRefusedNamingTheLayer) {
  Bytes good = build(header(AF_INET, false), Bytes(20, 1));
  std::vector<Bad> cases = {
      {"ARP", 13, 0x06, "Ethernet"},        {"IPv4 version 5", 14, 0x55, "IPv4"},
      {"IHL 4", 14, 0x44, "IPv4"},          {"more fragments", 20, 0x20, "IPv4"},
      {"TCP", 23, 6, "IPv4"},               {"UDP length 7", 14 + 20 + 5, 7, "UDP"},
      {"UDP length > IP payload", 14 + 20 + 5, 200, "UDP"},
  };
  for (const Bad& b : cases) {
    Bytes f = good;
    f[b.offset] = b.value;
    auto p = parseUdpFrame(f);
    ASSERT_FALSE(p.ok()) << b.what;
    EXPECT_EQ(p.status().message().rfind(b.layer, 0), 0u) << b.what << ": " << p.status();
  }
}

TEST(UdpFrame, BuildRefusesWhatCannotBeAFrame) {
  UdpFrameHeader h = header(AF_INET, false);
  Bytes small(10);
  EXPECT_FALSE(buildUdpFrame(h, Bytes(20), small).ok());
  h.destination.family = AF_INET6;
  Bytes out(200);
  EXPECT_FALSE(buildUdpFrame(h, Bytes(20), out).ok());
  UdpFrameHeader big = header(AF_INET, false);
  Bytes huge(70000), out2(70100);
  EXPECT_FALSE(buildUdpFrame(big, huge, out2).ok());
}

}  // namespace
}  // namespace xsmb::xsk
