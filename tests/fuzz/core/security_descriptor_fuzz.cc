// Fuzzes the parser of client-supplied security descriptors (SET_INFO, the SecD create
// context): whatever parses must rebuild into a descriptor that parses to the same parts.
#include <cstdint>
#include <cstdlib>

#include "server/vfs/security.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  vfs::SecurityDescriptorParts parts;
  if (vfs::parseSecurityDescriptor(ByteSpan(data, size), &parts) != STATUS_SUCCESS) return 0;
  Bytes rebuilt = vfs::buildSecurityDescriptor(parts, 0xF);
  vfs::SecurityDescriptorParts again;
  if (vfs::parseSecurityDescriptor(rebuilt, &again) != STATUS_SUCCESS) abort();
  if (again.owner != parts.owner || again.group != parts.group || again.dacl != parts.dacl ||
      again.sacl != parts.sacl) {
    abort();
  }
  return 0;
}
