// Input: a "user.DOSATTRIB" xattr value (settable by any user who can write the file).
#include <cstddef>
#include <cstdint>

#include "server/vfs/attributes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = xsmb::vfs::parseDosInfo(xsmb::ByteSpan(data, size));
  if (!info) return 0;
  // Re-encoding an accepted record and parsing it again gives the same record.
  auto again = xsmb::vfs::parseDosInfo(xsmb::vfs::encodeDosInfo(*info));
  if (!again || again->attributes != info->attributes ||
      again->creation_time != info->creation_time) {
    __builtin_trap();
  }
  return 0;
}
