// Named streams: the CREATE name parser (MS-FSCC 2.1.5.3) and the xattr layout shared with
// Samba's vfs_streams_xattr, against real files in a temporary directory.
#include "server/vfs/streams.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

struct ParseCase {
  const char* description;
  std::string input;
  NtStatus status;
  std::string file, stream;
  bool has_type;
};

TEST(StreamPathTest, Table) {
  const ParseCase cases[] = {
      {"plain file", "dir\\f.txt", STATUS_SUCCESS, "dir\\f.txt", "", false},
      {"named stream", "f.txt:Stream One", STATUS_SUCCESS, "f.txt", "Stream One", false},
      {"named stream with type", "f:s:$DATA", STATUS_SUCCESS, "f", "s", true},
      {"type in any case", "f:s:$DaTa", STATUS_SUCCESS, "f", "s", true},
      {"unnamed data stream", "f::$DATA", STATUS_SUCCESS, "f", "", true},
      {"control characters and wildcards are stream characters", "f:\x05St\n?*\"<>|",
       STATUS_SUCCESS, "f", "\x05St\n?*\"<>|", false},
      {"stream of the share root", ":s", STATUS_SUCCESS, "", "s", false},
      {"empty stream without type", "f:", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"empty type", "f:s:", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"other type", "f:s:$FOO", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"wildcard type", "f:s:?D*a", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"three colons", "f:s:x:$DATA", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"backslash in stream", "f:a\\b", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"slash in stream", "f:a/b:$DATA", STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"NUL in stream", std::string("f:a\0b", 5), STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"256 characters", "f:" + std::string(256, 'x'), STATUS_OBJECT_NAME_INVALID, "", "", false},
      {"255 characters", "f:" + std::string(255, 'x'), STATUS_SUCCESS, "f", std::string(255, 'x'),
       false},
  };
  for (const auto& c : cases) {
    StreamPath sp;
    EXPECT_EQ(parseStreamPath(c.input, &sp), c.status) << c.description;
    if (c.status != STATUS_SUCCESS) continue;
    EXPECT_EQ(sp.file, c.file) << c.description;
    EXPECT_EQ(sp.stream, c.stream) << c.description;
    EXPECT_EQ(sp.has_type, c.has_type) << c.description;
  }
}

TEST(StreamPathTest, ByteAtATimeAndTruncatedNeverCrash) {
  std::string name = "dir\\file.txt:Stream One:$DATA";
  for (size_t n = 0; n <= name.size(); ++n) {
    StreamPath sp;
    NtStatus st = parseStreamPath(name.substr(0, n), &sp);
    EXPECT_TRUE(st == STATUS_SUCCESS || st == STATUS_OBJECT_NAME_INVALID) << n;
  }
}

TEST(StreamXattrTest, SambaNaming) {
  EXPECT_EQ(streamXattrName("foo"), "user.DosStream.foo:$DATA");
  EXPECT_EQ(streamNameFromXattr("user.DosStream.foo:$DATA"), "foo");
  EXPECT_EQ(streamNameFromXattr("user.DosStream.Stream One:$DATA"), "Stream One");
  EXPECT_EQ(streamNameFromXattr("user.DOSATTRIB"), std::nullopt);
  EXPECT_EQ(streamNameFromXattr("user.DosStream.foo"), std::nullopt);
  EXPECT_EQ(streamNameFromXattr("user.DosStream.:$DATA"), std::nullopt);
  EXPECT_EQ(streamNameFromXattr("user.xsmb.dosinfo"), std::nullopt);
}

TEST(StreamXattrTest, ValueCarriesTrailingNul) {
  uint8_t d[] = {'a', 'b'};
  Bytes v = encodeStreamValue(d);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2], 0);
  EXPECT_EQ(decodeStreamValue(v).size(), 2u);
  EXPECT_EQ(decodeStreamValue(Bytes{0}).size(), 0u);  // an empty stream
  EXPECT_EQ(decodeStreamValue(Bytes{}).size(), 0u);
}

class StreamFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeFile(dir_ / "f", "base");
    fd_ = ::open((dir_ / "f").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
    if (fsetxattr(fd_, "user.probe", "x", 1, 0) != 0) GTEST_SKIP() << "no user xattrs here";
    fremovexattr(fd_, "user.probe");
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string raw(const std::string& xname) {
    char buf[256];
    ssize_t n = fgetxattr(fd_, xname.c_str(), buf, sizeof(buf));
    return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
  }
  testing::TempDir dir_;
  int fd_ = -1;
};

TEST_F(StreamFileTest, ReadsWhatSambaWrote) {
  ASSERT_EQ(fsetxattr(fd_, "user.DosStream.Samba:$DATA", "hello\0", 6, 0), 0);
  ASSERT_EQ(fsetxattr(fd_, "user.DOSATTRIB", "x", 1, 0), 0);
  std::vector<StreamEntry> list;
  ASSERT_EQ(listStreams(fd_, &list), STATUS_SUCCESS);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "Samba");
  EXPECT_EQ(list[0].size, 5u);
  std::optional<std::string> stored;
  ASSERT_EQ(findStream(fd_, "SAMBA", &stored), STATUS_SUCCESS);
  EXPECT_EQ(stored, "Samba");
  Bytes data;
  ASSERT_EQ(readStream(fd_, "Samba", &data), STATUS_SUCCESS);
  EXPECT_EQ(std::string(data.begin(), data.end()), "hello");
}

TEST_F(StreamFileTest, WritesWhatSambaReads) {
  uint8_t d[] = {'x', 'y', 'z'};
  ASSERT_EQ(writeStream(fd_, "s", d, XATTR_CREATE), STATUS_SUCCESS);
  EXPECT_EQ(raw("user.DosStream.s:$DATA"), std::string("xyz\0", 4));
  EXPECT_EQ(writeStream(fd_, "s", d, XATTR_CREATE), STATUS_OBJECT_NAME_COLLISION);
  ASSERT_EQ(removeStream(fd_, "s"), STATUS_SUCCESS);
  EXPECT_EQ(removeStream(fd_, "s"), STATUS_OBJECT_NAME_NOT_FOUND);
}

TEST_F(StreamFileTest, OpenStreamStoresEveryWrite) {
  ASSERT_EQ(writeStream(fd_, "s", {}, XATTR_CREATE), STATUS_SUCCESS);
  std::shared_ptr<OpenStream> a, b;
  ASSERT_EQ(OpenStream::open(fd_, 1, 2, "s", &a), STATUS_SUCCESS);
  ASSERT_EQ(OpenStream::open(fd_, 1, 2, "s", &b), STATUS_SUCCESS);
  EXPECT_TRUE(anyStreamOpen(1, 2));
  EXPECT_EQ(a->tableKey().dev, b->tableKey().dev);  // one stream, one FileTable entry
  uint8_t d[] = {'t', 'e', 's', 't'};
  ASSERT_EQ(a->write(2, d), STATUS_SUCCESS);
  EXPECT_EQ(raw("user.DosStream.s:$DATA"), std::string("\0\0test\0", 7));
  EXPECT_EQ(b->size(), 6u);  // the other open sees it at once
  ASSERT_EQ(b->setSize(3), STATUS_SUCCESS);
  EXPECT_EQ(raw("user.DosStream.s:$DATA"), std::string("\0\0t\0", 4));
  a.reset();
  b.reset();
  EXPECT_FALSE(anyStreamOpen(1, 2));
}

TEST_F(StreamFileTest, TooLargeForTheXattrIsDiskFullAndChangesNothing) {
  ASSERT_EQ(writeStream(fd_, "s", {}, XATTR_CREATE), STATUS_SUCCESS);
  std::shared_ptr<OpenStream> s;
  ASSERT_EQ(OpenStream::open(fd_, 1, 3, "s", &s), STATUS_SUCCESS);
  uint8_t small[] = {'o', 'k'};
  ASSERT_EQ(s->write(0, small), STATUS_SUCCESS);
  Bytes big(70000, 'x');
  EXPECT_EQ(s->write(0, big), STATUS_DISK_FULL);  // beyond Linux's 64 KiB value limit
  Bytes medium(8192, 'y');  // beyond ext4's 4 KiB (fits on filesystems with larger values)
  NtStatus st = s->write(0, medium);
  if (st != STATUS_SUCCESS) {
    EXPECT_EQ(st, STATUS_DISK_FULL);
    EXPECT_EQ(s->size(), 2u);
    EXPECT_EQ(raw("user.DosStream.s:$DATA"), std::string("ok\0", 3));
  }
}

TEST_F(StreamFileTest, RenameAndReplaceRules) {
  uint8_t d[] = {'1'};
  ASSERT_EQ(writeStream(fd_, "a", d, XATTR_CREATE), STATUS_SUCCESS);
  ASSERT_EQ(writeStream(fd_, "full", d, XATTR_CREATE), STATUS_SUCCESS);
  ASSERT_EQ(writeStream(fd_, "empty", {}, XATTR_CREATE), STATUS_SUCCESS);
  std::shared_ptr<OpenStream> s;
  ASSERT_EQ(OpenStream::open(fd_, 1, 4, "a", &s), STATUS_SUCCESS);
  EXPECT_EQ(s->rename("full", false), STATUS_OBJECT_NAME_COLLISION);
  EXPECT_EQ(s->rename("FULL", true), STATUS_INVALID_PARAMETER);  // not empty
  ASSERT_EQ(s->rename("empty", true), STATUS_SUCCESS);
  EXPECT_EQ(s->name(), "empty");
  EXPECT_EQ(raw("user.DosStream.empty:$DATA"), std::string("1\0", 2));
  EXPECT_EQ(raw("user.DosStream.a:$DATA"), "<none>");
  ASSERT_EQ(s->rename("New", false), STATUS_SUCCESS);
  EXPECT_EQ(raw("user.DosStream.New:$DATA"), std::string("1\0", 2));
}

TEST_F(StreamFileTest, RemoveAllLeavesOtherXattrs) {
  ASSERT_EQ(writeStream(fd_, "a", {}, 0), STATUS_SUCCESS);
  ASSERT_EQ(writeStream(fd_, "b", {}, 0), STATUS_SUCCESS);
  ASSERT_EQ(fsetxattr(fd_, "user.other", "v", 1, 0), 0);
  ASSERT_EQ(removeAllStreams(fd_), STATUS_SUCCESS);
  std::vector<StreamEntry> list;
  ASSERT_EQ(listStreams(fd_, &list), STATUS_SUCCESS);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(raw("user.other"), "v");
}

}  // namespace
}  // namespace xsmb::vfs
