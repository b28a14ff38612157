// Input: a list of create contexts as [kind:1][length:1][data:length]..., kind picking one of the
// durable tags (or another name). Runs parseDurableContexts (MS-SMB2 2.2.13.2.3/.4/.11/.12) on
// them. Checks: success only when every durable context had its exact length and came once; what
// was read matches the bytes given.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/smb2/durable.h"

namespace {

using namespace xsmb;
using namespace xsmb::smb2;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const char* const kNames[] = {"DHnQ", "DHnC", "DH2Q", "DH2C", "MxAc", "RqLs"};
const size_t kLengths[] = {16, 16, 32, 36, 0, 0};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<CreateContext> contexts;
  bool valid = true;
  int seen[6] = {};
  size_t pos = 0;
  while (pos + 2 <= size) {
    size_t kind = data[pos] % 6;
    size_t len = std::min<size_t>(data[pos + 1], size - pos - 2);
    contexts.push_back({kNames[kind], ByteSpan(data + pos + 2, len)});
    if (kind < 4 && (len != kLengths[kind] || seen[kind]++)) valid = false;
    pos += 2 + len;
  }
  DurableContexts dc;
  NtStatus st = parseDurableContexts(contexts, &dc);
  check((st == STATUS_SUCCESS) == valid);
  if (st != STATUS_SUCCESS) return 0;
  check(dc.request_v1 == (seen[0] == 1));
  check(dc.reconnect_v1.has_value() == (seen[1] == 1));
  check(dc.request_v2.has_value() == (seen[2] == 1));
  check(dc.reconnect_v2.has_value() == (seen[3] == 1));
  bool lease = false;
  for (const CreateContext& c : contexts) lease |= c.name == "RqLs" && c.data.size() >= 32;
  check(dc.lease_key.has_value() == lease);
  for (const CreateContext& c : contexts) {
    if (c.name == "DH2Q") {
      check(std::memcmp(dc.request_v2->create_guid.data(), c.data.data() + 16, 16) == 0);
    }
    if (c.name == "DH2C") {
      uint64_t p;
      std::memcpy(&p, c.data.data(), 8);
      check(dc.reconnect_v2->file_id.persistent == p);
    }
  }
  return 0;
}
