// Directory lease breaks for changes made through the server (MS-SMB2 3.3.4.7; the
// ParentLeaseKey rule of 2.2.13.2.10 and 3.3.5.9.11). The handlers that create, delete, rename,
// set information on or close a written entry call these after the change; they find the
// directory holding the entry and break its leases through FileTable::breakDirectoryLeases.
// Each returns at once, without a system call, while no directory holds a lease.
#pragma once

#include <string>

#include "server/vfs/file_table.h"

namespace xsmb::vfs {

// The directory `parent_fd` (any descriptor of it, O_PATH is enough) changed.
void breakParentDirectoryLeases(FileTable& table, int parent_fd,
                                const FileTable::ParentLease& exempt);
// The entry `disk_path` ('/'-separated, relative to the share root `root_fd`; "" is the root,
// which has no parent here) changed: the directory holding it.
void breakParentDirectoryLeases(FileTable& table, int root_fd, const std::string& disk_path,
                                const FileTable::ParentLease& exempt);

}  // namespace xsmb::vfs
