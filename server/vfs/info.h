// MS-FSCC information-class encoders (all little-endian) for QUERY_DIRECTORY and QUERY_INFO,
// and the mode-derived security descriptor (MS-DTYP 2.4.6).
#pragma once

#include <sys/statvfs.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/attributes.h"

namespace xsmb::vfs {

// Directory entries for QUERY_DIRECTORY (MS-FSCC 2.4.10, 2.4.14, 2.4.8, 2.4.17, 2.4.18, 2.4.28,
// FileIdExtdDirectoryInformation): FileDirectoryInformation (fixed part 64 bytes),
// FileFullDirectoryInformation (68), FileBothDirectoryInformation (94),
// FileIdBothDirectoryInformation (104), FileIdFullDirectoryInformation (80), FileNamesInformation
// (12), FileIdExtdDirectoryInformation (88). Returns the encoded size of one entry (fixed part +
// name, without trailing alignment padding), 0 if `cls` is not a directory class.
size_t dirEntrySize(uint8_t cls, size_t name_utf16_bytes);
// Appends one entry at out->size() (caller aligns the start to 8 bytes) with
// NextEntryOffset = 0 and FileIndex = `file_index`; the caller patches NextEntryOffset.
// `name` is UTF-8 and is written as UTF-16LE. ShortName stays empty (ShortNameLength 0), EaSize
// is meta.ea_size, FileId is meta.file_id. Returns false (appending nothing) for an unsupported
// class.
bool appendDirEntry(uint8_t cls, const FileMeta& meta, std::string_view name, uint32_t file_index,
                    Bytes* out);
// The same with the name already in UTF-16LE (`name16`, bytes), for callers that needed its
// size first.
bool appendDirEntryUtf16(uint8_t cls, const FileMeta& meta, ByteSpan name16, uint32_t file_index,
                         Bytes* out);

struct OpenFileInfo {  // what a query needs beyond FileMeta
  FileMeta meta;
  uint32_t access_mask = 0;  // granted access (FileAccessInformation)
  uint64_t position = 0;     // FilePositionInformation
  uint32_t mode = 0;         // FileModeInformation
  std::string name;          // path from the share root with '\\' separators, leading '\\'
                             // (FileAllInformation NameInformation)
  // Named streams (":name:$DATA", size in bytes) for FileStreamInformation, after "::$DATA".
  std::vector<std::pair<std::string, uint64_t>> streams;
  uint64_t volume_serial = 0;                             // FileIdInformation VolumeSerialNumber
};
// MS-FSCC 2.4 query classes, each appended in full to `out` (sizes in bytes):
//   FileBasicInformation 40, FileStandardInformation 24, FileInternalInformation 8,
//   FileEaInformation 4, FileAccessInformation 4, FilePositionInformation 8,
//   FileModeInformation 4, FileAlignmentInformation 4 (byte alignment),
//   FileAllInformation 100 + name, FileNetworkOpenInformation 56,
//   FileAttributeTagInformation 8 (ReparseTag 0), FileStreamInformation (one "::$DATA" entry of
//   24 + 14 bytes for files, nothing for directories), FileCompressionInformation 16
//   (COMPRESSION_FORMAT_NONE), FileNormalizedNameInformation 4 + name (path without the leading
//   '\\'; the caller answers STATUS_NOT_SUPPORTED for dialects 2.0.2, 2.1 and 3.0.2, MS-SMB2
//   3.3.5.20.1), FileIdInformation 24 (the caller answers STATUS_NOT_SUPPORTED below SMB 3.x),
//   FileAlternateNameInformation 4 + name (the last component of `name` when it already is a
//   valid 8.3 name, else STATUS_OBJECT_NAME_NOT_FOUND: no short names are generated).
// Errors: FileNameInformation and set-only or directory classes -> STATUS_INVALID_INFO_CLASS
// (as Windows answers over SMB2); other known but unimplemented classes (pipe, object id, quota,
// reparse point, full EA) -> STATUS_NOT_SUPPORTED; unknown -> STATUS_INVALID_INFO_CLASS.
// Nothing is appended on error.
NtStatus encodeFileInfo(uint8_t cls, const OpenFileInfo& info, Bytes* out);
// The size below which a reply must be STATUS_INFO_LENGTH_MISMATCH instead of a truncated
// STATUS_BUFFER_OVERFLOW, MS-SMB2 3.3.5.20.1. These are Windows' structure sizes, whose trailing
// name arrays pad them to 8 bytes, as smbtorture smb2.getinfo.qfile_buffercheck checks them:
// Basic 40, Standard 24, Internal 8, Ea 4, Access 4, Position 8, Mode 4, Alignment 4, All 104,
// AlternateName 8, Stream 32, Compression 16, NetworkOpen 56, AttributeTag 8, NormalizedName 8,
// FileId 24; 0 for other classes.
size_t fileInfoMinSize(uint8_t cls);

struct FsInfoInput {
  struct statvfs vfs {};
  std::string volume_label;  // share name
  uint32_t volume_serial = 0;
  uint64_t volume_creation_time = 0;
  uint32_t sector_size = 512;
  std::array<uint8_t, 16> object_id{};
};
// MS-FSCC 2.5 filesystem attributes we report (2.5.1): names keep their case and are Unicode;
// FILE_CASE_SENSITIVE_SEARCH as NTFS, Samba and ksmbd report it (the store can compare names
// with case; lookups here fall back to case-insensitive); named streams and EAs (in xattrs,
// vfs/streams.h, vfs/ea.h); sparse files; no FILE_PERSISTENT_ACLS (ACLs are derived from the
// mode, not stored), no object ids.
constexpr uint32_t kFsAttributes =
    0x00000001 /*FILE_CASE_SENSITIVE_SEARCH*/ | 0x00000002 /*FILE_CASE_PRESERVED_NAMES*/ |
    0x00000004 /*FILE_UNICODE_ON_DISK*/ |
    0x00000040 /*FILE_SUPPORTS_SPARSE_FILES: FSCTL_SET_SPARSE & co, handlers/fsctl.h*/ |
    0x00040000 /*FILE_NAMED_STREAMS*/ | 0x00800000 /*FILE_SUPPORTS_EXTENDED_ATTRIBUTES*/;
// MS-FSCC 2.5: FileFsVolumeInformation 18 + label (SupportsObjects 0),
// FileFsSizeInformation 24, FileFsFullSizeInformation 32 (allocation unit = f_frsize, expressed
// as SectorsPerAllocationUnit * sector_size), FileFsDeviceInformation 8 (FILE_DEVICE_DISK,
// FILE_DEVICE_IS_MOUNTED), FileFsAttributeInformation 12 + "NTFS" (kFsAttributes,
// MaximumComponentNameLength 255), FileFsSectorSizeInformation 28, FileFsObjectIdInformation 64.
// FileFsLabelInformation (set only) and unknown -> STATUS_INVALID_INFO_CLASS; FileFsControl,
// DriverPath, VolumeFlags -> STATUS_NOT_SUPPORTED. Nothing is appended on error.
NtStatus encodeFsInfo(uint8_t cls, const FsInfoInput& in, Bytes* out);
// Minimum OutputBufferLength of each class above (MS-SMB2 3.3.5.20.2), Windows' padded sizes as
// smbtorture smb2.getinfo.qfs_buffercheck checks them: Volume 24, Size 24, FullSize 32, Device 8,
// Attribute 16, SectorSize 28, ObjectId 64; 0 for others.
size_t fsInfoMinSize(uint8_t cls);

// MS-DTYP 2.4.6 self-relative SECURITY_DESCRIPTOR derived from owner, group and mode: owner SID
// S-1-22-1-<uid>, group S-1-22-2-<gid> (Samba's Unix SIDs), a DACL (revision 2) with
// ACCESS_ALLOWED ACEs for owner (always; its rwx plus READ_CONTROL, WRITE_DAC, WRITE_OWNER,
// DELETE, FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES, SYNCHRONIZE), group and Everyone (S-1-1-0;
// each only when it has any of rwx) mapping r/w/x to FILE_GENERIC_READ/WRITE/EXECUTE (w on a
// directory adds FILE_DELETE_CHILD); directory ACEs carry OBJECT_INHERIT_ACE|CONTAINER_INHERIT_ACE.
// `security_information` (OWNER|GROUP|DACL bits, MS-DTYP 2.4.7) selects what is included; SACL is
// never included. Layout: 20-byte header, then owner, group, DACL in that order; absent parts
// have offset 0. Control = SE_SELF_RELATIVE | SE_DACL_PRESENT (the latter only with DACL).
Bytes securityDescriptorFromStat(uint32_t uid, uint32_t gid, uint32_t mode, bool directory,
                                 uint32_t security_information);

}  // namespace xsmb::vfs
