// Security descriptors set by clients (MS-SMB2 3.3.5.21.3, MS-DTYP 2.4.6): the last descriptor a
// client set is kept in the xattr "user.xsmb.sd" and returned by later queries; its DACL entries
// for the file's owner (S-1-22-1-uid or the descriptor's owner), group (S-1-22-2-gid) and
// Everyone (S-1-1-0) also set the matching rwx bits of the mode, which is what the kernel
// enforces. Other trustees and deny entries are stored and shown, not enforced.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::vfs {

inline constexpr char kSecurityDescriptorXattr[] = "user.xsmb.sd";

// The parts of a self-relative SECURITY_DESCRIPTOR, each as its own bytes.
struct SecurityDescriptorParts {
  uint16_t control = 0;
  std::optional<Bytes> owner, group;  // SIDs (MS-DTYP 2.4.2.2)
  std::optional<Bytes> sacl, dacl;    // ACLs (MS-DTYP 2.4.5)
};

// Parses untrusted self-relative descriptor bytes: revision 1, SE_SELF_RELATIVE, every offset
// and size inside the buffer, SIDs with at most 15 sub-authorities, ACL sizes consistent with
// their ACEs. STATUS_INVALID_SECURITY_DESCR otherwise.
NtStatus parseSecurityDescriptor(ByteSpan sd, SecurityDescriptorParts* out);
// Builds a self-relative descriptor holding the parts `security_information` selects
// (OWNER/GROUP/DACL/SACL bits, MS-DTYP 2.4.7).
Bytes buildSecurityDescriptor(const SecurityDescriptorParts& parts, uint32_t security_information);

// The descriptor a QUERY_INFO returns for open `fd`: the stored one, else one derived from
// owner, group and mode (vfs::securityDescriptorFromStat).
Bytes querySecurityDescriptor(int fd, const struct stat& st, bool directory,
                              uint32_t security_information);
// Applies a client's SET_INFO descriptor: the parts `security_information` names replace those
// of the current descriptor, which is stored; the DACL updates the mode as described above.
// Errors: STATUS_INVALID_SECURITY_DESCR, or the errno of a failed xattr/chmod.
NtStatus setSecurityDescriptor(int fd, const struct stat& st, bool directory,
                               uint32_t security_information, ByteSpan sd);

}  // namespace xsmb::vfs
