#include "server/vfs/dir_lease.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace xsmb::vfs {

void breakParentDirectoryLeases(FileTable& table, int parent_fd,
                                const FileTable::ParentLease& exempt) {
  if (!table.anyDirectoryLeases()) return;
  struct stat st {};
  if (fstat(parent_fd, &st) != 0) return;
  table.breakDirectoryLeases({st.st_dev, st.st_ino}, exempt);
}

void breakParentDirectoryLeases(FileTable& table, int root_fd, const std::string& disk_path,
                                const FileTable::ParentLease& exempt) {
  if (!table.anyDirectoryLeases() || disk_path.empty()) return;
  const size_t slash = disk_path.rfind('/');
  struct stat st {};
  if (slash == std::string::npos) {
    if (fstat(root_fd, &st) != 0) return;
  } else {
    // Only the key is wanted: no descriptor is opened, and nothing is read through the path.
    const std::string dir = disk_path.substr(0, slash);
    if (fstatat(root_fd, dir.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  }
  table.breakDirectoryLeases({st.st_dev, st.st_ino}, exempt);
}

}  // namespace xsmb::vfs
