#include "server/vfs/acl_access.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/smb2/constants.h"
#include "server/vfs/fd.h"
#include "server/vfs/meta_cache.h"
#include "server/vfs/path.h"
#include "server/vfs/security.h"

namespace xsmb::vfs {

using namespace smb2;

acl::AccessToken tokenForIdentity(const UnixIdentity& id, bool guest) {
  std::vector<uint32_t> groups(id.groups.begin(), id.groups.end());
  return acl::tokenForUnixIdentity(id.uid, id.gid, groups, guest);
}

std::optional<uint32_t> storedMaximalAccess(int parent_fd, const std::string& name,
                                            const acl::AccessToken& token, XattrNames* names,
                                            const struct statx* stx) {
  // Most files have no descriptor: one listxattr by path says so without opening the entry,
  // and none while the cache knows the inode's names.
  const meta_cache::Record* known = stx ? meta_cache::find(*stx) : nullptr;
  XattrNames listed =
      known && known->names ? *known->names : listXattrNamesAt(parent_fd, name);
  if (names) *names = listed;
  if (!mayHaveStoredDescriptor(listed)) return std::nullopt;
  UniqueFd fd(openBeneath(parent_fd, name.empty() ? "." : name.c_str(), O_PATH));
  if (!fd) return std::nullopt;
  std::optional<acl::SecurityDescriptor> sd =
      storedSecurityDescriptor(fd.get(), FdKind::kPath, names);
  if (!sd) return std::nullopt;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return std::nullopt;
  uint32_t granted = acl::grantedAccess(*sd, token, acl::unixUserSid(st.st_uid));
  granted |= FILE_READ_ATTRIBUTES;
  if (!(granted & DELETE) && !name.empty() && parentAllowsDeleteChild(parent_fd, token))
    granted |= DELETE;
  return granted;
}

NtStatus checkCreateInParent(int parent_fd, bool directory, const acl::AccessToken& token) {
  std::optional<acl::SecurityDescriptor> sd = storedSecurityDescriptor(parent_fd);
  if (!sd) return STATUS_SUCCESS;
  struct stat st {};
  if (fstat(parent_fd, &st) != 0) return STATUS_SUCCESS;
  uint32_t need = directory ? FILE_ADD_SUBDIRECTORY : FILE_ADD_FILE;
  uint32_t granted = acl::grantedAccess(*sd, token, acl::unixUserSid(st.st_uid));
  return (granted & need) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
}

bool parentAllowsDeleteChild(int parent_fd, const acl::AccessToken& token) {
  std::optional<acl::SecurityDescriptor> sd = storedSecurityDescriptor(parent_fd);
  if (!sd) return true;
  struct stat st {};
  if (fstat(parent_fd, &st) != 0) return false;
  return acl::grantedAccess(*sd, token, acl::unixUserSid(st.st_uid)) & FILE_DELETE_CHILD;
}

}  // namespace xsmb::vfs
