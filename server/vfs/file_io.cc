#include "server/vfs/file_io.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace xsmb::vfs {

// cachestat(2) (Linux 6.5): Debian 12's headers predate it, so the call is made by number;
// ENOSYS on older kernels.
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

namespace {
struct CachestatRange {
  uint64_t off, len;
};
struct Cachestat {
  uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
}  // namespace

ssize_t preadFull(int fd, uint8_t* buf, size_t len, uint64_t offset, int flags) {
  size_t got = 0;
  while (got < len) {
    iovec iov{buf + got, len - got};
    ssize_t n = preadv2(fd, &iov, 1, static_cast<off_t>(offset + got), flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

int pwriteFull(int fd, const uint8_t* data, size_t len, uint64_t offset, int flags, size_t* done) {
  while (*done < len) {
    iovec iov{const_cast<uint8_t*>(data) + *done, len - *done};
    ssize_t n = pwritev2(fd, &iov, 1, static_cast<off_t>(offset + *done), flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    *done += static_cast<size_t>(n);
  }
  return 0;
}

bool rangeIsCached(int fd, uint64_t offset, uint64_t length) {
  static std::atomic<bool> no_cachestat{false};
  if (no_cachestat.load(std::memory_order_relaxed)) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset >= size || size - offset < length) return false;
  CachestatRange range{offset, length};
  Cachestat cs{};
  if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0) {
    if (errno == ENOSYS || errno == EPERM) no_cachestat = true;
    return false;
  }
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t pages = (offset + length - 1) / page - offset / page + 1;
  return cs.nr_cache >= pages;
}

}  // namespace xsmb::vfs
