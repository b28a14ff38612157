// RAII owners of the Linux file descriptors the VFS opens: UniqueFd (common/base/unique_fd.h)
// for every file and directory fd, DirFd for a directory fd that may be borrowed.
#pragma once

#include <unistd.h>

#include <utility>

#include "common/base/unique_fd.h"

namespace xsmb::vfs {

// The fd owner is common/base/unique_fd.h's; vfs::UniqueFd names it for the VFS and its callers.
using xsmb::UniqueFd;

// A directory fd that is either owned (closed in the destructor) or borrowed from an owner
// that outlives it (a share's root fd), so resolving a path directly under the root needs no
// openat2 to duplicate the root. Move-only; -1 means "none".
class DirFd {
 public:
  DirFd() = default;
  static DirFd owned(int fd) { return DirFd(fd, true); }
  static DirFd borrowed(int fd) { return DirFd(fd, false); }
  DirFd(DirFd&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)) {}
  DirFd& operator=(DirFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
      owned_ = std::exchange(other.owned_, false);
    }
    return *this;
  }
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  ~DirFd() { reset(); }

  int get() const { return fd_; }
  void reset() {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
    owned_ = false;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  DirFd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_ = -1;
  bool owned_ = false;
};

}  // namespace xsmb::vfs
