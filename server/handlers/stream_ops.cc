#include "server/handlers/stream_ops.h"

#include <fcntl.h>
#include <sys/xattr.h>

#include "server/vfs/meta_cache.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

bool overwrites(uint32_t disposition) {
  return disposition == FILE_OVERWRITE || disposition == FILE_OVERWRITE_IF ||
         disposition == FILE_SUPERSEDE;
}

int streamOpenFlags(uint32_t access) {
  bool r = access & (FILE_READ_DATA | FILE_EXECUTE);
  bool w = access & (FILE_WRITE_DATA | FILE_APPEND_DATA);
  if (r && w) return O_RDWR;
  if (w) return O_WRONLY;
  if (r) return O_RDONLY;
  return O_PATH;
}

// Allocation of a stream: whole 4 KiB blocks, as the xattr is counted by the filesystem.
uint64_t allocationOf(uint64_t size) { return (size + 4095) & ~uint64_t{4095}; }

}  // namespace

NtStatus checkStreamCreate(const CreateRequest& req, const vfs::StreamPath& sp) {
  if ((sp.named() || sp.has_type) && (req.create_options & FILE_DIRECTORY_FILE))
    return STATUS_NOT_A_DIRECTORY;
  return STATUS_SUCCESS;
}

NtStatus checkOpenAgainstStreams(const vfs::StreamPath& sp, uint32_t desired,
                                 const vfs::FileMeta& meta) {
  if (vfs::fileDeletePending(meta.device, meta.file_id)) return STATUS_DELETE_PENDING;
  if (!sp.named() && (desired & DELETE) && vfs::streamsDenyDelete(meta.device, meta.file_id))
    return STATUS_SHARING_VIOLATION;
  return STATUS_SUCCESS;
}

CreateRequest streamFileRequest(const CreateRequest& req) {
  CreateRequest b;
  b.requested_oplock_level = 0;
  b.impersonation_level = req.impersonation_level;
  b.desired_access = req.desired_access;
  b.file_attributes = req.file_attributes;
  b.share_access = req.share_access;
  b.create_options = req.create_options & ~(FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE);
  uint32_t d = req.create_disposition;
  b.create_disposition = (d == FILE_OPEN || d == FILE_OVERWRITE) ? FILE_OPEN : FILE_OPEN_IF;
  b.name = req.name;
  return b;
}

NtStatus openNamedStream(int file_fd, uint64_t dev, uint64_t ino, const CreateRequest& req,
                         const std::string& stream, uint32_t granted, bool read_only,
                         StreamOpened* out) {
  uint32_t d = req.create_disposition;
  std::optional<std::string> stored;
  if (NtStatus st = vfs::findStream(file_fd, stream, &stored); st != STATUS_SUCCESS) return st;
  if (stored) {
    if (d == FILE_CREATE) return STATUS_OBJECT_NAME_COLLISION;
    if (overwrites(d)) {
      if (read_only) return STATUS_ACCESS_DENIED;
      out->truncate = true;
      out->create_action = d == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
    } else {
      out->create_action = FILE_OPENED;
    }
  } else {
    if (d == FILE_OPEN || d == FILE_OVERWRITE) return STATUS_OBJECT_NAME_NOT_FOUND;
    if (read_only) return STATUS_ACCESS_DENIED;
    if (NtStatus st = vfs::writeStream(file_fd, stream, {}, XATTR_CREATE); st != STATUS_SUCCESS)
      return st;
    stored = stream;
    out->create_action = FILE_CREATED;
  }
  NtStatus st = vfs::OpenStream::open(file_fd, dev, ino, *stored, &out->stream);
  if (st == STATUS_SUCCESS) {
    out->fd.reset(out->stream->dupDataFd());
    if (!out->fd) st = vfs::ntStatusFromErrno(errno);
  }
  if (st != STATUS_SUCCESS) {
    if (out->create_action == FILE_CREATED) vfs::removeStream(file_fd, *stored);
    out->stream.reset();
    return st;
  }
  out->open_flags = streamOpenFlags(granted);
  return STATUS_SUCCESS;
}

void undoStreamCreate(const StreamOpened& s) {
  if (s.stream && s.create_action == FILE_CREATED) s.stream->remove();
}

NtStatus readOpenMeta(const session::Open& o, vfs::FileMeta* m, bool ea_size) {
  vfs::PathFacts facts;
  facts.before = vfs::meta_cache::coarseNow();
  facts.ea_size = ea_size;
  if (NtStatus st = vfs::readFileMeta(o.metaFd(), m, facts); st != STATUS_SUCCESS) return st;
  if (o.stream) {
    m->end_of_file = o.stream->size();
    m->allocation_size = allocationOf(m->end_of_file);
    m->directory = false;
    m->attributes &= ~FILE_ATTRIBUTE_DIRECTORY;
    if (m->attributes == 0) m->attributes = FILE_ATTRIBUTE_NORMAL;
  }
  return STATUS_SUCCESS;
}

NtStatus listOpenStreams(const session::Open& o,
                         std::vector<std::pair<std::string, uint64_t>>* out) {
  std::vector<vfs::StreamEntry> list;
  if (NtStatus st = vfs::listStreams(o.metaFd(), &list); st != STATUS_SUCCESS) return st;
  out->clear();
  for (const auto& e : list) out->emplace_back(":" + e.name + ":$DATA", e.size);
  return STATUS_SUCCESS;
}

NtStatus writeStreamData(session::Open& o, uint64_t offset, ByteSpan data, ResponseBody& out) {
  if (NtStatus st = o.stream->write(offset, data); st != STATUS_SUCCESS) return st;
  o.position = offset + data.size();
  out = WriteResponse{static_cast<uint32_t>(data.size())};
  return STATUS_SUCCESS;
}

bool isStreamRename(const session::Open& o, const std::string& target) {
  return o.stream || (!target.empty() && target[0] == ':');
}

NtStatus renameStream(session::Open& o, const std::string& target, bool replace) {
  if (target.empty() || target[0] != ':') {
    // A stream renamed to a path: Windows refuses it with a sharing violation (the file the
    // path names is the stream's own, and it is open: smbtorture smb2.streams.rename2).
    return STATUS_SHARING_VIOLATION;
  }
  vfs::StreamPath sp;
  if (vfs::parseStreamPath(target, &sp) != STATUS_SUCCESS || !sp.file.empty())
    return STATUS_INVALID_PARAMETER;  // MS-FSA 2.1.5.15.11.1
  if (!o.stream) {
    // The file's unnamed data stream: renamed onto itself it stays; to a named stream is not
    // supported here.
    return sp.named() ? STATUS_NOT_SUPPORTED : STATUS_SUCCESS;
  }
  NtStatus st = sp.named() ? o.stream->rename(sp.stream, replace)
                           : o.stream->moveToDataStream(replace);
  if (st != STATUS_SUCCESS) return st;
  size_t colon = o.smb_path.find(':');
  std::string file = colon == std::string::npos ? o.smb_path : o.smb_path.substr(0, colon);
  o.smb_path = sp.named() ? file + ":" + sp.stream : file;
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
