// Shared helpers of the smb2_codec_test files.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"

namespace xsmb {
// gtest prints NTSTATUS values by name.
inline void PrintTo(NtStatus s, std::ostream* os) {
  *os << ntStatusName(s) << " (0x" << std::hex << static_cast<uint32_t>(s) << std::dec << ")";
}
namespace smb2 {
inline void PrintTo(const FileId& f, std::ostream* os) {
  *os << "{" << std::hex << f.persistent << ", " << f.volatile_id << std::dec << "}";
}
}  // namespace smb2
}  // namespace xsmb

namespace xsmb::smb2::testing {

inline Bytes toBytes(ByteSpan s) { return Bytes(s.begin(), s.end()); }

// One table row of a request decoder test. `expected` holds what a successful decode yields
// (its spans point into storage that outlives the table). `min_len` is the shortest prefix of
// `input` that still decodes to `expected` (0: the whole input, i.e. every byte is needed).
template <typename Req>
struct DecodeCase {
  std::string description;
  Bytes input;
  NtStatus status;
  Req expected;  // (no "{}": GCC 12 stops with an internal compiler error on it)
  size_t min_len = 0;
};

// Decodes each case, compares with `expected` through `same`, and for the successful ones also
// decodes every prefix of the input, each copied into its own allocation of exactly that size so
// that AddressSanitizer reports any read past it: prefixes shorter than `min_len` must fail with
// STATUS_INVALID_PARAMETER, longer ones must decode to the same result.
template <typename Req>
void runDecodeCases(const std::vector<DecodeCase<Req>>& cases,
                    const std::function<NtStatus(ByteSpan, Req*)>& decode,
                    const std::function<void(const Req&, const Req&)>& same) {
  for (const DecodeCase<Req>& c : cases) {
    SCOPED_TRACE(c.description);
    Bytes whole = c.input;
    Req got{};
    NtStatus st = decode(whole, &got);
    EXPECT_EQ(st, c.status);
    if (c.status != STATUS_SUCCESS || st != STATUS_SUCCESS) continue;
    same(got, c.expected);
    size_t min_len = c.min_len ? c.min_len : c.input.size();
    for (size_t n = 0; n < c.input.size(); ++n) {
      Bytes prefix(c.input.begin(), c.input.begin() + static_cast<ptrdiff_t>(n));
      Req r{};
      NtStatus ps = decode(prefix, &r);
      NtStatus want = n < min_len ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
      if (ps != want) {
        ADD_FAILURE() << "prefix of " << n << " of " << c.input.size() << " bytes: got "
                      << ntStatusName(ps) << ", want " << ntStatusName(want);
        break;
      }
      if (ps == STATUS_SUCCESS) {
        SCOPED_TRACE("prefix of " + std::to_string(n) + " bytes");
        same(r, c.expected);
      }
    }
  }
}

}  // namespace xsmb::smb2::testing
