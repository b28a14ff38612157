// QUERY_DIRECTORY (MS-SMB2 3.3.5.18) and CHANGE_NOTIFY (3.3.5.19).
//
// The first query (and every restart) takes a sorted snapshot of the names that match the
// pattern; later queries continue from the cursor. Sorting makes listings stable across
// queries and gives clients the ordered view NTFS gives them.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/base/unicode.h"
#include "server/handlers/handler.h"
#include "server/session/replies.h"
#include "server/vfs/attributes.h"
#include "server/vfs/info.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

NtStatus snapshot(session::Open& o, const std::string& pattern, int dirfd) {
  int fd = dup(dirfd);
  if (fd < 0) return vfs::ntStatusFromErrno(errno);
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return vfs::ntStatusFromErrno(errno);
  }
  rewinddir(d);
  o.dir_names.clear();
  bool exact = !vfs::hasWildcard(pattern);
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    bool dots = n == "." || n == "..";
    if (!dots && !vfs::isValidComponent(n)) continue;  // not representable to SMB clients
    if (exact ? !equalsIgnoreCase(pattern, n) : !vfs::matchWildcard(pattern, n)) continue;
    o.dir_names.emplace_back(n);
  }
  closedir(d);
  std::sort(o.dir_names.begin(), o.dir_names.end(), [](const std::string& a, const std::string& b) {
    bool ad = a == "." || a == "..", bd = b == "." || b == "..";
    if (ad != bd) return ad;
    return a < b;
  });
  if (exact && o.dir_names.size() > 1) {
    // An exact spelling wins over other case variants.
    auto it = std::find(o.dir_names.begin(), o.dir_names.end(), pattern);
    std::string keep = it != o.dir_names.end() ? *it : o.dir_names.front();
    o.dir_names.assign(1, keep);
  }
  o.dir_pattern = pattern;
  o.dir_listed = true;
  o.dir_next = 0;
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus handleQueryDirectory(RequestContext& ctx, ResponseBody& body) {
  QueryDirectoryRequest req;
  if (NtStatus st = decodeQueryDirectoryRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->directory) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & FILE_LIST_DIRECTORY)) return STATUS_ACCESS_DENIED;
  uint8_t cls = req.file_information_class;
  if (vfs::dirEntrySize(cls, 0) == 0) return STATUS_INVALID_INFO_CLASS;
  if (req.output_buffer_length == 0) return STATUS_INVALID_PARAMETER;
  std::string pattern = req.pattern.empty() ? "*" : req.pattern;
  if (pattern.find('\\') != std::string::npos) return STATUS_OBJECT_NAME_INVALID;

  vfs::UniqueFd dirfd(vfs::openBeneath(o->fd.get(), ".", O_RDONLY | O_DIRECTORY));
  if (!dirfd) return vfs::ntStatusFromErrno(errno);
  bool first = false;
  if (!o->dir_listed || (req.flags & (SMB2_RESTART_SCANS | SMB2_REOPEN))) {
    if (NtStatus st = snapshot(*o, pattern, dirfd.get()); st != STATUS_SUCCESS) return st;
    first = true;
  }
  if (req.flags & SMB2_INDEX_SPECIFIED)
    o->dir_next = std::min<size_t>(req.file_index, o->dir_names.size());

  size_t limit = std::min<size_t>(req.output_buffer_length, ctx.conn->max_transact_size);
  // A batch of entries: what is read of them by path may be cached (vfs::DirListing), which
  // two statx of the directory pay for; not for a single entry (a lookup by name).
  constexpr size_t kListingBatch = 16;
  std::optional<vfs::DirListing> listing;
  if (!(req.flags & SMB2_RETURN_SINGLE_ENTRY) &&
      o->dir_names.size() - o->dir_next >= kListingBatch) {
    listing.emplace(dirfd.get());
  }
  Bytes out;
  size_t last_entry = 0;
  size_t count = 0;
  while (o->dir_next < o->dir_names.size()) {
    const std::string& name = o->dir_names[o->dir_next];
    vfs::FileMeta meta;
    NtStatus st;
    if (name == "." || (name == ".." && o->disk_path.empty())) {
      st = vfs::readFileMeta(dirfd.get(), &meta);
    } else if (name == "..") {
      vfs::UniqueFd up(
          vfs::openBeneath(o->share->root.get(),
                           o->disk_path.find('/') == std::string::npos
                               ? "."
                               : o->disk_path.substr(0, o->disk_path.rfind('/')).c_str(),
                           O_PATH | O_DIRECTORY));
      st = up ? vfs::readFileMeta(up.get(), &meta) : vfs::ntStatusFromErrno(errno);
    } else {
      st = vfs::readFileMetaAt(dirfd.get(), name.c_str(), &meta, listing ? &*listing : nullptr);
    }
    if (st != STATUS_SUCCESS) {  // vanished or unreachable: skip it
      ++o->dir_next;
      continue;
    }
    size_t start = (out.size() + 7) & ~size_t{7};
    const Bytes name16 = utf8ToUtf16le(name);  // once: for the size, then the entry
    size_t size = vfs::dirEntrySize(cls, name16.size());
    if (start + size > limit) break;
    out.resize(start, 0);
    if (count) storeU32(&out[last_entry], static_cast<uint32_t>(start - last_entry));
    vfs::appendDirEntryUtf16(cls, meta, name16, static_cast<uint32_t>(o->dir_next + 1), &out);
    last_entry = start;
    ++count;
    ++o->dir_next;
    if (req.flags & SMB2_RETURN_SINGLE_ENTRY) break;
  }
  if (listing) listing->commit();
  if (count == 0) {
    if (o->dir_next < o->dir_names.size()) return STATUS_INFO_LENGTH_MISMATCH;
    return first ? STATUS_NO_SUCH_FILE : STATUS_NO_MORE_FILES;
  }
  body = QueryDirectoryResponse{std::move(out)};
  return STATUS_SUCCESS;
}

namespace {

// MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION entries, 4-byte aligned; false when they do not fit in
// `limit` bytes (the client is then told STATUS_NOTIFY_ENUM_DIR).
bool encodeNotifyEvents(const std::vector<vfs::NotifyEvent>& events, size_t limit, Bytes* out) {
  size_t last = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    size_t start = (out->size() + 3) & ~size_t{3};
    Bytes name = utf8ToUtf16le(events[i].name);
    if (start + 12 + name.size() > limit) return false;
    out->resize(start, 0);
    if (i) storeU32(&(*out)[last], static_cast<uint32_t>(start - last));
    ByteWriter w(out);
    w.u32(0);
    w.u32(events[i].action);
    w.u32(static_cast<uint32_t>(name.size()));
    w.bytes(name);
    last = start;
  }
  return true;
}

// The CHANGE_NOTIFY response (MS-SMB2 2.2.36) for `events`, or no body (an ERROR response) with
// STATUS_NOTIFY_ENUM_DIR when they overflowed or do not fit.
NtStatus notifyBody(const std::vector<vfs::NotifyEvent>& events, bool overflow, size_t limit,
                    ResponseBody* body) {
  Bytes entries;
  if (overflow || !encodeNotifyEvents(events, limit, &entries)) return STATUS_NOTIFY_ENUM_DIR;
  *body = ChangeNotifyResponse{std::move(entries)};
  return STATUS_SUCCESS;
}

// Runs on the notify hub's thread for each change of a watched directory: completes the oldest
// waiting request (on its connection's strand), or keeps the change for the next one.
void onDirectoryChange(const std::weak_ptr<session::NotifyState>& weak, const vfs::NotifyEvent& e) {
  auto st = weak.lock();
  if (!st) return;
  session::NotifyState::Waiting w;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->waiting.empty()) {
      if (st->queued.size() < 256) {
        st->queued.push_back(e);
      } else {
        st->overflow = true;
      }
      return;
    }
    w = std::move(st->waiting.front());
    st->waiting.erase(st->waiting.begin());
  }
  ResponseBody body;
  NtStatus status = notifyBody({e}, false, w.buffer_size, &body);
  session::ConnState::completeAsyncFrom(std::move(w.op), status, std::move(body));
}

// Takes a waiting CHANGE_NOTIFY back (session::AsyncOp::withdraw): STATUS_CANCELLED for CANCEL,
// STATUS_NOTIFY_CLEANUP when its directory is closed (MS-SMB2 3.3.5.10); std::nullopt when a
// change already answered it.
std::optional<NtStatus> withdrawNotify(const std::weak_ptr<session::NotifyState>& weak,
                                       uint64_t async_id, session::AsyncEnd why) {
  NtStatus status = why == session::AsyncEnd::kCancel ? STATUS_CANCELLED : STATUS_NOTIFY_CLEANUP;
  auto st = weak.lock();
  if (!st) return status;
  std::lock_guard<std::mutex> lock(st->mu);
  auto it = std::find_if(st->waiting.begin(), st->waiting.end(),
                         [&](const auto& w) { return w.op->reply.async_id == async_id; });
  if (it == st->waiting.end()) return std::nullopt;
  st->waiting.erase(it);
  return status;
}

}  // namespace

NtStatus handleChangeNotify(RequestContext& ctx, ResponseBody& body) {
  ChangeNotifyRequest req;
  if (NtStatus st = decodeChangeNotifyRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->directory) return STATUS_INVALID_PARAMETER;
  if (!(o->granted_access & FILE_LIST_DIRECTORY)) return STATUS_ACCESS_DENIED;
  if (req.output_buffer_length > ctx.conn->max_transact_size) return STATUS_INVALID_PARAMETER;
  if (!o->notify) {
    auto st = std::make_shared<session::NotifyState>();
    st->filter = req.completion_filter;
    st->conn = ctx.conn->weak_from_this();
    std::weak_ptr<session::NotifyState> weak = st;
    st->watch_id = ctx.server->notify_hub->watch(
        o->fd.get(), req.completion_filter,
        [weak](const vfs::NotifyEvent& e) { onDirectoryChange(weak, e); });
    o->notify = std::move(st);
  }
  session::NotifyState& st = *o->notify;
  std::lock_guard<std::mutex> lock(st.mu);
  if (!st.queued.empty() || st.overflow) {
    // Changes since the last request are reported at once (MS-SMB2 3.3.5.19).
    NtStatus status = notifyBody(st.queued, st.overflow, req.output_buffer_length, &body);
    st.queued.clear();
    st.overflow = false;
    return status;
  }
  if (!mayGoAsync(ctx)) return STATUS_INTERNAL_ERROR;
  if (NtStatus st = session::admitAsync(*ctx.conn); st != STATUS_SUCCESS) return st;
  auto op = ctx.conn->beginAsync(ctx.async_reply, ctx.tree ? ctx.tree->id : 0, o->volatile_id);
  std::weak_ptr<session::NotifyState> weak = o->notify;
  op->withdraw = [weak, id = op->reply.async_id](session::AsyncEnd why) {
    return withdrawNotify(weak, id, why);
  };
  ctx.async_id = op->reply.async_id;
  st.waiting.push_back({std::move(op), req.output_buffer_length});
  return STATUS_PENDING;
}

}  // namespace xsmb::handlers
