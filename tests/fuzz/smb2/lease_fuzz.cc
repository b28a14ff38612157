// Input: bytes a client controls in lease requests: the data of an "RqLs" create context
// (MS-SMB2 2.2.13.2.8 / 2.2.13.2.10) and an OPLOCK_BREAK message carrying a Lease Break
// Acknowledgment (2.2.24.2). Checks: nothing is read outside the input; a context that decodes
// re-encodes (as the response would) to a context that decodes to the same key, state and epoch;
// the structure size peek never disagrees with the acknowledgment decoder.
#include <cstddef>
#include <cstdint>

#include "common/smb2/constants.h"
#include "common/smb2/lease.h"

namespace {

using namespace xsmb;
using namespace xsmb::smb2;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void contextRoundTrip(ByteSpan data, bool v2_allowed) {
  LeaseContext c;
  if (decodeLeaseContext(data, v2_allowed, &c) != STATUS_SUCCESS) {
    check(data.size() < 32);
    return;
  }
  check(c.version == 1 || (v2_allowed && c.version == 2));
  Bytes out = encodeLeaseContext(c);
  check(out.size() == (c.version == 2 ? 52u : 32u));
  LeaseContext again;
  check(decodeLeaseContext(out, v2_allowed, &again) == STATUS_SUCCESS);
  check(again.key == c.key && again.state == c.state && again.version == c.version);
  if (c.version == 2) check(again.epoch == c.epoch);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  contextRoundTrip(in, false);
  contextRoundTrip(in, true);
  LeaseBreakAck ack;
  NtStatus st = decodeLeaseBreakAck(in, &ack);
  if (st == STATUS_SUCCESS) check(oplockBreakStructureSize(in) == 36);
  if (size < kHeaderSize + 36) check(st != STATUS_SUCCESS);
  return 0;
}
