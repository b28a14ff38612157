// Security descriptor values (MS-DTYP 2.4) as SMB2 carries them in QUERY_INFO / SET_INFO
// (SMB2_0_INFO_SECURITY) and CREATE contexts: what each part of a self-relative
// SECURITY_DESCRIPTOR selects, the descriptor Control bits, ACL revisions, ACE types and flags,
// and the well-known SIDs the server builds descriptors from. The access mask bits are in
// constants.h (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1).
#pragma once

#include <cstdint>

namespace xsmb::smb2 {

// MS-DTYP 2.4.7 SECURITY_INFORMATION: the parts of a descriptor a query or set names.
constexpr uint32_t OWNER_SECURITY_INFORMATION = 0x1;
constexpr uint32_t GROUP_SECURITY_INFORMATION = 0x2;
constexpr uint32_t DACL_SECURITY_INFORMATION = 0x4;
constexpr uint32_t SACL_SECURITY_INFORMATION = 0x8;

// MS-DTYP 2.4.6 SECURITY_DESCRIPTOR: Revision 1, then Control (these bits), then the offsets
// of Owner, Group, Sacl and Dacl.
constexpr uint8_t SECURITY_DESCRIPTOR_REVISION = 1;
constexpr uint16_t SE_OWNER_DEFAULTED = 0x0001;
constexpr uint16_t SE_GROUP_DEFAULTED = 0x0002;
constexpr uint16_t SE_DACL_PRESENT = 0x0004;
constexpr uint16_t SE_DACL_DEFAULTED = 0x0008;
constexpr uint16_t SE_SACL_PRESENT = 0x0010;
constexpr uint16_t SE_SACL_DEFAULTED = 0x0020;
constexpr uint16_t SE_DACL_AUTO_INHERITED = 0x0400;
constexpr uint16_t SE_SACL_AUTO_INHERITED = 0x0800;
constexpr uint16_t SE_DACL_PROTECTED = 0x1000;
constexpr uint16_t SE_SACL_PROTECTED = 0x2000;
constexpr uint16_t SE_SELF_RELATIVE = 0x8000;

// MS-DTYP 2.4.5 ACL AclRevision.
constexpr uint8_t ACL_REVISION = 2;     // only the basic ACE types
constexpr uint8_t ACL_REVISION_DS = 4;  // object ACE types allowed

// MS-DTYP 2.4.4.1 ACE_HEADER AceType and AceFlags.
constexpr uint8_t ACCESS_ALLOWED_ACE_TYPE = 0x00;
constexpr uint8_t ACCESS_DENIED_ACE_TYPE = 0x01;
constexpr uint8_t SYSTEM_AUDIT_ACE_TYPE = 0x02;
constexpr uint8_t OBJECT_INHERIT_ACE = 0x01;
constexpr uint8_t CONTAINER_INHERIT_ACE = 0x02;
constexpr uint8_t NO_PROPAGATE_INHERIT_ACE = 0x04;
constexpr uint8_t INHERIT_ONLY_ACE = 0x08;
constexpr uint8_t INHERITED_ACE = 0x10;

// MS-DTYP 2.4.2 SID: Revision 1, at most 15 sub-authorities, 48-bit IdentifierAuthority.
constexpr uint8_t SID_REVISION = 1;
constexpr uint8_t SID_MAX_SUB_AUTHORITIES = 15;
// MS-DTYP 2.4.2.4 well-known SIDs, as IdentifierAuthority and sub-authorities.
constexpr uint64_t SECURITY_WORLD_SID_AUTHORITY = 1;  // S-1-1
constexpr uint32_t SECURITY_WORLD_RID = 0;            // S-1-1-0: Everyone
constexpr uint64_t SECURITY_NT_AUTHORITY = 5;         // S-1-5
constexpr uint32_t SECURITY_BUILTIN_DOMAIN_RID = 32;  // S-1-5-32: BUILTIN
// Everyone (S-1-1-0) in its binary form (MS-DTYP 2.4.2.2).
inline constexpr uint8_t kEveryoneSid[12] = {1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
// Samba's Unix SIDs, which the server uses for a file's owner and group: S-1-22-1-<uid> for
// users and S-1-22-2-<gid> for groups.
constexpr uint64_t kUnixSidAuthority = 22;
constexpr uint32_t kUnixUserSidRid = 1;
constexpr uint32_t kUnixGroupSidRid = 2;

}  // namespace xsmb::smb2
