// Server-side copy: FSCTL_SRV_REQUEST_RESUME_KEY, FSCTL_SRV_COPYCHUNK(_WRITE) and
// FSCTL_DUPLICATE_EXTENTS_TO_FILE (MS-SMB2 3.3.5.15.5, 3.3.5.15.6; MS-FSA 2.1.5.9.4).
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/smb2/constants.h"
#include "common/smb2/fsctl.h"
#include "server/handlers/fsctl.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// 8 random bytes per process, part of every resume key: a key names an open of this server
// run, and cannot be made up from a FileId the client saw.
const std::array<uint8_t, 8>& resumeKeySecret() {
  static const std::array<uint8_t, 8> secret = [] {
    std::array<uint8_t, 8> s{};
    if (getrandom(s.data(), s.size(), 0) != static_cast<ssize_t>(s.size())) {
      const uint64_t t = static_cast<uint64_t>(time(nullptr)) ^ static_cast<uint64_t>(getpid());
      std::memcpy(s.data(), &t, sizeof(t));
    }
    return s;
  }();
  return secret;
}

// ResumeKey layout (ours; opaque to the client): VolatileId (8), SessionId (8), secret (8).
ResumeKey makeResumeKey(const session::Open& o) {
  ResumeKey key{};
  ByteWriter w;
  w.u64(o.volatile_id);
  w.u64(o.session_id);
  w.bytes(resumeKeySecret().data(), 8);
  const Bytes b = w.take();
  std::copy(b.begin(), b.end(), key.begin());
  return key;
}

session::Open* openByResumeKey(RequestContext& ctx, const ResumeKey& key) {
  ByteReader r(ByteSpan(key.data(), key.size()));
  const uint64_t volatile_id = r.u64();
  const uint64_t session_id = r.u64();
  ByteSpan secret = r.bytes(8);
  if (!std::equal(secret.begin(), secret.end(), resumeKeySecret().begin())) return nullptr;
  auto it = ctx.conn->opens.find(volatile_id);
  if (it == ctx.conn->opens.end() || it->second->session_id != session_id) return nullptr;
  if (!ctx.session || session_id != ctx.session->id) return nullptr;
  return it->second.get();
}

bool overLimits(const CopyChunkCopy& cc) {
  if (cc.chunk_count > kCopyChunkMaxChunks) return true;
  uint64_t total = 0;
  for (const CopyChunk& c : cc.chunks) {
    if (c.length == 0 || c.length > kCopyChunkMaxChunkSize) return true;
    total += c.length;
  }
  return total > kCopyChunkMaxTotalSize;
}

// Copies `length` bytes through a buffer: for the same file (copy_file_range refuses
// overlapping ranges) and file systems or file pairs copy_file_range does not serve. The whole
// chunk (at most kCopyChunkMaxChunkSize) is read before it is written, so overlap is safe.
NtStatus copyThroughBuffer(int src, uint64_t src_off, int dst, uint64_t dst_off, size_t length) {
  Bytes buf(length);
  size_t got = 0;
  while (got < length) {
    ssize_t n = pread(src, buf.data() + got, length - got, static_cast<off_t>(src_off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return vfs::ntStatusFromErrno(errno);
    if (n == 0) return STATUS_INVALID_VIEW_SIZE;  // the source shrank meanwhile
    got += static_cast<size_t>(n);
  }
  size_t put = 0;
  while (put < length) {
    ssize_t n = pwrite(dst, buf.data() + put, length - put, static_cast<off_t>(dst_off + put));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return vfs::ntStatusFromErrno(errno);
    put += static_cast<size_t>(n);
  }
  return STATUS_SUCCESS;
}

NtStatus copyRange(int src_fd, const session::Open& src, const session::Open& dst,
                   const CopyChunk& c) {
  if (src.key.dev == dst.key.dev && src.key.ino == dst.key.ino) {
    return copyThroughBuffer(src_fd, c.source_offset, dst.fd.get(), c.target_offset, c.length);
  }
  auto in = static_cast<off_t>(c.source_offset);
  auto outp = static_cast<off_t>(c.target_offset);
  size_t left = c.length;
  while (left > 0) {
    ssize_t n = copy_file_range(src_fd, &in, dst.fd.get(), &outp, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
      const size_t done = c.length - left;
      return copyThroughBuffer(src_fd, c.source_offset + done, dst.fd.get(),
                               c.target_offset + done, left);
    }
    if (n < 0) return vfs::ntStatusFromErrno(errno);
    if (n == 0) return STATUS_INVALID_VIEW_SIZE;
    left -= static_cast<size_t>(n);
  }
  return STATUS_SUCCESS;
}

// One chunk, with the checks Windows makes per chunk: the source range lies within the file
// (STATUS_INVALID_VIEW_SIZE), and no other open's byte-range lock covers either range.
NtStatus copyOneChunk(RequestContext& ctx, int src_fd, const session::Open& src,
                      const session::Open& dst, const CopyChunk& c) {
  struct stat st {};
  if (fstat(src_fd, &st) != 0) return vfs::ntStatusFromErrno(errno);
  if (c.source_offset > static_cast<uint64_t>(st.st_size) ||
      c.length > static_cast<uint64_t>(st.st_size) - c.source_offset) {
    return STATUS_INVALID_VIEW_SIZE;
  }
  if (c.target_offset > static_cast<uint64_t>(INT64_MAX) - c.length)
    return STATUS_INVALID_PARAMETER;
  vfs::FileTable& files = ctx.server->files;
  if (files.ioConflicts(src.key, src.token, c.source_offset, c.length, false) ||
      files.ioConflicts(dst.key, dst.token, c.target_offset, c.length, true)) {
    return STATUS_FILE_LOCK_CONFLICT;
  }
  return copyRange(src_fd, src, dst, c);
}

// A descriptor to read the source with: its own, or for an open with FILE_EXECUTE but not
// FILE_READ_DATA (which Windows lets copy, MS-SMB2 3.3.5.15.6) one opened for reading now, with
// the kernel checking the caller's read permission.
NtStatus sourceFd(const session::Open& src, vfs::UniqueFd* own, int* fd) {
  if (src.has_read) {
    *fd = src.fd.get();
    return STATUS_SUCCESS;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(src.fd.get());
  *own = vfs::UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*own) return vfs::ntStatusFromErrno(errno);
  *fd = own->get();
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus fsctlRequestResumeKey(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  *out = encodeResumeKeyResponse(makeResumeKey(*o));
  return STATUS_SUCCESS;
}

NtStatus fsctlCopyChunk(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* dst = findOpen(ctx, req.file_id);
  if (!dst) return STATUS_FILE_CLOSED;
  if (req.max_output_response < kCopyChunkResponseSize) return STATUS_INVALID_PARAMETER;
  CopyChunkCopy cc;
  if (NtStatus st = decodeCopyChunkCopy(req.input, &cc); st != STATUS_SUCCESS) return st;
  if (overLimits(cc)) {
    *out = encodeCopyChunkResponse(
        {kCopyChunkMaxChunks, kCopyChunkMaxChunkSize, kCopyChunkMaxTotalSize});
    return STATUS_INVALID_PARAMETER;
  }
  // MS-SMB2 3.3.5.15.6: the target needs write access, and read access too for
  // FSCTL_SRV_COPYCHUNK (the client may read back what it copies); the source needs read access.
  if (!(dst->granted_access & FILE_WRITE_DATA) || !dst->has_write) return STATUS_ACCESS_DENIED;
  if (req.ctl_code == FSCTL_SRV_COPYCHUNK && !(dst->granted_access & FILE_READ_DATA))
    return STATUS_ACCESS_DENIED;
  session::Open* src = openByResumeKey(ctx, cc.source_key);
  if (!src) return STATUS_OBJECT_NAME_NOT_FOUND;
  if (!(src->granted_access & (FILE_READ_DATA | FILE_EXECUTE))) return STATUS_ACCESS_DENIED;
  if (src->directory || dst->directory) return STATUS_INVALID_DEVICE_REQUEST;
  vfs::UniqueFd own;
  int src_fd = -1;
  if (NtStatus st = sourceFd(*src, &own, &src_fd); st != STATUS_SUCCESS) return st;
  if (!cc.chunks.empty()) ctx.server->files.breakToNone(dst->key, dst->token);
  // From here on the response carries what was copied, also with an error: the chunks before
  // the one that failed stay written (MS-SMB2 3.3.5.15.6).
  CopyChunkResponse rsp;
  NtStatus st = STATUS_SUCCESS;
  for (const CopyChunk& c : cc.chunks) {
    if (st = copyOneChunk(ctx, src_fd, *src, *dst, c); st != STATUS_SUCCESS) break;
    ++rsp.chunks_written;
    rsp.total_bytes_written += c.length;
  }
  *out = encodeCopyChunkResponse(rsp);
  return st;
}

NtStatus fsctlDuplicateExtents(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* dst = findOpen(ctx, req.file_id);
  if (!dst) return STATUS_FILE_CLOSED;
  DuplicateExtentsData d;
  if (NtStatus st = decodeDuplicateExtentsData(req.input, &d); st != STATUS_SUCCESS) return st;
  FileId src_id{d.source_persistent, d.source_volatile};
  auto it = ctx.conn->opens.find(src_id.volatile_id);
  if (it == ctx.conn->opens.end() || it->second->volatile_id != src_id.persistent ||
      !ctx.session || it->second->session_id != ctx.session->id) {
    return STATUS_INVALID_HANDLE;
  }
  session::Open* src = it->second.get();
  if (!(src->granted_access & FILE_READ_DATA) || !src->has_read) return STATUS_ACCESS_DENIED;
  if (!(dst->granted_access & FILE_WRITE_DATA) || !dst->has_write) return STATUS_ACCESS_DENIED;
  if (src->directory || dst->directory) return STATUS_INVALID_PARAMETER;
  out->clear();
  if (d.byte_count == 0) return STATUS_SUCCESS;
  vfs::FileTable& files = ctx.server->files;
  if (files.ioConflicts(src->key, src->token, d.source_offset, d.byte_count, false) ||
      files.ioConflicts(dst->key, dst->token, d.target_offset, d.byte_count, true)) {
    return STATUS_FILE_LOCK_CONFLICT;
  }
  files.breakToNone(dst->key, dst->token);
  struct file_clone_range range {};
  range.src_fd = src->fd.get();
  range.src_offset = d.source_offset;
  range.src_length = d.byte_count;
  range.dest_offset = d.target_offset;
  if (ioctl(dst->fd.get(), FICLONERANGE, &range) == 0) return STATUS_SUCCESS;
  switch (errno) {
    case EOPNOTSUPP:
    case EXDEV:
    case ENOTTY:
    case ENOSYS:
      return STATUS_NOT_SUPPORTED;
    case EINVAL:  // not block-aligned, or the ranges overlap within one file
      return STATUS_INVALID_PARAMETER;
    default:
      return vfs::ntStatusFromErrno(errno);
  }
}

}  // namespace xsmb::handlers
