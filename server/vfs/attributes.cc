#include "server/vfs/attributes.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/smb2/constants.h"
#include "server/vfs/change_time.h"
#include "server/vfs/ea.h"
#include "server/vfs/meta_cache.h"
#include "server/vfs/path.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {
namespace {

using namespace xsmb::smb2;

constexpr uint64_t kTicksPerSecond = 10000000;
constexpr int64_t kEpochSeconds = 11644473600;  // 1601 -> 1970
constexpr uint16_t kDosInfoVersion = 5;
constexpr uint32_t kValidAttrib = 0x1;       // XATTR_DOSINFO_ATTRIB
constexpr uint32_t kValidCreateTime = 0x10;  // XATTR_DOSINFO_CREATE_TIME

// Bits we keep in the xattr; the rest are derived (DIRECTORY, READONLY of files) or are not
// implemented (COMPRESSED, REPARSE_POINT, ENCRYPTED). SPARSE_FILE is set by FSCTL_SET_SPARSE
// only (setSparse); FileBasicInformation neither sets nor clears it (MS-FSA 2.1.5.14.2).
constexpr uint32_t kStoredAttributes = FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN |
                                       FILE_ATTRIBUTE_SYSTEM | FILE_ATTRIBUTE_ARCHIVE |
                                       FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE |
                                       FILE_ATTRIBUTE_NOT_CONTENT_INDEXED |
                                       FILE_ATTRIBUTE_SPARSE_FILE;

uint64_t ntTimeFromParts(int64_t sec, uint32_t nsec) {
  if (sec < -kEpochSeconds) return 0;
  return static_cast<uint64_t>(sec + kEpochSeconds) * kTicksPerSecond + nsec / 100;
}

// Reads the record of an open fd; O_PATH fds refuse f*xattr with EBADF, so go through /proc.
// `*definite` (if given) says whether the answer is the file's (a record, a malformed one, or
// none stored) rather than a failure to read it (EACCES, EIO, ...), which must not be cached.
std::optional<DosInfo> readDosInfoFd(int fd, bool* definite = nullptr,
                                     FdKind kind = FdKind::kAny) {
  uint8_t buf[64];
  ssize_t n = fdGetXattr(fd, kDosInfoXattr, buf, sizeof(buf), kind);
  if (definite) *definite = n >= 0 || errno == ENODATA || errno == ENOTSUP;
  if (n < 0) return std::nullopt;
  return parseDosInfo(ByteSpan(buf, static_cast<size_t>(n)));
}

int setXattrOnce(int fd, const Bytes& rec) {
  return fdSetXattr(fd, kDosInfoXattr, rec.data(), rec.size(), 0) == 0 ? 0 : errno;
}

// 0 on success, else errno. Writing a user xattr needs write permission, which a READONLY file
// (no write bits) lacks for anyone but root; Windows still lets its owner change attributes and
// times, so the owner's write bit is lent for the write and taken back.
int writeDosInfoFd(int fd, const DosInfo& info) {
  Bytes rec = encodeDosInfo(info);
  int err = setXattrOnce(fd, rec);
  if (err != EACCES) return err;
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MODE, &stx) != 0 || (stx.stx_mode & S_IWUSR)) return err;
  const mode_t mode = stx.stx_mode & 07777;
  if (fdChmod(fd, mode | S_IWUSR) != 0) return err;  // not the owner
  err = setXattrOnce(fd, rec);
  fdChmod(fd, mode);
  return err;
}

bool isXattrUnsupported(int err) { return err == ENOTSUP || err == EOPNOTSUPP; }

int statxFd(int fd, struct statx* stx) {
  return statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, stx);
}

// A ChangeTime the client set, while the file has not changed since (server/vfs/change_time.h).
void applyChangeTime(const struct statx& stx, FileMeta* m) {
  if (auto ct = lookupChangeTime(m->device, m->file_id, stx.stx_ctime)) m->change_time = *ct;
}

}  // namespace

uint64_t ntTimeFromTimespec(const struct timespec& ts) {
  return ntTimeFromParts(ts.tv_sec, static_cast<uint32_t>(ts.tv_nsec));
}

uint64_t ntTimeFromStatx(const struct statx_timestamp& ts) {
  return ntTimeFromParts(ts.tv_sec, ts.tv_nsec);
}

struct timespec timespecFromNtTime(uint64_t nt) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(static_cast<int64_t>(nt / kTicksPerSecond) - kEpochSeconds);
  ts.tv_nsec = static_cast<long>((nt % kTicksPerSecond) * 100);
  return ts;
}

uint64_t ntTimeNow() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ntTimeFromTimespec(ts);
}

std::optional<DosInfo> parseDosInfo(ByteSpan data) {
  const auto nul = std::find(data.begin(), data.end(), uint8_t{0});
  if (nul == data.end()) return std::nullopt;
  const std::string hex(data.begin(), nul);
  ByteReader r(data);
  r.skip((hex.size() + 2) & ~size_t{1});  // the string, its NUL, padding to even
  const uint16_t version = r.u16();
  const uint16_t level = r.u16();
  r.skip((4 - r.offset() % 4) % 4);  // NDR aligns the union's body to 4
  if (!r.ok() || level != version) return std::nullopt;
  DosInfo info;
  uint32_t valid = kValidAttrib | kValidCreateTime;  // version 1 has no ValidFlags
  uint32_t attrib = 0;
  uint64_t create = 0;
  switch (version) {
    case 1:
      attrib = r.u32();
      r.skip(4 + 8 + 8);  // EaSize, Size, AllocSize
      create = r.u64();
      break;
    case 3:
      valid = r.u32();
      attrib = r.u32();
      r.skip(4 + 8 + 8);
      create = r.u64();
      break;
    case 4:
      valid = r.u32();
      attrib = r.u32();
      r.skip(8);  // ITime
      create = r.u64();
      break;
    case 5:
      valid = r.u32();
      attrib = r.u32();
      create = r.u64();
      break;
    default: {  // a version we do not know: the attributes in AttribHex, if any
      char* end = nullptr;
      if (hex.size() < 3 || hex.compare(0, 2, "0x") != 0) return std::nullopt;
      const unsigned long v = std::strtoul(hex.c_str() + 2, &end, 16);
      if (*end != '\0') return std::nullopt;
      info.attributes = static_cast<uint32_t>(v) & kStoredAttributes;
      return info;
    }
  }
  if (!r.ok()) return std::nullopt;
  if (valid & kValidAttrib) info.attributes = attrib & kStoredAttributes;
  if ((valid & kValidCreateTime) && create != 0) info.creation_time = create;
  return info;
}

Bytes encodeDosInfo(const DosInfo& info) {
  ByteWriter w;
  w.u16(0);  // AttribHex "" and its padding
  w.u16(kDosInfoVersion);
  w.u16(kDosInfoVersion);  // the union level
  w.u16(0);                // padding to 4
  w.u32((info.attributes ? kValidAttrib : 0) | (info.creation_time ? kValidCreateTime : 0));
  w.u32(info.attributes.value_or(0) & kStoredAttributes);
  w.u64(info.creation_time.value_or(0));
  return w.take();
}

FileMeta fileMetaFromStatx(const struct statx& stx, const std::optional<DosInfo>& dos) {
  FileMeta m;
  const bool dir = S_ISDIR(stx.stx_mode);
  m.directory = dir;
  m.file_id = stx.stx_ino;
  m.device = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  m.number_of_links = stx.stx_nlink;
  m.last_access_time = ntTimeFromStatx(stx.stx_atime);
  m.last_write_time = ntTimeFromStatx(stx.stx_mtime);
  m.change_time = ntTimeFromStatx(stx.stx_ctime);
  if (dos && dos->creation_time) {
    m.creation_time = *dos->creation_time;
  } else if ((stx.stx_mask & STATX_BTIME) && (stx.stx_btime.tv_sec || stx.stx_btime.tv_nsec)) {
    m.creation_time = ntTimeFromStatx(stx.stx_btime);
  } else {
    m.creation_time = std::min(m.last_write_time, m.change_time);
  }
  if (!dir) {
    m.end_of_file = stx.stx_size;
    m.allocation_size = stx.stx_blocks * 512;
  }
  uint32_t attrs = 0;
  if (dos && dos->attributes) {
    attrs = *dos->attributes;
  } else if (!dir) {
    attrs = FILE_ATTRIBUTE_ARCHIVE;
  }
  if (dir) {
    attrs |= FILE_ATTRIBUTE_DIRECTORY;
  } else {
    attrs &= ~FILE_ATTRIBUTE_READONLY;
    if (!(stx.stx_mode & S_IWUSR)) attrs |= FILE_ATTRIBUTE_READONLY;
    if (attrs == 0) attrs = FILE_ATTRIBUTE_NORMAL;
  }
  m.attributes = attrs;
  return m;
}

NtStatus readFileMeta(int fd, FileMeta* out, const XattrNames* names) {
  PathFacts facts;
  facts.before = meta_cache::coarseNow();
  facts.names = names;
  return readFileMeta(fd, out, facts);
}

NtStatus readFileMeta(int fd, FileMeta* out, const PathFacts& facts) {
  struct statx stx {};
  if (facts.fd_is_stx && facts.stx) {
    stx = *facts.stx;
  } else if (statxFd(fd, &stx) != 0) {
    return ntStatusFromErrno(errno);
  }
  // The earliest statx that saw this ctime, and the clock before it (meta_cache.h).
  const bool listed_here =
      facts.stx && (facts.fd_is_stx || meta_cache::sameInodeAndCtime(*facts.stx, stx));
  std::optional<DosInfo> dos;
  if (S_ISREG(stx.stx_mode) || S_ISDIR(stx.stx_mode)) {
    if (const meta_cache::Record* r = meta_cache::find(stx); r && r->dos_known) {
      dos = r->dos;
    } else {
      meta_cache::Record rec;
      // A listing by path counts only when it is known to be of this inode; without a statx
      // before it (the older callers), it is trusted as it always was.
      const XattrNames* names = facts.names;
      if (names && facts.stx && !listed_here) names = nullptr;
      bool may_have = !names || names->mayHave(kDosInfoXattr);
      bool definite = true;
      if (may_have) dos = readDosInfoFd(fd, &definite, facts.kind);
      rec.dos_known = definite;
      rec.dos = dos;
      if (listed_here && facts.names && facts.names->complete) rec.names = *facts.names;
      if (rec.dos_known || rec.names) meta_cache::store(stx, facts.before, rec);
    }
  }
  *out = fileMetaFromStatx(stx, dos);
  applyChangeTime(stx, out);
  if (facts.ea_size) {
    if (const meta_cache::Record* r = meta_cache::find(stx); r && r->ea_size) {
      out->ea_size = *r->ea_size;
    } else {
      std::vector<FullEa> eas;
      if (readEas(fd, &eas) == STATUS_SUCCESS) {
        meta_cache::Record rec;
        rec.ea_size = out->ea_size = eaListSize(eas);
        meta_cache::store(stx, facts.before, rec);
      }
    }
  }
  return STATUS_SUCCESS;
}

DirListing::DirListing(int dirfd) : dirfd_(dirfd) {
  before_ = meta_cache::coarseNow();
  if (statx(dirfd, "", AT_EMPTY_PATH, STATX_INO | STATX_CTIME, &dir_) != 0) return;
  const int64_t ctime_ns = dir_.stx_ctime.tv_sec * 1'000'000'000LL + dir_.stx_ctime.tv_nsec;
  const int64_t before_ns = before_.tv_sec * 1'000'000'000LL + before_.tv_nsec;
  active_ = ctime_ns + meta_cache::kRacyMarginNs < before_ns;
}

void DirListing::add(const struct statx& stx, const std::optional<DosInfo>& dos) {
  if (active_) {
    pending_.push_back({stx.stx_dev_major, stx.stx_dev_minor, stx.stx_ino, stx.stx_ctime, dos});
  }
}

void DirListing::commit() {
  if (!active_ || pending_.empty()) return;
  struct statx now {};
  if (statx(dirfd_, "", AT_EMPTY_PATH, STATX_INO | STATX_CTIME, &now) != 0) return;
  if (!meta_cache::sameInodeAndCtime(dir_, now)) return;
  for (const Entry& e : pending_) {
    struct statx stx {};
    stx.stx_mask = STATX_INO | STATX_CTIME;
    stx.stx_dev_major = e.dev_major;
    stx.stx_dev_minor = e.dev_minor;
    stx.stx_ino = e.ino;
    stx.stx_ctime = e.ctime;
    meta_cache::Record rec;
    rec.dos_known = true;
    rec.dos = e.dos;
    meta_cache::store(stx, before_, rec);
  }
  pending_.clear();
}

NtStatus readFileMetaAt(int dirfd, const char* name, FileMeta* out, DirListing* listing) {
  struct statx stx {};
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_BTIME,
            &stx) != 0) {
    return ntStatusFromErrno(errno);
  }
  if (S_ISLNK(stx.stx_mode)) {
    UniqueFd target(openBeneath(dirfd, name, O_PATH));
    if (!target) return ntStatusFromErrno(errno);
    return readFileMeta(target.get(), out);
  }
  std::optional<DosInfo> dos;
  const meta_cache::Record* known = meta_cache::find(stx);
  if (known && known->dos_known) {
    dos = known->dos;  // read by descriptor while the inode had this ctime
  } else if (S_ISREG(stx.stx_mode) || S_ISDIR(stx.stx_mode)) {
    uint8_t buf[64];
    std::string path = procFdPath(dirfd) + "/" + name;
    ssize_t n = lgetxattr(path.c_str(), kDosInfoXattr, buf, sizeof(buf));
    if (n >= 0) dos = parseDosInfo(ByteSpan(buf, static_cast<size_t>(n)));
    // A definite answer (the record, or none stored) may be cached once the batch is checked.
    if (listing && (n >= 0 || errno == ENODATA || errno == ENOTSUP)) listing->add(stx, dos);
  }
  *out = fileMetaFromStatx(stx, dos);
  applyChangeTime(stx, out);
  return STATUS_SUCCESS;
}

NtStatus setDosAttributes(int fd, uint32_t attributes) {
  if (attributes == 0) return STATUS_SUCCESS;
  struct statx stx {};
  if (statxFd(fd, &stx) != 0) return ntStatusFromErrno(errno);
  const bool dir = S_ISDIR(stx.stx_mode);
  uint32_t stored = attributes & kStoredAttributes & ~FILE_ATTRIBUTE_SPARSE_FILE;
  // READONLY of a file is read from the mode, so a chmod from elsewhere stays authoritative; it
  // is recorded too, where Samba reads it.
  const mode_t mode = stx.stx_mode & 07777;
  mode_t want = mode;
  if (!dir) {
    if (stored & FILE_ATTRIBUTE_READONLY) {
      want = mode & ~0222;
    } else if (!(mode & S_IWUSR)) {
      want = mode | S_IWUSR;
    }
  }
  // Write bits are added before and removed after the xattr write, which needs them.
  if (want != mode && (want & S_IWUSR)) {
    if (int err = fdChmod(fd, want)) return ntStatusFromErrno(err);
  }
  DosInfo info = readDosInfoFd(fd).value_or(DosInfo{});
  info.attributes = stored | (info.attributes.value_or(0) & FILE_ATTRIBUTE_SPARSE_FILE);
  int err = writeDosInfoFd(fd, info);
  if (err != 0 && !isXattrUnsupported(err)) return ntStatusFromErrno(err);
  if (want != mode && !(want & S_IWUSR)) {
    if (int e = fdChmod(fd, want)) return ntStatusFromErrno(e);
  }
  return STATUS_SUCCESS;
}

NtStatus setSparse(int fd, bool sparse) {
  DosInfo info = readDosInfoFd(fd).value_or(DosInfo{});
  // A file without stored attributes reports ARCHIVE (fileMetaFromStatx): keep reporting it.
  uint32_t attrs = info.attributes.value_or(FILE_ATTRIBUTE_ARCHIVE) & ~FILE_ATTRIBUTE_SPARSE_FILE;
  if (sparse) attrs |= FILE_ATTRIBUTE_SPARSE_FILE;
  if (info.attributes && *info.attributes == attrs) return STATUS_SUCCESS;
  info.attributes = attrs;
  int err = writeDosInfoFd(fd, info);
  if (err != 0) return isXattrUnsupported(err) ? STATUS_NOT_SUPPORTED : ntStatusFromErrno(err);
  return STATUS_SUCCESS;
}

NtStatus setCreationTime(int fd, uint64_t nt_time) {
  if (nt_time == 0 || nt_time >= UINT64_MAX - 1) return STATUS_SUCCESS;  // 0, -1 and -2
  DosInfo info = readDosInfoFd(fd).value_or(DosInfo{});
  info.creation_time = nt_time;
  int err = writeDosInfoFd(fd, info);
  if (err != 0) return isXattrUnsupported(err) ? STATUS_NOT_SUPPORTED : ntStatusFromErrno(err);
  return STATUS_SUCCESS;
}

NtStatus setTimes(int fd, uint64_t last_access_nt, uint64_t last_write_nt) {
  auto toTimespec = [](uint64_t nt) {
    if (nt == 0 || nt >= UINT64_MAX - 1) {
      struct timespec omit {};
      omit.tv_nsec = UTIME_OMIT;
      return omit;
    }
    return timespecFromNtTime(nt);
  };
  struct timespec ts[2] = {toTimespec(last_access_nt), toTimespec(last_write_nt)};
  if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT) return STATUS_SUCCESS;
  if (futimens(fd, ts) == 0) return STATUS_SUCCESS;
  if (errno != EBADF) return ntStatusFromErrno(errno);
  if (utimensat(AT_FDCWD, procFdPath(fd).c_str(), ts, 0) == 0) return STATUS_SUCCESS;
  return ntStatusFromErrno(errno);
}

NtStatus setChangeTime(int fd, uint64_t nt_time) {
  if (nt_time == 0 || nt_time >= UINT64_MAX - 1) return STATUS_SUCCESS;
  struct statx stx {};
  if (statxFd(fd, &stx) != 0) return ntStatusFromErrno(errno);
  recordChangeTime(makedev(stx.stx_dev_major, stx.stx_dev_minor), stx.stx_ino, stx.stx_ctime,
                   nt_time);
  return STATUS_SUCCESS;
}

}  // namespace xsmb::vfs
