// RAII owner of a Linux file descriptor, used for every directory and file fd the VFS opens.
#pragma once

#include <unistd.h>

#include <utility>

namespace xsmb::vfs {

// Move-only owner of a file descriptor; closes it in the destructor. -1 means "none".
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  // Gives up ownership; returns the fd (or -1) and leaves this empty.
  int release() { return std::exchange(fd_, -1); }
  // Closes the owned fd (if any) and takes ownership of `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0 && fd_ != fd) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

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
