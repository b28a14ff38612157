// UserDb::parse on arbitrary bytes: must not crash; what it accepts must serialize and parse
// back to the same users.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/config/user_db.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto db = xsmb::config::UserDb::parse(text);
  if (!db.ok()) return 0;
  auto again = xsmb::config::UserDb::parse(db->serialize());
  if (!again.ok() || again->users() != db->users()) abort();
  return 0;
}
