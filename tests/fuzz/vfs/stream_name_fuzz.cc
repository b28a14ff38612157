// Input: a CREATE name (UTF-8) or an xattr name. Checks the stream-name parser's promises
// (MS-FSCC 2.1.5.3): an accepted stream name is valid, maps to a stream xattr and back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/vfs/streams.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  xsmb::vfs::StreamPath sp;
  if (xsmb::vfs::parseStreamPath(in, &sp) == xsmb::STATUS_SUCCESS) {
    if (sp.file.find(':') != std::string::npos) __builtin_trap();
    if (sp.named()) {
      if (!xsmb::vfs::isValidStreamName(sp.stream)) __builtin_trap();
      auto back = xsmb::vfs::streamNameFromXattr(xsmb::vfs::streamXattrName(sp.stream));
      if (!back || *back != sp.stream) __builtin_trap();
    }
  }
  if (auto name = xsmb::vfs::streamNameFromXattr(in)) {
    if (!xsmb::vfs::isValidStreamName(*name)) __builtin_trap();
  }
  return 0;
}
