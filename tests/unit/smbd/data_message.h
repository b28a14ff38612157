// A raw MS-SMBD data transfer message (2.2.3) with any header fields, valid or not, for the
// tests of the codec (smbd_test), the engine (smbdirect_test) and its acceptance tests: 20
// bytes of header, little-endian, then filler up to `total` bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/bytes.h"

namespace xsmb::smbd::test {

inline Bytes dataMessage(uint16_t credits_requested, uint16_t credits_granted, uint16_t flags,
                         uint32_t remaining, uint32_t offset, uint32_t length, size_t total,
                         uint8_t fill = 0x5A) {
  ByteWriter w;
  w.u16(credits_requested);
  w.u16(credits_granted);
  w.u16(flags);
  w.u16(0);  // Reserved
  w.u32(remaining);
  w.u32(offset);
  w.u32(length);
  Bytes b = w.take();
  b.resize(total, fill);
  return b;
}

}  // namespace xsmb::smbd::test
