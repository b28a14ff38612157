// ChangeTime set by a client (MS-FSCC 2.4.7 FileBasicInformation, MS-FSA 2.1.5.14.2). Linux
// gives user space no way to set an inode's ctime, and Windows lets a client set ChangeTime like
// the other three times, to be reported until the file changes again. An explicitly set
// ChangeTime is kept here, in memory, with the ctime the inode had right after it was set: it is
// reported while the inode's ctime is still that value, and forgotten as soon as the file changes
// (any write, chmod, xattr or rename moves ctime on). It does not survive a restart of the
// server: then the file's ctime (the moment of the set) is reported, which is what Samba reports.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>

namespace xsmb::vfs {

// Records `nt_time` (NT time, MS-DTYP 2.3.3) as the ChangeTime of the inode (`dev`, `ino`) while
// its ctime stays `ctime`. A table entry per inode; the table holds at most kMaxChangeTimes
// entries (the oldest insertion goes first) so that it cannot grow without bound.
void recordChangeTime(uint64_t dev, uint64_t ino, const struct statx_timestamp& ctime,
                      uint64_t nt_time);
// The recorded ChangeTime of the inode if its ctime is still `ctime`; a stale entry is dropped.
std::optional<uint64_t> lookupChangeTime(uint64_t dev, uint64_t ino,
                                         const struct statx_timestamp& ctime);
inline constexpr size_t kMaxChangeTimes = 65536;

}  // namespace xsmb::vfs
