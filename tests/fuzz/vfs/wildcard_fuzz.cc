// Input: pattern, a NUL byte, name (no NUL: the whole input is the pattern, name "").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/vfs/path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view pattern = in.substr(0, nul);
  std::string_view name = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  bool m = xsmb::vfs::matchWildcard(pattern, name);
  // Invariants that hold for every input.
  if (!xsmb::vfs::hasWildcard(pattern) && pattern == name && !m) __builtin_trap();
  if (!xsmb::vfs::matchWildcard("*", name)) __builtin_trap();
  return 0;
}
