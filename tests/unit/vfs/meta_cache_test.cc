// The look-aside record of an inode's xattr facts (server/vfs/meta_cache.h): kept only while the
// inode's ctime is the one it was read under, never for a ctime too recent to be trusted, and
// used by readFileMeta so that a changed attribute is read again.
#include "server/vfs/meta_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/smb2/constants.h"
#include "server/vfs/attributes.h"
#include "server/vfs/fd.h"
#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

using namespace smb2;
using testing::TempDir;
using testing::hasUserXattrs;
using testing::writeFile;

struct statx inode(uint64_t ino, int64_t ctime_sec, uint32_t ctime_nsec) {
  struct statx stx {};
  stx.stx_mask = STATX_BASIC_STATS;
  stx.stx_ino = ino;
  stx.stx_dev_major = 8;
  stx.stx_dev_minor = 1;
  stx.stx_ctime.tv_sec = ctime_sec;
  stx.stx_ctime.tv_nsec = ctime_nsec;
  return stx;
}

class MetaCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { meta_cache::clear(); }
  struct timespec now_ = meta_cache::coarseNow();
};

TEST_F(MetaCacheTest, KeptWhileTheCtimeIsTheSame) {
  struct statx a = inode(42, now_.tv_sec - 60, 5);
  meta_cache::Record rec;
  rec.dos_known = true;
  rec.dos = DosInfo{FILE_ATTRIBUTE_HIDDEN, {}};
  meta_cache::store(a, now_, rec);
  const meta_cache::Record* got = meta_cache::find(a);
  ASSERT_NE(got, nullptr);
  ASSERT_TRUE(got->dos_known);
  EXPECT_EQ(got->dos->attributes, FILE_ATTRIBUTE_HIDDEN);
  EXPECT_FALSE(got->names);

  // One nanosecond of ctime later it is another state of the file.
  EXPECT_EQ(meta_cache::find(inode(42, now_.tv_sec - 60, 6)), nullptr);
  // Another inode, or the same number on another device, is not this one.
  EXPECT_EQ(meta_cache::find(inode(43, now_.tv_sec - 60, 5)), nullptr);
  struct statx other_dev = a;
  other_dev.stx_dev_minor = 2;
  EXPECT_EQ(meta_cache::find(other_dev), nullptr);
}

TEST_F(MetaCacheTest, NamesAndRecordMergeForTheSameCtime) {
  struct statx a = inode(7, now_.tv_sec - 10, 0);
  meta_cache::Record names;
  names.names = XattrNames{std::string("user.DOSATTRIB\0", 15), true};
  meta_cache::store(a, now_, names);
  meta_cache::Record dos;
  dos.dos_known = true;
  meta_cache::store(a, now_, dos);
  const meta_cache::Record* got = meta_cache::find(a);
  ASSERT_NE(got, nullptr);
  ASSERT_TRUE(got->names);
  EXPECT_TRUE(got->names->mayHave("user.DOSATTRIB"));
  EXPECT_FALSE(got->names->mayHave("security.NTACL"));
  EXPECT_TRUE(got->dos_known);
  EXPECT_FALSE(got->dos);

  // A new ctime starts over: nothing of the old state carries.
  struct statx b = inode(7, now_.tv_sec - 5, 0);
  meta_cache::store(b, now_, dos);
  got = meta_cache::find(b);
  ASSERT_NE(got, nullptr);
  EXPECT_FALSE(got->names);
  EXPECT_EQ(meta_cache::find(a), nullptr);
}

TEST_F(MetaCacheTest, ARecentCtimeIsNotTrusted) {
  // A change in the same clock tick (or file-system granule) would leave ctime where it is.
  meta_cache::Record rec;
  rec.dos_known = true;
  uint64_t racy = meta_cache::stats().racy;
  struct statx recent = inode(9, now_.tv_sec - 1, static_cast<uint32_t>(now_.tv_nsec));
  meta_cache::store(recent, now_, rec);
  EXPECT_EQ(meta_cache::find(recent), nullptr);
  struct statx future = inode(9, now_.tv_sec + 1, 0);
  meta_cache::store(future, now_, rec);
  EXPECT_EQ(meta_cache::find(future), nullptr);
  EXPECT_EQ(meta_cache::stats().racy, racy + 2);
  struct statx old = inode(9, now_.tv_sec - 3, 0);
  meta_cache::store(old, now_, rec);
  EXPECT_NE(meta_cache::find(old), nullptr);
}

TEST_F(MetaCacheTest, WithoutInodeOrCtimeNothingIsKept) {
  struct statx a = inode(11, now_.tv_sec - 60, 0);
  a.stx_mask = STATX_TYPE | STATX_MODE;
  meta_cache::Record rec;
  rec.dos_known = true;
  meta_cache::store(a, now_, rec);
  a.stx_mask = STATX_BASIC_STATS;
  EXPECT_EQ(meta_cache::find(a), nullptr);
}

// readFileMeta on a real file: the first read after the file settled is cached, the next one is
// answered from the cache, and a change of the attributes (which moves ctime) is read again.
TEST_F(MetaCacheTest, ReadFileMetaUsesTheRecordUntilTheFileChanges) {
  TempDir tmp;
  if (!hasUserXattrs(tmp.path())) GTEST_SKIP() << "filesystem of /tmp has no user xattrs";
  std::string path = tmp / "f.txt";
  writeFile(path, "hello");
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(setDosAttributes(fd.get(), FILE_ATTRIBUTE_HIDDEN), STATUS_SUCCESS);
  writeFile(tmp / "g.txt");  // listed by path below

  // Just changed: read, not cached.
  meta_cache::Stats s0 = meta_cache::stats();
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(meta_cache::stats().racy, s0.racy + 1);
  EXPECT_EQ(meta_cache::stats().stores, s0.stores);

  // Settled (older than the margin): cached, then answered from the record.
  std::this_thread::sleep_for(std::chrono::nanoseconds(meta_cache::kRacyMarginNs) +
                              std::chrono::milliseconds(100));
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(meta_cache::stats().stores, s0.stores + 1);
  uint64_t hits = meta_cache::stats().hits;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(meta_cache::stats().hits, hits + 1);
  // The directory listing's reader uses the same record.
  UniqueFd dir(open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  FileMeta at;
  ASSERT_EQ(readFileMetaAt(dir.get(), "f.txt", &at), STATUS_SUCCESS);
  EXPECT_EQ(at.attributes, FILE_ATTRIBUTE_HIDDEN);
  EXPECT_EQ(meta_cache::stats().hits, hits + 2);

  // A listing batch keeps what it read by path while the directory did not change...
  struct statx sg {};
  ASSERT_EQ(statx(dir.get(), "g.txt", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sg), 0);
  meta_cache::clear();
  {
    DirListing listing(dir.get());
    ASSERT_TRUE(listing.active());
    ASSERT_EQ(readFileMetaAt(dir.get(), "g.txt", &at, &listing), STATUS_SUCCESS);
    EXPECT_EQ(meta_cache::find(sg), nullptr);  // not before commit
    listing.commit();
    const meta_cache::Record* r = meta_cache::find(sg);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->dos_known);
    EXPECT_FALSE(r->dos);  // no record stored on g.txt
  }
  // ... and nothing when an entry was created, removed or renamed in it meanwhile (a name may
  // then have been read from another inode than its statx described).
  meta_cache::clear();
  {
    DirListing listing(dir.get());
    ASSERT_EQ(readFileMetaAt(dir.get(), "g.txt", &at, &listing), STATUS_SUCCESS);
    writeFile(tmp / "h.txt");
    listing.commit();
    EXPECT_EQ(meta_cache::find(sg), nullptr);
  }
  // A directory changed that recently is not worth collecting for.
  EXPECT_FALSE(DirListing(dir.get()).active());

  // Changed behind the cache's back (another process): ctime moved, the new record is read.
  struct statx before {};
  ASSERT_EQ(statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &before), 0);
  Bytes rec = encodeDosInfo(DosInfo{FILE_ATTRIBUTE_SYSTEM, {}});
  ASSERT_EQ(setxattr(path.c_str(), kDosInfoXattr, rec.data(), rec.size(), 0), 0);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, FILE_ATTRIBUTE_SYSTEM);
  ASSERT_EQ(readFileMetaAt(dir.get(), "f.txt", &at), STATUS_SUCCESS);
  EXPECT_EQ(at.attributes, FILE_ATTRIBUTE_SYSTEM);
}

// A listing by path is taken into the record only when the descriptor opened after it is the
// inode, at the ctime, that the path's statx saw.
TEST_F(MetaCacheTest, APathListingCountsOnlyForTheInodeItDescribed) {
  TempDir tmp;
  std::string a = tmp / "a", b = tmp / "b";
  writeFile(a);
  writeFile(b);
  struct statx sa {}, sb {};
  ASSERT_EQ(statx(AT_FDCWD, a.c_str(), 0, STATX_BASIC_STATS, &sa), 0);
  ASSERT_EQ(statx(AT_FDCWD, b.c_str(), 0, STATX_BASIC_STATS, &sb), 0);
  // A listing that says "no xattrs at all", claimed for `a` while the descriptor is `b`.
  XattrNames none{"", true};
  UniqueFd fd(open(b.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  PathFacts facts;
  facts.before = meta_cache::coarseNow();
  facts.before.tv_sec += 10;  // as if both files had settled long ago
  facts.stx = &sa;
  facts.names = &none;
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m, facts), STATUS_SUCCESS);
  EXPECT_EQ(m.file_id, sb.stx_ino);
  const meta_cache::Record* rec = meta_cache::find(sb);
  ASSERT_NE(rec, nullptr);  // what was read of b by its descriptor
  EXPECT_FALSE(rec->names);  // but not a's listing
  EXPECT_EQ(meta_cache::find(sa), nullptr);

  // The same inode at the same ctime: the listing is kept.
  facts.stx = &sb;
  meta_cache::clear();
  ASSERT_EQ(readFileMeta(fd.get(), &m, facts), STATUS_SUCCESS);
  rec = meta_cache::find(sb);
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(rec->names);
  EXPECT_TRUE(rec->names->complete);
}

}  // namespace
}  // namespace xsmb::vfs
