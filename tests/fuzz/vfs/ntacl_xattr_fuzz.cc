// Fuzzes the decoder of Samba's security.NTACL xattr (an NDR xattr_NTACL, versions 1-4): the
// bytes come from disk, where anyone with root on the host (or a Samba bug) may have put them.
// What decodes must re-encode (as version 4) into a blob that decodes to the same descriptor.
#include <cstdint>
#include <cstdlib>

#include "server/vfs/acl_xattr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  using namespace xsmb::vfs::acl;
  SecurityDescriptor sd;
  NtAclBlobInfo info;
  if (decodeNtAclBlob(ByteSpan(data, size), &sd, &info) != STATUS_SUCCESS) return 0;
  Bytes blob = encodeNtAclBlob(sd, info.description, info.time);
  SecurityDescriptor again;
  if (decodeNtAclBlob(blob, &again) != STATUS_SUCCESS) abort();
  again.control = sd.control;
  if (!(again == sd)) abort();
  return 0;
}
