// Test-only builder for SMB2 request messages, laid out by hand from MS-SMB2 2.2.1 and 2.2.3 -
// 2.2.39 (independently of common/smb2/messages.cc), and small little-endian field readers for
// checking encoder output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::smb2::testing {

using Bytes = std::vector<uint8_t>;

// An SMB2 message under construction: the 64-byte sync header (MS-SMB2 2.2.1.2) followed by
// whatever body the test appends. Offsets are from the header start, as on the wire.
class Smb2Msg {
 public:
  explicit Smb2Msg(uint16_t command, uint64_t message_id = 7, uint32_t flags = 0) {
    put({0xFE, 'S', 'M', 'B'});
    u16(64);  // StructureSize
    u16(1);   // CreditCharge
    u32(0);   // ChannelSequence/Reserved
    u16(command);
    u16(31);  // CreditRequest
    u32(flags);
    u32(0);  // NextCommand
    u64(message_id);
    u32(0xFEFF);                 // Reserved (ProcessId)
    u32(0x11223344);             // TreeId
    u64(0x0000400000000abcULL);  // SessionId
    for (int i = 0; i < 16; ++i) b_.push_back(static_cast<uint8_t>(0xA0 + i));  // Signature
  }

  Smb2Msg& u8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Smb2Msg& u16(uint16_t v) { return le(v, 2); }
  Smb2Msg& u32(uint32_t v) { return le(v, 4); }
  Smb2Msg& u64(uint64_t v) { return le(v, 8); }
  Smb2Msg& put(std::initializer_list<uint8_t> v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Smb2Msg& put(const Bytes& v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Smb2Msg& ascii(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // ASCII-only UTF-16LE, enough for the names used here.
  Smb2Msg& utf16(std::string_view s) {
    for (char c : s) {
      b_.push_back(static_cast<uint8_t>(c));
      b_.push_back(0);
    }
    return *this;
  }
  Smb2Msg& zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  Smb2Msg& fill(size_t n, uint8_t v) {
    b_.resize(b_.size() + n, v);
    return *this;
  }
  // Zero padding until the offset from the header start is a multiple of 8.
  Smb2Msg& pad8() {
    while (b_.size() % 8) b_.push_back(0);
    return *this;
  }
  Smb2Msg& fileId(uint64_t persistent, uint64_t volatile_id) {
    return u64(persistent).u64(volatile_id);
  }
  Smb2Msg& set16(size_t off, uint16_t v) { return setLe(off, v, 2); }
  Smb2Msg& set32(size_t off, uint32_t v) { return setLe(off, v, 4); }

  size_t size() const { return b_.size(); }
  const Bytes& bytes() const { return b_; }

 private:
  Smb2Msg& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Smb2Msg& setLe(size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
    return *this;
  }
  Bytes b_;
};

inline Bytes utf16(std::string_view s) {
  Bytes out;
  for (char c : s) {
    out.push_back(static_cast<uint8_t>(c));
    out.push_back(0);
  }
  return out;
}

inline uint64_t le(const Bytes& b, size_t off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(b.at(off + i)) << (8 * i);
  return v;
}
inline uint16_t le16(const Bytes& b, size_t off) { return static_cast<uint16_t>(le(b, off, 2)); }
inline uint32_t le32(const Bytes& b, size_t off) { return static_cast<uint32_t>(le(b, off, 4)); }
inline uint64_t le64(const Bytes& b, size_t off) { return le(b, off, 8); }

}  // namespace xsmb::smb2::testing
