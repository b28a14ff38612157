// Shared by the request decoder tests (decoder_*_test.cc): the FileId the messages carry, byte
// patterns, and storage for the bytes that expected results point into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/messages.h"

namespace xsmb::smb2::testing {

inline constexpr uint64_t kPersistent = 0x1122334455667788ULL;
inline constexpr uint64_t kVolatile = 0x99AABBCCDDEEFF00ULL;
inline const FileId kFileId{kPersistent, kVolatile};

inline Bytes pattern(size_t n, uint8_t start) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

// Storage that outlives the case tables, for expected spans.
inline const Bytes& keep(Bytes b) {
  static std::vector<Bytes>* store = [] {
    auto* v = new std::vector<Bytes>();
    v->reserve(256);
    return v;
  }();
  store->push_back(std::move(b));
  return store->back();
}

}  // namespace xsmb::smb2::testing
