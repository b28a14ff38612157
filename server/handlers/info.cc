// QUERY_INFO (MS-SMB2 3.3.5.20) and SET_INFO (3.3.5.21).
#include "server/vfs/info.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "common/base/unicode.h"
#include "server/handlers/ea_ops.h"
#include "server/handlers/handler.h"
#include "server/handlers/stream_ops.h"
#include "server/vfs/attributes.h"
#include "server/vfs/dir_lease.h"
#include "server/vfs/path.h"
#include "server/vfs/security.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// Splits a '/'-separated disk path into (directory, base); directory "." for the root level.
std::pair<std::string, std::string> splitDiskPath(const std::string& p) {
  auto slash = p.rfind('/');
  if (slash == std::string::npos) return {".", p};
  return {p.substr(0, slash), p.substr(slash + 1)};
}

// Information about a named-pipe open (MS-FSCC 2.4.38, 2.4.35, 2.4.36).
NtStatus queryPipe(session::Open& o, uint8_t cls, Bytes* out) {
  ByteWriter w(out);
  switch (cls) {
    case FileStandardInformation:
      w.u64(4096);  // AllocationSize
      w.u64(0);     // EndOfFile
      w.u32(1);     // NumberOfLinks
      w.u8(0);      // DeletePending
      w.u8(0);      // Directory
      w.u16(0);
      return STATUS_SUCCESS;
    case FilePipeInformation:
      w.u32(1);  // ReadMode: FILE_PIPE_MESSAGE_MODE
      w.u32(0);  // CompletionMode: FILE_PIPE_QUEUE_OPERATION
      return STATUS_SUCCESS;
    case FilePipeLocalInformation:
      w.u32(1);           // NamedPipeType: FILE_PIPE_MESSAGE_TYPE
      w.u32(2);           // NamedPipeConfiguration: FILE_PIPE_FULL_DUPLEX
      w.u32(0xFFFFFFFF);  // MaximumInstances: unlimited
      w.u32(1);           // CurrentInstances
      w.u32(65536);       // InboundQuota
      w.u32(static_cast<uint32_t>(o.pipe_out.size()));  // ReadDataAvailable
      w.u32(65536);       // OutboundQuota
      w.u32(65536);       // WriteQuotaAvailable
      w.u32(3);           // NamedPipeState: FILE_PIPE_CONNECTED_STATE
      w.u32(1);           // NamedPipeEnd: FILE_PIPE_SERVER_END
      return STATUS_SUCCESS;
    default:
      return STATUS_INVALID_PARAMETER;
  }
}

// MS-FSA 2.1.5.12: the classes that show attributes and times need FILE_READ_ATTRIBUTES (as
// Windows answers: smbtorture smb2.getinfo.getinfo_access, smb2.streams.attributes1).
bool needsReadAttributes(uint8_t cls) {
  return cls == FileBasicInformation || cls == FileAllInformation ||
         cls == FileNetworkOpenInformation || cls == FileAttributeTagInformation;
}

NtStatus queryFile(RequestContext& ctx, session::Open& o, uint8_t cls, Bytes* out) {
  if (o.pipe_id) return queryPipe(o, cls, out);
  if (needsReadAttributes(cls) && !(o.granted_access & FILE_READ_ATTRIBUTES))
    return STATUS_ACCESS_DENIED;
  if (cls == FileNormalizedNameInformation && ctx.conn->dialect < SMB2_DIALECT_311)
    return STATUS_NOT_SUPPORTED;
  vfs::OpenFileInfo info;
  const bool ea_size = cls == FileEaInformation || cls == FileAllInformation;
  if (NtStatus st = readOpenMeta(o, &info.meta, ea_size); st != STATUS_SUCCESS) return st;
  if (cls == FileStreamInformation) {
    if (NtStatus st = listOpenStreams(o, &info.streams); st != STATUS_SUCCESS) return st;
    if (o.stream) {  // the file's unnamed stream, seen from a stream open
      vfs::FileMeta file;
      if (vfs::readFileMeta(o.metaFd(), &file) == STATUS_SUCCESS) {
        info.meta.end_of_file = file.end_of_file;
        info.meta.allocation_size = file.allocation_size;
        info.meta.directory = file.directory;
      }
    }
  }
  info.meta.delete_pending = o.delete_on_close || ctx.server->files.deletePending(o.key);
  // The link a pending delete removes no longer counts (NumberOfLinks, MS-FSCC 2.4.41).
  if (info.meta.delete_pending && info.meta.number_of_links > 0) --info.meta.number_of_links;
  info.access_mask = o.granted_access;
  info.position = o.position;
  info.mode = o.mode;
  info.name = "\\" + o.smb_path;
  info.volume_serial = o.share->volume_serial;
  return vfs::encodeFileInfo(cls, info, out);
}

NtStatus queryFs(RequestContext& ctx, session::Open& o, uint8_t cls, Bytes* out) {
  if (cls == FileFsControlInformation) {
    // MS-FSCC 2.5.2: quotas are not enforced, so every threshold and limit is "none".
    ByteWriter w(out);
    for (int i = 0; i < 5; ++i) w.u64(~0ULL);
    w.u32(0);  // FileSystemControlFlags
    w.u32(0);
    return STATUS_SUCCESS;
  }
  vfs::FsInfoInput in;
  if (fstatvfs(o.metaFd(), &in.vfs) != 0) return vfs::ntStatusFromErrno(errno);
  in.volume_label = o.share->cfg.name;
  in.volume_serial = o.share->volume_serial;
  in.volume_creation_time = o.share->creation_time;
  for (size_t i = 0; i < 16; ++i)
    in.object_id[i] = static_cast<uint8_t>(o.share->volume_serial >> (8 * (i % 4)));
  return vfs::encodeFsInfo(cls, in, out);
}

// The ChangeTime a FileBasicInformation set leaves behind (MS-FSA 2.1.5.14.2): the one it sets;
// -1 freezes the current one and -2 thaws it (then the file's own applies again); with 0, the
// one this handle set or froze before, which its own changes do not move.
uint64_t changeTimeToKeep(session::Open& o, uint64_t change) {
  constexpr uint64_t kFreeze = ~0ULL, kThaw = ~0ULL - 1;
  if (change == kThaw) o.user_set_change_time = false;
  if (change == kThaw || (change == 0 && !o.user_set_change_time)) return 0;
  if (change != 0 && change != kFreeze) {
    o.user_set_change_time = true;
    return change;
  }
  o.user_set_change_time = true;
  vfs::FileMeta m;
  return vfs::readFileMeta(o.metaFd(), &m) == STATUS_SUCCESS ? m.change_time : 0;
}

// LastWriteTime set (a value, or -1: the current one) through a handle stays through its own
// WRITEs; -2 lets them move it again (MS-FSA 2.1.5.14.2, 2.1.5.3).
void keepWriteTime(session::Open& o, uint64_t write) {
  if (write == 0) return;
  if (write == ~0ULL - 1) {
    o.user_set_write_time.reset();
  } else if (write != ~0ULL) {
    o.user_set_write_time = vfs::timespecFromNtTime(write);
  } else {
    struct statx stx {};
    if (statx(o.metaFd(), "", AT_EMPTY_PATH, STATX_MTIME, &stx) == 0)
      o.user_set_write_time = timespec{stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec};
  }
}

NtStatus setBasic(session::Open& o, ByteSpan buf) {
  if (buf.size() < 40) return STATUS_INFO_LENGTH_MISMATCH;
  if (!(o.granted_access & FILE_WRITE_ATTRIBUTES)) return STATUS_ACCESS_DENIED;
  ByteReader r(buf);
  uint64_t creation = r.u64(), access = r.u64(), write = r.u64(), change = r.u64();
  uint32_t attrs = r.u32();
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) && !o.directory) return STATUS_INVALID_PARAMETER;
  // A directory is never temporary (MS-FSA 2.1.5.14.2).
  if ((attrs & FILE_ATTRIBUTE_TEMPORARY) && o.directory) return STATUS_INVALID_PARAMETER;
  change = changeTimeToKeep(o, change);
  keepWriteTime(o, write);
  if (NtStatus st = vfs::setTimes(o.metaFd(), access, write); st != STATUS_SUCCESS) return st;
  if (NtStatus st = vfs::setCreationTime(o.metaFd(), creation); st != STATUS_SUCCESS) return st;
  if (attrs) {
    if (NtStatus st = vfs::setDosAttributes(o.metaFd(), attrs); st != STATUS_SUCCESS) return st;
  }
  return vfs::setChangeTime(o.metaFd(), change);  // last: the changes above move ctime on
}

// The file table's key of the file `fd` refers to ({0, 0} when it cannot be read).
vfs::FileTable::Key keyOfFd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

// A rename into a directory that is open with DELETE access is a sharing violation: the rename
// opens the target's parent, and that open does not share delete (Windows; Samba's
// parent_dirname_compatible_open; smbtorture smb2.rename.*_delete_access).
NtStatus checkRenameTargetParent(RequestContext& ctx, const vfs::Resolved& dst) {
  struct stat st {};
  if (fstat(dst.parent.get(), &st) != 0) return vfs::ntStatusFromErrno(errno);
  if (ctx.server->files.hasOpenWithAccess({st.st_dev, st.st_ino}, DELETE))
    return STATUS_SHARING_VIOLATION;
  return STATUS_SUCCESS;
}

// FileRenameInformation for SMB2 (MS-FSCC 2.4.37.2).
NtStatus setRename(RequestContext& ctx, session::Open& o, ByteSpan buf) {
  if (buf.size() < 20) return STATUS_INFO_LENGTH_MISMATCH;
  if (!(o.granted_access & DELETE)) return STATUS_ACCESS_DENIED;
  ByteReader r(buf);
  bool replace = r.u8() != 0;
  r.skip(7);
  uint64_t root_dir = r.u64();
  uint32_t len = r.u32();
  ByteSpan name16 = r.bytes(len);
  if (!r.ok() || len == 0) return STATUS_INVALID_PARAMETER;
  if (root_dir != 0) return STATUS_INVALID_PARAMETER;
  auto name = utf16leToUtf8(name16);
  if (!name) return STATUS_OBJECT_NAME_INVALID;
  std::string target = *name;
  if (isStreamRename(o, target)) return renameStream(o, target, replace);
  // A file whose named streams are open keeps its name (smbtorture
  // smb2.streams.basefile-rename-with-open-stream).
  if (vfs::anyStreamOpen(o.key.dev, o.key.ino)) return STATUS_ACCESS_DENIED;
  while (!target.empty() && target[0] == '\\') target.erase(0, 1);
  if (o.disk_path.empty()) return STATUS_ACCESS_DENIED;  // the share root
  std::vector<std::string> comps;
  if (NtStatus st = vfs::splitPath(target, &comps); st != STATUS_SUCCESS) return st;
  if (comps.empty()) return STATUS_OBJECT_NAME_INVALID;
  int root = o.share->root.get();
  vfs::Resolved dst;
  if (NtStatus st = vfs::resolvePath(root, comps, &dst); st != STATUS_SUCCESS) return st;
  if (NtStatus st = ctx.server->files.renameParentStatus(keyOfFd(dst.parent.get()));
      st != STATUS_SUCCESS) {
    return st;
  }
  auto [src_dir, src_base] = splitDiskPath(o.disk_path);
  vfs::UniqueFd src_parent(vfs::openBeneath(root, src_dir.c_str(), O_PATH | O_DIRECTORY));
  if (!src_parent) return vfs::ntStatusFromErrno(errno);
  std::string dst_name = dst.name;
  bool same_file = false;
  if (dst.exists) {
    struct stat st {};
    fstat(o.fd.get(), &st);
    same_file = dst.stx.stx_ino == st.st_ino && dst.stx.stx_dev_major == major(st.st_dev) &&
                dst.stx.stx_dev_minor == minor(st.st_dev);
    if (same_file) {
      dst_name = comps.back();  // a case-only rename: use the spelling the client asked for
    } else {
      if (!replace) return STATUS_OBJECT_NAME_COLLISION;
      if (S_ISDIR(dst.stx.stx_mode)) return STATUS_ACCESS_DENIED;
      vfs::FileTable::Key k{makedev(dst.stx.stx_dev_major, dst.stx.stx_dev_minor), dst.stx.stx_ino};
      // Replacing a file that someone has open is refused on Windows.
      if (ctx.server->files.hasOtherOpens(k, 0)) return STATUS_ACCESS_DENIED;
    }
  }
  // Other leases' handle caching goes before the name changes (MS-FSA 2.1.5.14.11); the rename
  // does not wait for the acknowledgment.
  ctx.server->files.breakHandleCaching(o.key, o.token);
  if (NtStatus st = checkRenameTargetParent(ctx, dst); st != STATUS_SUCCESS) return st;
  unsigned flags = (replace || same_file) ? 0 : RENAME_NOREPLACE;
  if (renameat2(src_parent.get(), src_base.c_str(), dst.parent.get(), dst_name.c_str(), flags) != 0)
    return vfs::ntStatusFromErrno(errno);
  // Both directories changed (MS-SMB2 3.3.4.7 directory leases).
  if (ctx.server->files.anyDirectoryLeases()) {
    auto exempt = ctx.server->files.parentLeaseOf(o.key, o.token);
    vfs::breakParentDirectoryLeases(ctx.server->files, src_parent.get(), exempt);
    vfs::breakParentDirectoryLeases(ctx.server->files, dst.parent.get(), exempt);
  }
  auto [dst_dir, unused] = splitDiskPath(dst.disk_path);
  o.disk_path = dst_dir == "." ? dst_name : dst_dir + "/" + dst_name;
  o.smb_path = target;
  return STATUS_SUCCESS;
}

NtStatus setDisposition(RequestContext& ctx, session::Open& o, ByteSpan buf) {
  if (buf.size() < 1) return STATUS_INFO_LENGTH_MISMATCH;
  if (!(o.granted_access & DELETE)) return STATUS_ACCESS_DENIED;
  bool del = buf[0] != 0;
  if (del) {
    if (o.disk_path.empty()) return STATUS_CANNOT_DELETE;
    struct stat st {};
    if (fstat(o.metaFd(), &st) != 0) return vfs::ntStatusFromErrno(errno);
    if (!o.directory && (st.st_mode & 0222) == 0) return STATUS_CANNOT_DELETE;
    if (o.directory) {
      vfs::UniqueFd d(vfs::openBeneath(o.fd.get(), ".", O_RDONLY | O_DIRECTORY));
      if (!d) return vfs::ntStatusFromErrno(errno);
      DIR* dir = fdopendir(d.release());
      if (!dir) return vfs::ntStatusFromErrno(errno);
      bool empty = true;
      while (struct dirent* e = readdir(dir)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") {
          empty = false;
          break;
        }
      }
      closedir(dir);
      if (!empty) return STATUS_DIRECTORY_NOT_EMPTY;
    }
  }
  o.delete_on_close = del;
  ctx.server->files.setDeletePending(o.key, del);
  return STATUS_SUCCESS;
}

// FileEndOfFileInformation and FileAllocationInformation (MS-FSCC 2.4): the size is set through
// an open with write access. Allocation below the end of file truncates (MS-FSA 2.1.5.15.1);
// above it, the space is reserved where the filesystem can.
NtStatus setSize(session::Open& o, uint8_t cls, ByteSpan buf) {
  ByteReader r(buf);
  uint64_t size = r.u64();
  if (!r.ok()) return STATUS_INFO_LENGTH_MISMATCH;
  if (!o.has_write || o.directory) return STATUS_ACCESS_DENIED;
  if (o.stream) {  // a named stream: stored at once; allocation only ever shrinks it
    if (cls == FileEndOfFileInformation || size < o.stream->size()) return o.stream->setSize(size);
    return STATUS_SUCCESS;
  }
  struct stat sb {};
  if (fstat(o.fd.get(), &sb) != 0) return vfs::ntStatusFromErrno(errno);
  if (size > static_cast<uint64_t>(INT64_MAX)) return STATUS_INVALID_PARAMETER;
  NtStatus st = STATUS_SUCCESS;
  if (cls == FileEndOfFileInformation) {
    if (ftruncate(o.fd.get(), static_cast<off_t>(size)) != 0) st = vfs::ntStatusFromErrno(errno);
  } else if (size < static_cast<uint64_t>(sb.st_size)) {
    if (ftruncate(o.fd.get(), static_cast<off_t>(size)) != 0) st = vfs::ntStatusFromErrno(errno);
  } else if (size > 0) {
    // Reserve the space; a filesystem that cannot is still correct without it.
    fallocate(o.fd.get(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size));
  }
  return st;
}

// A SET_INFO that succeeded changed the entry: its directory's leases break (MS-SMB2 3.3.4.7).
NtStatus entryChanged(RequestContext& ctx, session::Open& o, NtStatus st) {
  if (st == STATUS_SUCCESS && ctx.server->files.anyDirectoryLeases() && o.share &&
      o.share->root) {
    vfs::breakParentDirectoryLeases(ctx.server->files, o.share->root.get(), o.disk_path,
                                    ctx.server->files.parentLeaseOf(o.key, o.token));
  }
  return st;
}

// MS-SMB2 3.3.5.21.1: the file information classes a client may set (MS-FSCC 2.4).
NtStatus setFileInfo(RequestContext& ctx, session::Open& o, const SetInfoRequest& req) {
  ByteReader r(req.buffer);
  switch (req.file_info_class) {
    case FileBasicInformation:
      return entryChanged(ctx, o, setBasic(o, req.buffer));
    case FileRenameInformation:
      return setRename(ctx, o, req.buffer);
    case FileDispositionInformation:
      return setDisposition(ctx, o, req.buffer);
    case FileEndOfFileInformation:
    case FileAllocationInformation:
      ctx.server->files.breakToNone(o.key, o.token);  // MS-FSA 2.1.5.14.4: read caches go
      return entryChanged(ctx, o, setSize(o, req.file_info_class, req.buffer));
    case FilePositionInformation:
      o.position = r.u64();
      return r.ok() ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
    case FileModeInformation: {
      // MS-FSCC 2.4.26: only FILE_WRITE_THROUGH and FILE_SEQUENTIAL_ONLY may be changed here
      // (the synchronous-I/O and buffering modes are fixed at open; SMB2 opens have none).
      const uint32_t mode = r.u32();
      if (!r.ok()) return STATUS_INFO_LENGTH_MISMATCH;
      if (mode & ~(FILE_WRITE_THROUGH | FILE_SEQUENTIAL_ONLY)) return STATUS_INVALID_PARAMETER;
      o.mode = mode;
      return STATUS_SUCCESS;
    }
    case FileLinkInformation:
      return STATUS_NOT_SUPPORTED;
    case FileFullEaInformation:
      return setFullEaInfo(o, req.buffer);
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

// MS-SMB2 3.3.5.21.3: owner and group need WRITE_OWNER, the DACL WRITE_DAC; the SACL needs a
// privilege no SMB user holds here.
NtStatus setSecurityInfo(session::Open& o, const SetInfoRequest& req) {
  uint32_t info = req.additional_information;
  if ((info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION)) &&
      !(o.granted_access & WRITE_OWNER)) {
    return STATUS_ACCESS_DENIED;
  }
  if ((info & DACL_SECURITY_INFORMATION) && !(o.granted_access & WRITE_DAC))
    return STATUS_ACCESS_DENIED;
  if (info & SACL_SECURITY_INFORMATION) return STATUS_PRIVILEGE_NOT_HELD;
  struct stat sb {};
  if (fstat(o.metaFd(), &sb) != 0) return vfs::ntStatusFromErrno(errno);
  return vfs::setSecurityDescriptor(o.metaFd(), sb, o.directory, info, req.buffer);
}

}  // namespace

NtStatus handleQueryInfo(RequestContext& ctx, ResponseBody& body) {
  QueryInfoRequest req;
  if (NtStatus st = decodeQueryInfoRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  Bytes out;
  size_t min_size = 0;
  NtStatus st;
  switch (req.info_type) {
    case SMB2_0_INFO_FILE:
      if (req.file_info_class == FileFullEaInformation) return queryFullEaInfo(ctx, *o, req, body);
      st = queryFile(ctx, *o, req.file_info_class, &out);
      min_size = vfs::fileInfoMinSize(req.file_info_class);
      break;
    case SMB2_0_INFO_FILESYSTEM:
      st = queryFs(ctx, *o, req.file_info_class, &out);
      min_size = req.file_info_class == FileFsControlInformation
                     ? 48
                     : vfs::fsInfoMinSize(req.file_info_class);
      break;
    case SMB2_0_INFO_SECURITY: {
      if (!(o->granted_access & READ_CONTROL)) return STATUS_ACCESS_DENIED;
      struct stat sb {};
      if (fstat(o->metaFd(), &sb) != 0) return vfs::ntStatusFromErrno(errno);
      out = vfs::querySecurityDescriptor(o->metaFd(), sb, o->directory, req.additional_information);
      if (out.size() > req.output_buffer_length) {
        // MS-SMB2 3.3.5.20.3: tell the client the size it needs (ErrorData, 2.2.2.2).
        ByteWriter need;
        need.u32(static_cast<uint32_t>(out.size()));
        body = ErrorResponse{need.take()};
        return STATUS_BUFFER_TOO_SMALL;
      }
      st = STATUS_SUCCESS;
      break;
    }
    case SMB2_0_INFO_QUOTA:
      return STATUS_NOT_SUPPORTED;
    default:
      return STATUS_INVALID_PARAMETER;
  }
  if (st != STATUS_SUCCESS) return st;
  size_t limit = std::min<size_t>(req.output_buffer_length, ctx.conn->max_transact_size);
  if (out.size() > limit) {
    if (limit < min_size || limit == 0) return STATUS_INFO_LENGTH_MISMATCH;
    out.resize(limit);
    body = QueryInfoResponse{std::move(out)};
    return STATUS_BUFFER_OVERFLOW;
  }
  body = QueryInfoResponse{std::move(out)};
  return STATUS_SUCCESS;
}

NtStatus handleSetInfo(RequestContext& ctx, ResponseBody& body) {
  SetInfoRequest req;
  if (NtStatus st = decodeSetInfoRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (ctx.tree->read_only) return STATUS_ACCESS_DENIED;
  // Metadata changes through a handle act with the opener's rights (access is granted at open).
  std::optional<vfs::ScopedIdentity> as_opener;
  if (o->opener) as_opener.emplace(*o->opener);
  NtStatus st = STATUS_INVALID_INFO_CLASS;
  if (req.info_type == SMB2_0_INFO_FILE) {
    st = setFileInfo(ctx, *o, req);
  } else if (req.info_type == SMB2_0_INFO_SECURITY) {
    st = setSecurityInfo(*o, req);
  } else if (req.info_type == SMB2_0_INFO_FILESYSTEM || req.info_type == SMB2_0_INFO_QUOTA) {
    st = STATUS_NOT_SUPPORTED;
  } else {
    st = STATUS_INVALID_PARAMETER;
  }
  if (st == STATUS_SUCCESS) body = SetInfoResponse{};
  return st;
}

}  // namespace xsmb::handlers
