// Bounds-checked little-endian reader and writer for untrusted wire bytes.
// Every SMB2, NTLMSSP, SPNEGO and FSCC parser reads through ByteReader: a read
// past the end sets a sticky failure flag and returns zero, so a parser checks
// ok() once after a group of reads instead of before each one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}
  ByteReader(const uint8_t* p, size_t n) : data_(p, n) {}

  bool ok() const { return ok_; }
  size_t offset() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  ByteSpan data() const { return data_; }

  uint8_t u8() { return static_cast<uint8_t>(readLe(1)); }
  uint16_t u16() { return static_cast<uint16_t>(readLe(2)); }
  uint32_t u32() { return static_cast<uint32_t>(readLe(4)); }
  uint64_t u64() { return readLe(8); }
  uint16_t u16be() { return static_cast<uint16_t>(readBe(2)); }
  uint32_t u32be() { return static_cast<uint32_t>(readBe(4)); }

  // Returns the next n bytes (empty and failed if fewer remain).
  ByteSpan bytes(size_t n) {
    if (!need(n)) return {};
    ByteSpan s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(size_t n) { bytes(n); }
  // Moves to an absolute offset; failure if beyond the end.
  void seek(size_t off) {
    if (off > data_.size()) {
      ok_ = false;
      return;
    }
    pos_ = off;
  }
  // Bytes [off, off+len) of the whole buffer, or empty + failure when out of range.
  ByteSpan slice(size_t off, size_t len) {
    if (off > data_.size() || len > data_.size() - off) {
      ok_ = false;
      return {};
    }
    return data_.subspan(off, len);
  }
  void fail() { ok_ = false; }

 private:
  bool need(size_t n) {
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }
  uint64_t readLe(size_t n) {
    if (!need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  uint64_t readBe(size_t n) {
    if (!need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  ByteSpan data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Appends little-endian values to a growable buffer; patch*() rewrite fields
// whose value is known only later (lengths, offsets).
class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(Bytes* out) : out_(out) {}

  size_t size() const { return buf().size(); }
  Bytes& buf() { return out_ ? *out_ : own_; }
  const Bytes& buf() const { return out_ ? *out_ : own_; }
  Bytes take() { return std::move(buf()); }

  void u8(uint8_t v) { buf().push_back(v); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void u16be(uint16_t v) { be(v, 2); }
  void u32be(uint32_t v) { be(v, 4); }
  void bytes(ByteSpan s) { buf().insert(buf().end(), s.begin(), s.end()); }
  void bytes(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    buf().insert(buf().end(), b, b + n);
  }
  void zeros(size_t n) { buf().resize(buf().size() + n, 0); }
  // Pads with zeros until size() is a multiple of `align`.
  void align(size_t a) {
    while (buf().size() % a) buf().push_back(0);
  }

  void patchU16(size_t off, uint16_t v) { patch(off, v, 2); }
  void patchU32(size_t off, uint32_t v) { patch(off, v, 4); }
  void patchU64(size_t off, uint64_t v) { patch(off, v, 8); }

 private:
  // One resize per value, not one push_back (and capacity check) per byte: these run for every
  // header field of every response.
  void le(uint64_t v, size_t n) {
    Bytes& b = buf();
    size_t at = b.size();
    b.resize(at + n);
    for (size_t i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void be(uint64_t v, size_t n) {
    Bytes& b = buf();
    size_t at = b.size();
    b.resize(at + n);
    for (size_t i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
  }
  void patch(size_t off, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) buf()[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }

  Bytes* out_ = nullptr;
  Bytes own_;
};

inline uint16_t loadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t loadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t loadU64(const uint8_t* p) {
  return static_cast<uint64_t>(loadU32(p)) | (static_cast<uint64_t>(loadU32(p + 4)) << 32);
}
inline void storeU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void storeU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void storeU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace xsmb
