// Frames for the BPF tests, built layer by layer:
//   Frame().Eth().Vlan(10).IPv4("10.0.0.2", "10.0.0.1").Tcp(40000, 445, seq)
//          .NetBios(Smb2Header{...}).Build();
// Lengths (IPv4 total length, IPv6 payload length) are filled in by Build(); checksums are
// left zero (the programs do not check them).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace xsmb::bpf::test {

using Bytes = std::vector<uint8_t>;

inline void put16be(Bytes& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
inline void put32be(Bytes& b, uint32_t v) {
  put16be(b, v >> 16);
  put16be(b, v & 0xffff);
}
inline void putLe(Bytes& b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) b.push_back((v >> (8 * i)) & 0xff);
}

// MS-SMB2 2.2.1.2 SMB2 header (sync form) fields a test sets.
struct Smb2Header {
  uint16_t command = 0;
  uint64_t message_id = 0;
  uint64_t session_id = 0;
  uint32_t flags = 0;
  uint32_t status = 0;
  uint32_t next_command = 0;
  uint16_t structure_size = 64;
  uint32_t body_len = 0;  // zero bytes after the header
};

// 64-byte SMB2 header followed by body_len zero bytes.
inline Bytes Smb2(const Smb2Header& h) {
  Bytes b = {0xfe, 'S', 'M', 'B'};
  putLe(b, h.structure_size, 2);
  putLe(b, 1, 2);  // CreditCharge
  putLe(b, h.status, 4);
  putLe(b, h.command, 2);
  putLe(b, 1, 2);  // Credit
  putLe(b, h.flags, 4);
  putLe(b, h.next_command, 4);
  putLe(b, h.message_id, 8);
  putLe(b, 0, 4);  // Reserved
  putLe(b, 1, 4);  // TreeId
  putLe(b, h.session_id, 8);
  b.resize(b.size() + 16);  // Signature
  b.resize(b.size() + h.body_len);
  return b;
}

// MS-SMB2 2.2.41 TRANSFORM header (52 bytes) + ciphertext_len bytes.
inline Bytes Transform(uint64_t session_id, uint32_t ciphertext_len) {
  Bytes b = {0xfd, 'S', 'M', 'B'};
  b.resize(4 + 16 + 16, 0x5a);  // Signature, Nonce
  putLe(b, ciphertext_len, 4);  // OriginalMessageSize
  putLe(b, 0, 2);
  putLe(b, 1, 2);  // Flags: encrypted
  putLe(b, session_id, 8);
  b.resize(b.size() + ciphertext_len, 0xa5);
  return b;
}

// Related compound: each element padded to 8 bytes, NextCommand set except on the last.
inline Bytes Compound(std::vector<Smb2Header> hs) {
  Bytes out;
  for (size_t i = 0; i < hs.size(); i++) {
    Bytes one = Smb2(hs[i]);
    if (i + 1 < hs.size()) {
      one.resize((one.size() + 7) / 8 * 8);
      hs[i].next_command = static_cast<uint32_t>(one.size());
      Bytes again = Smb2(hs[i]);
      again.resize(one.size());
      one = again;
    }
    out.insert(out.end(), one.begin(), one.end());
  }
  return out;
}

// MS-SMB2 2.1 direct TCP framing: 0x00 + 24-bit big-endian length + message.
inline Bytes NetBiosFrame(const Bytes& msg, uint8_t type = 0) {
  Bytes b = {type, static_cast<uint8_t>(msg.size() >> 16), static_cast<uint8_t>(msg.size() >> 8),
             static_cast<uint8_t>(msg.size())};
  b.insert(b.end(), msg.begin(), msg.end());
  return b;
}

enum TcpFlags : uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10 };

class Frame {
 public:
  Frame& Eth(uint16_t type = 0) {
    b_.assign({0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2});
    type_at_ = b_.size();
    put16be(b_, type);
    return *this;
  }
  Frame& Vlan(uint16_t id, uint16_t tpid = 0x8100) {
    // Insert a tag: the current EtherType becomes the TPID, the tag carries the next one.
    setType(tpid);
    put16be(b_, id);
    type_at_ = b_.size();
    put16be(b_, 0);
    return *this;
  }
  Frame& IPv4(const std::string& src, const std::string& dst, uint8_t proto = 6,
              uint16_t frag = 0x4000 /* DF */, int ihl_words = 5) {
    setType(0x0800);
    l3_ = b_.size();
    v6_ = false;
    b_.push_back(0x40 | ihl_words);
    b_.push_back(0);
    put16be(b_, 0);  // total length, set by Build()
    put16be(b_, 1);
    put16be(b_, frag);
    b_.push_back(64);
    b_.push_back(proto);
    put16be(b_, 0);
    in_addr a;
    inet_pton(AF_INET, src.c_str(), &a);
    append(&a, 4);
    inet_pton(AF_INET, dst.c_str(), &a);
    append(&a, 4);
    if (ihl_words > 5) b_.resize(b_.size() + (ihl_words - 5) * 4, 1);  // options: NOPs
    return *this;
  }
  Frame& IPv6(const std::string& src, const std::string& dst, uint8_t next = 6) {
    setType(0x86dd);
    l3_ = b_.size();
    v6_ = true;
    put32be(b_, 0x60000000);
    put16be(b_, 0);  // payload length, set by Build()
    b_.push_back(next);
    b_.push_back(64);
    in6_addr a;
    inet_pton(AF_INET6, src.c_str(), &a);
    append(&a, 16);
    inet_pton(AF_INET6, dst.c_str(), &a);
    append(&a, 16);
    return *this;
  }
  // TCP header; options_words 32-bit words of options (NOPs + a timestamp when >= 3).
  Frame& Tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags = kAck | kPsh,
             int options_words = 0) {
    put16be(b_, sport);
    put16be(b_, dport);
    put32be(b_, seq);
    put32be(b_, 1);  // ack
    b_.push_back(static_cast<uint8_t>((5 + options_words) << 4));
    b_.push_back(flags);
    put16be(b_, 65535);
    put16be(b_, 0);
    put16be(b_, 0);
    if (options_words >= 3) {
      Bytes ts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
      b_.insert(b_.end(), ts.begin(), ts.end());
      b_.resize(b_.size() + (options_words - 3) * 4, 1);
    } else {
      b_.resize(b_.size() + options_words * 4, 1);
    }
    return *this;
  }
  Frame& Udp(uint16_t sport, uint16_t dport) {
    put16be(b_, sport);
    put16be(b_, dport);
    put16be(b_, 8);
    put16be(b_, 0);
    return *this;
  }
  Frame& Payload(const Bytes& p) {
    b_.insert(b_.end(), p.begin(), p.end());
    return *this;
  }
  Frame& NetBios(const Bytes& msg) { return Payload(NetBiosFrame(msg)); }
  Frame& Smb2Message(const Smb2Header& h) { return NetBios(Smb2(h)); }

  Bytes Build() const {
    Bytes out = b_;
    if (l3_ != static_cast<size_t>(-1)) {
      size_t len = out.size() - l3_;
      if (v6_) {
        len -= 40;
        out[l3_ + 4] = len >> 8;
        out[l3_ + 5] = len & 0xff;
      } else {
        out[l3_ + 2] = len >> 8;
        out[l3_ + 3] = len & 0xff;
      }
    }
    return out;
  }

 private:
  void setType(uint16_t t) {
    b_[type_at_] = t >> 8;
    b_[type_at_ + 1] = t & 0xff;
  }
  void append(const void* p, size_t n) {
    const uint8_t* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
  }
  Bytes b_;
  size_t type_at_ = 12;
  size_t l3_ = static_cast<size_t>(-1);
  bool v6_ = false;
};

}  // namespace xsmb::bpf::test
