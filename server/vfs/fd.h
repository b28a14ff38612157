// RAII owners of the Linux file descriptors the VFS opens: UniqueFd (common/base/unique_fd.h)
// for every file and directory fd, MaybeOwnedFd (DirFd) for one that may be borrowed.
#pragma once

#include <unistd.h>

#include <utility>

#include "common/base/unique_fd.h"

namespace xsmb::vfs {

// The fd owner is common/base/unique_fd.h's; vfs::UniqueFd names it for the VFS and its callers.
using xsmb::UniqueFd;

// A descriptor that is either owned (closed in the destructor) or borrowed from an owner that
// outlives it (a share's root descriptor, which lives as long as the server). Resolving a path
// directly under the root then needs no openat2 to duplicate the root (DirFd), and an open of
// the share root for its attributes only holds the root's own descriptor (Open::fd): no open
// and no close. Move-only; -1 means "none".
class MaybeOwnedFd {
 public:
  MaybeOwnedFd() = default;
  static MaybeOwnedFd owned(int fd) { return MaybeOwnedFd(fd, true); }
  static MaybeOwnedFd borrowed(int fd) { return MaybeOwnedFd(fd, false); }
  MaybeOwnedFd(MaybeOwnedFd&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)) {}
  MaybeOwnedFd& operator=(MaybeOwnedFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
      owned_ = std::exchange(other.owned_, false);
    }
    return *this;
  }
  // Takes ownership of what `other` owned.
  MaybeOwnedFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  MaybeOwnedFd(const MaybeOwnedFd&) = delete;
  MaybeOwnedFd& operator=(const MaybeOwnedFd&) = delete;
  ~MaybeOwnedFd() { reset(); }

  int get() const { return fd_; }
  bool isBorrowed() const { return fd_ >= 0 && !owned_; }
  // Closes the descriptor if owned (a borrowed one is only let go) and takes ownership of `fd`.
  void reset(int fd = -1) {
    if (owned_ && fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
    owned_ = fd >= 0;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  MaybeOwnedFd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_ = -1;
  bool owned_ = false;
};

// A directory descriptor of a path walk: the share root's borrowed, or one the walk opened.
using DirFd = MaybeOwnedFd;

}  // namespace xsmb::vfs
