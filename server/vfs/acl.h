// Security descriptors as values (MS-DTYP 2.4): SIDs, ACEs, ACLs and the self-relative
// SECURITY_DESCRIPTOR they travel in (QUERY_INFO / SET_INFO SMB2_0_INFO_SECURITY, the SecD create
// context, and the NDR of Samba's security.NTACL xattr, which is the same self-relative layout).
// The access check and inheritance that use them are in acl_check.h; storage in acl_xattr.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::vfs::acl {

// MS-DTYP 2.4.2.2 SID: Revision 1, SubAuthorityCount <= 15, IdentifierAuthority (48 bits,
// big-endian on the wire), SubAuthority[] (32 bits each, little-endian).
struct Sid {
  uint64_t authority = 0;
  std::vector<uint32_t> sub;
  bool operator==(const Sid&) const = default;
};

// "S-1-5-32-544" form (MS-DTYP 2.4.2.1), for logs and tests.
std::string sidToString(const Sid& sid);
// The SIDs this server names (MS-DTYP 2.4.2.4, and Samba's Unix SIDs S-1-22-1-uid / S-1-22-2-gid).
Sid everyoneSid();             // S-1-1-0
Sid creatorOwnerSid();         // S-1-3-0
Sid creatorGroupSid();         // S-1-3-1
Sid ownerRightsSid();          // S-1-3-4
Sid authenticatedUsersSid();   // S-1-5-11
Sid localSystemSid();          // S-1-5-18
Sid unixUserSid(uint32_t uid);   // S-1-22-1-uid
Sid unixGroupSid(uint32_t gid);  // S-1-22-2-gid

// MS-DTYP 2.4.4 ACE. The basic types (ACCESS_ALLOWED/DENIED, SYSTEM_AUDIT/ALARM, mandatory label:
// header, Mask, Sid) are decoded; for any other type (object and callback ACEs) `opaque` keeps
// the bytes after the 4-byte header so that it round-trips, and the access check skips it.
struct Ace {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t mask = 0;
  Sid sid;
  std::optional<Bytes> opaque;
  bool operator==(const Ace&) const = default;
};

// MS-DTYP 2.4.5 ACL: AclRevision 2 or 4, the ACEs in order.
struct Acl {
  uint8_t revision = 2;
  std::vector<Ace> aces;
  bool operator==(const Acl&) const = default;
};

// MS-DTYP 2.4.6. `control` holds the Control bits; SE_DACL_PRESENT with no `dacl` is a NULL DACL
// (everyone may do everything), SE_DACL_PRESENT with an empty `dacl` grants nothing.
struct SecurityDescriptor {
  uint16_t control = 0x8000;  // SE_SELF_RELATIVE
  std::optional<Sid> owner, group;
  std::optional<Acl> sacl, dacl;
  bool operator==(const SecurityDescriptor&) const = default;
};

// Parses a self-relative descriptor from untrusted bytes: Revision 1; every offset and size
// inside `data`; SIDs with at most 15 sub-authorities; ACL revisions 2/4 with AclSize covering
// its AceCount ACEs, each AceSize >= its fixed part. A SE_SELF_RELATIVE bit is required when
// `require_self_relative` (client input); Samba's NDR blobs may lack it.
// STATUS_INVALID_SECURITY_DESCR otherwise.
// `header_offset`: where the descriptor starts in `data`; its offsets count from the start of
// `data` (0 for SMB2; Samba's NDR blobs count them from the start of the xattr, acl_xattr.h).
NtStatus decodeSecurityDescriptor(ByteSpan data, SecurityDescriptor* out,
                                  bool require_self_relative = true, size_t header_offset = 0);
// Encodes the parts `security_information` selects (OWNER/GROUP/DACL/SACL bits, MS-DTYP 2.4.7)
// as a self-relative descriptor: 20-byte header, then owner, group, SACL, DACL. Control is
// SE_SELF_RELATIVE plus the DACL bits (PRESENT, AUTO_INHERITED, PROTECTED) when the DACL is
// selected and the SACL bits when the SACL is selected.
// `base` is added to every offset (the descriptor's own position when it is embedded in a blob
// whose offsets count from its start, as Samba's NDR does).
Bytes encodeSecurityDescriptor(const SecurityDescriptor& sd, uint32_t security_information,
                               uint32_t base = 0);
// One SID / ACL on its own (MS-DTYP 2.4.2.2 / 2.4.5), for the encoders above and tests.
void encodeSid(ByteWriter& w, const Sid& sid);
void encodeAcl(ByteWriter& w, const Acl& acl);
// Parses one SID at the reader's position; false (reader failed) when malformed.
bool decodeSid(ByteReader& r, Sid* out);

}  // namespace xsmb::vfs::acl
