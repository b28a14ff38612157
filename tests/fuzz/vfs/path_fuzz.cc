// Input: an SMB path (UTF-8). Checks that every accepted component is a safe on-disk name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/vfs/path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> comps;
  xsmb::NtStatus s = xsmb::vfs::splitPath(in, &comps);
  if (s != xsmb::STATUS_SUCCESS && !comps.empty()) __builtin_trap();
  for (const std::string& c : comps) {
    if (!xsmb::vfs::isValidComponent(c)) __builtin_trap();
    if (c.find('/') != std::string::npos || c == "." || c == "..") __builtin_trap();
  }
  return 0;
}
