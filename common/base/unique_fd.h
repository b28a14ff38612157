// RAII owner of a Linux file descriptor: the one fd wrapper of the tree (VFS files and
// directories, sockets, pipes to helpers).
#pragma once

#include <unistd.h>

#include <utility>

namespace xsmb {

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

}  // namespace xsmb
