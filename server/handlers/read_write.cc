// READ (MS-SMB2 3.3.5.12), WRITE (3.3.5.13) and FLUSH (3.3.5.11); LOCK is in lock.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <span>

#include "common/base/log.h"
#include "server/handlers/handler.h"
#include "server/handlers/read_write_rdma.h"
#include "server/handlers/stream_ops.h"
#include "server/vfs/attributes.h"
#include "server/vfs/file_io.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t SMB2_WRITEFLAG_WRITE_THROUGH = 0x01;

// A READ that got `got` of the req.length bytes it asked for (fewer only at the end of the file):
// its data lies in the payload area, or STATUS_END_OF_FILE when it fell short of MinimumCount or
// found nothing (MS-SMB2 3.3.5.12).
NtStatus readDone(const ReadRequest& req, uint32_t got, ResponseBody& out) {
  if ((got == 0 && req.length > 0) || got < req.minimum_count) return STATUS_END_OF_FILE;
  out = ReadResponse::inPlace(got);
  return STATUS_SUCCESS;
}

// Reads req.length bytes at req.offset straight into the READ response's Buffer (`payload`,
// MS-SMB2 2.2.20). With RWF_NOWAIT (`flags`) anything short of the full length is a failure
// (STATUS_RETRY), so the caller can hand the read to the I/O engine.
NtStatus readInto(int fd, const ReadRequest& req, ReadPayload& payload, int flags,
                  ResponseBody& out) {
  std::span<uint8_t> data = payload.reserve(req.length);
  ssize_t n = vfs::preadFull(fd, data.data(), data.size(), req.offset, flags);
  if (n < 0) return flags ? STATUS_RETRY : vfs::ntStatusFromErrno(errno);
  auto got = static_cast<uint32_t>(n);
  if (flags && got < req.length) return STATUS_RETRY;  // end of file, or only partly cached
  return readDone(req, got, out);
}

// Writes `data` at `offset` (MS-SMB2 3.3.5.13). With RWF_NOWAIT a write that would block fails
// with STATUS_RETRY having written `*done` bytes. `sync` (write through) makes each write
// durable before it returns (RWF_DSYNC, as the I/O engine does).
NtStatus writeFrom(int fd, uint64_t offset, ByteSpan data, bool sync, int flags, size_t* done,
                   ResponseBody& out) {
  if (vfs::pwriteFull(fd, data.data(), data.size(), offset, flags | (sync ? RWF_DSYNC : 0), done) !=
      0) {
    return flags ? STATUS_RETRY : vfs::ntStatusFromErrno(errno);
  }
  out = WriteResponse{static_cast<uint32_t>(*done)};
  return STATUS_SUCCESS;
}

// Below this a copy through the response buffer is cheaper than the extra system calls
// (fstat, cachestat, a second send) that sending from the page cache needs.
constexpr uint32_t kSendfileMinLength = 64 * 1024;

// Answers a READ by reference to the page cache (the response is the fixed part only; the data
// follows on the wire from *seg). STATUS_RETRY when this does not apply: the range is not wholly
// cached, runs past the end of the file, or the kernel cannot tell.
NtStatus readAsSegment(session::Open& o, const ReadRequest& req, vfs::FileSegment* seg,
                       ResponseBody& out) {
  if (!vfs::rangeIsCached(o.fd.get(), req.offset, req.length)) return STATUS_RETRY;
  seg->fd = o.sharedFd();
  seg->offset = req.offset;
  seg->length = req.length;
  out = ReadResponse::inSegment(req.length);
  return STATUS_SUCCESS;
}

// Reads a lone READ's data into a buffer of its own that the response frame carries as its
// segment (`seg->data`): unlike growing the response vector, the buffer is not zero-filled
// before the read overwrites it. RWF_NOWAIT; STATUS_RETRY unless the whole range was read at
// once from the page cache (the end of the file included: the caller's slower path handles it).
NtStatus readIntoSegment(session::Open& o, const ReadRequest& req, vfs::FileSegment* seg,
                         ResponseBody& out) {
  auto data = std::make_shared_for_overwrite<uint8_t[]>(req.length);
  if (vfs::preadFull(o.fd.get(), data.get(), req.length, req.offset, RWF_NOWAIT) !=
      static_cast<ssize_t>(req.length)) {
    return STATUS_RETRY;
  }
  seg->data = std::move(data);
  seg->length = req.length;
  out = ReadResponse::inSegment(req.length);
  return STATUS_SUCCESS;
}

// A message-mode pipe read: what the last write produced, in pieces no larger than asked;
// STATUS_BUFFER_OVERFLOW says more of the same message follows (MS-SMB2 3.3.5.12).
NtStatus readPipe(session::Open& o, const ReadRequest& req, ReadPayload& payload,
                  ResponseBody& out) {
  if (o.pipe_out.empty()) return STATUS_PIPE_EMPTY;
  size_t n = std::min<size_t>(req.length, o.pipe_out.size());
  std::span<uint8_t> data = payload.reserve(n);
  std::copy_n(o.pipe_out.begin(), n, data.begin());
  o.pipe_out.erase(o.pipe_out.begin(), o.pipe_out.begin() + static_cast<ptrdiff_t>(n));
  out = ReadResponse::inPlace(static_cast<uint32_t>(n));
  return o.pipe_out.empty() ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
}

// A READ on the event loop, from the page cache only (RWF_NOWAIT): a large lone READ whose
// response is neither signed nor sealed leaves from the page cache (sendfile) or from a buffer
// of its own, never through the response; a smaller one is read into the response. STATUS_RETRY
// when the data is not all cached (or at the end of the file): the caller defers it.
NtStatus readOnEventLoop(RequestContext& ctx, session::Open& o, const ReadRequest& req,
                         ResponseBody& out) {
  // (MinimumCount above Length can never be met: the paths that follow answer END_OF_FILE.)
  if (ctx.file_segment && req.length >= kSendfileMinLength && req.minimum_count <= req.length) {
    if (o.share->cfg.use_sendfile && ctx.conn->file_by_reference &&
        readAsSegment(o, req, ctx.file_segment, out) == STATUS_SUCCESS) {
      ctx.server->stats.sendfile_reads++;
      return STATUS_SUCCESS;
    }
    return readIntoSegment(o, req, ctx.file_segment, out);
  }
  return readInto(o.fd.get(), req, ctx.read_payload, RWF_NOWAIT, out);
}

// Hands a READ that would block to the I/O engine: its data is read into the deferred
// response's own Buffer (placed by the dispatcher), and `finish` answers as readDone does.
NtStatus deferRead(RequestContext& ctx, session::Open& o, const ReadRequest& req) {
  RequestContext::DeferredIo& d = ctx.deferred_io;
  d.op = vfs::FileIo::Op::kRead;
  d.fd = o.sharedFd();
  d.offset = req.offset;
  d.length = req.length;
  d.finish = [req](int64_t r, ResponseBody& out) {
    if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
    return readDone(req, static_cast<uint32_t>(r), out);  // short only at the end of the file
  };
  return STATUS_PENDING;
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

NtStatus handleRead(RequestContext& ctx, ResponseBody& out) {
  ReadRequest req;
  if (NtStatus st = decodeReadRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return readPipe(*o, req, ctx.read_payload, out);
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_read) return STATUS_ACCESS_DENIED;
  if (req.length > ctx.conn->max_read_size) return STATUS_INVALID_PARAMETER;
  if (req.offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()))
    return STATUS_INVALID_PARAMETER;
  if (ctx.server->files.ioConflicts(o->key, o->token, req.offset, req.length, false))
    return STATUS_FILE_LOCK_CONFLICT;
  if (req.channel != SMB2_CHANNEL_NONE) return readToChannel(ctx, *o, req, out);  // RDMA Write
  // On the event loop only data already in the page cache is read (RWF_NOWAIT); anything
  // else goes to the I/O engine with a reference to the file, off the connection's strand.
  NtStatus st = ctx.on_event_loop ? readOnEventLoop(ctx, *o, req, out)
                                  : readInto(o->fd.get(), req, ctx.read_payload, 0, out);
  if (st == STATUS_RETRY && ctx.on_event_loop) return deferRead(ctx, *o, req);
  if (st == STATUS_SUCCESS) o->position = req.offset + req.length;
  return st;
}

// MS-FSA 2.1.5.3: a write marks the file for backup (ARCHIVE), once per handle; and a handle
// whose LastWriteTime was set or frozen puts it back after its writes (`restoreWriteTime`).
void markArchive(session::Open& o) {
  if (o.archive_marked) return;
  o.archive_marked = true;
  vfs::FileMeta m;
  if (vfs::readFileMeta(o.fd.get(), &m) != STATUS_SUCCESS) return;
  if (!(m.attributes & FILE_ATTRIBUTE_ARCHIVE))
    vfs::setDosAttributes(o.fd.get(),
                          (m.attributes & ~FILE_ATTRIBUTE_NORMAL) | FILE_ATTRIBUTE_ARCHIVE);
}

void restoreWriteTime(int fd, const std::optional<struct timespec>& t) {
  if (!t) return;
  struct timespec ts[2] = {{0, UTIME_OMIT}, *t};
  futimens(fd, ts);
}

NtStatus handleWrite(RequestContext& ctx, ResponseBody& out) {
  WriteRequest req;
  if (NtStatus st = decodeWriteRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) {
    // Also on the event loop: the call goes to the local RPC helper over a socketpair and is
    // answered in well under a millisecond (bounded by the helper's call timeout).
    if (NtStatus st = pipeTransact(ctx, *o, req.data); st != STATUS_SUCCESS) return st;
    out = WriteResponse{static_cast<uint32_t>(req.data.size())};
    return STATUS_SUCCESS;
  }
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_write) return STATUS_ACCESS_DENIED;
  std::shared_ptr<smbd::RegisteredBuffer> rdma_data;  // the data an RDMA Read pulled in
  if (req.channel != SMB2_CHANNEL_NONE) {
    if (NtStatus st = pullWriteData(ctx, &req, &rdma_data); st != STATUS_SUCCESS) return st;
  }
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
  // Writers break LEVEL_II oplocks and read leases to none (MS-FSA 2.1.5.3).
  ctx.server->files.breakToNone(o->key, o->token);
  if (o->stream) return writeStreamData(*o, offset, req.data, out);  // stored before the reply
  bool sync =
      (req.flags & SMB2_WRITEFLAG_WRITE_THROUGH) || (o->create_options & FILE_WRITE_THROUGH);
  o->position = offset + req.data.size();
  markArchive(*o);
  const std::optional<struct timespec> keep_time = o->user_set_write_time;
  size_t done = 0;
  if (ctx.on_event_loop) {
    // As for READ: what the page cache takes at once is written here, the rest (and every
    // write-through WRITE, RWF_DSYNC) by the I/O engine.
    NtStatus st = STATUS_RETRY;
    if (!sync && !o->nowait_write_refused) {
      st = writeFrom(o->fd.get(), offset, req.data, false, RWF_NOWAIT, &done, out);
      if (st == STATUS_RETRY && done == 0 && errno == EOPNOTSUPP) o->nowait_write_refused = true;
    }
    if (st != STATUS_RETRY) {
      restoreWriteTime(o->fd.get(), keep_time);
      return st;
    }
    RequestContext::DeferredIo& d = ctx.deferred_io;
    d.op = vfs::FileIo::Op::kWrite;
    d.fd = o->sharedFd();
    d.offset = offset + done;
    d.source = req.data.subspan(done);  // the worker keeps the request alive until the reply
    d.datasync = sync;
    d.finish = [done, keep_time, fd = d.fd](int64_t r, ResponseBody& out) {
      restoreWriteTime(fd->get(), keep_time);
      if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
      out = WriteResponse{static_cast<uint32_t>(done + static_cast<size_t>(r))};
      return STATUS_SUCCESS;
    };
    return STATUS_PENDING;
  }
  NtStatus st = writeFrom(o->fd.get(), offset, req.data, sync, 0, &done, out);
  restoreWriteTime(o->fd.get(), keep_time);
  return st;
}

NtStatus handleFlush(RequestContext& ctx, ResponseBody& out) {
  FileId id;
  if (NtStatus st = decodeFlushRequest(ctx.message, &id); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->directory) {
    if (!(o->granted_access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) return STATUS_ACCESS_DENIED;
    if (o->has_write && ctx.on_event_loop) {  // fsync waits for the disk: the I/O engine runs it
      ctx.deferred_io.op = vfs::FileIo::Op::kFsync;
      ctx.deferred_io.fd = o->sharedFd();
      ctx.deferred_io.finish = [](int64_t r, ResponseBody& out) {
        if (r < 0) return vfs::ntStatusFromErrno(static_cast<int>(-r));
        out = FlushResponse{};
        return STATUS_SUCCESS;
      };
      return STATUS_PENDING;
    }
    if (o->has_write && fsync(o->fd.get()) != 0) return vfs::ntStatusFromErrno(errno);
  }
  out = FlushResponse{};
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
