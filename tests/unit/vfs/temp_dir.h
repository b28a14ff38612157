// A temporary directory for VFS tests, removed with everything in it at the end of the test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace xsmb::vfs::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/xsmb-vfs-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void writeFile(const std::string& path, const std::string& content = "x") {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
}

// Whether the file system of `dir` takes user xattrs (tmpfs and ext4 do; some do not).
inline bool hasUserXattrs(const std::string& dir) {
  std::string probe = dir + "/.xattr-probe";
  writeFile(probe);
  bool ok = ::setxattr(probe.c_str(), "user.xsmb.probe", "1", 1, 0) == 0;
  ::unlink(probe.c_str());
  return ok;
}

}  // namespace xsmb::vfs::testing
