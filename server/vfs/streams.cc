#include "server/vfs/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <tuple>

#include "common/base/unicode.h"
#include "server/vfs/path.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {
namespace {


// Linux caps one xattr value at 64 KiB (XATTR_SIZE_MAX); the trailing NUL takes one byte.
constexpr uint64_t kMaxStreamBytes = 65536 - 1;

// FileTable keys of streams: the top bit of the device, which no st_dev has, plus a server-wide
// stream id.
constexpr uint64_t kStreamKeyBit = 1ULL << 63;

NtStatus xattrStatus(int err) {
  switch (err) {
    case ENODATA:
      return STATUS_OBJECT_NAME_NOT_FOUND;
    case E2BIG:
    case ENOSPC:
    case ERANGE:
      return STATUS_DISK_FULL;
    default:
      return ntStatusFromErrno(err);
  }
}


// All xattr names of the file (the list may grow between the two calls: retried).
NtStatus listNames(int fd, std::vector<std::string>* out) {
  out->clear();
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = fdListXattr(fd, nullptr, 0);
    if (n < 0) return (errno == ENOTSUP) ? STATUS_SUCCESS : xattrStatus(errno);
    std::string buf(static_cast<size_t>(n), '\0');
    n = fdListXattr(fd, buf.data(), buf.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return xattrStatus(errno);
    for (size_t pos = 0; pos < static_cast<size_t>(n);) {
      size_t end = buf.find('\0', pos);
      if (end == std::string::npos || end > static_cast<size_t>(n)) end = static_cast<size_t>(n);
      if (end > pos) out->emplace_back(buf, pos, end - pos);
      pos = end + 1;
    }
    return STATUS_SUCCESS;
  }
  return STATUS_UNSUCCESSFUL;
}

NtStatus readValue(int fd, const std::string& xname, Bytes* out) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = fdGetXattr(fd, xname.c_str(), nullptr, 0);
    if (n < 0) return xattrStatus(errno);
    out->resize(static_cast<size_t>(n));
    n = fdGetXattr(fd, xname.c_str(), out->data(), out->size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return xattrStatus(errno);
    out->resize(static_cast<size_t>(n));
    return STATUS_SUCCESS;
  }
  return STATUS_UNSUCCESSFUL;
}

}  // namespace

bool isValidStreamName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '\0' || c == '\\' || c == '/' || c == ':') return false;
  }
  auto units = utf8ToUtf16le(name).size() / 2;
  return units > 0 && units <= kMaxStreamNameUnits;
}

NtStatus parseStreamPath(std::string_view client_name, StreamPath* out) {
  *out = StreamPath{};
  size_t colon = client_name.find(':');
  if (colon == std::string_view::npos) {
    out->file = std::string(client_name);
    return STATUS_SUCCESS;
  }
  out->file = std::string(client_name.substr(0, colon));
  std::string_view rest = client_name.substr(colon + 1);
  size_t type_colon = rest.find(':');
  std::string_view stream = rest.substr(0, type_colon);
  if (type_colon != std::string_view::npos) {
    std::string_view type = rest.substr(type_colon + 1);
    if (!equalsIgnoreCase(type, "$DATA")) return STATUS_OBJECT_NAME_INVALID;
    out->has_type = true;
  } else if (stream.empty()) {
    return STATUS_OBJECT_NAME_INVALID;  // "file:"
  }
  if (!stream.empty() && !isValidStreamName(stream)) return STATUS_OBJECT_NAME_INVALID;
  out->stream = std::string(stream);
  return STATUS_SUCCESS;
}

std::string streamXattrName(std::string_view stream) {
  std::string n = kStreamXattrPrefix;
  n.append(stream);
  n.append(kStreamXattrSuffix);
  return n;
}

std::optional<std::string> streamNameFromXattr(std::string_view x) {
  std::string_view prefix = kStreamXattrPrefix, suffix = kStreamXattrSuffix;
  if (x.size() <= prefix.size() + suffix.size() || x.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  std::string_view rest = x.substr(prefix.size());
  if (!equalsIgnoreCase(rest.substr(rest.size() - suffix.size()), suffix)) return std::nullopt;
  rest.remove_suffix(suffix.size());
  if (!isValidStreamName(rest)) return std::nullopt;
  return std::string(rest);
}

Bytes encodeStreamValue(ByteSpan data) {
  Bytes v(data.begin(), data.end());
  v.push_back(0);
  return v;
}

ByteSpan decodeStreamValue(ByteSpan value) {
  if (!value.empty() && value.back() == 0) value = value.first(value.size() - 1);
  return value;
}

NtStatus listStreams(int fd, std::vector<StreamEntry>* out) {
  out->clear();
  std::vector<std::string> names;
  if (NtStatus st = listNames(fd, &names); st != STATUS_SUCCESS) return st;
  for (const std::string& x : names) {
    auto name = streamNameFromXattr(x);
    if (!name) continue;
    Bytes v;
    if (readValue(fd, x, &v) != STATUS_SUCCESS) continue;  // removed meanwhile
    out->push_back({*name, decodeStreamValue(v).size()});
  }
  return STATUS_SUCCESS;
}

NtStatus findStream(int fd, std::string_view name, std::optional<std::string>* stored) {
  stored->reset();
  // The exact spelling costs one call; any other spelling needs the list.
  if (fdGetXattr(fd, streamXattrName(name).c_str(), nullptr, 0) >= 0) {
    *stored = std::string(name);
    return STATUS_SUCCESS;
  }
  if (errno != ENODATA) return errno == ENOTSUP ? STATUS_SUCCESS : xattrStatus(errno);
  std::vector<std::string> names;
  if (NtStatus st = listNames(fd, &names); st != STATUS_SUCCESS) return st;
  for (const std::string& x : names) {
    auto n = streamNameFromXattr(x);
    if (n && equalsIgnoreCase(*n, name)) {
      *stored = *n;
      break;
    }
  }
  return STATUS_SUCCESS;
}

NtStatus readStream(int fd, std::string_view stored, Bytes* data) {
  Bytes v;
  if (NtStatus st = readValue(fd, streamXattrName(stored), &v); st != STATUS_SUCCESS) return st;
  ByteSpan d = decodeStreamValue(v);
  data->assign(d.begin(), d.end());
  return STATUS_SUCCESS;
}

NtStatus writeStream(int fd, std::string_view stored, ByteSpan data, int flags) {
  if (data.size() > kMaxStreamBytes) return STATUS_DISK_FULL;
  Bytes v = encodeStreamValue(data);
  if (fdSetXattr(fd, streamXattrName(stored).c_str(), v.data(), v.size(), flags) != 0) {
    if (errno == EEXIST) return STATUS_OBJECT_NAME_COLLISION;
    return xattrStatus(errno);
  }
  return STATUS_SUCCESS;
}

NtStatus removeStream(int fd, std::string_view stored) {
  if (fdRemoveXattr(fd, streamXattrName(stored).c_str()) != 0) return xattrStatus(errno);
  return STATUS_SUCCESS;
}

NtStatus removeAllStreams(int fd) {
  std::vector<std::string> names;
  if (NtStatus st = listNames(fd, &names); st != STATUS_SUCCESS) return st;
  for (const std::string& x : names) {
    if (!streamNameFromXattr(x)) continue;
    if (fdRemoveXattr(fd, x.c_str()) != 0 && errno != ENODATA) return xattrStatus(errno);
  }
  return STATUS_SUCCESS;
}

// ---- open streams ----

struct StreamData {
  std::mutex mu;  // serializes changes (memfd + xattr) of this stream
  uint64_t id = 0;
  uint64_t dev = 0, ino = 0;
  std::string name;         // stored spelling; guarded by the registry's mutex
  std::string folded;       // its registry key part (upcased); guarded by the registry's mutex
  bool detached = false;    // moved into the data stream: nothing is stored any more
  bool registered = false;  // entered in the registry (whose entry the destructor erases)
  std::atomic<int> opens_denying_delete{0};  // opens without FILE_SHARE_DELETE
  UniqueFd memfd;
  ~StreamData();
};

namespace {

// Every open stream by (dev, ino, upcased name). Entries are erased by ~StreamData.
class StreamRegistry {
 public:
  using Key = std::tuple<uint64_t, uint64_t, std::string>;
  std::mutex mu;
  std::map<Key, std::weak_ptr<StreamData>> open;
  // Files deleted while streams of them were open: what removes each, by (dev, ino).
  std::map<std::pair<uint64_t, uint64_t>, std::function<void()>> pending_unlink;
  std::atomic<uint64_t> next_id{1};
  // False while no stream is open and no delete waits: CREATE, rename and close then skip the
  // mutex (the common case on a share whose files have no streams open).
  std::atomic<bool> busy{false};
  void publish() {  // mu held, after a change of `open` or `pending_unlink`
    busy.store(!open.empty() || !pending_unlink.empty(), std::memory_order_release);
  }
  bool idle() const { return !busy.load(std::memory_order_acquire); }
  // Live streams of (dev, ino); r.mu held.
  bool anyOpenLocked(uint64_t dev, uint64_t ino) {
    for (auto it = open.lower_bound({dev, ino, std::string()});
         it != open.end() && std::get<0>(it->first) == dev && std::get<1>(it->first) == ino;
         ++it) {
      if (!it->second.expired()) return true;
    }
    return false;
  }
};

StreamRegistry& registry() {
  static StreamRegistry* r = new StreamRegistry;  // outlives every open (never destroyed)
  return *r;
}

}  // namespace

StreamData::~StreamData() {
  if (!registered) return;
  StreamRegistry& r = registry();
  std::function<void()> unlink;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.open.find({dev, ino, folded});
    if (it != r.open.end() && it->second.expired()) r.open.erase(it);
    auto p = r.pending_unlink.find({dev, ino});
    if (p != r.pending_unlink.end() && !r.anyOpenLocked(dev, ino)) {
      unlink = std::move(p->second);
      r.pending_unlink.erase(p);
    }
    r.publish();
  }
  if (unlink) unlink();  // the last stream of a deleted file closed
}

OpenStream::~OpenStream() {
  if (denies_delete_) data_->opens_denying_delete.fetch_sub(1);
}

void OpenStream::setShareAccess(uint32_t share_access) {
  constexpr uint32_t kFileShareDelete = 0x4;  // MS-SMB2 2.2.13 ShareAccess
  if (denies_delete_ || (share_access & kFileShareDelete)) return;
  denies_delete_ = true;
  data_->opens_denying_delete.fetch_add(1);
}

NtStatus OpenStream::open(int base_fd, uint64_t dev, uint64_t ino, const std::string& stored,
                          std::shared_ptr<OpenStream>* out) {
  std::shared_ptr<OpenStream> s(new OpenStream);
  s->base_fd_.reset(fcntl(base_fd, F_DUPFD_CLOEXEC, 0));
  if (!s->base_fd_) return ntStatusFromErrno(errno);
  StreamRegistry& r = registry();
  std::string folded = upcaseUtf8(stored);
  std::lock_guard<std::mutex> lock(r.mu);
  auto& slot = r.open[{dev, ino, folded}];
  s->data_ = slot.lock();
  if (!s->data_) {
    Bytes bytes;
    if (NtStatus st = readStream(base_fd, stored, &bytes); st != STATUS_SUCCESS) {
      r.open.erase({dev, ino, folded});
      r.publish();
      return st;
    }
    auto d = std::make_shared<StreamData>();
    d->id = r.next_id.fetch_add(1);
    d->dev = dev;
    d->ino = ino;
    d->name = stored;
    d->folded = folded;
    d->memfd.reset(memfd_create("xsmb-stream", MFD_CLOEXEC));
    if (!d->memfd || (!bytes.empty() && pwrite(d->memfd.get(), bytes.data(), bytes.size(), 0) !=
                                            static_cast<ssize_t>(bytes.size()))) {
      NtStatus st = ntStatusFromErrno(errno);
      r.open.erase({dev, ino, folded});
      r.publish();
      return st;
    }
    d->registered = true;
    slot = d;
    r.publish();
    s->data_ = std::move(d);
  }
  *out = std::move(s);
  return STATUS_SUCCESS;
}

int OpenStream::dupDataFd() const { return fcntl(data_->memfd.get(), F_DUPFD_CLOEXEC, 0); }

FileTable::Key OpenStream::tableKey() const { return {kStreamKeyBit | data_->id, data_->ino}; }

std::string OpenStream::name() const {
  std::lock_guard<std::mutex> lock(registry().mu);
  return data_->name;
}

uint64_t OpenStream::size() const {
  struct stat st {};
  if (fstat(data_->memfd.get(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

// Writes the memfd's bytes to the xattr (data_->mu held).
NtStatus OpenStream::storeLocked() {
  if (data_->detached) return STATUS_SUCCESS;
  uint64_t n = size();
  if (n > kMaxStreamBytes) return STATUS_DISK_FULL;
  Bytes bytes(n);
  if (n && pread(data_->memfd.get(), bytes.data(), n, 0) != static_cast<ssize_t>(n))
    return ntStatusFromErrno(errno);
  return writeStream(base_fd_.get(), name(), bytes, 0);
}

NtStatus OpenStream::write(uint64_t offset, ByteSpan data) {
  if (offset > kMaxStreamBytes || data.size() > kMaxStreamBytes - offset) return STATUS_DISK_FULL;
  std::lock_guard<std::mutex> lock(data_->mu);
  uint64_t old_size = size();
  Bytes old(data.size());
  ssize_t had = pread(data_->memfd.get(), old.data(), old.size(), static_cast<off_t>(offset));
  if (had < 0) return ntStatusFromErrno(errno);
  if (pwrite(data_->memfd.get(), data.data(), data.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(data.size()))
    return ntStatusFromErrno(errno);
  NtStatus st = storeLocked();
  if (st != STATUS_SUCCESS) {  // undo, so that what the xattr holds stays what readers see
    pwrite(data_->memfd.get(), old.data(), static_cast<size_t>(had), static_cast<off_t>(offset));
    ftruncate(data_->memfd.get(), static_cast<off_t>(old_size));
  }
  return st;
}

NtStatus OpenStream::setSize(uint64_t new_size) {
  if (new_size > kMaxStreamBytes) return STATUS_DISK_FULL;
  std::lock_guard<std::mutex> lock(data_->mu);
  uint64_t old_size = size();
  Bytes tail;
  if (new_size < old_size) {
    tail.resize(old_size - new_size);
    if (pread(data_->memfd.get(), tail.data(), tail.size(), static_cast<off_t>(new_size)) < 0)
      return ntStatusFromErrno(errno);
  }
  if (ftruncate(data_->memfd.get(), static_cast<off_t>(new_size)) != 0)
    return ntStatusFromErrno(errno);
  NtStatus st = storeLocked();
  if (st != STATUS_SUCCESS) {
    ftruncate(data_->memfd.get(), static_cast<off_t>(old_size));
    if (!tail.empty())
      pwrite(data_->memfd.get(), tail.data(), tail.size(), static_cast<off_t>(new_size));
  }
  return st;
}

NtStatus OpenStream::remove() {
  std::lock_guard<std::mutex> lock(data_->mu);
  if (data_->detached) return STATUS_SUCCESS;
  NtStatus st = removeStream(base_fd_.get(), name());
  return st == STATUS_OBJECT_NAME_NOT_FOUND ? STATUS_SUCCESS : st;
}

NtStatus OpenStream::rename(const std::string& target, bool replace) {
  std::lock_guard<std::mutex> lock(data_->mu);
  if (data_->detached) return STATUS_OBJECT_NAME_NOT_FOUND;
  StreamRegistry& r = registry();
  std::string folded = upcaseUtf8(target);
  std::string source = name();
  std::optional<std::string> existing;
  if (NtStatus st = findStream(base_fd_.get(), target, &existing); st != STATUS_SUCCESS) return st;
  bool same = existing && upcaseUtf8(*existing) == data_->folded;
  if (existing && !same) {
    if (!replace) return STATUS_OBJECT_NAME_COLLISION;
    std::lock_guard<std::mutex> rl(r.mu);
    auto it = r.open.find({data_->dev, data_->ino, folded});
    if (it != r.open.end() && !it->second.expired()) return STATUS_SHARING_VIOLATION;
  }
  if (existing && !same) {
    // Only an empty stream may be replaced (as Windows answers: smbtorture smb2.streams.names).
    Bytes target_bytes;
    if (readStream(base_fd_.get(), *existing, &target_bytes) == STATUS_SUCCESS &&
        !target_bytes.empty())
      return STATUS_INVALID_PARAMETER;
  }
  Bytes bytes;
  if (NtStatus st = readStream(base_fd_.get(), source, &bytes); st != STATUS_SUCCESS) return st;
  if (existing && !same) removeStream(base_fd_.get(), *existing);
  if (same) removeStream(base_fd_.get(), source);  // a change of case only
  if (NtStatus st = writeStream(base_fd_.get(), target, bytes, 0); st != STATUS_SUCCESS) return st;
  if (!same) removeStream(base_fd_.get(), source);
  std::lock_guard<std::mutex> rl(r.mu);
  auto node = r.open.extract({data_->dev, data_->ino, data_->folded});
  data_->name = target;
  data_->folded = folded;
  if (!node.empty()) {
    node.key() = {data_->dev, data_->ino, folded};
    r.open.insert(std::move(node));
  }
  return STATUS_SUCCESS;
}

NtStatus OpenStream::moveToDataStream(bool replace) {
  std::lock_guard<std::mutex> lock(data_->mu);
  if (data_->detached) return STATUS_OBJECT_NAME_NOT_FOUND;
  struct stat st {};
  if (fstat(base_fd_.get(), &st) != 0) return ntStatusFromErrno(errno);
  if (S_ISDIR(st.st_mode)) return STATUS_INVALID_PARAMETER;  // no unnamed stream
  if (st.st_size > 0 && !replace) return STATUS_OBJECT_NAME_COLLISION;
  Bytes bytes;
  if (NtStatus s = readStream(base_fd_.get(), name(), &bytes); s != STATUS_SUCCESS) return s;
  UniqueFd w(::open(procFdPath(base_fd_.get()).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!w) return ntStatusFromErrno(errno);
  if (!bytes.empty() && pwrite(w.get(), bytes.data(), bytes.size(), 0) !=
                            static_cast<ssize_t>(bytes.size()))
    return ntStatusFromErrno(errno);
  removeStream(base_fd_.get(), name());
  data_->detached = true;
  return STATUS_SUCCESS;
}

bool anyStreamOpen(uint64_t dev, uint64_t ino) {
  StreamRegistry& r = registry();
  if (r.idle()) return false;
  std::lock_guard<std::mutex> lock(r.mu);
  return r.anyOpenLocked(dev, ino);
}

bool streamsDenyDelete(uint64_t dev, uint64_t ino) {
  StreamRegistry& r = registry();
  if (r.idle()) return false;
  std::vector<std::shared_ptr<StreamData>> live;  // released after the lock (see ~StreamData)
  bool deny = false;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    for (auto it = r.open.lower_bound({dev, ino, std::string()});
         it != r.open.end() && std::get<0>(it->first) == dev && std::get<1>(it->first) == ino;
         ++it) {
      if (auto d = it->second.lock()) {
        deny = deny || d->opens_denying_delete.load() > 0;
        live.push_back(std::move(d));
      }
    }
  }
  return deny;
}

bool deferDeleteWhileStreamsOpen(uint64_t dev, uint64_t ino, std::function<void()> unlink) {
  StreamRegistry& r = registry();
  if (r.idle()) return false;
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.anyOpenLocked(dev, ino)) return false;
  r.pending_unlink[{dev, ino}] = std::move(unlink);
  r.publish();
  return true;
}

bool fileDeletePending(uint64_t dev, uint64_t ino) {
  StreamRegistry& r = registry();
  if (r.idle()) return false;
  std::lock_guard<std::mutex> lock(r.mu);
  return r.pending_unlink.count({dev, ino}) > 0;
}

}  // namespace xsmb::vfs
