#include "server/vfs/security.h"

#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "common/smb2/constants.h"
#include "common/smb2/security_constants.h"
#include "server/vfs/acl_xattr.h"
#include "server/vfs/info.h"
#include "server/vfs/path.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {
namespace {

using namespace smb2;

constexpr uint32_t kAllParts = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                               DACL_SECURITY_INFORMATION | SACL_SECURITY_INFORMATION;

std::optional<acl::SecurityDescriptor> readLegacy(int fd, FdKind kind) {
  uint8_t buf[16 * 1024];
  ssize_t n = fdGetXattr(fd, kLegacySecurityDescriptorXattr, buf, sizeof(buf), kind);
  acl::SecurityDescriptor sd;
  if (n <= 0 || acl::decodeSecurityDescriptor(ByteSpan(buf, static_cast<size_t>(n)), &sd) !=
                    STATUS_SUCCESS) {
    return std::nullopt;
  }
  return sd;
}

acl::SecurityDescriptor derivedFromStat(const struct stat& st, bool directory) {
  Bytes b = securityDescriptorFromStat(st.st_uid, st.st_gid, st.st_mode, directory,
                                       OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                                           DACL_SECURITY_INFORMATION);
  acl::SecurityDescriptor sd;
  acl::decodeSecurityDescriptor(b, &sd);
  return sd;
}

uint32_t rwxFromMask(uint32_t mask) {
  uint32_t bits = 0;
  if (mask & FILE_READ_DATA) bits |= 4;
  if (mask & (FILE_WRITE_DATA | FILE_APPEND_DATA)) bits |= 2;
  if (mask & FILE_EXECUTE) bits |= 1;
  return bits;
}

// The mode the DACL implies for owner, group and Everyone; nullopt when it names none of them.
std::optional<mode_t> modeFromDacl(const acl::Acl& dacl, const acl::Sid& owner,
                                   const acl::Sid& group, mode_t current) {
  const acl::Sid everyone = acl::everyoneSid();
  uint32_t u = 0, g = 0, o = 0;
  bool any = false;
  for (const acl::Ace& ace : dacl.aces) {
    if (ace.opaque || ace.type != ACCESS_ALLOWED_ACE_TYPE || (ace.flags & INHERIT_ONLY_ACE))
      continue;
    uint32_t bits = rwxFromMask(acl::mapGenericFileRights(ace.mask));
    if (ace.sid == owner) u |= bits, any = true;
    if (ace.sid == group) g |= bits, any = true;
    if (ace.sid == everyone) o |= bits, any = true;
  }
  if (!any) return std::nullopt;
  return (current & ~mode_t{0777}) | (u << 6) | (g << 3) | o;
}

}  // namespace

bool mayHaveStoredDescriptor(const XattrNames& names) {
  return names.mayHave(acl::kNtAclXattr) || names.mayHave(acl::kNtAclUserXattr) ||
         names.mayHave(kLegacySecurityDescriptorXattr);
}

std::optional<acl::SecurityDescriptor> storedSecurityDescriptor(int fd, FdKind kind,
                                                                XattrNames* names_out) {
  // One listxattr instead of a getxattr per name: most files have none of them.
  XattrNames local;
  XattrNames& names = names_out ? *names_out : local;
  names = listXattrNames(fd, kind);
  if (auto sd = acl::readNtAcl(fd, names, kind)) return sd;
  if (!names.mayHave(kLegacySecurityDescriptorXattr)) return std::nullopt;
  return readLegacy(fd, kind);
}

acl::SecurityDescriptor effectiveSecurityDescriptor(int fd, const struct stat& st,
                                                    bool directory) {
  std::optional<acl::SecurityDescriptor> sd = storedSecurityDescriptor(fd);
  if (!sd) return derivedFromStat(st, directory);
  if (!sd->owner) sd->owner = acl::unixUserSid(st.st_uid);
  if (!sd->group) sd->group = acl::unixGroupSid(st.st_gid);
  return *sd;
}

Bytes querySecurityDescriptor(int fd, const struct stat& st, bool directory, uint32_t info) {
  return acl::encodeSecurityDescriptor(effectiveSecurityDescriptor(fd, st, directory), info);
}

NtStatus setSecurityDescriptor(int fd, const struct stat& st, bool directory, uint32_t info,
                               ByteSpan data) {
  acl::SecurityDescriptor incoming;
  if (NtStatus s = acl::decodeSecurityDescriptor(data, &incoming); s != STATUS_SUCCESS) return s;
  acl::SecurityDescriptor merged = acl::mergeSecurityDescriptor(
      effectiveSecurityDescriptor(fd, st, directory), incoming, info & kAllParts);
  if (int err = acl::writeNtAcl(fd, merged); err != 0) return ntStatusFromErrno(err);
  if ((info & DACL_SECURITY_INFORMATION) && merged.dacl) {
    if (auto mode = modeFromDacl(*merged.dacl, *merged.owner, acl::unixGroupSid(st.st_gid),
                                 st.st_mode)) {
      if (int err = fdChmod(fd, *mode); err != 0) return ntStatusFromErrno(err);
    }
  }
  return STATUS_SUCCESS;
}

NtStatus inheritSecurityDescriptor(int parent_fd, int fd, bool directory,
                                   const acl::AccessToken& token,
                                   std::optional<ByteSpan> creator) {
  std::optional<acl::SecurityDescriptor> parent = storedSecurityDescriptor(parent_fd);
  acl::SecurityDescriptor client;
  if (creator) {
    if (NtStatus s = acl::decodeSecurityDescriptor(*creator, &client); s != STATUS_SUCCESS)
      return s;
  }
  if (!parent && !creator) return STATUS_SUCCESS;
  acl::SecurityDescriptor sd;
  if (parent) {
    sd = acl::createDescriptor(&*parent, creator ? &client : nullptr, token, directory);
  } else {
    // No descriptor to inherit from: the parts the client left out are those the mode implies.
    struct stat st {};
    if (fstat(fd, &st) != 0) return ntStatusFromErrno(errno);
    acl::SecurityDescriptor base = derivedFromStat(st, directory);
    uint32_t info = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION;
    if (client.control & SE_DACL_PRESENT) info |= DACL_SECURITY_INFORMATION;
    if (client.control & SE_SACL_PRESENT) info |= SACL_SECURITY_INFORMATION;
    sd = acl::mergeSecurityDescriptor(base, client, info);
  }
  if (int err = acl::writeNtAcl(fd, sd); err != 0) return ntStatusFromErrno(err);
  return STATUS_SUCCESS;
}

std::optional<uint32_t> storedDescriptorAccess(int fd, const struct stat& st,
                                               const acl::AccessToken& token) {
  std::optional<acl::SecurityDescriptor> sd = storedSecurityDescriptor(fd);
  if (!sd) return std::nullopt;
  return acl::grantedAccess(*sd, token, acl::unixUserSid(st.st_uid));
}

}  // namespace xsmb::vfs
