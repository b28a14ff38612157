// A look-aside record per inode of what a file's extended attributes say, so that opening or
// querying a file whose xattrs did not change costs no xattr system call: the list of its xattr
// names (which tells whether an NT security descriptor, a DOS attribute record or a stream is
// stored at all), its DOS attribute record (attributes.h kDosInfoXattr) and the size of its EAs.
//
// Validity. Every change of an xattr (setxattr, removexattr; also chmod, chown, write, rename,
// link count) sets the inode's ctime to the current time, so a record made while the ctime was C
// is right for as long as statx still reports C. Timestamps are taken from a coarse clock (one
// tick, 1-10 ms) and truncated to the file system's granularity (up to 2 s on FAT), so a change
// made in the same tick or granule as C would leave ctime at C: a record is therefore kept only
// when C lies more than kRacyMargin before a clock read taken *before* the statx that saw C
// (git's "racily clean" rule). A file changed in the last kRacyMargin is read, not cached. File
// systems whose ctime does not move on xattr changes (some FUSE file systems) defeat this; the
// in-tree local file systems, tmpfs and overlayfs move it.
//
// A record is made only from reads known to be of the inode that the statx described: reads by
// descriptor after a statx of that descriptor, or reads by path between a statx by path and a
// statx of the descriptor then opened, when both statx agree on device, inode and ctime (a
// rename or unlink of the entry in between would have moved its ctime).
//
// Scope: one table per thread (event loops and I/O threads each keep their own, no locks),
// direct-mapped by (device, inode): a new record replaces whatever shared its slot. Memory:
// kSlots slots of 136 bytes, 136 KiB a thread, allocated when the thread first reads a file.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "server/vfs/attributes.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs::meta_cache {

inline constexpr size_t kSlots = 1024;
inline constexpr int64_t kRacyMarginNs = 2'100'000'000;  // 2.1 s: FAT's 2 s granule, one tick

// What is known of one inode while its ctime is unchanged. Each part may be unknown.
struct Record {
  std::optional<XattrNames> names;  // a complete list of the xattr names (listxattr)
  bool dos_known = false;           // `dos` was read (nullopt = no valid record stored)
  std::optional<DosInfo> dos;
  // The size of the file's EAs as FILE_FULL_EA_INFORMATION entries (ea.h eaListSize, bytes),
  // the EaSize of FileEaInformation and FileAllInformation; EAs are xattrs, so ctime guards it.
  std::optional<uint32_t> ea_size;
};

// CLOCK_REALTIME_COARSE now (vDSO, no system call): the "before" time of store().
struct timespec coarseNow();

// The record of the inode `stx` describes (STATX_INO and STATX_CTIME needed), if one was stored
// while its ctime was stx's. nullptr when none is. The pointer is valid until the next store() on
// this thread.
const Record* find(const struct statx& stx);

// Records `rec` for the inode `stx` describes, merged with what is already known for the same
// (inode, ctime); `before` is a coarseNow() read before the statx that produced `stx`. Nothing is
// stored when ctime is within kRacyMarginNs of `before` (or after it) or stx lacks the fields.
void store(const struct statx& stx, const struct timespec& before, const Record& rec);

// Whether two statx results describe the same inode with the same ctime.
bool sameInodeAndCtime(const struct statx& a, const struct statx& b);

// Counters of this thread's table, for tests and benchmarks.
struct Stats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t stores = 0;
  uint64_t racy = 0;  // store() refused: ctime too recent
};
Stats stats();
// Forgets every record of this thread's table (tests).
void clear();

}  // namespace xsmb::vfs::meta_cache
