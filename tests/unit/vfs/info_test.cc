#include "server/vfs/info.h"

#include <gtest/gtest.h>

#include "common/base/unicode.h"
#include "common/smb2/constants.h"

namespace xsmb::vfs {
namespace {

using namespace xsmb::smb2;

FileMeta sampleMeta() {
  FileMeta m;
  m.creation_time = 0x1111111111111111ULL;
  m.last_access_time = 0x2222222222222222ULL;
  m.last_write_time = 0x3333333333333333ULL;
  m.change_time = 0x4444444444444444ULL;
  m.end_of_file = 0x5555;
  m.allocation_size = 0x6000;
  m.attributes = FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN;
  m.file_id = 0x0102030405060708ULL;
  m.number_of_links = 3;
  m.ea_size = 0x77;
  return m;
}

uint32_t u32At(const Bytes& b, size_t off) { return loadU32(b.data() + off); }
uint64_t u64At(const Bytes& b, size_t off) { return loadU64(b.data() + off); }
std::string nameAt(const Bytes& b, size_t off, size_t len) {
  return utf16leToUtf8(ByteSpan(b.data() + off, len)).value_or("<bad>");
}

struct DirCase {
  uint8_t cls;
  size_t fixed;           // MS-FSCC fixed part = FileName offset
  size_t ea_offset;       // 0 = no EaSize field
  size_t file_id_offset;  // 0 = no FileId field
};

TEST(DirEntry, EveryClassLayout) {
  const std::vector<DirCase> cases = {
      {FileDirectoryInformation, 64, 0, 0},         {FileFullDirectoryInformation, 68, 64, 0},
      {FileBothDirectoryInformation, 94, 64, 0},    {FileIdBothDirectoryInformation, 104, 64, 96},
      {FileIdFullDirectoryInformation, 80, 64, 72}, {FileIdExtdDirectoryInformation, 88, 64, 72},
  };
  const FileMeta m = sampleMeta();
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.cls));
    Bytes out = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};  // earlier entry
    ASSERT_TRUE(appendDirEntry(c.cls, m, "a\xC3\xA9.txt", 9, &out));
    Bytes e(out.begin() + 8, out.end());
    EXPECT_EQ(e.size(), dirEntrySize(c.cls, 12));
    EXPECT_EQ(e.size(), c.fixed + 12);
    EXPECT_EQ(u32At(e, 0), 0u);  // NextEntryOffset
    EXPECT_EQ(u32At(e, 4), 9u);  // FileIndex
    EXPECT_EQ(u64At(e, 8), m.creation_time);
    EXPECT_EQ(u64At(e, 16), m.last_access_time);
    EXPECT_EQ(u64At(e, 24), m.last_write_time);
    EXPECT_EQ(u64At(e, 32), m.change_time);
    EXPECT_EQ(u64At(e, 40), m.end_of_file);
    EXPECT_EQ(u64At(e, 48), m.allocation_size);
    EXPECT_EQ(u32At(e, 56), m.attributes);
    EXPECT_EQ(u32At(e, 60), 12u);  // FileNameLength
    if (c.ea_offset) EXPECT_EQ(u32At(e, c.ea_offset), m.ea_size);
    if (c.cls == FileBothDirectoryInformation || c.cls == FileIdBothDirectoryInformation) {
      for (size_t i = 68; i < 94; ++i) EXPECT_EQ(e[i], 0) << "ShortName area byte " << i;
    }
    if (c.file_id_offset) EXPECT_EQ(u64At(e, c.file_id_offset), m.file_id);
    EXPECT_EQ(nameAt(e, c.fixed, 12), "a\xC3\xA9.txt");
  }
}

TEST(DirEntry, NamesInformation) {
  Bytes out;
  ASSERT_TRUE(appendDirEntry(FileNamesInformation, sampleMeta(), "xy", 5, &out));
  const Bytes expected = {0, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 'x', 0, 'y', 0};
  EXPECT_EQ(out, expected);
  EXPECT_EQ(dirEntrySize(FileNamesInformation, 4), 16u);
}

TEST(DirEntry, PreconvertedNameGivesTheSameEntry) {
  for (uint8_t cls :
       {FileDirectoryInformation, FileFullDirectoryInformation, FileIdFullDirectoryInformation,
        FileBothDirectoryInformation, FileIdBothDirectoryInformation, FileNamesInformation}) {
    Bytes a, b;
    ASSERT_TRUE(appendDirEntry(cls, sampleMeta(), "a\xC3\xA9.txt", 9, &a));
    ASSERT_TRUE(appendDirEntryUtf16(cls, sampleMeta(), utf8ToUtf16le("a\xC3\xA9.txt"), 9, &b));
    EXPECT_EQ(a, b) << int{cls};
    EXPECT_EQ(a.size(), dirEntrySize(cls, 12)) << int{cls};  // 6 UTF-16 code units
  }
  Bytes out;
  EXPECT_FALSE(
      appendDirEntryUtf16(FileBasicInformation, sampleMeta(), utf8ToUtf16le("x"), 0, &out));
  EXPECT_TRUE(out.empty());
}

TEST(DirEntry, RejectsNonDirectoryClasses) {
  Bytes out;
  EXPECT_FALSE(appendDirEntry(FileBasicInformation, sampleMeta(), "x", 0, &out));
  EXPECT_FALSE(appendDirEntry(0, sampleMeta(), "x", 0, &out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(dirEntrySize(FileAllInformation, 10), 0u);
}

OpenFileInfo sampleOpen() {
  OpenFileInfo info;
  info.meta = sampleMeta();
  info.access_mask = FILE_GENERIC_READ;
  info.position = 0x99;
  info.mode = FILE_SYNCHRONOUS_IO_NONALERT;
  info.name = "\\dir\\f.txt";
  info.volume_serial = 0xABCDEF;
  return info;
}

TEST(FileInfo, FixedClassesSizesAndFields) {
  const OpenFileInfo info = sampleOpen();
  const FileMeta& m = info.meta;
  struct Case {
    uint8_t cls;
    size_t size;
  };
  for (const Case& c : std::vector<Case>{{FileBasicInformation, 40},
                                         {FileStandardInformation, 24},
                                         {FileInternalInformation, 8},
                                         {FileEaInformation, 4},
                                         {FileAccessInformation, 4},
                                         {FilePositionInformation, 8},
                                         {FileModeInformation, 4},
                                         {FileAlignmentInformation, 4},
                                         {FileNetworkOpenInformation, 56},
                                         {FileAttributeTagInformation, 8},
                                         {FileCompressionInformation, 16},
                                         {FileIdInformation, 24}}) {
    Bytes out;
    ASSERT_EQ(encodeFileInfo(c.cls, info, &out), STATUS_SUCCESS) << int(c.cls);
    EXPECT_EQ(out.size(), c.size) << int(c.cls);
  }
  Bytes b;
  encodeFileInfo(FileBasicInformation, info, &b);
  EXPECT_EQ(u64At(b, 0), m.creation_time);
  EXPECT_EQ(u64At(b, 24), m.change_time);
  EXPECT_EQ(u32At(b, 32), m.attributes);
  EXPECT_EQ(u32At(b, 36), 0u);

  Bytes s;
  encodeFileInfo(FileStandardInformation, info, &s);
  const Bytes standard = {0x00, 0x60, 0, 0, 0, 0, 0, 0, 0x55, 0x55, 0, 0,
                          0,    0,    0, 0, 3, 0, 0, 0, 0,    0,    0, 0};
  EXPECT_EQ(s, standard);

  Bytes n;
  encodeFileInfo(FileNetworkOpenInformation, info, &n);
  EXPECT_EQ(u64At(n, 32), m.allocation_size);
  EXPECT_EQ(u64At(n, 40), m.end_of_file);
  EXPECT_EQ(u32At(n, 48), m.attributes);

  Bytes id;
  encodeFileInfo(FileIdInformation, info, &id);
  EXPECT_EQ(u64At(id, 0), 0xABCDEFu);
  EXPECT_EQ(u64At(id, 8), m.file_id);
  EXPECT_EQ(u64At(id, 16), 0u);

  Bytes mode;
  encodeFileInfo(FileModeInformation, info, &mode);
  EXPECT_EQ(u32At(mode, 0), FILE_SYNCHRONOUS_IO_NONALERT);
}

// smbtorture smb2.getinfo.qfile_buffercheck / qfs_buffercheck tables (Windows behaviour).
TEST(FileInfo, MinSizesMatchWindows) {
  const std::vector<std::pair<uint8_t, size_t>> file = {
      {FileBasicInformation, 40},         {FileStandardInformation, 24},
      {FileInternalInformation, 8},       {FileEaInformation, 4},
      {FileAccessInformation, 4},         {FileModeInformation, 4},
      {FileAlignmentInformation, 4},      {FileAllInformation, 104},
      {FileAlternateNameInformation, 8},  {FileStreamInformation, 32},
      {FileCompressionInformation, 16},   {FileNetworkOpenInformation, 56},
      {FileAttributeTagInformation, 8},   {FilePositionInformation, 8},
      {FileNormalizedNameInformation, 8}, {FileIdInformation, 24},
      {FileNameInformation, 0},           {200, 0},
  };
  for (const auto& [cls, size] : file) EXPECT_EQ(fileInfoMinSize(cls), size) << int(cls);
  const std::vector<std::pair<uint8_t, size_t>> fs = {
      {FileFsVolumeInformation, 24},   {FileFsSizeInformation, 24},
      {FileFsDeviceInformation, 8},    {FileFsAttributeInformation, 16},
      {FileFsFullSizeInformation, 32}, {FileFsSectorSizeInformation, 28},
      {FileFsObjectIdInformation, 64}, {FileFsLabelInformation, 0},
  };
  for (const auto& [cls, size] : fs) EXPECT_EQ(fsInfoMinSize(cls), size) << int(cls);
}

TEST(FileInfo, AlternateNameOnlyFor83Names) {
  OpenFileInfo info = sampleOpen();  // "\\dir\\f.txt"
  Bytes out;
  ASSERT_EQ(encodeFileInfo(FileAlternateNameInformation, info, &out), STATUS_SUCCESS);
  EXPECT_EQ(out, (Bytes{10, 0, 0, 0, 'f', 0, '.', 0, 't', 0, 'x', 0, 't', 0}));
  for (const char* name : {"\\dir\\longername.txt", "\\a.text", "\\a b.txt", "\\a.b.c", "\\noext.",
                           "\\.hidden", "\\x+y.txt"}) {
    info.name = name;
    Bytes none;
    EXPECT_EQ(encodeFileInfo(FileAlternateNameInformation, info, &none),
              STATUS_OBJECT_NAME_NOT_FOUND)
        << name;
    EXPECT_TRUE(none.empty());
  }
  info.name = "\\README";
  Bytes plain;
  ASSERT_EQ(encodeFileInfo(FileAlternateNameInformation, info, &plain), STATUS_SUCCESS);
  EXPECT_EQ(u32At(plain, 0), 12u);
}

TEST(FileInfo, AllInformationLayout) {
  OpenFileInfo info = sampleOpen();
  info.meta.delete_pending = true;
  info.meta.directory = true;
  Bytes out;
  ASSERT_EQ(encodeFileInfo(FileAllInformation, info, &out), STATUS_SUCCESS);
  const size_t name_bytes = 2 * info.name.size();
  ASSERT_EQ(out.size(), 100 + name_bytes);
  EXPECT_EQ(u32At(out, 32), info.meta.attributes);          // Basic.FileAttributes
  EXPECT_EQ(u64At(out, 40), info.meta.allocation_size);     // Standard.AllocationSize
  EXPECT_EQ(u64At(out, 48), info.meta.end_of_file);         // Standard.EndOfFile
  EXPECT_EQ(u32At(out, 56), 3u);                            // NumberOfLinks
  EXPECT_EQ(out[60], 1);                                    // DeletePending
  EXPECT_EQ(out[61], 1);                                    // Directory
  EXPECT_EQ(u64At(out, 64), info.meta.file_id);             // Internal.IndexNumber
  EXPECT_EQ(u32At(out, 72), info.meta.ea_size);             // Ea.EaSize
  EXPECT_EQ(u32At(out, 76), FILE_GENERIC_READ);             // Access.AccessFlags
  EXPECT_EQ(u64At(out, 80), 0x99u);                         // Position
  EXPECT_EQ(u32At(out, 88), FILE_SYNCHRONOUS_IO_NONALERT);  // Mode
  EXPECT_EQ(u32At(out, 92), 0u);                            // Alignment
  EXPECT_EQ(u32At(out, 96), name_bytes);                    // Name.FileNameLength
  EXPECT_EQ(nameAt(out, 100, name_bytes), "\\dir\\f.txt");
}

TEST(FileInfo, StreamInformation) {
  OpenFileInfo info = sampleOpen();
  Bytes out;
  ASSERT_EQ(encodeFileInfo(FileStreamInformation, info, &out), STATUS_SUCCESS);
  ASSERT_EQ(out.size(), 24u + 14);
  EXPECT_EQ(u32At(out, 0), 0u);
  EXPECT_EQ(u32At(out, 4), 14u);
  EXPECT_EQ(u64At(out, 8), info.meta.end_of_file);
  EXPECT_EQ(u64At(out, 16), info.meta.allocation_size);
  EXPECT_EQ(nameAt(out, 24, 14), "::$DATA");
  info.meta.directory = true;
  Bytes dir;
  ASSERT_EQ(encodeFileInfo(FileStreamInformation, info, &dir), STATUS_SUCCESS);
  EXPECT_TRUE(dir.empty());
}

TEST(FileInfo, NormalizedNameDropsLeadingBackslash) {
  Bytes out;
  ASSERT_EQ(encodeFileInfo(FileNormalizedNameInformation, sampleOpen(), &out), STATUS_SUCCESS);
  ASSERT_EQ(out.size(), 4u + 18);
  EXPECT_EQ(u32At(out, 0), 18u);
  EXPECT_EQ(nameAt(out, 4, 18), "dir\\f.txt");
}

TEST(FileInfo, ErrorsAppendNothing) {
  const OpenFileInfo info = sampleOpen();
  struct Case {
    uint8_t cls;
    NtStatus status;
  };
  for (const Case& c : std::vector<Case>{
           {FileNameInformation, STATUS_INVALID_INFO_CLASS},
           {FileRenameInformation, STATUS_INVALID_INFO_CLASS},
           {FileDispositionInformation, STATUS_INVALID_INFO_CLASS},
           {FileEndOfFileInformation, STATUS_INVALID_INFO_CLASS},
           {FileDirectoryInformation, STATUS_INVALID_INFO_CLASS},
           {0, STATUS_INVALID_INFO_CLASS},
           {200, STATUS_INVALID_INFO_CLASS},
           {FilePipeLocalInformation, STATUS_NOT_SUPPORTED},
           {FileObjectIdInformation, STATUS_NOT_SUPPORTED},
           {FileFullEaInformation, STATUS_NOT_SUPPORTED},
       }) {
    Bytes out;
    EXPECT_EQ(encodeFileInfo(c.cls, info, &out), c.status) << int(c.cls);
    EXPECT_TRUE(out.empty()) << int(c.cls);
  }
}

FsInfoInput sampleFs() {
  FsInfoInput in;
  in.vfs.f_bsize = 4096;
  in.vfs.f_frsize = 4096;
  in.vfs.f_blocks = 1000;
  in.vfs.f_bfree = 300;
  in.vfs.f_bavail = 200;
  in.volume_label = "share";
  in.volume_serial = 0xCAFEBABE;
  in.volume_creation_time = 0x0102030405060708ULL;
  in.object_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  return in;
}

TEST(FsInfo, VolumeInformation) {
  Bytes out;
  ASSERT_EQ(encodeFsInfo(FileFsVolumeInformation, sampleFs(), &out), STATUS_SUCCESS);
  ASSERT_EQ(out.size(), 18u + 10);
  EXPECT_EQ(u64At(out, 0), 0x0102030405060708ULL);
  EXPECT_EQ(u32At(out, 8), 0xCAFEBABEu);
  EXPECT_EQ(u32At(out, 12), 10u);
  EXPECT_EQ(out[16], 0);  // SupportsObjects
  EXPECT_EQ(nameAt(out, 18, 10), "share");
}

TEST(FsInfo, SizeClasses) {
  Bytes size, full;
  ASSERT_EQ(encodeFsInfo(FileFsSizeInformation, sampleFs(), &size), STATUS_SUCCESS);
  const Bytes expected_size = {0xE8, 0x03, 0, 0, 0, 0, 0, 0,  // 1000 units
                               0xC8, 0,    0, 0, 0, 0, 0, 0,  // 200 available
                               8,    0,    0, 0,              // 8 sectors per unit
                               0,    2,    0, 0};             // 512 bytes per sector
  EXPECT_EQ(size, expected_size);
  ASSERT_EQ(encodeFsInfo(FileFsFullSizeInformation, sampleFs(), &full), STATUS_SUCCESS);
  ASSERT_EQ(full.size(), 32u);
  EXPECT_EQ(u64At(full, 0), 1000u);
  EXPECT_EQ(u64At(full, 8), 200u);   // caller available
  EXPECT_EQ(u64At(full, 16), 300u);  // actual available
  EXPECT_EQ(u32At(full, 24), 8u);
  EXPECT_EQ(u32At(full, 28), 512u);
  // A 1 KiB block filesystem with 4 KiB sectors: the unit is one sector, 4 blocks each.
  FsInfoInput small = sampleFs();
  small.vfs.f_frsize = 1024;
  small.sector_size = 4096;
  Bytes s;
  ASSERT_EQ(encodeFsInfo(FileFsSizeInformation, small, &s), STATUS_SUCCESS);
  EXPECT_EQ(u64At(s, 0), 250u);
  EXPECT_EQ(u32At(s, 16), 1u);
  EXPECT_EQ(u32At(s, 20), 4096u);
}

TEST(FsInfo, DeviceAttributeSectorObjectId) {
  Bytes dev, attr, sector, oid;
  ASSERT_EQ(encodeFsInfo(FileFsDeviceInformation, sampleFs(), &dev), STATUS_SUCCESS);
  EXPECT_EQ(dev, (Bytes{0x07, 0, 0, 0, 0x20, 0, 0, 0}));
  ASSERT_EQ(encodeFsInfo(FileFsAttributeInformation, sampleFs(), &attr), STATUS_SUCCESS);
  ASSERT_EQ(attr.size(), 12u + 8);
  EXPECT_EQ(u32At(attr, 0), kFsAttributes);
  EXPECT_EQ(u32At(attr, 4), 255u);
  EXPECT_EQ(u32At(attr, 8), 8u);
  EXPECT_EQ(nameAt(attr, 12, 8), "NTFS");
  ASSERT_EQ(encodeFsInfo(FileFsSectorSizeInformation, sampleFs(), &sector), STATUS_SUCCESS);
  ASSERT_EQ(sector.size(), 28u);
  for (size_t off : {0, 4, 8, 12}) EXPECT_EQ(u32At(sector, off), 512u);
  EXPECT_EQ(u32At(sector, 16), 3u);
  ASSERT_EQ(encodeFsInfo(FileFsObjectIdInformation, sampleFs(), &oid), STATUS_SUCCESS);
  ASSERT_EQ(oid.size(), 64u);
  EXPECT_EQ(oid[0], 1);
  EXPECT_EQ(oid[15], 16);
  EXPECT_EQ(oid[16], 0);
}

TEST(FsInfo, Errors) {
  Bytes out;
  EXPECT_EQ(encodeFsInfo(FileFsLabelInformation, sampleFs(), &out), STATUS_INVALID_INFO_CLASS);
  EXPECT_EQ(encodeFsInfo(99, sampleFs(), &out), STATUS_INVALID_INFO_CLASS);
  EXPECT_EQ(encodeFsInfo(FileFsControlInformation, sampleFs(), &out), STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(out.empty());
}

// Walks a self-relative SD as a client would, checking every offset against the buffer size.
TEST(SecurityDescriptor, FileLayout) {
  Bytes sd = securityDescriptorFromStat(1000, 100, 0640, false,
                                        OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                                            DACL_SECURITY_INFORMATION | SACL_SECURITY_INFORMATION);
  ASSERT_GE(sd.size(), 20u);
  EXPECT_EQ(sd[0], 1);                        // Revision
  EXPECT_EQ(loadU16(sd.data() + 2), 0x8004);  // SE_SELF_RELATIVE | SE_DACL_PRESENT
  const uint32_t owner = u32At(sd, 4), group = u32At(sd, 8), sacl = u32At(sd, 12),
                 dacl = u32At(sd, 16);
  EXPECT_EQ(owner, 20u);
  EXPECT_EQ(group, 36u);
  EXPECT_EQ(sacl, 0u);
  EXPECT_EQ(dacl, 52u);
  // S-1-22-1-1000
  const Bytes owner_sid = {1, 2, 0, 0, 0, 0, 0, 22, 1, 0, 0, 0, 0xE8, 0x03, 0, 0};
  EXPECT_EQ(Bytes(sd.begin() + owner, sd.begin() + owner + 16), owner_sid);
  // S-1-22-2-100
  const Bytes group_sid = {1, 2, 0, 0, 0, 0, 0, 22, 2, 0, 0, 0, 100, 0, 0, 0};
  EXPECT_EQ(Bytes(sd.begin() + group, sd.begin() + group + 16), group_sid);
  // DACL: owner rw-, group r--, other --- (no Everyone ACE).
  ASSERT_LE(dacl + 8u, sd.size());
  EXPECT_EQ(sd[dacl], 2);  // AclRevision
  const uint16_t acl_size = loadU16(sd.data() + dacl + 2);
  EXPECT_EQ(loadU16(sd.data() + dacl + 4), 2);  // AceCount
  EXPECT_EQ(dacl + acl_size, sd.size());
  EXPECT_EQ(acl_size, 8 + 2 * (8 + 16));
  size_t ace = dacl + 8;
  EXPECT_EQ(sd[ace], 0);      // ACCESS_ALLOWED_ACE_TYPE
  EXPECT_EQ(sd[ace + 1], 0);  // no inheritance on a file
  EXPECT_EQ(loadU16(sd.data() + ace + 2), 24);
  EXPECT_EQ(u32At(sd, ace + 4), FILE_GENERIC_READ | FILE_GENERIC_WRITE | READ_CONTROL | WRITE_DAC |
                                    WRITE_OWNER | DELETE | FILE_READ_ATTRIBUTES |
                                    FILE_WRITE_ATTRIBUTES | SYNCHRONIZE);
  EXPECT_EQ(Bytes(sd.begin() + ace + 8, sd.begin() + ace + 24), owner_sid);
  ace += 24;
  EXPECT_EQ(u32At(sd, ace + 4), FILE_GENERIC_READ);
  EXPECT_EQ(Bytes(sd.begin() + ace + 8, sd.begin() + ace + 24), group_sid);
}

TEST(SecurityDescriptor, DirectoryInheritsAndEveryone) {
  Bytes sd = securityDescriptorFromStat(0, 0, 0755, true, DACL_SECURITY_INFORMATION);
  EXPECT_EQ(u32At(sd, 4), 0u);  // no owner requested
  EXPECT_EQ(u32At(sd, 8), 0u);
  const uint32_t dacl = u32At(sd, 16);
  ASSERT_EQ(dacl, 20u);
  EXPECT_EQ(loadU16(sd.data() + dacl + 4), 3);
  EXPECT_EQ(dacl + loadU16(sd.data() + dacl + 2), sd.size());
  // Third ACE: Everyone (S-1-1-0), r-x, inheritable.
  const size_t ace = dacl + 8 + 24 + 24;
  EXPECT_EQ(sd[ace + 1], 0x03);  // OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
  EXPECT_EQ(loadU16(sd.data() + ace + 2), 20);
  EXPECT_EQ(u32At(sd, ace + 4), FILE_GENERIC_READ | FILE_GENERIC_EXECUTE);
  const Bytes everyone = {1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(Bytes(sd.begin() + ace + 8, sd.end()), everyone);
  // Owner of a directory with w gets FILE_DELETE_CHILD.
  EXPECT_TRUE(u32At(sd, dacl + 8 + 4) & FILE_DELETE_CHILD);
}

TEST(SecurityDescriptor, OwnerOnlyHasNoDaclFlag) {
  Bytes sd = securityDescriptorFromStat(5, 6, 0600, false, OWNER_SECURITY_INFORMATION);
  EXPECT_EQ(loadU16(sd.data() + 2), 0x8000);
  EXPECT_EQ(sd.size(), 20u + 16);
  EXPECT_EQ(u32At(sd, 4), 20u);
  EXPECT_EQ(u32At(sd, 16), 0u);
}

}  // namespace
}  // namespace xsmb::vfs
