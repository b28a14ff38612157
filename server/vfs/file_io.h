// Data I/O on an open file for READ and WRITE (MS-SMB2 3.3.5.12, 3.3.5.13): full reads and
// writes with or without RWF_NOWAIT, the page-cache check that lets a READ be sent by
// reference (sendfile), and FileSegment, the file data that follows a response on the wire.
// Operations that may block run on the I/O engine (io_engine.h) instead.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "server/vfs/fd.h"

namespace xsmb::vfs {

// File data that follows a response message on the wire (a READ's Buffer, MS-SMB2 2.2.20) and
// that the message's transport framing already counts: either `length` bytes of `fd` at
// `offset`, sent from the page cache by sendfile, or, when `data` is set, `length` bytes already
// read into `data` (a buffer that is never zero-filled first, unlike a growing response vector).
struct FileSegment {
  std::shared_ptr<UniqueFd> fd;
  uint64_t offset = 0;
  uint32_t length = 0;
  std::shared_ptr<uint8_t[]> data;
};

// Reads up to `len` bytes at `offset` into `buf`, stopping early only at the end of the file.
// `flags` are preadv2 flags (RWF_NOWAIT: only what is in the page cache). Returns the bytes
// read, or -1 with errno set (EAGAIN with RWF_NOWAIT: not in the page cache).
ssize_t preadFull(int fd, uint8_t* buf, size_t len, uint64_t offset, int flags);

// Writes `len` bytes of `data` at `offset`, continuing after `*done` bytes already written and
// advancing `*done`. `flags` are pwritev2 flags (RWF_NOWAIT, RWF_DSYNC). Returns 0 when all is
// written, or -1 with errno set (EAGAIN/EOPNOTSUPP with RWF_NOWAIT) having written `*done`.
int pwriteFull(int fd, const uint8_t* data, size_t len, uint64_t offset, int flags, size_t* done);

// True when [offset, offset+length) of the regular file `fd` lies inside the file and wholly
// in the page cache (cachestat(2), Linux 6.5), so that sending it by sendfile will not wait for
// the disk. False when it does not, or when the kernel cannot tell (then never asked again).
bool rangeIsCached(int fd, uint64_t offset, uint64_t length);

}  // namespace xsmb::vfs
