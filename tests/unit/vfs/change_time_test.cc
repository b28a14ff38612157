#include "server/vfs/change_time.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/smb2/ntstatus.h"
#include "server/vfs/attributes.h"
#include "server/vfs/fd.h"
#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

using testing::TempDir;

statx_timestamp at(int64_t sec, uint32_t nsec) {
  statx_timestamp ts{};
  ts.tv_sec = sec;
  ts.tv_nsec = nsec;
  return ts;
}

TEST(ChangeTime, ReportedWhileTheCtimeIsUnchanged) {
  recordChangeTime(7, 100, at(1000, 5), 42);
  EXPECT_EQ(lookupChangeTime(7, 100, at(1000, 5)), std::optional<uint64_t>(42));
  EXPECT_EQ(lookupChangeTime(7, 100, at(1000, 5)), std::optional<uint64_t>(42));
  EXPECT_EQ(lookupChangeTime(8, 100, at(1000, 5)), std::nullopt);  // another device
}

TEST(ChangeTime, ForgottenOnceTheCtimeMoves) {
  recordChangeTime(7, 101, at(1000, 5), 42);
  EXPECT_EQ(lookupChangeTime(7, 101, at(1000, 6)), std::nullopt);
  EXPECT_EQ(lookupChangeTime(7, 101, at(1000, 5)), std::nullopt);  // dropped, not hidden
}

TEST(ChangeTime, ARecordReplacesTheLastOne) {
  recordChangeTime(7, 102, at(1, 0), 1);
  recordChangeTime(7, 102, at(2, 0), 2);
  EXPECT_EQ(lookupChangeTime(7, 102, at(2, 0)), std::optional<uint64_t>(2));
}

TEST(ChangeTime, TheTableIsBounded) {
  for (uint64_t i = 0; i < kMaxChangeTimes + 10; ++i) recordChangeTime(9, i, at(1, 0), i + 1);
  EXPECT_EQ(lookupChangeTime(9, 0, at(1, 0)), std::nullopt);  // the oldest went first
  EXPECT_EQ(lookupChangeTime(9, kMaxChangeTimes + 9, at(1, 0)),
            std::optional<uint64_t>(kMaxChangeTimes + 10));
}

// Through the file API: a set ChangeTime is read back until the file is written.
TEST(ChangeTime, SetThenReadBackUntilTheFileChanges) {
  TempDir dir;
  UniqueFd fd(open((dir / "f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_TRUE(fd);
  const uint64_t nt = 134434444000000000ULL;  // 2027-01-03
  ASSERT_EQ(setChangeTime(fd.get(), nt), STATUS_SUCCESS);
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.change_time, nt);
  ASSERT_EQ(readFileMetaAt(AT_FDCWD, (dir / "f").c_str(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.change_time, nt);
  usleep(20000);  // past the file system's timestamp granularity
  ASSERT_EQ(pwrite(fd.get(), "x", 1, 0), 1);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_NE(m.change_time, nt);
  // 0, -1 and -2 change nothing.
  for (uint64_t v : {0ULL, ~0ULL, ~0ULL - 1}) {
    ASSERT_EQ(setChangeTime(fd.get(), v), STATUS_SUCCESS);
    ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
    EXPECT_NE(m.change_time, v);
  }
}

}  // namespace
}  // namespace xsmb::vfs
