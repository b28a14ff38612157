// A file's NT security descriptor (MS-DTYP 2.4.6) as the handlers see it: the one stored in
// security.NTACL the way Samba's vfs_acl_xattr stores it (acl_xattr.h), else, for files that
// never had one set or inherited, one derived from the owner, group and mode
// (vfs::securityDescriptorFromStat); files written by older xsmbd versions keep theirs in
// user.xsmb.sd, which is still read. Only a stored descriptor is enforced by the NT access check
// (acl_check.h); without one the kernel's Unix permission check is the whole check.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/acl_check.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {

inline constexpr char kLegacySecurityDescriptorXattr[] = "user.xsmb.sd";

// The descriptor stored for open file `fd` (security.NTACL, user.NTACL, user.xsmb.sd), if any.
// `kind`: FdKind::kPath when `fd` is known to be an O_PATH descriptor (xattr.h).
// Whether a file with xattr names `names` may have a stored descriptor.
bool mayHaveStoredDescriptor(const XattrNames& names);
// `names_out`, when given, receives the listing of the file's xattr names made on the way.
std::optional<acl::SecurityDescriptor> storedSecurityDescriptor(int fd, FdKind kind = FdKind::kAny,
                                                                XattrNames* names_out = nullptr);
// The stored descriptor, else the one derived from `st`; owner and group filled from `st` where
// the stored one lacks them.
acl::SecurityDescriptor effectiveSecurityDescriptor(int fd, const struct stat& st, bool directory);

// The descriptor a QUERY_INFO returns for open `fd` (MS-SMB2 3.3.5.20.3): the parts
// `security_information` selects (MS-DTYP 2.4.7) of effectiveSecurityDescriptor.
Bytes querySecurityDescriptor(int fd, const struct stat& st, bool directory,
                              uint32_t security_information);
// Applies a client's SET_INFO descriptor (MS-SMB2 3.3.5.21.3) with acl::mergeSecurityDescriptor
// and stores the result. A DACL whose allow ACEs name the file's owner (S-1-22-1-uid), group
// (S-1-22-2-gid) or Everyone also sets the matching rwx bits of the mode, so Unix clients of the
// same tree see the change. Errors: STATUS_INVALID_SECURITY_DESCR, or the errno of a failed
// xattr/chmod.
NtStatus setSecurityDescriptor(int fd, const struct stat& st, bool directory,
                               uint32_t security_information, ByteSpan sd);

// MS-DTYP 2.5.3.4 for a file or directory just created as `fd` in the directory `parent_fd`:
// when the parent has a stored descriptor or the client sent one (`creator`, the SecD create
// context, MS-SMB2 2.2.13.2.2), stores acl::createDescriptor's result; otherwise stores nothing
// (the mode speaks). Errors: STATUS_INVALID_SECURITY_DESCR for a malformed `creator`, or the
// errno of a failed xattr write.
NtStatus inheritSecurityDescriptor(int parent_fd, int fd, bool directory,
                                   const acl::AccessToken& token,
                                   std::optional<ByteSpan> creator);

// What the stored descriptor of `fd` grants `token` (acl::grantedAccess), nullopt when none is
// stored.
std::optional<uint32_t> storedDescriptorAccess(int fd, const struct stat& st,
                                               const acl::AccessToken& token);

}  // namespace xsmb::vfs
