#include "server/transport/xsk/udp_frame.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace xsmb::xsk {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthVlan = 0x8100, kEthQinQ = 0x88a8;
constexpr size_t kEthHeader = 14, kVlanTag = 4, kIpv4Header = 20, kIpv6Header = 40, kUdpHeader = 8;
constexpr uint8_t kProtoUdp = 17;

absl::Status bad(const char* layer, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(layer, ": ", why));
}

uint32_t sumBytes(ByteSpan data, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += (uint32_t{data[i]} << 8) | data[i + 1];
  if (i < data.size()) sum += uint32_t{data[i]} << 8;
  return sum;
}

// Reads the IP header at r's position; fills the endpoints' addresses and the hop limit and
// returns the bytes of IP payload (the UDP datagram) the IP header announces.
absl::StatusOr<size_t> readIp(ByteReader& r, uint16_t ethertype, UdpFrameHeader* h) {
  size_t start = r.offset();
  if (ethertype == kEthIpv4) {
    uint8_t vihl = r.u8();
    r.skip(1);
    uint16_t total = r.u16be();
    r.skip(2);
    uint16_t frag = r.u16be();
    h->hop_limit = r.u8();
    uint8_t proto = r.u8();
    r.skip(2);
    ByteSpan src = r.bytes(4), dst = r.bytes(4);
    if (!r.ok()) return bad("IPv4", "header cut short");
    size_t ihl = size_t{vihl & 0x0fu} * 4;
    if ((vihl >> 4) != 4 || ihl < kIpv4Header || total < ihl) return bad("IPv4", "bad IHL or length");
    if (frag & 0x3fff) return bad("IPv4", "fragment");
    if (proto != kProtoUdp) return bad("IPv4", absl::StrCat("protocol ", proto, ", not UDP"));
    r.seek(start + ihl);
    if (!r.ok()) return bad("IPv4", "options cut short");
    h->source.family = h->destination.family = AF_INET;
    std::memcpy(h->source.addr.data(), src.data(), 4);
    std::memcpy(h->destination.addr.data(), dst.data(), 4);
    return size_t{total} - ihl;
  }
  if (ethertype == kEthIpv6) {
    uint32_t vtcfl = r.u32be();
    uint16_t payload = r.u16be();
    uint8_t next = r.u8();
    h->hop_limit = r.u8();
    ByteSpan src = r.bytes(16), dst = r.bytes(16);
    if (!r.ok()) return bad("IPv6", "header cut short");
    if ((vtcfl >> 28) != 6) return bad("IPv6", "version is not 6");
    if (next != kProtoUdp) return bad("IPv6", absl::StrCat("next header ", next, ", not UDP"));
    h->source.family = h->destination.family = AF_INET6;
    std::memcpy(h->source.addr.data(), src.data(), 16);
    std::memcpy(h->destination.addr.data(), dst.data(), 16);
    return size_t{payload};
  }
  return bad("Ethernet", absl::StrCat("EtherType 0x", absl::Hex(ethertype), " is not IP"));
}

uint32_t pseudoHeaderSum(const UdpFrameHeader& h, size_t udp_len) {
  size_t n = h.source.family == AF_INET ? 4 : 16;
  uint32_t sum = sumBytes(ByteSpan(h.source.addr.data(), n), 0);
  sum = sumBytes(ByteSpan(h.destination.addr.data(), n), sum);
  return sum + kProtoUdp + static_cast<uint32_t>(udp_len & 0xffff) +
         static_cast<uint32_t>(udp_len >> 16);
}

class Writer {
 public:
  explicit Writer(std::span<uint8_t> out) : out_(out) {}
  void u8(uint8_t v) { out_[pos_++] = v; }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void bytes(const uint8_t* p, size_t n) {
    if (n) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  size_t pos() const { return pos_; }
  uint8_t* at(size_t off) { return out_.data() + off; }

 private:
  std::span<uint8_t> out_;
  size_t pos_ = 0;
};

void put16At(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void writeIp(Writer& w, const UdpFrameHeader& h, size_t udp_len) {
  if (h.source.family == AF_INET) {
    size_t ip = w.pos();
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<uint16_t>(kIpv4Header + udp_len));
    w.u16(0);       // Identification
    w.u16(0x4000);  // DF: QUIC sets it (RFC 9000 14)
    w.u8(h.hop_limit);
    w.u8(kProtoUdp);
    w.u16(0);
    w.bytes(h.source.addr.data(), 4);
    w.bytes(h.destination.addr.data(), 4);
    put16At(w.at(ip + 10), internetChecksum(ByteSpan(w.at(ip), kIpv4Header)));
    return;
  }
  w.u32(0x60000000);
  w.u16(static_cast<uint16_t>(udp_len));
  w.u8(kProtoUdp);
  w.u8(h.hop_limit);
  w.bytes(h.source.addr.data(), 16);
  w.bytes(h.destination.addr.data(), 16);
}

}  // namespace

uint16_t internetChecksum(ByteSpan data, uint32_t initial) {
  uint64_t sum = sumBytes(data, 0) + uint64_t{initial};
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

absl::StatusOr<UdpFrame> parseUdpFrame(ByteSpan frame) {
  UdpFrame f;
  ByteReader r(frame);
  ByteSpan dst = r.bytes(6), src = r.bytes(6);
  uint16_t type = r.u16be();
  if (!r.ok()) return bad("Ethernet", "header cut short");
  std::memcpy(f.header.dst_mac.data(), dst.data(), 6);
  std::memcpy(f.header.src_mac.data(), src.data(), 6);
  for (int tags = 0; tags < 2 && (type == kEthVlan || type == kEthQinQ); tags++) {
    uint16_t tci = r.u16be();
    uint16_t inner = r.u16be();
    if (!r.ok()) return bad("VLAN", "tag cut short");
    if (tags == 0) {
      f.header.has_vlan = true;
      f.header.vlan_tci = tci;
    }
    type = inner;
  }
  auto ip_payload = readIp(r, type, &f.header);
  if (!ip_payload.ok()) return ip_payload.status();
  uint16_t sport = r.u16be(), dport = r.u16be(), ulen = r.u16be();
  r.skip(2);
  if (!r.ok()) return bad("UDP", "header cut short");
  if (ulen < kUdpHeader || ulen > *ip_payload) {
    return bad("UDP", absl::StrCat("Length ", ulen, " outside 8..", *ip_payload));
  }
  f.header.source.port = sport;
  f.header.destination.port = dport;
  f.payload = r.bytes(ulen - kUdpHeader);
  if (!r.ok()) return bad("UDP", "payload cut short by the frame's end");
  return f;
}

size_t udpFrameSize(const UdpFrameHeader& h, size_t payload_len) {
  return kEthHeader + (h.has_vlan ? kVlanTag : 0) +
         (h.source.family == AF_INET ? kIpv4Header : kIpv6Header) + kUdpHeader + payload_len;
}

absl::StatusOr<size_t> buildUdpFrame(const UdpFrameHeader& h, ByteSpan payload,
                                     std::span<uint8_t> out) {
  if (h.source.family != h.destination.family ||
      (h.source.family != AF_INET && h.source.family != AF_INET6)) {
    return absl::InvalidArgumentError("UDP frame: endpoints of different or unknown families");
  }
  size_t udp_len = kUdpHeader + payload.size();
  size_t ip_max = h.source.family == AF_INET ? 0xffff - kIpv4Header : 0xffff;
  if (udp_len > ip_max) return absl::InvalidArgumentError("UDP frame: payload too large");
  size_t size = udpFrameSize(h, payload.size());
  if (size > out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("UDP frame of ", size, " bytes does not fit in ", out.size()));
  }
  Writer w(out);
  w.bytes(h.dst_mac.data(), 6);
  w.bytes(h.src_mac.data(), 6);
  if (h.has_vlan) {
    w.u16(kEthVlan);
    w.u16(h.vlan_tci);
  }
  w.u16(h.source.family == AF_INET ? kEthIpv4 : kEthIpv6);
  writeIp(w, h, udp_len);
  size_t udp = w.pos();
  w.u16(h.source.port);
  w.u16(h.destination.port);
  w.u16(static_cast<uint16_t>(udp_len));
  w.u16(0);
  w.bytes(payload.data(), payload.size());
  uint16_t sum = internetChecksum(ByteSpan(w.at(udp), udp_len), pseudoHeaderSum(h, udp_len));
  put16At(w.at(udp + 6), sum == 0 ? 0xffff : sum);  // RFC 768: 0 means "no checksum"
  return size;
}

UdpFrameHeader replyHeader(const UdpFrameHeader& h) {
  UdpFrameHeader r = h;
  r.src_mac = h.dst_mac;
  r.dst_mac = h.src_mac;
  r.source = h.destination;
  r.destination = h.source;
  r.hop_limit = 64;
  return r;
}

}  // namespace xsmb::xsk
