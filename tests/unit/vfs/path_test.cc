#include "server/vfs/path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "server/vfs/fd.h"
#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

using testing::TempDir;
using testing::writeFile;

struct SplitCase {
  const char* description;
  std::string input;
  NtStatus expected;
  std::vector<std::string> components;
};

TEST(SplitPath, Table) {
  const std::vector<SplitCase> cases = {
      {"empty is the root", "", STATUS_SUCCESS, {}},
      {"lone backslash is the root", "\\", STATUS_SUCCESS, {}},
      {"single name", "file.txt", STATUS_SUCCESS, {"file.txt"}},
      {"nested", "dir\\sub\\file.txt", STATUS_SUCCESS, {"dir", "sub", "file.txt"}},
      {"leading separator dropped", "\\dir\\f", STATUS_SUCCESS, {"dir", "f"}},
      {"trailing separator dropped", "dir\\sub\\", STATUS_SUCCESS, {"dir", "sub"}},
      {"spaces and unicode kept",
       "My Docs\\\xC3\xA9t\xC3\xA9.txt",
       STATUS_SUCCESS,
       {"My Docs", "\xC3\xA9t\xC3\xA9.txt"}},
      {"dot inside a name", "a.b.c\\..x", STATUS_SUCCESS, {"a.b.c", "..x"}},
      {"component of 255 bytes", std::string(255, 'a'), STATUS_SUCCESS, {std::string(255, 'a')}},
      {"double separator", "a\\\\b", STATUS_OBJECT_NAME_INVALID, {}},
      {"double leading separator then name", "\\\\a", STATUS_OBJECT_NAME_INVALID, {}},
      {"dot component", "a\\.\\b", STATUS_OBJECT_NAME_INVALID, {}},
      {"dotdot component", "a\\..\\b", STATUS_OBJECT_NAME_INVALID, {}},
      {"dotdot alone", "..", STATUS_OBJECT_NAME_INVALID, {}},
      {"leading dotdot", "\\..\\etc", STATUS_OBJECT_NAME_INVALID, {}},
      {"forward slash is a character", "a/b", STATUS_OBJECT_NAME_INVALID, {}},
      {"slash climb", "../../etc/passwd", STATUS_OBJECT_NAME_INVALID, {}},
      {"less than", "a<b", STATUS_OBJECT_NAME_INVALID, {}},
      {"greater than", "a>b", STATUS_OBJECT_NAME_INVALID, {}},
      {"colon (stream)", "file:stream", STATUS_OBJECT_NAME_INVALID, {}},
      {"double quote", "a\"b", STATUS_OBJECT_NAME_INVALID, {}},
      {"pipe", "a|b", STATUS_OBJECT_NAME_INVALID, {}},
      {"question mark", "a?b", STATUS_OBJECT_NAME_INVALID, {}},
      {"star", "*", STATUS_OBJECT_NAME_INVALID, {}},
      {"control char",
       "a\x01"
       "b",
       STATUS_OBJECT_NAME_INVALID,
       {}},
      {"tab", "a\tb", STATUS_OBJECT_NAME_INVALID, {}},
      {"embedded NUL", std::string("a\0b", 3), STATUS_OBJECT_NAME_INVALID, {}},
      {"component of 256 bytes", std::string(256, 'a'), STATUS_OBJECT_NAME_INVALID, {}},
      {"path of 4097 bytes", std::string(4097, 'a'), STATUS_NAME_TOO_LONG, {}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> out = {"stale"};
    EXPECT_EQ(splitPath(c.input, &out), c.expected) << c.description;
    EXPECT_EQ(out, c.components) << c.description;
  }
}

TEST(SplitPath, PathOf4096BytesIsAccepted) {
  std::string path;
  while (path.size() + 101 <= 4096) path += std::string(100, 'x') + "\\";
  path += std::string(4096 - path.size(), 'y');
  ASSERT_EQ(path.size(), 4096u);
  std::vector<std::string> out;
  EXPECT_EQ(splitPath(path, &out), STATUS_SUCCESS);
  EXPECT_EQ(out.size(), 41u);
}

TEST(NtStatusFromErrno, Table) {
  const std::vector<std::pair<int, NtStatus>> cases = {
      {0, STATUS_SUCCESS},
      {ENOENT, STATUS_OBJECT_NAME_NOT_FOUND},
      {ENOTDIR, STATUS_OBJECT_PATH_NOT_FOUND},
      {EACCES, STATUS_ACCESS_DENIED},
      {EPERM, STATUS_ACCESS_DENIED},
      {EXDEV, STATUS_ACCESS_DENIED},
      {EEXIST, STATUS_OBJECT_NAME_COLLISION},
      {ENOTEMPTY, STATUS_DIRECTORY_NOT_EMPTY},
      {EISDIR, STATUS_FILE_IS_A_DIRECTORY},
      {ENOSPC, STATUS_DISK_FULL},
      {EDQUOT, STATUS_DISK_FULL},
      {EROFS, STATUS_MEDIA_WRITE_PROTECTED},
      {ENAMETOOLONG, STATUS_NAME_TOO_LONG},
      {ELOOP, STATUS_OBJECT_PATH_NOT_FOUND},
      {EMFILE, STATUS_TOO_MANY_OPENED_FILES},
      {EBADF, STATUS_INVALID_HANDLE},
      {EINVAL, STATUS_INVALID_PARAMETER},
      {EBUSY, STATUS_SHARING_VIOLATION},
      {EOPNOTSUPP, STATUS_NOT_SUPPORTED},
      {EPIPE, STATUS_UNSUCCESSFUL},
  };
  for (const auto& [err, status] : cases) {
    EXPECT_EQ(ntStatusFromErrno(err), status) << "errno " << err;
  }
}

// Share layout under root/ (the share) with an outside/ sibling holding a secret:
//   root/Dir/Sub/file.txt, root/dir-link -> Dir (inside), root/etc-link -> /etc,
//   root/up-link -> ../../.., root/abs-in -> <abs path of root>/Dir,
//   root/chain1 -> chain2, root/chain2 -> ../outside, root/Dir/esc -> ../../outside,
//   root/Case/{ABC, abc} (two names differing only in case), root/Mixed.TXT
class ResolvePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_ / "root";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((tmp_ / "outside").c_str(), 0755), 0);
    writeFile(tmp_ / "outside/secret");
    ASSERT_EQ(mkdir((root_ + "/Dir").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/Dir/Sub").c_str(), 0755), 0);
    writeFile(root_ + "/Dir/Sub/file.txt");
    ASSERT_EQ(mkdir((root_ + "/Case").c_str(), 0755), 0);
    writeFile(root_ + "/Case/ABC", "upper");
    writeFile(root_ + "/Case/abc", "lower");
    writeFile(root_ + "/Mixed.TXT");
    ASSERT_EQ(symlink("Dir", (root_ + "/dir-link").c_str()), 0);
    ASSERT_EQ(symlink("/etc", (root_ + "/etc-link").c_str()), 0);
    ASSERT_EQ(symlink("../../..", (root_ + "/up-link").c_str()), 0);
    ASSERT_EQ(symlink((root_ + "/Dir").c_str(), (root_ + "/abs-in").c_str()), 0);
    ASSERT_EQ(symlink("chain2", (root_ + "/chain1").c_str()), 0);
    ASSERT_EQ(symlink("../outside", (root_ + "/chain2").c_str()), 0);
    ASSERT_EQ(symlink("../../outside", (root_ + "/Dir/esc").c_str()), 0);
    root_fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_);
  }

  NtStatus resolve(const std::string& smb_path, Resolved* out) {
    std::vector<std::string> comps;
    NtStatus s = splitPath(smb_path, &comps);
    if (s != STATUS_SUCCESS) return s;
    return resolvePath(root_fd_.get(), comps, out);
  }

  TempDir tmp_;
  std::string root_;
  UniqueFd root_fd_;
};

TEST_F(ResolvePathTest, ExactPath) {
  Resolved r;
  ASSERT_EQ(resolve("Dir\\Sub\\file.txt", &r), STATUS_SUCCESS);
  EXPECT_TRUE(r.exists);
  EXPECT_EQ(r.name, "file.txt");
  EXPECT_EQ(r.disk_path, "Dir/Sub/file.txt");
  EXPECT_TRUE(S_ISREG(r.stx.stx_mode));
  EXPECT_EQ(r.stx.stx_size, 1u);
  UniqueFd f(openBeneath(r.parent.get(), r.name.c_str(), O_RDONLY));
  EXPECT_TRUE(f);
}

TEST_F(ResolvePathTest, ShareRoot) {
  Resolved r;
  ASSERT_EQ(resolve("", &r), STATUS_SUCCESS);
  EXPECT_TRUE(r.exists);
  EXPECT_EQ(r.name, "");
  EXPECT_EQ(r.disk_path, "");
  EXPECT_TRUE(S_ISDIR(r.stx.stx_mode));
  UniqueFd d(openBeneath(r.parent.get(), ".", O_RDONLY | O_DIRECTORY));
  EXPECT_TRUE(d);
}

TEST_F(ResolvePathTest, CaseInsensitiveMatch) {
  Resolved r;
  ASSERT_EQ(resolve("DIR\\sub\\FILE.TXT", &r), STATUS_SUCCESS);
  EXPECT_TRUE(r.exists);
  EXPECT_EQ(r.name, "file.txt");
  EXPECT_EQ(r.disk_path, "Dir/Sub/file.txt");
  Resolved m;
  ASSERT_EQ(resolve("mixed.txt", &m), STATUS_SUCCESS);
  EXPECT_TRUE(m.exists);
  EXPECT_EQ(m.name, "Mixed.TXT");
}

TEST_F(ResolvePathTest, ExactMatchPreferredOverCaseVariant) {
  Resolved upper, lower, other;
  ASSERT_EQ(resolve("Case\\ABC", &upper), STATUS_SUCCESS);
  EXPECT_EQ(upper.name, "ABC");
  EXPECT_EQ(upper.stx.stx_size, 5u);  // "upper"
  ASSERT_EQ(resolve("Case\\abc", &lower), STATUS_SUCCESS);
  EXPECT_EQ(lower.name, "abc");
  // Neither spelling matches exactly: the byte-wise smallest candidate ("ABC") wins.
  ASSERT_EQ(resolve("Case\\Abc", &other), STATUS_SUCCESS);
  EXPECT_TRUE(other.exists);
  EXPECT_EQ(other.name, "ABC");
}

TEST_F(ResolvePathTest, MissingLastComponentIsNotAnError) {
  Resolved r;
  ASSERT_EQ(resolve("dir\\NewFile.txt", &r), STATUS_SUCCESS);
  EXPECT_FALSE(r.exists);
  EXPECT_EQ(r.name, "NewFile.txt");
  EXPECT_EQ(r.disk_path, "Dir/NewFile.txt");
  // The parent is usable to create it.
  UniqueFd f(openBeneath(r.parent.get(), r.name.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
  EXPECT_TRUE(f);
  EXPECT_EQ(access((root_ + "/Dir/NewFile.txt").c_str(), F_OK), 0);
}

TEST_F(ResolvePathTest, MissingIntermediateIsPathNotFound) {
  Resolved r;
  EXPECT_EQ(resolve("nodir\\file", &r), STATUS_OBJECT_PATH_NOT_FOUND);
  // A file used as a directory.
  EXPECT_EQ(resolve("Mixed.TXT\\file", &r), STATUS_OBJECT_PATH_NOT_FOUND);
}

TEST_F(ResolvePathTest, DirectorySymlinkInsideShareWorks) {
  Resolved r;
  ASSERT_EQ(resolve("dir-link\\Sub\\file.txt", &r), STATUS_SUCCESS);
  EXPECT_TRUE(r.exists);
  EXPECT_EQ(r.disk_path, "dir-link/Sub/file.txt");
}

TEST_F(ResolvePathTest, SymlinkToEtcCannotBeTraversed) {
  Resolved r;
  NtStatus s = resolve("etc-link\\passwd", &r);
  EXPECT_TRUE(s == STATUS_ACCESS_DENIED || s == STATUS_OBJECT_PATH_NOT_FOUND) << ntStatusName(s);
  // As a last component it is reported (not followed), and opening it is refused.
  ASSERT_EQ(resolve("etc-link", &r), STATUS_SUCCESS);
  EXPECT_TRUE(S_ISLNK(r.stx.stx_mode));
  errno = 0;
  EXPECT_LT(openBeneath(r.parent.get(), r.name.c_str(), O_RDONLY), 0);
  EXPECT_EQ(errno, EXDEV);
}

TEST_F(ResolvePathTest, RelativeClimbingSymlinkFails) {
  Resolved r;
  NtStatus s = resolve("up-link\\etc\\passwd", &r);
  EXPECT_TRUE(s == STATUS_ACCESS_DENIED || s == STATUS_OBJECT_PATH_NOT_FOUND) << ntStatusName(s);
  s = resolve("Dir\\esc\\secret", &r);
  EXPECT_TRUE(s == STATUS_ACCESS_DENIED || s == STATUS_OBJECT_PATH_NOT_FOUND) << ntStatusName(s);
}

TEST_F(ResolvePathTest, AbsoluteSymlinkFailsEvenWhenItPointsInside) {
  // RESOLVE_BENEATH refuses any absolute target: the share cannot know where "/" is.
  Resolved r;
  NtStatus s = resolve("abs-in\\Sub\\file.txt", &r);
  EXPECT_TRUE(s == STATUS_ACCESS_DENIED || s == STATUS_OBJECT_PATH_NOT_FOUND) << ntStatusName(s);
}

TEST_F(ResolvePathTest, SymlinkChainLeavingRootFails) {
  Resolved r;
  NtStatus s = resolve("chain1\\secret", &r);
  EXPECT_TRUE(s == STATUS_ACCESS_DENIED || s == STATUS_OBJECT_PATH_NOT_FOUND) << ntStatusName(s);
  ASSERT_EQ(resolve("chain1", &r), STATUS_SUCCESS);
  EXPECT_LT(openBeneath(r.parent.get(), r.name.c_str(), O_RDONLY), 0);
}

TEST_F(ResolvePathTest, RejectsInvalidComponentsPassedDirectly) {
  Resolved r;
  EXPECT_EQ(resolvePath(root_fd_.get(), {"Dir", ".."}, &r), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(resolvePath(root_fd_.get(), {"../outside"}, &r), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(resolvePath(root_fd_.get(), {std::string("a\0b", 3)}, &r), STATUS_OBJECT_NAME_INVALID);
}

TEST(OpenBeneath, RefusesDotDotAndMagicLinks) {
  TempDir tmp;
  UniqueFd dir(open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  errno = 0;
  EXPECT_LT(openBeneath(dir.get(), "..", O_PATH), 0);
  EXPECT_EQ(errno, EXDEV);
  EXPECT_LT(openBeneath(dir.get(), "/etc/passwd", O_RDONLY), 0);
  EXPECT_EQ(errno, EXDEV);
  int fd = openBeneath(dir.get(), "new", O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  close(fd);
}

TEST(UniqueFd, OwnsAndMoves) {
  int raw = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
    UniqueFd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
  }
  errno = 0;
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);  // closed by the destructor
  EXPECT_EQ(errno, EBADF);
  UniqueFd d(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int released = d.release();
  EXPECT_FALSE(d);
  EXPECT_GE(fcntl(released, F_GETFD), 0);
  close(released);
}

bool isOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }

// A borrowed descriptor (the share root lent to an Open) outlives every owner it passes through;
// an owned one is closed exactly once, by whoever holds it last.
TEST(MaybeOwnedFd, BorrowedIsNeverClosedOwnedIsClosedOnce) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  {
    MaybeOwnedFd a = MaybeOwnedFd::borrowed(root);
    EXPECT_TRUE(a.isBorrowed());
    MaybeOwnedFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), root);
    MaybeOwnedFd c;
    c = std::move(b);
    c.reset();  // lets go of the root without closing it
    EXPECT_FALSE(c);
    c = MaybeOwnedFd::borrowed(root);
  }
  EXPECT_TRUE(isOpen(root));

  int owned = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(owned, 0);
  {
    MaybeOwnedFd a;
    a = UniqueFd(owned);  // takes the UniqueFd's ownership
    EXPECT_FALSE(a.isBorrowed());
    MaybeOwnedFd b(std::move(a));
    EXPECT_TRUE(isOpen(owned));
    b = MaybeOwnedFd::borrowed(root);  // the owned one is closed here, the root only held
    EXPECT_FALSE(isOpen(owned));
    EXPECT_TRUE(b.isBorrowed());
  }
  EXPECT_TRUE(isOpen(root));
  close(root);
}

}  // namespace
}  // namespace xsmb::vfs
