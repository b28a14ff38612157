// The NT access check of CREATE (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1.2.1) for files whose descriptor
// is stored (security.h): what the descriptor grants the session's token, DELETE also through
// FILE_DELETE_CHILD on the parent (MS-FSA 2.1.5.1.2.1: "the parent directory grants
// FILE_DELETE_CHILD"), and the parent's FILE_ADD_FILE / FILE_ADD_SUBDIRECTORY for a create. The
// caller intersects the result with what the kernel allows the user's Unix identity (the floor).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/smb2/ntstatus.h"
#include "server/vfs/acl_check.h"
#include "server/vfs/identity.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {

// The token of a session user: acl::tokenForUnixIdentity of its Unix identity.
acl::AccessToken tokenForIdentity(const UnixIdentity& id, bool guest);

// The rights the stored descriptor of entry `name` of directory `parent_fd` ("" = parent_fd
// itself) grants `token`, with FILE_READ_ATTRIBUTES (granted by the path, MS-FSA 2.1.5.1.2.1)
// and DELETE when the parent grants FILE_DELETE_CHILD (a parent without a stored descriptor
// leaves DELETE to the Unix check). nullopt when the entry has no stored descriptor (the Unix
// permission check then decides alone) or cannot be opened. `names`, when given, receives the
// entry's xattr names as listed for the lookup (XattrNames::complete false if none were listed),
// so that the caller need not ask for an xattr the file does not have. `stx`, when given, is the
// entry's statx (of the symlink's target for a symlink): while the look-aside cache
// (meta_cache.h) knows the names of that inode at that ctime, no listxattr is made.
std::optional<uint32_t> storedMaximalAccess(int parent_fd, const std::string& name,
                                            const acl::AccessToken& token,
                                            XattrNames* names = nullptr,
                                            const struct statx* stx = nullptr);

// MS-FSA 2.1.5.1.2 for a new entry in directory `parent_fd`: STATUS_ACCESS_DENIED when its stored
// descriptor does not grant FILE_ADD_SUBDIRECTORY (`directory`) or FILE_ADD_FILE; success
// when it grants it or no descriptor is stored (the kernel decides).
NtStatus checkCreateInParent(int parent_fd, bool directory, const acl::AccessToken& token);

// MS-FSA 2.1.5.15.12 / 2.1.5.4: whether `token` may remove an entry of directory `parent_fd`
// whose own descriptor did not grant DELETE: the parent's stored descriptor grants
// FILE_DELETE_CHILD, or none is stored.
bool parentAllowsDeleteChild(int parent_fd, const acl::AccessToken& token);

}  // namespace xsmb::vfs
