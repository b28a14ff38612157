#include "server/vfs/identity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <thread>

#include "common/smb2/constants.h"
#include "server/vfs/attributes.h"
#include "server/vfs/fd.h"
#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

using testing::TempDir;
using testing::writeFile;

TEST(LookupUnixIdentity, RootAndMissing) {
  auto root = lookupUnixIdentity("root");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  ASSERT_FALSE(root->groups.empty());
  EXPECT_NE(std::find(root->groups.begin(), root->groups.end(), 0u), root->groups.end());
  auto missing = lookupUnixIdentity("xsmb-no-such-user-7f3a");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

// 0 when `path` opens for reading, else errno.
int tryOpen(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

class ScopedIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to switch fsuid/fsgid";
    ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
    other_ = tmp_ / "other-0600";
    writeFile(other_);
    ASSERT_EQ(chown(other_.c_str(), 65534, 65534), 0);
    ASSERT_EQ(chmod(other_.c_str(), 0600), 0);
    mine_ = tmp_ / "mine-0600";
    writeFile(mine_);
    ASSERT_EQ(chown(mine_.c_str(), 12345, 12345), 0);
    ASSERT_EQ(chmod(mine_.c_str(), 0600), 0);
    home_ = tmp_ / "home";
    ASSERT_EQ(mkdir(home_.c_str(), 0700), 0);
    ASSERT_EQ(chown(home_.c_str(), 12345, 12345), 0);
    group_ = tmp_ / "group-0060";
    writeFile(group_);
    ASSERT_EQ(chown(group_.c_str(), 0, 4242), 0);
    ASSERT_EQ(chmod(group_.c_str(), 0060), 0);
  }

  TempDir tmp_;
  std::string other_, mine_, group_, home_;
};

TEST_F(ScopedIdentityTest, KernelEnforcesPermissionsOnlyWhileAlive) {
  ASSERT_EQ(tryOpen(other_), 0);  // root with CAP_DAC_OVERRIDE
  {
    ScopedIdentity as({12345, 12345, {12345}});
    ASSERT_TRUE(as.active());
    EXPECT_EQ(tryOpen(other_), EACCES);
    EXPECT_EQ(tryOpen(mine_), 0);
    EXPECT_EQ(tryOpen(group_), EACCES);
    // New files belong to the identity.
    std::string created = home_ + "/created";
    writeFile(created);
    struct stat st {};
    ASSERT_EQ(stat(created.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 12345u);
    EXPECT_EQ(st.st_gid, 12345u);
  }
  EXPECT_EQ(tryOpen(other_), 0);
  EXPECT_EQ(tryOpen(group_), 0);
}

TEST_F(ScopedIdentityTest, SupplementaryGroupsApply) {
  ScopedIdentity as({12345, 12345, {12345, 4242}});
  ASSERT_TRUE(as.active());
  EXPECT_EQ(tryOpen(group_), 0);
  EXPECT_EQ(tryOpen(other_), EACCES);
}

TEST_F(ScopedIdentityTest, OtherThreadsKeepTheirIdentity) {
  // The other thread must exist before the switch: a new thread copies its creator's
  // credentials, which is exactly what the per-thread syscalls must not touch.
  std::promise<void> switched;
  std::future<void> switched_future = switched.get_future();
  int other_thread_result = -1;
  std::thread t([&] {
    switched_future.wait();
    other_thread_result = tryOpen(other_);
  });
  {
    ScopedIdentity as({12345, 12345, {12345}});
    EXPECT_TRUE(as.active());
    switched.set_value();
    t.join();
    EXPECT_EQ(tryOpen(other_), EACCES);
  }
  EXPECT_EQ(other_thread_result, 0);
}

TEST_F(ScopedIdentityTest, NestedScopesRestoreInOrder) {
  {
    ScopedIdentity outer({12345, 12345, {12345}});
    {
      ScopedIdentity inner({65534, 65534, {65534}});
      EXPECT_EQ(tryOpen(other_), 0);
      EXPECT_EQ(tryOpen(mine_), EACCES);
    }
    EXPECT_EQ(tryOpen(other_), EACCES);
    EXPECT_EQ(tryOpen(mine_), 0);
  }
  EXPECT_EQ(tryOpen(mine_), 0);
  EXPECT_EQ(tryOpen(other_), 0);
}

// The O_PATH fallbacks go through /proc/self/fd, which must stay reachable under another fsuid.
TEST_F(ScopedIdentityTest, ProcFdFallbacksWorkUnderIdentity) {
  ScopedIdentity as({12345, 12345, {12345}});
  ASSERT_TRUE(as.active());
  UniqueFd fd(open(mine_.c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(setDosAttributes(fd.get(), smb2::FILE_ATTRIBUTE_HIDDEN | smb2::FILE_ATTRIBUTE_READONLY),
            STATUS_SUCCESS);
  FileMeta m;
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.attributes, smb2::FILE_ATTRIBUTE_HIDDEN | smb2::FILE_ATTRIBUTE_READONLY);
  // The owner may still change a READONLY file's creation time and attributes (as on Windows).
  ASSERT_EQ(setCreationTime(fd.get(), 0x01D0000000000001ULL), STATUS_SUCCESS);
  ASSERT_EQ(setDosAttributes(fd.get(), smb2::FILE_ATTRIBUTE_SYSTEM | smb2::FILE_ATTRIBUTE_READONLY),
            STATUS_SUCCESS);
  ASSERT_EQ(readFileMeta(fd.get(), &m), STATUS_SUCCESS);
  EXPECT_EQ(m.creation_time, 0x01D0000000000001ULL);
  EXPECT_EQ(m.attributes, smb2::FILE_ATTRIBUTE_SYSTEM | smb2::FILE_ATTRIBUTE_READONLY);
  struct stat st {};
  ASSERT_EQ(stat(mine_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  // Not the owner: the kernel refuses the chmod behind READONLY.
  UniqueFd theirs(open(group_.c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(theirs);
  EXPECT_EQ(setDosAttributes(theirs.get(), smb2::FILE_ATTRIBUTE_READONLY), STATUS_ACCESS_DENIED);
}

}  // namespace
}  // namespace xsmb::vfs
