// NT ACLs stored as Samba's vfs_acl_xattr stores them: the xattr "security.NTACL" holding an
// NDR-encoded xattr_NTACL (Samba librpc/idl/xattr.idl), so that a share moved from Samba keeps
// its permissions. Little-endian NDR32 with unique pointers:
//   uint16 version; uint16 union level (= version); uint32 referent of info
//   v1: the security_descriptor itself
//   v2: { sd referent; uint8 hash[16] }                       (hash never used)
//   v3: { sd referent; uint16 hash_type; uint8 hash[64] }
//   v4: { sd referent; uint16 hash_type; uint8 hash[64]; NUL-terminated UTF-8 description;
//         (align 4) NTTIME time as two uint32 (low, high); uint8 sys_acl_hash[64] }
//   then (align 4) the security_descriptor: the self-relative layout of MS-DTYP 2.4.6.
// Samba 4.17 writes version 4 (hash_type 1 = SHA-256) by default; xsmbd writes version 4 too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/acl.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs::acl {

inline constexpr char kNtAclXattr[] = "security.NTACL";
// Where a server that may not write the trusted "security." namespace (not root) keeps it.
inline constexpr char kNtAclUserXattr[] = "user.NTACL";

inline constexpr uint16_t kXattrSdHashTypeNone = 0;
inline constexpr uint16_t kXattrSdHashTypeSha256 = 1;
inline constexpr size_t kXattrSdHashSize = 64;

// What a decoded xattr_NTACL held besides the descriptor.
struct NtAclBlobInfo {
  uint16_t version = 0;
  uint16_t hash_type = kXattrSdHashTypeNone;
  std::string description;  // v4 only
  uint64_t time = 0;        // v4 only, NTTIME
};

// Decodes an xattr_NTACL of version 1-4 from untrusted bytes (every length and offset checked;
// the descriptor through decodeSecurityDescriptor). Hashes are read and not verified: they hash
// Samba's own mapping of the POSIX ACL, which this server does not reproduce.
// STATUS_INVALID_SECURITY_DESCR when malformed, STATUS_NOT_SUPPORTED for another version.
NtStatus decodeNtAclBlob(ByteSpan blob, SecurityDescriptor* sd, NtAclBlobInfo* info = nullptr);
// Encodes `sd` as an xattr_NTACL version 4: hash_type SHA-256 with `hash` = SHA-256 of the
// version 3 blob of `sd` with a zero hash (Samba's hash_sd_sha256 scheme, here over the stored
// descriptor itself), `description`, `nttime`, sys_acl_hash zero.
Bytes encodeNtAclBlob(const SecurityDescriptor& sd, const std::string& description,
                      uint64_t nttime);

// Reads the NT ACL of open file `fd` (an O_PATH descriptor too): security.NTACL, else
// user.NTACL. nullopt when neither exists or what is stored does not decode.
std::optional<SecurityDescriptor> readNtAcl(int fd);
// The same, asking only for the names `names` may have (a listing the caller already made).
std::optional<SecurityDescriptor> readNtAcl(int fd, const XattrNames& names, FdKind kind);
// Stores `sd` as security.NTACL (version 4), falling back to user.NTACL when the kernel refuses
// the security namespace (EPERM, not root). Returns 0 or an errno.
int writeNtAcl(int fd, const SecurityDescriptor& sd);

}  // namespace xsmb::vfs::acl
