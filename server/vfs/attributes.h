// File metadata as SMB sees it: NT times, DOS attributes (kept in a user xattr), sizes and ids,
// built from statx plus our xattr record.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {

// 100 ns intervals between 1601-01-01 and 1970-01-01 (MS-DTYP 2.3.3).
constexpr uint64_t kNtEpochOffset = 116444736000000000ULL;

// 100 ns intervals since 1601-01-01 UTC (MS-DTYP 2.3.3 FILETIME) <-> timespec. Times before
// 1601 clamp to 0.
uint64_t ntTimeFromTimespec(const struct timespec& ts);
uint64_t ntTimeFromStatx(const struct statx_timestamp& ts);
struct timespec timespecFromNtTime(uint64_t nt);
uint64_t ntTimeNow();

// What every information class is built from.
struct FileMeta {
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  uint64_t end_of_file = 0, allocation_size = 0;  // bytes; both 0 for directories (as Samba)
  uint32_t attributes = 0;                        // FILE_ATTRIBUTE_* (MS-FSCC 2.6)
  uint64_t file_id = 0;                           // inode number (FileId / IndexNumber)
  uint64_t device = 0;                            // st_dev of the filesystem holding it
  uint32_t number_of_links = 1;
  bool directory = false;
  bool delete_pending = false;
  uint32_t ea_size = 0;
};

// Name of the xattr holding the DOS information record: Samba's (smbd "store dos attributes",
// also ksmbd's), so that a share moved between them and xsmbd keeps attributes and birth times.
inline constexpr char kDosInfoXattr[] = "user.DOSATTRIB";

// The record stored in kDosInfoXattr: Samba's xattr_DOSATTRIB (librpc/idl/xattr.idl) in NDR,
// little-endian: AttribHex (NUL-terminated ASCII, "0x<hex>" in versions 1-3, "" from 4) padded
// to an even length, u16 Version, u16 Version again (the union level), padding to a multiple
// of 4 bytes, then by version
//   1: u32 Attrib, u32 EaSize, u64 Size, u64 AllocSize, u64 CreateTime, u64 ChangeTime
//   3: u32 ValidFlags, u32 Attrib, u32 EaSize, u64 Size, u64 AllocSize, u64 CreateTime,
//      u64 ChangeTime
//   4: u32 ValidFlags, u32 Attrib, u64 ITime, u64 CreateTime
//   5: u32 ValidFlags, u32 Attrib, u64 CreateTime
// (ValidFlags: 0x1 Attrib, 0x10 CreateTime.) Other versions fall back to AttribHex. Written as
// version 5 (24 bytes), which Samba 4.x writes and reads. Bytes after the record are ignored.
struct DosInfo {
  std::optional<uint32_t> attributes;
  std::optional<uint64_t> creation_time;
};
constexpr size_t kDosInfoSize = 24;  // the version 5 record written
// Parses an xattr value (untrusted: anyone with write access may set it). nullopt when it is
// cut short, its two versions differ, or (for an unknown version) AttribHex is no hex number.
std::optional<DosInfo> parseDosInfo(ByteSpan data);
Bytes encodeDosInfo(const DosInfo& info);

// Builds FileMeta from a statx result (STATX_BASIC_STATS [| STATX_BTIME]) and an optional
// record. READONLY comes from the mode (no owner write bit; regular files only: Windows does
// not enforce READONLY on directories and Explorer reads it as "customised folder"), DIRECTORY
// from the type; with no stored attributes a file reports ARCHIVE (like Samba) and a directory
// DIRECTORY only; a file whose bits end up 0 reports NORMAL. Creation time from the record, else
// statx btime, else min(mtime, ctime). Allocation size = blocks * 512.
FileMeta fileMetaFromStatx(const struct statx& stx, const std::optional<DosInfo>& dos);

// Reads statx + the kDosInfoXattr record for the open `fd` (may be O_PATH: then the xattr is
// read through "/proc/self/fd/N"; ENOTSUP/ENODATA/a malformed record mean "no record").
// Errors from errno via ntStatusFromErrno. `names`: a listing of the file's xattr names made
// just before (xattr.h); when it is complete and lacks kDosInfoXattr, the record is not asked for.
NtStatus readFileMeta(int fd, FileMeta* out, const XattrNames* names = nullptr);
// What a caller learned of a file by path before opening it as `fd` (create.cc: the path walk's
// statx, the access check's listing of xattr names), so that readFileMeta asks the kernel less.
struct PathFacts {
  struct timespec before {};          // meta_cache::coarseNow() read before `stx` was taken
  const struct statx* stx = nullptr;  // statx of the path (STATX_BASIC_STATS | STATX_BTIME)
  const XattrNames* names = nullptr;  // listed by path after `stx`, before the open (or null)
  // `fd` is the inode `stx` describes beyond doubt (the share root, reopened as "." beneath its
  // own descriptor): `stx` stands for the descriptor's statx, which is then not made again.
  bool fd_is_stx = false;
  FdKind kind = FdKind::kAny;  // kPath: `fd` is O_PATH (its xattrs are read through /proc at once)
  // Also FileMeta::ea_size (FileEaInformation, FileAllInformation): from the look-aside cache
  // while the ctime holds, else the EAs are read (ea.h readEas) and the size is cached.
  bool ea_size = false;
};
// readFileMeta with those facts: one statx of `fd` (none when fd_is_stx); the DOS record from the
// look-aside cache (meta_cache.h) when the inode's ctime did not move, else from the listing
// (when both statx agree on inode and ctime) or one getxattr; what was read is cached.
NtStatus readFileMeta(int fd, FileMeta* out, const PathFacts& facts);
// Builds meta for entry `name` of directory `dirfd` without opening it, for directory listings:
// statx(dirfd, name, AT_SYMLINK_NOFOLLOW) + lgetxattr("/proc/self/fd/<dirfd>/<name>") = two
// syscalls, no fd. A symlink is followed beneath `dirfd` (openBeneath O_PATH + readFileMeta);
// a symlink that dangles or leaves the share returns its error status (OBJECT_NAME_NOT_FOUND,
// ACCESS_DENIED, OBJECT_PATH_NOT_FOUND): the listing should skip that entry.
//
// `listing`, when given, collects what was read by path (the DOS record of entries the look-aside
// cache did not know) so that DirListing::commit can cache it.
class DirListing;
NtStatus readFileMetaAt(int dirfd, const char* name, FileMeta* out, DirListing* listing = nullptr);

// One batch of readFileMetaAt calls in directory `dirfd` (a QUERY_DIRECTORY response), whose
// reads by path are cached (meta_cache.h) only when the directory did not change meanwhile: a
// read by path is of the inode the statx of the same name saw unless the name was pointed
// elsewhere in between (a rename, unlink or create in the directory), which moves the
// directory's ctime. The directory's statx is taken before the batch (its ctime must be older
// than the racy margin) and again at commit; equal ctimes let every collected record be stored,
// each still subject to store()'s own racy rule. Costs two statx per batch, and saves the
// lgetxattr of each entry in the listings that follow.
class DirListing {
 public:
  explicit DirListing(int dirfd);
  // Stores the collected records if the directory's inode and ctime did not change.
  void commit();
  void add(const struct statx& stx, const std::optional<DosInfo>& dos);
  bool active() const { return active_; }

 private:
  // What store() needs of an entry's statx (its key: device, inode, ctime), not all 256 bytes
  // of it: a batch collects hundreds.
  struct Entry {
    uint32_t dev_major, dev_minor;
    uint64_t ino;
    struct statx_timestamp ctime;
    std::optional<DosInfo> dos;
  };
  int dirfd_;
  bool active_ = false;  // the directory's ctime was old enough: worth collecting
  struct timespec before_ {};
  struct statx dir_ {};
  std::vector<Entry> pending_;
};
// Stores DOS attributes (HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, OFFLINE, NOT_CONTENT_INDEXED) in the
// xattr, keeping SPARSE_FILE as it was, and maps READONLY onto the mode's write bits for regular files (clear all write bits when
// set; restore owner write when cleared; directories keep READONLY in the xattr only).
// attributes == 0 means "no change" (MS-FSCC 2.4.7); NORMAL alone clears everything. DIRECTORY
// and unsupported bits are ignored. On a filesystem without user xattrs only READONLY persists
// (still STATUS_SUCCESS). Needs the rights of the owner (chmod) or write access (xattr); a
// READONLY file's owner briefly gets its write bit back for the xattr write. EACCES/EPERM ->
// STATUS_ACCESS_DENIED.
NtStatus setDosAttributes(int fd, uint32_t attributes);
// Sets or clears FILE_ATTRIBUTE_SPARSE_FILE in the xattr (FSCTL_SET_SPARSE, MS-FSA 2.1.5.9.33);
// the other attributes stay. STATUS_NOT_SUPPORTED without user xattrs; EACCES/EPERM ->
// STATUS_ACCESS_DENIED.
NtStatus setSparse(int fd, bool sparse);
// Stores the creation time in the xattr (NT time; 0, -1 and -2 = no change, MS-FSCC 2.4.7).
// STATUS_NOT_SUPPORTED when the filesystem has no user xattrs; works on a READONLY file for its
// owner like setDosAttributes.
NtStatus setCreationTime(int fd, uint64_t nt_time);
// Sets access and write times (NT time; 0, -1 and -2 = no change, MS-FSCC 2.4.7) with futimens,
// or utimensat on "/proc/self/fd/N" for an O_PATH fd.
NtStatus setTimes(int fd, uint64_t last_access_nt, uint64_t last_write_nt);

// Records ChangeTime (NT time; 0, -1 and -2 = no change) for the file of `fd` as it is now
// (server/vfs/change_time.h): call it after every other change of the same SET_INFO, since each
// of them moves the inode's ctime on. Errors of statx via ntStatusFromErrno.
NtStatus setChangeTime(int fd, uint64_t nt_time);

}  // namespace xsmb::vfs
