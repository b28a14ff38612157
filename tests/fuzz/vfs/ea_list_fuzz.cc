// Input: a FILE_FULL_EA_INFORMATION or FILE_GET_EA_INFORMATION buffer (MS-FSCC 2.4.15, 2.4.16),
// as SET_INFO, QUERY_INFO and the ExtA create context bring it. Checks that an accepted list
// holds only valid names and re-encodes to a list that parses to the same entries.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/vfs/ea.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xsmb::ByteSpan in(data, size);
  std::vector<xsmb::vfs::FullEa> eas;
  if (xsmb::vfs::parseFullEaList(in, &eas) == xsmb::STATUS_SUCCESS) {
    if (eas.empty()) __builtin_trap();
    for (const auto& ea : eas) {
      if (!xsmb::vfs::isValidEaName(ea.name)) __builtin_trap();
    }
    xsmb::Bytes again;
    if (xsmb::vfs::encodeFullEaList(eas, SIZE_MAX, &again) != eas.size()) __builtin_trap();
    std::vector<xsmb::vfs::FullEa> back;
    if (xsmb::vfs::parseFullEaList(again, &back) != xsmb::STATUS_SUCCESS) __builtin_trap();
    if (back.size() != eas.size()) __builtin_trap();
    for (size_t i = 0; i < eas.size(); ++i) {
      if (back[i].name != eas[i].name || back[i].value != eas[i].value) __builtin_trap();
    }
    if (xsmb::vfs::eaListSize(eas) != again.size()) __builtin_trap();
  }
  std::vector<std::string> names;
  if (xsmb::vfs::parseGetEaList(in, &names) == xsmb::STATUS_SUCCESS) {
    for (const auto& n : names) {
      if (!xsmb::vfs::isValidEaName(n)) __builtin_trap();
    }
  }
  return 0;
}
