// What a security descriptor grants and what a new file inherits: the access check (MS-DTYP
// 2.5.3.2) against a user's SIDs, the file generic mapping (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1.1),
// CreateSecurityDescriptor / ComputeACL for a new file or directory (MS-DTYP 2.5.3.4), and the
// rules a SET_INFO of security information follows (MS-SMB2 3.3.5.21.3), all as pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "server/vfs/acl.h"

namespace xsmb::vfs::acl {

// The SIDs a session acts with (MS-DTYP 2.5.2 token): `user` first, then its groups. The server
// builds it from the session's Unix identity (tokenForUnixIdentity).
struct AccessToken {
  Sid user;
  Sid primary_group;
  std::vector<Sid> sids;  // every SID the user holds, `user` and `primary_group` included
  bool holds(const Sid& sid) const;
};

// The token of a Unix user: S-1-22-1-uid, S-1-22-2-gid for the primary group and each of
// `groups`, Everyone (S-1-1-0), and Authenticated Users (S-1-5-11) unless `guest`.
AccessToken tokenForUnixIdentity(uint32_t uid, uint32_t gid, const std::vector<uint32_t>& groups,
                                 bool guest);

// MS-DTYP 2.4.3 / MS-SMB2 2.2.13.1.1: GENERIC_READ/WRITE/EXECUTE/ALL replaced by the file
// rights they stand for (FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_GENERIC_EXECUTE,
// FILE_ALL_ACCESS); other bits unchanged.
uint32_t mapGenericFileRights(uint32_t mask);
// The same for every ACE of `acl` that is not INHERIT_ONLY (what a SET_INFO stores: MS-DTYP
// 2.5.3.4 maps the rights of effective ACEs and leaves inherit-only ones as given).
void mapGenericInAcl(Acl* acl);

// MS-DTYP 2.5.3.2 for MAXIMUM_ALLOWED: the rights `sd` grants `token`, ACEs in order (an allow
// adds the bits not yet denied, a deny removes those not yet granted; INHERIT_ONLY ACEs and ACE
// types other than ACCESS_ALLOWED/DENIED are skipped, generic bits of a mask are mapped). The
// owner (`sd.owner`, else `fallback_owner`) holds READ_CONTROL and WRITE_DAC unless the DACL
// names OWNER RIGHTS (S-1-3-4), whose ACEs then speak for the owner. No DACL at all or a NULL
// DACL grants FILE_ALL_ACCESS; an empty DACL grants only the owner's implicit rights.
uint32_t grantedAccess(const SecurityDescriptor& sd, const AccessToken& token,
                       const Sid& fallback_owner);

// MS-DTYP 2.5.3.4 CreateSecurityDescriptor for a new file (`container` = directory) under a
// parent whose descriptor is `parent`: owner and group from `creator` (the client's SecD
// descriptor, when given and holding them) or the token; the DACL from `creator` when it has
// SE_DACL_PRESENT, else the ACEs `parent`'s DACL passes on (ComputeInheritedACLFromParent: OI to
// files, CI/OI to directories with NP and IO honoured, CREATOR OWNER / CREATOR GROUP replaced by
// the new owner / group in the effective copy, generic rights mapped there, the inheritable copy
// kept as it was), else the default DACL: the owner and SYSTEM with FILE_ALL_ACCESS. A parent
// DACL with SE_DACL_AUTO_INHERITED makes the inherited ACEs INHERITED_ACE and the new DACL
// SE_DACL_AUTO_INHERITED. The SACL only from `creator`.
SecurityDescriptor createDescriptor(const SecurityDescriptor* parent,
                                    const SecurityDescriptor* creator, const AccessToken& token,
                                    bool container);

// MS-SMB2 3.3.5.21.3 / MS-DTYP 2.4.7: `current` with the parts `security_information` names
// replaced by those of `incoming`: owner and group when present; the DACL (a descriptor without
// SE_DACL_PRESENT sets a NULL DACL) with generic rights mapped and its Control bits:
// SE_DACL_PROTECTED as given, SE_DACL_AUTO_INHERITED only together with
// SE_DACL_AUTO_INHERIT_REQ (which is not kept); the SACL likewise.
SecurityDescriptor mergeSecurityDescriptor(const SecurityDescriptor& current,
                                           const SecurityDescriptor& incoming,
                                           uint32_t security_information);

}  // namespace xsmb::vfs::acl
