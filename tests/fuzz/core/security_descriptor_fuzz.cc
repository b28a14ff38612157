// Fuzzes the parser of client-supplied security descriptors (SET_INFO, the SecD create
// context): whatever parses must re-encode into a descriptor that parses to the same value, and
// the access check, inheritance and SET_INFO merge must accept it.
#include <cstdint>
#include <cstdlib>

#include "server/vfs/acl_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  using namespace xsmb::vfs::acl;
  SecurityDescriptor sd;
  if (decodeSecurityDescriptor(ByteSpan(data, size), &sd) != STATUS_SUCCESS) return 0;
  Bytes rebuilt = encodeSecurityDescriptor(sd, 0xF);
  SecurityDescriptor again;
  if (decodeSecurityDescriptor(rebuilt, &again) != STATUS_SUCCESS) abort();
  // Control bits outside the DACL/SACL groups are not re-encoded.
  again.control = sd.control;
  if (!(again == sd)) abort();
  AccessToken token = tokenForUnixIdentity(1000, 100, {100, 200}, false);
  grantedAccess(sd, token, unixUserSid(1000));
  SecurityDescriptor child = createDescriptor(&sd, &sd, token, true);
  createDescriptor(&sd, nullptr, token, false);
  mergeSecurityDescriptor(child, sd, 0xF);
  return 0;
}
