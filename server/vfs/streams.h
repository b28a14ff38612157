// Named data streams ("file:name:$DATA", MS-FSCC 2.1.5.3/2.1.5.4, MS-FSA 2.1.5.1) kept in extended
// attributes with the layout of Samba's vfs_streams_xattr defaults, so that a share moved from
// Samba keeps its streams: stream "name" of a file is the xattr "user.DosStream.name:$DATA" of
// that file, and its value is the stream's bytes followed by one NUL byte (an empty stream is the
// one-byte value "\0"). A stream's size is therefore limited by the filesystem's xattr value size
// (ext4 without ea_inode: about 4 KiB; Linux: 64 KiB); beyond it a write fails with
// STATUS_DISK_FULL, as Samba answers.
//
// An open stream is served from a memfd holding its bytes, shared by every open of that stream, so
// that READ (page cache, sendfile) runs as for a file; every change is written back to the xattr
// before it is acknowledged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/fd.h"
#include "server/vfs/file_table.h"

namespace xsmb::vfs {

// A client path split at its stream part (MS-FSCC 2.1.5.3, "file:stream:type").
struct StreamPath {
  std::string file;     // the file part ('\\'-separated, as sent; may be "" for the share root)
  std::string stream;   // the stream name without ':' and type; "" = the unnamed data stream
  bool has_type = false;  // ":$DATA" was given (so "file::$DATA" names the data stream itself)
  bool named() const { return !stream.empty(); }
};

// Longest stream name, in UTF-16 code units (MS-FSCC 2.1.5.3).
constexpr size_t kMaxStreamNameUnits = 255;

// Splits a CREATE name (UTF-8). No ':' -> the whole name is the file part. Otherwise the part
// after the first ':' is "stream" or "stream:type"; the type must be "$DATA" (any case).
// STATUS_OBJECT_NAME_INVALID for: an empty stream name without a type ("file:"), an empty type
// ("file:s:"), another type ("file:s:$FOO"), more ':' ("file:a:b:$DATA"), a stream name with
// '\\', '/' or NUL, or one longer than kMaxStreamNameUnits.
NtStatus parseStreamPath(std::string_view client_name, StreamPath* out);
// True for a stream name (without ':' and type) MS-FSCC 2.1.5.3 allows: 1..255 UTF-16 units, no
// NUL, '\\', '/' or ':'.
bool isValidStreamName(std::string_view name);

// The xattr layout (Samba's streams_xattr with its default "prefix" and "store_stream_type").
inline constexpr char kStreamXattrPrefix[] = "user.DosStream.";
inline constexpr char kStreamXattrSuffix[] = ":$DATA";
std::string streamXattrName(std::string_view stream);
// The stream name an xattr name holds, or nullopt when it is no stream xattr (other prefix, or a
// type other than $DATA).
std::optional<std::string> streamNameFromXattr(std::string_view xattr_name);
// value = data + NUL. decode: the stream's bytes (a value without the trailing NUL, as some tools
// write it, is taken whole).
Bytes encodeStreamValue(ByteSpan data);
ByteSpan decodeStreamValue(ByteSpan value);

// Operations on the streams of the file open as `fd` (O_PATH descriptors go through
// /proc/self/fd). Errors from errno (ntStatusFromErrno; ENODATA -> STATUS_OBJECT_NAME_NOT_FOUND,
// E2BIG/ENOSPC -> STATUS_DISK_FULL).
struct StreamEntry {
  std::string name;  // as stored
  uint64_t size = 0;  // bytes
};
NtStatus listStreams(int fd, std::vector<StreamEntry>* out);
// The stored spelling of stream `name` (compared case-insensitively, as NTFS does), or nullopt.
NtStatus findStream(int fd, std::string_view name, std::optional<std::string>* stored);
NtStatus readStream(int fd, std::string_view stored, Bytes* data);
// flags: 0, XATTR_CREATE or XATTR_REPLACE.
NtStatus writeStream(int fd, std::string_view stored, ByteSpan data, int flags);
NtStatus removeStream(int fd, std::string_view stored);
// Removes every named stream (an overwrite or supersede of the file, MS-FSA 2.1.5.1.2.1).
NtStatus removeAllStreams(int fd);

// The shared state of one open named stream: its bytes in a memfd (see the top).
struct StreamData;

// One open of a named stream (held by the session's Open).
class OpenStream {
 public:
  // Opens stream `stored` of the file open as `base_fd` (duplicated; dev/ino identify the file),
  // loading it into the memfd that every open of the same stream shares.
  static NtStatus open(int base_fd, uint64_t dev, uint64_t ino, const std::string& stored,
                       std::shared_ptr<OpenStream>* out);
  ~OpenStream();
  int baseFd() const { return base_fd_.get(); }
  // A new descriptor of the stream's memfd (O_RDWR), for the Open's reads.
  int dupDataFd() const;
  // The stream's entry in the FileTable (share modes, oplocks, delete-pending per stream): a key
  // of its own, which no (device, inode) pair can equal.
  FileTable::Key tableKey() const;
  std::string name() const;
  uint64_t size() const;
  // Writes `data` at `offset` and stores the stream; on failure nothing changes.
  NtStatus write(uint64_t offset, ByteSpan data);
  // Sets the size (zero-filled when it grows) and stores the stream.
  NtStatus setSize(uint64_t size);
  // Removes the stream from the file (delete-on-close).
  NtStatus remove();
  // MS-FSA 2.1.5.15.11.1 for named targets: renames the stream to `target` (a valid stream
  // name). STATUS_OBJECT_NAME_COLLISION when it exists and !replace, STATUS_SHARING_VIOLATION
  // when it exists and is open, STATUS_INVALID_PARAMETER when it exists and is not empty.
  NtStatus rename(const std::string& target, bool replace);
  // Moves the stream's bytes into the file's unnamed data stream (a rename to "::$DATA") and
  // removes the stream; this open keeps reading the bytes it had.
  NtStatus moveToDataStream(bool replace);
  // The open's ShareAccess (FILE_SHARE_*), for streamsDenyDelete. Once, after the share-mode
  // check admitted the open.
  void setShareAccess(uint32_t share_access);

 private:
  OpenStream() = default;
  NtStatus storeLocked();
  UniqueFd base_fd_;
  std::shared_ptr<StreamData> data_;
  bool denies_delete_ = false;  // counted in data_->opens_denying_delete
};

// True when any named stream of file (dev, ino) is open (MS-FSA: a file whose streams are open
// cannot be renamed, STATUS_ACCESS_DENIED).
bool anyStreamOpen(uint64_t dev, uint64_t ino);

// MS-FSA 2.1.5.1.2: an open of the file itself for DELETE is refused (STATUS_SHARING_VIOLATION)
// while one of its streams is open without FILE_SHARE_DELETE.
bool streamsDenyDelete(uint64_t dev, uint64_t ino);
// A file deleted (delete-on-close of its last open) while named streams of it are open stays
// until the last of them closes: returns true and keeps `unlink`, which then runs (on the thread
// that closes that stream); returns false when no stream is open (the caller unlinks now).
// Meanwhile fileDeletePending(dev, ino) is true: new opens of the file or its streams get
// STATUS_DELETE_PENDING.
bool deferDeleteWhileStreamsOpen(uint64_t dev, uint64_t ino, std::function<void()> unlink);
bool fileDeletePending(uint64_t dev, uint64_t ino);

}  // namespace xsmb::vfs
