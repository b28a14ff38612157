// Named data streams in the command handlers (MS-SMB2 3.3.5.9 CREATE of "file:stream",
// 3.3.5.13 WRITE, 3.3.5.20/21 QUERY_INFO and SET_INFO): the storage is server/vfs/streams.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/handlers/handler.h"
#include "server/vfs/attributes.h"
#include "server/vfs/info.h"
#include "server/vfs/streams.h"

namespace xsmb::handlers {

// MS-SMB2 3.3.5.9 checks of a CREATE that names a stream, before any lookup: a named stream or an
// explicit "::$DATA" is never a directory (FILE_DIRECTORY_FILE -> STATUS_NOT_A_DIRECTORY).
NtStatus checkStreamCreate(const smb2::CreateRequest& req, const vfs::StreamPath& sp);

// The request that opens (or creates) the file holding the stream `req` names: the same access,
// share and attributes; FILE_OPEN when the stream's disposition needs an existing file
// (FILE_OPEN, FILE_OVERWRITE), else FILE_OPEN_IF (MS-FSA 2.1.5.1: a stream's file is created
// when missing); without the directory options (directories carry named streams too).
smb2::CreateRequest streamFileRequest(const smb2::CreateRequest& req);

// MS-FSA 2.1.5.1.2 between a file and its open streams, once the file is found (`meta`):
// STATUS_DELETE_PENDING for any open of a file deleted while streams of it stay open;
// STATUS_SHARING_VIOLATION for an open of the file itself for DELETE (`desired`) while one of its
// streams is open without FILE_SHARE_DELETE.
NtStatus checkOpenAgainstStreams(const vfs::StreamPath& sp, uint32_t desired,
                                 const vfs::FileMeta& meta);

// A named stream opened on the file open as `file_fd` (identified by dev/ino).
struct StreamOpened {
  std::shared_ptr<vfs::OpenStream> stream;
  vfs::UniqueFd fd;   // the stream's data (memfd)
  int open_flags = 0;  // O_RDONLY / O_WRONLY / O_RDWR / O_PATH from the granted access
  uint32_t create_action = 0;
  bool truncate = false;  // an overwrite: done by truncateStreamAfterOpen once share modes agreed
};
// MS-FSA 2.1.5.1.2/2.1.5.1.1 for the stream: its disposition against the stream's existence
// (STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_NOT_FOUND), creation of an empty stream, and
// the opening of its data. `granted` is the access the file's open granted; `read_only` the
// share's. Errors from the xattr calls (STATUS_DISK_FULL, STATUS_ACCESS_DENIED, ...).
NtStatus openNamedStream(int file_fd, uint64_t dev, uint64_t ino, const smb2::CreateRequest& req,
                         const std::string& stream, uint32_t granted, bool read_only,
                         StreamOpened* out);
// Removes a stream openNamedStream created when the create fails later (share modes).
void undoStreamCreate(const StreamOpened& s);

// The metadata an open reports: the file's, with a stream's own sizes for a stream open (times
// and attributes belong to the file, MS-FSA 2.1.5.14).
// `ea_size`: also m->ea_size, the EAs of the file (not of a stream), cached per inode like the
// DOS record (vfs::PathFacts::ea_size).
NtStatus readOpenMeta(const session::Open& o, vfs::FileMeta* m, bool ea_size = false);
// FileStreamInformation entries (MS-FSCC 2.4.46) of the open's file: ":name:$DATA" and size of
// each named stream (the caller's encoder adds "::$DATA" for files).
NtStatus listOpenStreams(const session::Open& o, std::vector<std::pair<std::string, uint64_t>>* out);

// WRITE on a stream open (MS-SMB2 3.3.5.13): stored before it is acknowledged.
NtStatus writeStreamData(session::Open& o, uint64_t offset, ByteSpan data, smb2::ResponseBody& out);

// FileRenameInformation (MS-FSCC 2.4.42.2) whose target is a stream (":name[:$DATA]") or whose
// source is a stream open, MS-FSA 2.1.5.15.11.1.
bool isStreamRename(const session::Open& o, const std::string& target);
NtStatus renameStream(session::Open& o, const std::string& target, bool replace);

}  // namespace xsmb::handlers
