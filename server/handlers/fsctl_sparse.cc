// Sparse files, compression and reparse points: FSCTL_SET_SPARSE, FSCTL_SET_ZERO_DATA,
// FSCTL_QUERY_ALLOCATED_RANGES, FSCTL_GET/SET_COMPRESSION and FSCTL_GET_REPARSE_POINT
// (MS-FSA 2.1.5.9.33, 2.1.5.9.38, 2.1.5.9.22, 2.1.5.9.7, 2.1.5.9.27; MS-FSCC 2.3.29).
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/smb2/constants.h"
#include "common/smb2/fsctl.h"
#include "server/handlers/fsctl.h"
#include "server/vfs/attributes.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

NtStatus isSparse(int fd, bool* sparse, uint64_t* size) {
  vfs::FileMeta m;
  if (NtStatus st = vfs::readFileMeta(fd, &m); st != STATUS_SUCCESS) return st;
  *sparse = (m.attributes & FILE_ATTRIBUTE_SPARSE_FILE) != 0;
  *size = m.end_of_file;
  return STATUS_SUCCESS;
}

// Writes zeros over [offset, offset+length): where fallocate can neither zero nor punch.
NtStatus writeZeros(int fd, uint64_t offset, uint64_t length) {
  static const Bytes zeros(64 * 1024);
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, zeros.size()));
    ssize_t w = pwrite(fd, zeros.data(), n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return vfs::ntStatusFromErrno(errno);
    offset += static_cast<uint64_t>(w);
    length -= static_cast<uint64_t>(w);
  }
  return STATUS_SUCCESS;
}

// The data ranges of a sparse file within [from, to), from SEEK_DATA/SEEK_HOLE.
NtStatus dataRanges(int fd, uint64_t from, uint64_t to, std::vector<AllocatedRange>* out) {
  uint64_t pos = from;
  while (pos < to) {
    off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // no data after pos
    if (data < 0) return vfs::ntStatusFromErrno(errno);
    if (static_cast<uint64_t>(data) >= to) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return vfs::ntStatusFromErrno(errno);
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), to);
    out->push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    pos = end;
  }
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus fsctlSetSparse(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  if (o->directory) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & (FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_APPEND_DATA)))
    return STATUS_ACCESS_DENIED;
  out->clear();
  return vfs::setSparse(o->fd.get(), decodeSetSparse(req.input));
}

NtStatus fsctlSetZeroData(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  ZeroDataInformation z;
  if (NtStatus st = decodeZeroDataInformation(req.input, &z); st != STATUS_SUCCESS) return st;
  if (o->directory) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & FILE_WRITE_DATA) || !o->has_write) return STATUS_ACCESS_DENIED;
  out->clear();
  bool sparse = false;
  uint64_t size = 0;
  if (NtStatus st = isSparse(o->fd.get(), &sparse, &size); st != STATUS_SUCCESS) return st;
  const uint64_t end = std::min(z.beyond_final_zero, size);  // never extends the file
  if (z.file_offset >= end) return STATUS_SUCCESS;
  const uint64_t length = end - z.file_offset;
  if (ctx.server->files.ioConflicts(o->key, o->token, z.file_offset, length, true))
    return STATUS_FILE_LOCK_CONFLICT;
  ctx.server->files.breakToNone(o->key, o->token);
  const auto off = static_cast<off_t>(z.file_offset);
  const auto len = static_cast<off_t>(length);
  const int fd = o->fd.get();
  if (sparse && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
    return STATUS_SUCCESS;
  if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
    return STATUS_SUCCESS;
  if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
    return vfs::ntStatusFromErrno(errno);
  return writeZeros(fd, z.file_offset, length);
}

NtStatus fsctlQueryAllocatedRanges(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  AllocatedRange q;
  if (NtStatus st = decodeAllocatedRange(req.input, &q); st != STATUS_SUCCESS) return st;
  if (o->directory) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & FILE_READ_DATA) || !o->has_read) return STATUS_ACCESS_DENIED;
  bool sparse = false;
  uint64_t size = 0;
  if (NtStatus st = isSparse(o->fd.get(), &sparse, &size); st != STATUS_SUCCESS) return st;
  const uint64_t to = std::min(q.file_offset + q.length, size);
  std::vector<AllocatedRange> ranges;
  if (q.file_offset < to) {
    if (sparse) {
      if (NtStatus st = dataRanges(o->fd.get(), q.file_offset, to, &ranges); st != STATUS_SUCCESS)
        return st;
    } else {
      ranges.push_back({q.file_offset, to - q.file_offset});  // all of it counts as allocated
    }
  }
  return encodeAllocatedRanges(ranges, req.max_output_response, out);
}

NtStatus fsctlGetCompression(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  if (req.max_output_response < 2) return STATUS_INVALID_PARAMETER;
  ByteWriter w(out);
  w.u16(COMPRESSION_FORMAT_NONE);
  return STATUS_SUCCESS;
}

NtStatus fsctlSetCompression(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  ByteReader r(req.input);
  const uint16_t format = r.u16();
  if (!r.ok()) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & (FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES)))
    return STATUS_ACCESS_DENIED;
  out->clear();
  return format == COMPRESSION_FORMAT_NONE ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED;
}

NtStatus fsctlGetReparsePoint(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  // An open that is the link itself (O_PATH | O_NOFOLLOW) reads its target with an empty
  // path; any other open is of a file or directory, which is no reparse point.
  char target[4096];
  ssize_t n = readlinkat(o->fd.get(), "", target, sizeof(target));
  if (n < 0 || static_cast<size_t>(n) >= sizeof(target)) return STATUS_NOT_A_REPARSE_POINT;
  return encodeSymlinkReparseBuffer(std::string_view(target, static_cast<size_t>(n)), out);
}

}  // namespace xsmb::handlers
