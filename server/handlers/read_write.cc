// READ (MS-SMB2 3.3.5.12), WRITE (3.3.5.13), FLUSH (3.3.5.11) and LOCK (3.3.5.14).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <limits>

#include "common/base/log.h"
#include "server/handlers/handler.h"
#include "server/vfs/file_io.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t SMB2_LOCKFLAG_SHARED_LOCK = 0x01;
constexpr uint32_t SMB2_LOCKFLAG_EXCLUSIVE_LOCK = 0x02;
constexpr uint32_t SMB2_LOCKFLAG_UNLOCK = 0x04;
constexpr uint32_t SMB2_LOCKFLAG_FAIL_IMMEDIATELY = 0x10;
constexpr uint32_t SMB2_WRITEFLAG_WRITE_THROUGH = 0x01;

// Reads req.length bytes at req.offset into a READ response body (MS-SMB2 2.2.20). With
// RWF_NOWAIT (`flags`) anything short of the full length is a failure (STATUS_RETRY), so the
// caller can hand the read to a thread that may block.
NtStatus readInto(int fd, const ReadRequest& req, ByteWriter& body, int flags) {
  size_t start = body.size();
  size_t hdr_end = start + 16;
  encodeReadResponseHeader(0, body);
  Bytes& buf = body.buf();
  buf.resize(hdr_end + req.length);
  ssize_t n = vfs::preadFull(fd, buf.data() + hdr_end, req.length, req.offset, flags);
  if (n < 0) {
    buf.resize(start);
    return flags ? STATUS_RETRY : vfs::ntStatusFromErrno(errno);
  }
  size_t got = static_cast<size_t>(n);
  if (flags && got < req.length) {  // end of file, or only partly cached: decide off the loop
    buf.resize(start);
    return STATUS_RETRY;
  }
  buf.resize(hdr_end + got);
  if ((got == 0 && req.length > 0) || got < req.minimum_count) {
    buf.resize(start);
    return STATUS_END_OF_FILE;
  }
  body.patchU32(start + 4, static_cast<uint32_t>(got));
  if (got == 0) buf.push_back(0);  // a READ response carries at least one byte of Buffer
  return STATUS_SUCCESS;
}

// Writes `data` at `offset` and encodes the WRITE response (MS-SMB2 2.2.22). With RWF_NOWAIT a
// write that would block fails with STATUS_RETRY having written `*done` bytes. `sync` (write
// through) makes each write durable before it returns (RWF_DSYNC, as the I/O engine does).
NtStatus writeFrom(int fd, uint64_t offset, ByteSpan data, bool sync, int flags, size_t* done,
                   ByteWriter& body) {
  if (vfs::pwriteFull(fd, data.data(), data.size(), offset, flags | (sync ? RWF_DSYNC : 0), done) !=
      0) {
    return flags ? STATUS_RETRY : vfs::ntStatusFromErrno(errno);
  }
  encodeWriteResponse(static_cast<uint32_t>(*done), body);
  return STATUS_SUCCESS;
}

// Below this a copy through the response buffer is cheaper than the extra system calls
// (fstat, cachestat, a second send) that sending from the page cache needs.
constexpr uint32_t kSendfileMinLength = 64 * 1024;

// Answers a READ by reference to the page cache (MS-SMB2 2.2.20 header only; the data follows
// on the wire from *seg). STATUS_RETRY when this does not apply: the range is not wholly
// cached, runs past the end of the file, or the kernel cannot tell.
NtStatus readAsSegment(session::Open& o, const ReadRequest& req, vfs::FileSegment* seg,
                       ByteWriter& body) {
  if (!vfs::rangeIsCached(o.fd.get(), req.offset, req.length)) return STATUS_RETRY;
  encodeReadResponseHeader(req.length, body);
  seg->fd = o.sharedFd();
  seg->offset = req.offset;
  seg->length = req.length;
  return STATUS_SUCCESS;
}

// Reads a lone READ's data into a buffer of its own that the response frame carries as its
// segment (`seg->data`): unlike growing the response vector, the buffer is not zero-filled
// before the read overwrites it. RWF_NOWAIT; STATUS_RETRY unless the whole range was read at
// once from the page cache (the end of the file included: the caller's slower path handles it).
NtStatus readIntoSegment(session::Open& o, const ReadRequest& req, vfs::FileSegment* seg,
                         ByteWriter& body) {
  auto data = std::make_shared_for_overwrite<uint8_t[]>(req.length);
  if (vfs::preadFull(o.fd.get(), data.get(), req.length, req.offset, RWF_NOWAIT) !=
      static_cast<ssize_t>(req.length)) {
    return STATUS_RETRY;
  }
  encodeReadResponseHeader(req.length, body);
  seg->data = std::move(data);
  seg->length = req.length;
  return STATUS_SUCCESS;
}

// A message-mode pipe read: what the last write produced, in pieces no larger than asked;
// STATUS_BUFFER_OVERFLOW says more of the same message follows (MS-SMB2 3.3.5.12).
NtStatus readPipe(session::Open& o, const ReadRequest& req, ByteWriter& body) {
  if (o.pipe_out.empty()) return STATUS_PIPE_EMPTY;
  size_t n = std::min<size_t>(req.length, o.pipe_out.size());
  encodeReadResponseHeader(static_cast<uint32_t>(n), body);
  body.bytes(o.pipe_out.data(), n);
  o.pipe_out.erase(o.pipe_out.begin(), o.pipe_out.begin() + static_cast<ptrdiff_t>(n));
  return o.pipe_out.empty() ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
}

}  // namespace

// Hands a client write to the pipe's service and keeps its reply for the next reads.
NtStatus pipeTransact(RequestContext& ctx, session::Open& o, ByteSpan data) {
  if (!ctx.server->rpcd) return STATUS_PIPE_DISCONNECTED;
  auto reply = ctx.server->rpcd->transact(o.pipe_id, data);
  if (!reply.ok()) {
    XLOG(INFO) << ctx.conn->peer << ": pipe " << o.smb_path << ": " << reply.status().message();
    return STATUS_PIPE_DISCONNECTED;
  }
  o.pipe_out.insert(o.pipe_out.end(), reply->begin(), reply->end());
  return STATUS_SUCCESS;
}

NtStatus handleRead(RequestContext& ctx, ByteWriter& body) {
  ReadRequest req;
  if (NtStatus st = decodeReadRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return readPipe(*o, req, body);
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_read) return STATUS_ACCESS_DENIED;
  if (req.length > ctx.conn->max_read_size) return STATUS_INVALID_PARAMETER;
  if (req.offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()))
    return STATUS_INVALID_PARAMETER;
  if (ctx.server->files.ioConflicts(o->key, o->token, req.offset, req.length, false))
    return STATUS_FILE_LOCK_CONFLICT;
  // On the event loop only data already in the page cache is read (RWF_NOWAIT); anything
  // else goes to the I/O pool with a reference to the file, off the connection's strand.
  if (ctx.on_event_loop) {
    if (ctx.file_segment && req.length >= kSendfileMinLength && req.minimum_count <= req.length) {
      // A large lone READ whose response is neither signed nor sealed: its data leaves from
      // the page cache (sendfile) or from a buffer of its own, never through the response.
      // (MinimumCount above Length can never be met: the paths below answer END_OF_FILE.)
      if (o->share->cfg.use_sendfile && ctx.conn->file_by_reference &&
          readAsSegment(*o, req, ctx.file_segment, body) == STATUS_SUCCESS) {
        ctx.server->stats.sendfile_reads++;
        o->position = req.offset + req.length;
        return STATUS_SUCCESS;
      }
      if (readIntoSegment(*o, req, ctx.file_segment, body) == STATUS_SUCCESS) {
        o->position = req.offset + req.length;
        return STATUS_SUCCESS;
      }
    } else if (readInto(o->fd.get(), req, body, RWF_NOWAIT) == STATUS_SUCCESS) {
      o->position = req.offset + req.length;
      return STATUS_SUCCESS;
    }
    auto fd = o->sharedFd();
    ctx.deferred_io.fd = fd;
    ctx.deferred_io.prepare = [fd = fd->get(), req](ByteWriter& body) {
      size_t start = body.size();
      encodeReadResponseHeader(0, body);
      body.buf().resize(start + 16 + req.length);
      return vfs::FileIo{vfs::FileIo::Op::kRead, fd, req.offset, body.buf().data() + start + 16,
                         req.length};
    };
    ctx.deferred_io.finish = [req](int64_t r, ByteWriter& body, size_t start) {
      if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
      auto got = static_cast<uint32_t>(r);  // a read is short only at the end of the file
      if ((got == 0 && req.length > 0) || got < req.minimum_count) return STATUS_END_OF_FILE;
      body.buf().resize(start + 16 + got);
      body.patchU32(start + 4, got);
      if (got == 0) body.buf().push_back(0);
      return STATUS_SUCCESS;
    };
    return STATUS_PENDING;
  }
  NtStatus st = readInto(o->fd.get(), req, body, 0);
  if (st == STATUS_SUCCESS) o->position = req.offset + req.length;
  return st;
}

NtStatus handleWrite(RequestContext& ctx, ByteWriter& body) {
  WriteRequest req;
  if (NtStatus st = decodeWriteRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) {
    // Also on the event loop: the call goes to the local RPC helper over a socketpair and is
    // answered in well under a millisecond (bounded by the helper's call timeout).
    if (NtStatus st = pipeTransact(ctx, *o, req.data); st != STATUS_SUCCESS) return st;
    encodeWriteResponse(static_cast<uint32_t>(req.data.size()), body);
    return STATUS_SUCCESS;
  }
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_write) return STATUS_ACCESS_DENIED;
  if (req.data.size() > ctx.conn->max_write_size) return STATUS_INVALID_PARAMETER;
  uint64_t offset = req.offset;
  // An offset of all ones means "append" for an open that may only append (MS-SMB2 3.3.5.13).
  bool append_only =
      (o->granted_access & FILE_APPEND_DATA) && !(o->granted_access & FILE_WRITE_DATA);
  if (offset == ~0ULL && append_only) {
    struct stat st {};
    if (fstat(o->fd.get(), &st) != 0) return vfs::ntStatusFromErrno(errno);
    offset = static_cast<uint64_t>(st.st_size);
  }
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) - req.data.size())
    return STATUS_INVALID_PARAMETER;
  if (ctx.server->files.ioConflicts(o->key, o->token, offset, req.data.size(), true))
    return STATUS_FILE_LOCK_CONFLICT;
  // Writers break LEVEL_II oplocks of others (MS-FSA 2.1.5.3).
  ctx.server->files.breakOplocks(o->key, ctx.conn, /*write_intent=*/true);
  bool sync =
      (req.flags & SMB2_WRITEFLAG_WRITE_THROUGH) || (o->create_options & FILE_WRITE_THROUGH);
  o->position = offset + req.data.size();
  size_t done = 0;
  if (ctx.on_event_loop) {
    // As for READ: what the page cache takes at once is written here, the rest (and every
    // write-through WRITE, RWF_DSYNC) by the I/O engine.
    NtStatus st = STATUS_RETRY;
    if (!sync && !o->nowait_write_refused) {
      st = writeFrom(o->fd.get(), offset, req.data, false, RWF_NOWAIT, &done, body);
      if (st == STATUS_RETRY && done == 0 && errno == EOPNOTSUPP) o->nowait_write_refused = true;
    }
    if (st != STATUS_RETRY) return st;
    auto fd = o->sharedFd();
    ByteSpan data = req.data;  // the worker keeps the request message alive until the reply
    ctx.deferred_io.fd = fd;
    ctx.deferred_io.prepare = [fd = fd->get(), offset, data, done, sync](ByteWriter&) {
      return vfs::FileIo{vfs::FileIo::Op::kWrite, fd,
                         offset + done,           const_cast<uint8_t*>(data.data()) + done,
                         data.size() - done,      sync};
    };
    ctx.deferred_io.finish = [done](int64_t r, ByteWriter& body, size_t) {
      if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
      encodeWriteResponse(static_cast<uint32_t>(done + static_cast<size_t>(r)), body);
      return STATUS_SUCCESS;
    };
    return STATUS_PENDING;
  }
  return writeFrom(o->fd.get(), offset, req.data, sync, 0, &done, body);
}

NtStatus handleFlush(RequestContext& ctx, ByteWriter& body) {
  FileId id;
  if (NtStatus st = decodeFlushRequest(ctx.message, &id); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->directory) {
    if (!(o->granted_access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) return STATUS_ACCESS_DENIED;
    if (o->has_write && ctx.on_event_loop) {  // fsync waits for the disk: the I/O engine runs it
      auto fd = o->sharedFd();
      ctx.deferred_io.fd = fd;
      ctx.deferred_io.prepare = [fd = fd->get()](ByteWriter&) {
        return vfs::FileIo{vfs::FileIo::Op::kFsync, fd, 0, nullptr, 0};
      };
      ctx.deferred_io.finish = [](int64_t r, ByteWriter& body, size_t) {
        if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
        encodeFlushResponse(body);
        return STATUS_SUCCESS;
      };
      return STATUS_PENDING;
    }
    if (o->has_write && fsync(o->fd.get()) != 0) return vfs::ntStatusFromErrno(errno);
  }
  encodeFlushResponse(body);
  return STATUS_SUCCESS;
}

NtStatus handleLock(RequestContext& ctx, ByteWriter& body) {
  LockRequest req;
  if (NtStatus st = decodeLockRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->directory) return STATUS_INVALID_PARAMETER;
  // MS-SMB2 3.3.5.14: a request either unlocks ranges or takes locks, never both; a list of
  // locks may only be longer than one element when each fails immediately.
  // Elements are applied in order and each is checked when its turn comes, as Windows does
  // (an unlock followed by an invalid element has still unlocked).
  bool unlocking = req.locks[0].flags & SMB2_LOCKFLAG_UNLOCK;
  auto& files = ctx.server->files;
  for (size_t i = 0; i < req.locks.size(); ++i) {
    const LockElement& e = req.locks[i];
    uint32_t kind = e.flags & 0x7;
    bool valid =
        unlocking ? e.flags == SMB2_LOCKFLAG_UNLOCK
                  : (kind == SMB2_LOCKFLAG_SHARED_LOCK || kind == SMB2_LOCKFLAG_EXCLUSIVE_LOCK) &&
                        !(e.flags & ~(0x7u | SMB2_LOCKFLAG_FAIL_IMMEDIATELY)) &&
                        (req.locks.size() == 1 || (e.flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY));
    NtStatus st = STATUS_SUCCESS;
    if (!valid) {
      st = STATUS_INVALID_PARAMETER;
    } else if (e.length && e.offset + (e.length - 1) < e.offset) {
      st = STATUS_INVALID_LOCK_RANGE;
    } else {
      st = unlocking ? files.unlock(o->key, o->token, e.offset, e.length)
                     : files.lock(o->key, o->token, e.offset, e.length,
                                  kind == SMB2_LOCKFLAG_EXCLUSIVE_LOCK);
    }
    if (st != STATUS_SUCCESS) {
      // Locks taken by the earlier elements of this request are given back.
      for (size_t j = 0; !unlocking && j < i; ++j) {
        files.unlock(o->key, o->token, req.locks[j].offset, req.locks[j].length);
      }
      return st;
    }
  }
  encodeLockResponse(body);
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
