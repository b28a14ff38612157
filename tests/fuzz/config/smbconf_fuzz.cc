// parseSmbConf on arbitrary bytes: must not crash, and what it accepts must survive
// renderConfig -> parseSmbConf unchanged (share lines aside).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/config/smb_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  xsmb::config::ParseResult first = xsmb::config::parseSmbConf(text);
  if (first.hasErrors()) return 0;
  // A double quote inside a list item cannot be written back (lists use quotes for grouping).
  for (char c : text) {
    if (c == '"') return 0;
  }
  std::string rendered = xsmb::config::renderConfig(first.config);
  xsmb::config::ParseResult second = xsmb::config::parseSmbConf(rendered);
  for (auto& s : first.config.shares) s.line = 0;
  for (auto& s : second.config.shares) s.line = 0;
  if (!(first.config == second.config)) abort();
  return 0;
}
