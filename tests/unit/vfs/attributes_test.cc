#include "server/vfs/attributes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "common/smb2/constants.h"
#include "server/vfs/fd.h"
#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

using namespace xsmb::smb2;
using testing::TempDir;
using testing::hasUserXattrs;
using testing::writeFile;

TEST(NtTime, UnixEpochIsTheMsDtypConstant) {
  struct timespec epoch {};
  EXPECT_EQ(ntTimeFromTimespec(epoch), 116444736000000000ULL);
  EXPECT_EQ(kNtEpochOffset, 116444736000000000ULL);
  struct timespec back = timespecFromNtTime(116444736000000000ULL);
  EXPECT_EQ(back.tv_sec, 0);
  EXPECT_EQ(back.tv_nsec, 0);
}

TEST(NtTime, RoundTripKeeps100nsResolution) {
  struct timespec ts {};
  ts.tv_sec = 1700000000;  // 2023-11-14T22:13:20Z
  ts.tv_nsec = 123456789;
  uint64_t nt = ntTimeFromTimespec(ts);
  EXPECT_EQ(nt, 116444736000000000ULL + 1700000000ULL * 10000000ULL + 1234567ULL);
  struct timespec back = timespecFromNtTime(nt);
  EXPECT_EQ(back.tv_sec, 1700000000);
  EXPECT_EQ(back.tv_nsec, 123456700);  // truncated to 100 ns
  struct statx_timestamp sx {};
  sx.tv_sec = 1700000000;
  sx.tv_nsec = 123456789;
  EXPECT_EQ(ntTimeFromStatx(sx), nt);
}

TEST(NtTime, BeforeUnixEpochAndBefore1601) {
  struct timespec ts {};
  ts.tv_sec = -1;
  EXPECT_EQ(ntTimeFromTimespec(ts), 116444736000000000ULL - 10000000ULL);
  EXPECT_EQ(timespecFromNtTime(116444736000000000ULL - 10000000ULL).tv_sec, -1);
  ts.tv_sec = -11644473601;  // 1600-12-31
  EXPECT_EQ(ntTimeFromTimespec(ts), 0u);
}

TEST(NtTime, NowIsNearTheClock) {
  uint64_t now = ntTimeNow();
  uint64_t from_clock = ntTimeFromTimespec({time(nullptr), 0});
  EXPECT_LT(now > from_clock ? now - from_clock : from_clock - now, 2ULL * 10000000ULL);
}

TEST(DosInfo, EncodeParseRoundTrip) {
  DosInfo in;
  in.attributes = FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM;
  in.creation_time = 0x01D9000011112222ULL;
  Bytes rec = encodeDosInfo(in);
  // Samba's xattr_DOSATTRIB version 5: "" + pad, Version 5, level 5, ValidFlags 0x11, Attrib,
  // CreateTime.
  const Bytes expected = {0x00, 0x00, 0x05, 0x00, 0x05, 0x00, 0x00, 0x00,
                          0x11, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
                          0x22, 0x22, 0x11, 0x11, 0x00, 0x00, 0xD9, 0x01};
  EXPECT_EQ(rec, expected);
  auto out = parseDosInfo(rec);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->attributes, in.attributes);
  EXPECT_EQ(out->creation_time, in.creation_time);
}

TEST(DosInfo, RejectsShortAndUnknownVersionAndMasksBits) {
  Bytes rec = encodeDosInfo(DosInfo{FILE_ATTRIBUTE_ARCHIVE, std::nullopt});
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(parseDosInfo(ByteSpan(rec.data(), n)).has_value()) << n;
  }
  Bytes mismatch = rec;
  mismatch[4] = 4;  // the level differs from Version
  EXPECT_FALSE(parseDosInfo(mismatch).has_value());
  Bytes longer = rec;
  longer.push_back(0xAA);
  auto ok = parseDosInfo(longer);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->attributes, FILE_ATTRIBUTE_ARCHIVE);
  EXPECT_FALSE(ok->creation_time.has_value());
  // DIRECTORY and unimplemented bits stored by someone else are dropped.
  Bytes bad = rec;
  bad[12] = 0x10;  // DIRECTORY
  bad[13] = 0x04;  // REPARSE_POINT (0x400)
  auto masked = parseDosInfo(bad);
  ASSERT_TRUE(masked.has_value());
  EXPECT_EQ(masked->attributes, 0u);
}

// Records as Samba and ksmbd write them: version 3 with AttribHex, version 4 with ITime, and an
// unknown version whose AttribHex alone counts.
TEST(DosInfo, ReadsSambaVersions3And4AndTheHexFallback) {
  auto le = [](Bytes& b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  // Bytes as Samba's ndr_pack writes them (checked with its Python bindings).
  Bytes v3 = {'0', 'x', '2', '2', 0, 0};  // "0x22" + NUL + pad
  le(v3, 3, 2);
  le(v3, 3, 2);
  le(v3, 0, 2);  // to a multiple of 4
  le(v3, 0x11, 4);  // ValidFlags: Attrib, CreateTime
  le(v3, FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN, 4);
  le(v3, 0, 4);
  le(v3, 100, 8);
  le(v3, 4096, 8);
  le(v3, 0x01D9000011112222ULL, 8);
  le(v3, 0, 8);
  auto a = parseDosInfo(v3);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->attributes, FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(a->creation_time, 0x01D9000011112222ULL);

  Bytes v4 = {0, 0};
  le(v4, 4, 2);
  le(v4, 4, 2);
  le(v4, 0, 2);
  le(v4, 0x1, 4);  // Attrib only
  le(v4, FILE_ATTRIBUTE_SYSTEM, 4);
  le(v4, 12345, 8);  // ITime
  le(v4, 777, 8);
  auto b = parseDosInfo(v4);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->attributes, FILE_ATTRIBUTE_SYSTEM);
  EXPECT_FALSE(b->creation_time.has_value());
  for (size_t n = 0; n < v4.size(); ++n) EXPECT_FALSE(parseDosInfo(ByteSpan(v4.data(), n)));

  Bytes unknown = {'0', 'x', '2', 0};
  le(unknown, 9, 2);
  le(unknown, 9, 2);
  auto c = parseDosInfo(unknown);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->attributes, FILE_ATTRIBUTE_HIDDEN);
  unknown[2] = 'z';
  EXPECT_FALSE(parseDosInfo(unknown).has_value());
}

struct statx makeStatx(mode_t mode) {
  struct statx stx {};
  stx.stx_mask = STATX_BASIC_STATS;
  stx.stx_mode = static_cast<uint16_t>(mode);
  stx.stx_ino = 4242;
  stx.stx_nlink = 2;
  stx.stx_size = 5000;
  stx.stx_blocks = 16;
  stx.stx_atime = {1000, 0, 0};
  stx.stx_mtime = {2000, 0, 0};
  stx.stx_ctime = {1500, 0, 0};
  return stx;
}

TEST(FileMetaFromStatx, FileDefaultsToArchiveAndDerivesReadonly) {
  FileMeta m = fileMetaFromStatx(makeStatx(S_IFREG | 0644), std::nullopt);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_ARCHIVE);
  EXPECT_FALSE(m.directory);
  EXPECT_EQ(m.end_of_file, 5000u);
  EXPECT_EQ(m.allocation_size, 16u * 512);
  EXPECT_EQ(m.file_id, 4242u);
  EXPECT_EQ(m.number_of_links, 2u);
  EXPECT_EQ(m.last_access_time, kNtEpochOffset + 1000ULL * 10000000);
  EXPECT_EQ(m.last_write_time, kNtEpochOffset + 2000ULL * 10000000);
  EXPECT_EQ(m.change_time, kNtEpochOffset + 1500ULL * 10000000);
  EXPECT_EQ(m.creation_time, m.change_time);  // no btime: min(mtime, ctime)

  m = fileMetaFromStatx(makeStatx(S_IFREG | 0444), std::nullopt);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_READONLY);
  // A stored READONLY bit of a file does not override a writable mode.
  m = fileMetaFromStatx(makeStatx(S_IFREG | 0644), DosInfo{FILE_ATTRIBUTE_READONLY, {}});
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_NORMAL);
  m = fileMetaFromStatx(makeStatx(S_IFREG | 0644), DosInfo{FILE_ATTRIBUTE_HIDDEN, 77});
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(m.creation_time, 77u);
}

TEST(FileMetaFromStatx, DirectoryAndBirthTime) {
  struct statx stx = makeStatx(S_IFDIR | 0555);
  stx.stx_mask |= STATX_BTIME;
  stx.stx_btime = {500, 100, 0};
  FileMeta m = fileMetaFromStatx(stx, std::nullopt);
  EXPECT_TRUE(m.directory);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_DIRECTORY);
  EXPECT_EQ(m.end_of_file, 0u);
  EXPECT_EQ(m.allocation_size, 0u);
  EXPECT_EQ(m.creation_time, kNtEpochOffset + 500ULL * 10000000 + 1);
  m = fileMetaFromStatx(stx, DosInfo{FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY, {}});
  EXPECT_EQ(m.attributes,
            FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY);
}

class AttributesFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!hasUserXattrs(tmp_.path())) GTEST_SKIP() << "filesystem of /tmp has no user xattrs";
    path_ = tmp_ / "f.txt";
    writeFile(path_, "hello");
  }
  TempDir tmp_;
  std::string path_;
};

TEST_F(AttributesFsTest, ReadsRealFile) {
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(m.end_of_file, 5u);
  EXPECT_EQ(m.file_id, st.st_ino);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_ARCHIVE);
  EXPECT_EQ(m.last_write_time, ntTimeFromTimespec(st.st_mtim));
  EXPECT_NE(m.creation_time, 0u);
}

TEST_F(AttributesFsTest, DosAttributesRoundTripThroughOPathFd) {
  UniqueFd fd(open(path_.c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM |
                                           FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY),
            STATUS_SUCCESS);
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);  // all write bits cleared
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | FILE_ATTRIBUTE_READONLY);

  // 0 = no change.
  ASSERT_EQ(setDosAttributes(fd.get(), 0), STATUS_SUCCESS);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | FILE_ATTRIBUTE_READONLY);

  // NORMAL clears everything and restores the owner write bit.
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_NORMAL), STATUS_SUCCESS);
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~0022u);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_NORMAL);

  // The listing path reads the same record without opening the file.
  UniqueFd dir(open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN),
            STATUS_SUCCESS);
  FileMeta at;
  ASSERT_EQ(readFileMetaAt(dir.get(), "f.txt", &at), STATUS_SUCCESS);
  EXPECT_EQ(at.attributes, FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(at.end_of_file, 5u);
}

TEST_F(AttributesFsTest, CreationTimeRoundTripKeepsAttributes) {
  UniqueFd fd(open(path_.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_HIDDEN), STATUS_SUCCESS);
  const uint64_t t = 0x01D0123456789ABCULL;
  ASSERT_EQ(setCreationTime(fd.get(), t), STATUS_SUCCESS);
  ASSERT_EQ(setCreationTime(fd.get(), 0), STATUS_SUCCESS);           // no change
  ASSERT_EQ(setCreationTime(fd.get(), UINT64_MAX), STATUS_SUCCESS);  // no change
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.creation_time, t);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN);
}

TEST_F(AttributesFsTest, SetTimesAndNoChangeValues) {
  UniqueFd fd(open(path_.c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(fd);
  const uint64_t atime = kNtEpochOffset + 1600000000ULL * 10000000 + 5;
  const uint64_t mtime = kNtEpochOffset + 1650000000ULL * 10000000 + 7;
  ASSERT_EQ(setTimes(fd.get(), atime, mtime), STATUS_SUCCESS);
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.last_access_time, atime);
  EXPECT_EQ(m.last_write_time, mtime);
  ASSERT_EQ(setTimes(fd.get(), 0, UINT64_MAX), STATUS_SUCCESS);
  ASSERT_EQ(setTimes(fd.get(), UINT64_MAX - 1, 0), STATUS_SUCCESS);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.last_access_time, atime);
  EXPECT_EQ(m.last_write_time, mtime);
}

TEST_F(AttributesFsTest, DirectoryKeepsReadonlyInXattrAndMode) {
  std::string d = tmp_ / "d";
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  UniqueFd fd(open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN),
            STATUS_SUCCESS);
  struct stat st {};
  ASSERT_EQ(stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes,
            FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN);
}

TEST(ReadFileMetaAt, SymlinksFollowBeneathOnly) {
  TempDir tmp;
  writeFile(tmp / "target", "12345678");
  ASSERT_EQ(symlink("target", (tmp / "in").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (tmp / "out").c_str()), 0);
  ASSERT_EQ(symlink("missing", (tmp / "dangling").c_str()), 0);
  UniqueFd dir(open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  FileMeta m;
  ASSERT_EQ(readFileMetaAt(dir.get(), "in", &m), STATUS_SUCCESS);
  EXPECT_EQ(m.end_of_file, 8u);
  EXPECT_EQ(readFileMetaAt(dir.get(), "out", &m), STATUS_ACCESS_DENIED);
  EXPECT_EQ(readFileMetaAt(dir.get(), "dangling", &m), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(readFileMetaAt(dir.get(), "absent", &m), STATUS_OBJECT_NAME_NOT_FOUND);
}

}  // namespace
}  // namespace xsmb::vfs
