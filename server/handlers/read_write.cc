// READ (MS-SMB2 3.3.5.12), WRITE (3.3.5.13), FLUSH (3.3.5.11) and LOCK (3.3.5.14).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits>

#include "server/handlers/handler.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t SMB2_LOCKFLAG_SHARED_LOCK = 0x01;
constexpr uint32_t SMB2_LOCKFLAG_EXCLUSIVE_LOCK = 0x02;
constexpr uint32_t SMB2_LOCKFLAG_UNLOCK = 0x04;
constexpr uint32_t SMB2_LOCKFLAG_FAIL_IMMEDIATELY = 0x10;
constexpr uint32_t SMB2_WRITEFLAG_WRITE_THROUGH = 0x01;

}  // namespace

NtStatus handleRead(RequestContext& ctx, ByteWriter& body) {
  ReadRequest req;
  if (NtStatus st = decodeReadRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_read) return STATUS_ACCESS_DENIED;
  if (req.length > ctx.conn->max_read_size) return STATUS_INVALID_PARAMETER;
  if (req.offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()))
    return STATUS_INVALID_PARAMETER;
  size_t hdr_end = body.size() + 16;
  encodeReadResponseHeader(0, body);
  Bytes& buf = body.buf();
  buf.resize(hdr_end + req.length);
  size_t got = 0;
  while (got < req.length) {
    ssize_t n = pread(o->fd.get(), buf.data() + hdr_end + got, req.length - got,
                      static_cast<off_t>(req.offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      buf.resize(hdr_end);
      return vfs::ntStatusFromErrno(errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(hdr_end + got);
  if ((got == 0 && req.length > 0) || got < req.minimum_count) {
    buf.resize(hdr_end);
    return STATUS_END_OF_FILE;
  }
  body.patchU32(hdr_end - 16 + 4, static_cast<uint32_t>(got));
  if (got == 0) buf.push_back(0);  // a READ response carries at least one byte of Buffer
  o->position = req.offset + got;
  return STATUS_SUCCESS;
}

NtStatus handleWrite(RequestContext& ctx, ByteWriter& body) {
  WriteRequest req;
  if (NtStatus st = decodeWriteRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->directory) return STATUS_INVALID_DEVICE_REQUEST;
  if (!o->has_write) return STATUS_ACCESS_DENIED;
  if (req.data.size() > ctx.conn->max_write_size) return STATUS_INVALID_PARAMETER;
  uint64_t offset = req.offset;
  // An offset of all ones means "append" for an open that may only append (MS-SMB2 3.3.5.13).
  bool append_only = (o->granted_access & FILE_APPEND_DATA) && !(o->granted_access & FILE_WRITE_DATA);
  if (offset == ~0ULL && append_only) {
    struct stat st {};
    if (fstat(o->fd.get(), &st) != 0) return vfs::ntStatusFromErrno(errno);
    offset = static_cast<uint64_t>(st.st_size);
  }
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) - req.data.size())
    return STATUS_INVALID_PARAMETER;
  // Writers break LEVEL_II oplocks of others (MS-FSA 2.1.5.3).
  ctx.server->files.breakOplocks(o->key, ctx.conn, /*write_intent=*/true);
  size_t done = 0;
  while (done < req.data.size()) {
    ssize_t n = pwrite(o->fd.get(), req.data.data() + done, req.data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return vfs::ntStatusFromErrno(errno);
    }
    done += static_cast<size_t>(n);
  }
  if ((req.flags & SMB2_WRITEFLAG_WRITE_THROUGH) || (o->create_options & FILE_WRITE_THROUGH)) {
    if (fdatasync(o->fd.get()) != 0) return vfs::ntStatusFromErrno(errno);
  }
  o->position = offset + done;
  encodeWriteResponse(static_cast<uint32_t>(done), body);
  return STATUS_SUCCESS;
}

NtStatus handleFlush(RequestContext& ctx, ByteWriter& body) {
  FileId id;
  if (NtStatus st = decodeFlushRequest(ctx.message, &id); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->directory) {
    if (!(o->granted_access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) return STATUS_ACCESS_DENIED;
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
  if (!o->has_read && !o->has_write) return STATUS_ACCESS_DENIED;
  // Byte-range locks map onto open-file-description locks, which conflict between opens as
  // SMB2 locks do. A lock that cannot be granted at once is refused rather than waited for.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  for (size_t i = 0; i < req.locks.size(); ++i) {
    const LockElement& e = req.locks[i];
    uint32_t kind = e.flags & 0x7;
    if (kind != SMB2_LOCKFLAG_SHARED_LOCK && kind != SMB2_LOCKFLAG_EXCLUSIVE_LOCK &&
        kind != SMB2_LOCKFLAG_UNLOCK) {
      return STATUS_INVALID_PARAMETER;
    }
    if (e.length && e.offset + e.length - 1 < e.offset) return STATUS_INVALID_LOCK_RANGE;
    struct flock fl {};
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(std::min(e.offset, kMax));
    uint64_t len = std::min(e.length, kMax - static_cast<uint64_t>(fl.l_start));
    if (e.length == 0) {
      // A zero-length lock conflicts with nothing; Linux would read 0 as "to EOF".
      continue;
    }
    fl.l_len = static_cast<off_t>(len);
    if (kind == SMB2_LOCKFLAG_UNLOCK) {
      fl.l_type = F_UNLCK;
    } else {
      fl.l_type = kind == SMB2_LOCKFLAG_SHARED_LOCK ? F_RDLCK : F_WRLCK;
      if (fl.l_type == F_RDLCK && !o->has_read) fl.l_type = F_WRLCK;
      if (fl.l_type == F_WRLCK && !o->has_write) fl.l_type = F_RDLCK;
    }
    if (fcntl(o->fd.get(), F_OFD_SETLK, &fl) != 0) {
      int err = errno;
      if (err == EAGAIN || err == EACCES) {
        return kind == SMB2_LOCKFLAG_UNLOCK                 ? STATUS_RANGE_NOT_LOCKED
               : (e.flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY) ? STATUS_LOCK_NOT_GRANTED
                                                            : STATUS_FILE_LOCK_CONFLICT;
      }
      return vfs::ntStatusFromErrno(err);
    }
  }
  encodeLockResponse(body);
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
