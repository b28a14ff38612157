#include "server/vfs/info.h"

#include <algorithm>
#include <optional>

#include "common/base/unicode.h"
#include "common/smb2/constants.h"
#include "common/smb2/security_constants.h"

namespace xsmb::vfs {
namespace {

using namespace xsmb::smb2;

constexpr uint32_t kFileDeviceDisk = 0x00000007;       // MS-FSCC 2.5.10 DeviceType
constexpr uint32_t kFileDeviceIsMounted = 0x00000020;  // MS-FSCC 2.5.10 Characteristics
constexpr uint32_t kSsinfoFlagsAlignedDevice = 0x1;    // MS-FSCC 2.5.7
constexpr uint32_t kSsinfoFlagsPartitionAligned = 0x2;
constexpr uint32_t kMaxComponentNameLength = 255;
constexpr std::string_view kDataStreamName = "::$DATA";

size_t dirFixedSize(uint8_t cls) {
  switch (cls) {
    case FileDirectoryInformation:
      return 64;
    case FileFullDirectoryInformation:
      return 68;
    case FileBothDirectoryInformation:
      return 94;
    case FileIdBothDirectoryInformation:
      return 104;
    case FileIdFullDirectoryInformation:
      return 80;
    case FileNamesInformation:
      return 12;
    case FileIdExtdDirectoryInformation:
      return 88;
    default:
      return 0;
  }
}

void putTimes(ByteWriter& w, const FileMeta& m) {
  w.u64(m.creation_time);
  w.u64(m.last_access_time);
  w.u64(m.last_write_time);
  w.u64(m.change_time);
}

void putBasic(ByteWriter& w, const FileMeta& m) {  // MS-FSCC 2.4.7
  putTimes(w, m);
  w.u32(m.attributes);
  w.u32(0);  // Reserved
}

void putStandard(ByteWriter& w, const FileMeta& m) {  // MS-FSCC 2.4.41
  w.u64(m.allocation_size);
  w.u64(m.end_of_file);
  w.u32(m.number_of_links);
  w.u8(m.delete_pending ? 1 : 0);
  w.u8(m.directory ? 1 : 0);
  w.u16(0);  // Reserved
}

// FileNameLength (bytes) followed by the UTF-16LE name (MS-FSCC 2.4.26 layout).
void putName(ByteWriter& w, std::string_view name) {
  size_t len_at = w.size();
  w.u32(0);
  size_t n = appendUtf16le(name, &w.buf());
  w.patchU32(len_at, static_cast<uint32_t>(n));
}

// An 8.3 name (MS-FSCC short name rules): 1-8 characters, optionally '.' and 1-3 more, printable
// ASCII without spaces or the characters 8.3 names exclude.
bool isValid83Name(std::string_view name) {
  size_t dot = name.find('.');
  std::string_view base = name.substr(0, dot);
  std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (base.empty() || base.size() > 8 || ext.size() > 3) return false;
  if (dot != std::string_view::npos && ext.empty()) return false;
  for (std::string_view part : {base, ext}) {
    for (char c : part) {
      if (c <= 0x20 || c >= 0x7F) return false;
      if (std::string_view("\"*+,./:;<=>?[\\]|").find(c) != std::string_view::npos) return false;
    }
  }
  return true;
}

void putAll(ByteWriter& w, const OpenFileInfo& info) {  // MS-FSCC 2.4.2
  const FileMeta& m = info.meta;
  putBasic(w, m);
  putStandard(w, m);
  w.u64(m.file_id);
  w.u32(m.ea_size);
  w.u32(info.access_mask);
  w.u64(info.position);
  w.u32(info.mode);
  w.u32(0);  // AlignmentRequirement
  putName(w, info.name);
}

void putNetworkOpen(ByteWriter& w, const FileMeta& m) {  // MS-FSCC 2.4.29
  putTimes(w, m);
  w.u64(m.allocation_size);
  w.u64(m.end_of_file);
  w.u32(m.attributes);
  w.u32(0);  // Reserved
}

void putCompression(ByteWriter& w, const FileMeta& m) {  // MS-FSCC 2.4.9
  w.u64(m.end_of_file);
  w.u16(0);  // COMPRESSION_FORMAT_NONE
  w.u8(0);   // CompressionUnitShift
  w.u8(0);   // ChunkShift
  w.u8(0);   // ClusterShift
  w.zeros(3);
}

// One FILE_STREAM_INFORMATION entry (MS-FSCC 2.4.46) at an 8-byte aligned offset; returns where
// it starts, so that the previous entry's NextEntryOffset can point to it.
size_t putStreamEntry(ByteWriter& w, size_t base, std::string_view name, uint64_t size,
                      uint64_t allocation) {
  while ((w.size() - base) % 8) w.u8(0);
  size_t start = w.size();
  w.u32(0);  // NextEntryOffset, patched when another entry follows
  size_t len_at = w.size();
  w.u32(0);
  w.u64(size);
  w.u64(allocation);
  size_t n = appendUtf16le(name, &w.buf());
  w.patchU32(len_at, static_cast<uint32_t>(n));
  return start;
}

// MS-FSCC 2.4.46: a file has the unnamed data stream "::$DATA", a directory none; then the named
// streams of `info.streams`.
void putStreams(ByteWriter& w, const OpenFileInfo& info) {
  const FileMeta& m = info.meta;
  size_t base = w.size();
  std::optional<size_t> prev;
  auto link = [&](size_t start) {
    if (prev) w.patchU32(*prev, static_cast<uint32_t>(start - *prev));
    prev = start;
  };
  if (!m.directory) link(putStreamEntry(w, base, kDataStreamName, m.end_of_file, m.allocation_size));
  for (const auto& [name, size] : info.streams) {
    link(putStreamEntry(w, base, name, size, (size + 4095) & ~uint64_t{4095}));
  }
}

// MS-FSCC 2.4.5: no 8.3 names are generated. A name that already is a valid 8.3 name is its own
// short name (as NTFS stores it once); any other has none, as on NTFS with 8.3 creation off.
NtStatus putAlternateName(ByteWriter& w, std::string_view path) {
  std::string_view last = path;
  if (size_t sep = last.rfind('\\'); sep != std::string_view::npos) last.remove_prefix(sep + 1);
  if (!isValid83Name(last)) return STATUS_OBJECT_NAME_NOT_FOUND;
  putName(w, last);
  return STATUS_SUCCESS;
}

// The classes that describe the file and the open (MS-FSCC 2.4), which every file can answer:
// appends the class and returns true; false (nothing appended) for any other class.
bool putFileAndOpenInfo(uint8_t cls, const OpenFileInfo& info, ByteWriter& w) {
  const FileMeta& m = info.meta;
  switch (cls) {
    case FileBasicInformation:
      putBasic(w, m);
      return true;
    case FileStandardInformation:
      putStandard(w, m);
      return true;
    case FileInternalInformation:
      w.u64(m.file_id);
      return true;
    case FileEaInformation:
      w.u32(m.ea_size);
      return true;
    case FileAccessInformation:
      w.u32(info.access_mask);
      return true;
    case FilePositionInformation:
      w.u64(info.position);
      return true;
    case FileModeInformation:
      w.u32(info.mode);
      return true;
    case FileAlignmentInformation:
      w.u32(0);  // FILE_BYTE_ALIGNMENT
      return true;
    case FileAllInformation:
      putAll(w, info);
      return true;
    case FileNetworkOpenInformation:
      putNetworkOpen(w, m);
      return true;
    case FileAttributeTagInformation:  // MS-FSCC 2.4.6
      w.u32(m.attributes);
      w.u32(0);  // ReparseTag
      return true;
    case FileCompressionInformation:
      putCompression(w, m);
      return true;
    case FileIdInformation:  // MS-FSCC 2.4.25
      w.u64(info.volume_serial);
      w.u64(m.file_id);
      w.u64(0);
      return true;
    default:
      return false;
  }
}

}  // namespace

size_t dirEntrySize(uint8_t cls, size_t name_utf16_bytes) {
  size_t fixed = dirFixedSize(cls);
  return fixed == 0 ? 0 : fixed + name_utf16_bytes;
}

bool appendDirEntry(uint8_t cls, const FileMeta& meta, std::string_view name, uint32_t file_index,
                    Bytes* out) {
  if (dirFixedSize(cls) == 0) return false;
  return appendDirEntryUtf16(cls, meta, utf8ToUtf16le(name), file_index, out);
}

bool appendDirEntryUtf16(uint8_t cls, const FileMeta& meta, ByteSpan name16, uint32_t file_index,
                         Bytes* out) {
  if (dirFixedSize(cls) == 0) return false;
  ByteWriter w(out);
  w.u32(0);  // NextEntryOffset, patched by the caller
  w.u32(file_index);
  if (cls == FileNamesInformation) {
    w.u32(static_cast<uint32_t>(name16.size()));
    w.bytes(name16);
    return true;
  }
  putTimes(w, meta);
  w.u64(meta.end_of_file);
  w.u64(meta.allocation_size);
  w.u32(meta.attributes);
  w.u32(static_cast<uint32_t>(name16.size()));
  if (cls != FileDirectoryInformation) w.u32(meta.ea_size);
  switch (cls) {
    case FileBothDirectoryInformation:
    case FileIdBothDirectoryInformation:
      w.u8(0);      // ShortNameLength
      w.u8(0);      // Reserved1
      w.zeros(24);  // ShortName
      if (cls == FileIdBothDirectoryInformation) {
        w.u16(0);  // Reserved2
        w.u64(meta.file_id);
      }
      break;
    case FileIdFullDirectoryInformation:
      w.u32(0);  // Reserved
      w.u64(meta.file_id);
      break;
    case FileIdExtdDirectoryInformation:
      w.u32(0);             // ReparsePointTag
      w.u64(meta.file_id);  // FileId: 128 bits, inode in the low half
      w.u64(0);
      break;
    default:
      break;
  }
  w.bytes(name16);
  return true;
}

size_t fileInfoMinSize(uint8_t cls) {
  // Windows checks against sizeof() of its structures, which pads a trailing name array to 8
  // bytes (FileAll 104, not 100); smbtorture's smb2.getinfo.qfile_buffercheck expects these.
  switch (cls) {
    case FileBasicInformation:
      return 40;
    case FileStandardInformation:
      return 24;
    case FileInternalInformation:
    case FilePositionInformation:
    case FileAttributeTagInformation:
    case FileAlternateNameInformation:
    case FileNormalizedNameInformation:
      return 8;
    case FileEaInformation:
    case FileAccessInformation:
    case FileModeInformation:
    case FileAlignmentInformation:
      return 4;
    case FileAllInformation:
      return 104;
    case FileStreamInformation:
      return 32;
    case FileNetworkOpenInformation:
      return 56;
    case FileCompressionInformation:
      return 16;
    case FileIdInformation:
      return 24;
    default:
      return 0;
  }
}

NtStatus encodeFileInfo(uint8_t cls, const OpenFileInfo& info, Bytes* out) {
  ByteWriter w(out);
  if (putFileAndOpenInfo(cls, info, w)) return STATUS_SUCCESS;
  switch (cls) {
    case FileStreamInformation:
      putStreams(w, info);
      return STATUS_SUCCESS;
    case FileNormalizedNameInformation: {
      std::string_view name = info.name;
      if (!name.empty() && name.front() == '\\') name.remove_prefix(1);
      putName(w, name);
      return STATUS_SUCCESS;
    }
    case FileAlternateNameInformation:
      return putAlternateName(w, info.name);
    case FilePipeInformation:
    case FilePipeLocalInformation:
    case FilePipeRemoteInformation:
    case FileObjectIdInformation:
    case FileQuotaInformation:
    case FileReparsePointInformation:
    case FileFullEaInformation:
      return STATUS_NOT_SUPPORTED;
    default:
      // FileNameInformation, set-only classes (rename, link, disposition, allocation, EOF,
      // short name, valid data length), directory classes and unknown values.
      return STATUS_INVALID_INFO_CLASS;
  }
}

size_t fsInfoMinSize(uint8_t cls) {
  // Windows' padded structure sizes, as smbtorture's smb2.getinfo.qfs_buffercheck expects.
  switch (cls) {
    case FileFsVolumeInformation:
      return 24;
    case FileFsSizeInformation:
      return 24;
    case FileFsFullSizeInformation:
      return 32;
    case FileFsDeviceInformation:
      return 8;
    case FileFsAttributeInformation:
      return 16;
    case FileFsSectorSizeInformation:
      return 28;
    case FileFsObjectIdInformation:
      return 64;
    default:
      return 0;
  }
}

NtStatus encodeFsInfo(uint8_t cls, const FsInfoInput& in, Bytes* out) {
  const uint32_t sector = in.sector_size ? in.sector_size : 512;
  const uint64_t frsize = in.vfs.f_frsize ? in.vfs.f_frsize : in.vfs.f_bsize;
  // One allocation unit = max(frsize, sector) bytes, a whole number of sectors.
  const uint32_t sectors_per_unit = static_cast<uint32_t>(std::max<uint64_t>(1, frsize / sector));
  const uint64_t unit = static_cast<uint64_t>(sectors_per_unit) * sector;
  auto units = [&](uint64_t blocks) {
    return frsize == 0 ? 0 : static_cast<uint64_t>(blocks) * frsize / unit;
  };
  ByteWriter w(out);
  switch (cls) {
    case FileFsVolumeInformation: {  // MS-FSCC 2.5.9
      w.u64(in.volume_creation_time);
      w.u32(in.volume_serial);
      size_t len_at = w.size();
      w.u32(0);
      w.u8(0);  // SupportsObjects
      w.u8(0);  // Reserved
      size_t n = appendUtf16le(in.volume_label, &w.buf());
      w.patchU32(len_at, static_cast<uint32_t>(n));
      return STATUS_SUCCESS;
    }
    case FileFsSizeInformation:  // MS-FSCC 2.5.8
      w.u64(units(in.vfs.f_blocks));
      w.u64(units(in.vfs.f_bavail));
      w.u32(sectors_per_unit);
      w.u32(sector);
      return STATUS_SUCCESS;
    case FileFsFullSizeInformation:  // MS-FSCC 2.5.4
      w.u64(units(in.vfs.f_blocks));
      w.u64(units(in.vfs.f_bavail));
      w.u64(units(in.vfs.f_bfree));
      w.u32(sectors_per_unit);
      w.u32(sector);
      return STATUS_SUCCESS;
    case FileFsDeviceInformation:  // MS-FSCC 2.5.10
      w.u32(kFileDeviceDisk);
      w.u32(kFileDeviceIsMounted);
      return STATUS_SUCCESS;
    case FileFsAttributeInformation: {  // MS-FSCC 2.5.1
      w.u32(kFsAttributes);
      w.u32(kMaxComponentNameLength);
      size_t len_at = w.size();
      w.u32(0);
      size_t n = appendUtf16le("NTFS", &w.buf());
      w.patchU32(len_at, static_cast<uint32_t>(n));
      return STATUS_SUCCESS;
    }
    case FileFsSectorSizeInformation:  // MS-FSCC 2.5.7
      w.u32(sector);                   // LogicalBytesPerSector
      w.u32(sector);                   // PhysicalBytesPerSectorForAtomicity
      w.u32(sector);                   // PhysicalBytesPerSectorForPerformance
      w.u32(sector);                   // FileSystemEffectivePhysicalBytesPerSectorForAtomicity
      w.u32(kSsinfoFlagsAlignedDevice | kSsinfoFlagsPartitionAligned);
      w.u32(0);  // ByteOffsetForSectorAlignment
      w.u32(0);  // ByteOffsetForPartitionAlignment
      return STATUS_SUCCESS;
    case FileFsObjectIdInformation:  // MS-FSCC 2.5.6
      w.bytes(in.object_id.data(), in.object_id.size());
      w.zeros(48);  // ExtendedInfo
      return STATUS_SUCCESS;
    case FileFsControlInformation:
    case FileFsDriverPathInformation:
    case FileFsVolumeFlagsInformation:
      return STATUS_NOT_SUPPORTED;
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

// ---- MS-DTYP 2.4.6 security descriptor ----

namespace {

struct Sid {
  uint64_t authority;  // 48-bit IdentifierAuthority
  std::vector<uint32_t> sub;
};

size_t sidSize(const Sid& s) { return 8 + 4 * s.sub.size(); }

void putSid(ByteWriter& w, const Sid& s) {  // MS-DTYP 2.4.2.2
  w.u8(SID_REVISION);
  w.u8(static_cast<uint8_t>(s.sub.size()));
  for (int i = 5; i >= 0; --i) w.u8(static_cast<uint8_t>(s.authority >> (8 * i)));  // big-endian
  for (uint32_t v : s.sub) w.u32(v);
}

uint32_t maskFromBits(uint32_t rwx, bool directory) {
  uint32_t mask = 0;
  if (rwx & 4) mask |= FILE_GENERIC_READ;
  if (rwx & 2) mask |= FILE_GENERIC_WRITE | (directory ? FILE_DELETE_CHILD : 0);
  if (rwx & 1) mask |= FILE_GENERIC_EXECUTE;
  return mask;
}

}  // namespace

Bytes securityDescriptorFromStat(uint32_t uid, uint32_t gid, uint32_t mode, bool directory,
                                 uint32_t security_information) {
  // Samba's Unix SIDs S-1-22-1-uid and S-1-22-2-gid, and Everyone (S-1-1-0).
  const Sid owner{kUnixSidAuthority, {kUnixUserSidRid, uid}};
  const Sid group{kUnixSidAuthority, {kUnixGroupSidRid, gid}};
  const Sid everyone{SECURITY_WORLD_SID_AUTHORITY, {SECURITY_WORLD_RID}};
  const bool want_owner = security_information & OWNER_SECURITY_INFORMATION;
  const bool want_group = security_information & GROUP_SECURITY_INFORMATION;
  const bool want_dacl = security_information & DACL_SECURITY_INFORMATION;

  struct Ace {
    const Sid* sid;
    uint32_t mask;
  };
  std::vector<Ace> aces;
  aces.push_back({&owner, maskFromBits((mode >> 6) & 7, directory) | READ_CONTROL | WRITE_DAC |
                              WRITE_OWNER | DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES |
                              SYNCHRONIZE});
  if (uint32_t m = maskFromBits((mode >> 3) & 7, directory)) aces.push_back({&group, m});
  if (uint32_t m = maskFromBits(mode & 7, directory)) aces.push_back({&everyone, m});
  const uint8_t ace_flags = directory ? (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE) : 0;

  ByteWriter w;
  w.u8(1);  // Revision
  w.u8(0);  // Sbz1
  w.u16(SE_SELF_RELATIVE | (want_dacl ? SE_DACL_PRESENT : 0));
  w.zeros(16);  // OffsetOwner, OffsetGroup, OffsetSacl, OffsetDacl: patched below
  if (want_owner) {
    w.patchU32(4, static_cast<uint32_t>(w.size()));
    putSid(w, owner);
  }
  if (want_group) {
    w.patchU32(8, static_cast<uint32_t>(w.size()));
    putSid(w, group);
  }
  if (want_dacl) {
    w.patchU32(16, static_cast<uint32_t>(w.size()));
    size_t acl_size = 8;
    for (const Ace& a : aces) acl_size += 8 + sidSize(*a.sid);
    w.u8(ACL_REVISION);
    w.u8(0);  // Sbz1
    w.u16(static_cast<uint16_t>(acl_size));
    w.u16(static_cast<uint16_t>(aces.size()));
    w.u16(0);                    // Sbz2
    for (const Ace& a : aces) {  // MS-DTYP 2.4.4.2 ACCESS_ALLOWED_ACE
      w.u8(ACCESS_ALLOWED_ACE_TYPE);
      w.u8(ace_flags);
      w.u16(static_cast<uint16_t>(8 + sidSize(*a.sid)));
      w.u32(a.mask);
      putSid(w, *a.sid);
    }
  }
  return w.take();
}

}  // namespace xsmb::vfs
