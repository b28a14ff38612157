// QUIC datagrams for the BPF tests (RFC 9000 17.2 long header, 17.3 short header) and the
// Ethernet/IP/UDP frames around them (packet_builder.h), with the UDP length filled in.
#pragma once

#include <cstdint>

#include "tests/bpf/packet_builder.h"

namespace xsmb::bpf::test {

// Long header: byte 0 = form + fixed bit + type, Version (big-endian), DCID Length, DCID,
// SCID Length 8, SCID, then 24 bytes standing for the rest (token, length, packet number).
inline Bytes LongHeader(uint8_t type, uint32_t version, const Bytes& dcid) {
  Bytes b = {static_cast<uint8_t>(0xc0 | (type << 4))};
  put32be(b, version);
  b.push_back(static_cast<uint8_t>(dcid.size()));
  b.insert(b.end(), dcid.begin(), dcid.end());
  b.push_back(8);
  b.resize(b.size() + 8 + 24, 0x5c);
  return b;
}

// Short header: byte 0 = fixed bit + key phase 0 + packet number length 1, DCID, packet
// number and 32 bytes of protected payload.
inline Bytes ShortHeader(const Bytes& dcid) {
  Bytes b = {0x40};
  b.insert(b.end(), dcid.begin(), dcid.end());
  b.resize(b.size() + 1 + 32, 0x3a);
  return b;
}

inline Bytes WithUdpPayload(Frame f, const Bytes& payload) {
  Bytes head = f.Build();
  size_t udp = head.size() - 8;
  Bytes out = f.Payload(payload).Build();
  size_t len = 8 + payload.size();
  out[udp + 4] = static_cast<uint8_t>(len >> 8);
  out[udp + 5] = static_cast<uint8_t>(len);
  return out;
}

// IPv4 10.0.0.2:40000 -> 10.0.0.1:dport with `vlans` tags (0..2) and `ip_option_words`.
inline Bytes Udp4(const Bytes& payload, int vlans = 0, uint16_t dport = 443,
                  int ip_option_words = 0) {
  Frame f;
  f.Eth();
  for (int i = 0; i < vlans; i++) f.Vlan(static_cast<uint16_t>(10 + i), i == 0 && vlans == 2 ? 0x88a8 : 0x8100);
  f.IPv4("10.0.0.2", "10.0.0.1", 17, 0x4000, 5 + ip_option_words).Udp(40000, dport);
  return WithUdpPayload(f, payload);
}

// IPv6 fd00::2:40000 -> fd00::1:dport with `vlans` tags (0..2).
inline Bytes Udp6(const Bytes& payload, int vlans = 0, uint16_t dport = 443) {
  Frame f;
  f.Eth();
  for (int i = 0; i < vlans; i++) f.Vlan(static_cast<uint16_t>(10 + i), i == 0 && vlans == 2 ? 0x88a8 : 0x8100);
  f.IPv6("fd00::2", "fd00::1", 17).Udp(40000, dport);
  return WithUdpPayload(f, payload);
}

// The same frame with the UDP Length field set to `len` (IPv4 without options or VLAN only).
inline Bytes WithUdpLength(Bytes frame, uint16_t len) {
  frame[14 + 20 + 4] = static_cast<uint8_t>(len >> 8);
  frame[14 + 20 + 5] = static_cast<uint8_t>(len);
  return frame;
}

}  // namespace xsmb::bpf::test
