#include "server/vfs/file_table.h"

#include <algorithm>
#include <chrono>

#include "common/base/bytes.h"
#include "common/smb2/constants.h"

namespace xsmb::vfs {
namespace {
thread_local bool t_on_event_loop = false;
}  // namespace

void setOnEventLoopThread() { t_on_event_loop = true; }
bool onEventLoopThread() { return t_on_event_loop; }

namespace {

using namespace smb2;

bool conflicts(uint32_t access, uint32_t share_access_of_other) {
  if ((access & (FILE_READ_DATA | FILE_EXECUTE)) && !(share_access_of_other & FILE_SHARE_READ))
    return true;
  if ((access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) &&
      !(share_access_of_other & FILE_SHARE_WRITE))
    return true;
  if ((access & DELETE) && !(share_access_of_other & FILE_SHARE_DELETE)) return true;
  return false;
}

}  // namespace

NtStatus FileTable::lock(const Key& k, uint64_t token, std::span<const LockRange> ranges,
                         bool apply) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return STATUS_INVALID_HANDLE;
  return it->second.locks.lock(token, ranges, apply);
}

NtStatus FileTable::lockOrWait(const Key& k, uint64_t token, uint64_t waiter_id,
                               const LockRange& range, std::function<void()> granted) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return STATUS_INVALID_HANDLE;
  return it->second.locks.lockOrWait(token, waiter_id, range, std::move(granted));
}

bool FileTable::cancelLockWait(const Key& k, uint64_t token, uint64_t waiter_id) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  return it != sh.files.end() && it->second.locks.cancelWait(token, waiter_id);
}

NtStatus FileTable::unlock(const Key& k, uint64_t token, uint64_t offset, uint64_t length) {
  std::vector<std::function<void()>> granted;
  NtStatus st;
  {
    Shard& sh = shardOf(k);
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return STATUS_RANGE_NOT_LOCKED;
    st = it->second.locks.unlock(token, offset, length);
    if (st == STATUS_SUCCESS) granted = it->second.locks.grantWaiters();
  }
  for (auto& g : granted) g();  // outside the mutex: they reach other connections
  return st;
}

bool FileTable::ioConflicts(const Key& k, uint64_t token, uint64_t offset, uint64_t length,
                            bool write) {
  if (length == 0) return false;  // zero-byte I/O touches no range
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  return it != sh.files.end() && it->second.locks.ioConflicts(token, offset, length, write);
}

size_t FileTable::fileCount() {
  size_t n = 0;
  for (Shard& sh : shards_) {
    std::lock_guard<std::mutex> lock(sh.mu);
    n += sh.files.size();
  }
  return n;
}

bool FileTable::sharingViolation(const Entry& e, const OpenInfo& info) const {
  // Only data and delete access take part in sharing (MS-FSA 2.1.5.1.2.1).
  const uint32_t relevant =
      FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA | DELETE;
  if (!(info.access & relevant)) return false;
  for (const OpenRef& o : e.opens) {
    if (!(o.info.access & relevant)) continue;  // neither side of the check
    if (conflicts(info.access, o.info.share_access) ||
        conflicts(o.info.access, info.share_access)) {
      return true;
    }
  }
  return false;
}

NtStatus FileTable::add(const Key& k, const OpenInfo& info) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  Entry& e = sh.files[k];
  NtStatus st = STATUS_SUCCESS;
  if (e.delete_pending) {
    st = STATUS_DELETE_PENDING;
  } else if (sharingViolation(e, info)) {
    st = STATUS_SHARING_VIOLATION;
  }
  if (st != STATUS_SUCCESS) {
    if (e.opens.empty()) sh.files.erase(k);
    return st;
  }
  OpenRef r;
  r.info = info;
  e.opens.push_back(std::move(r));
  return STATUS_SUCCESS;
}

bool FileTable::remove(const Key& k, uint64_t token, bool delete_on_close,
                       const std::function<void()>& delete_file) {
  std::vector<std::function<void()>> granted;
  std::vector<std::function<void()>> waiters;
  bool pending = false;
  Shard& sh = shardOf(k);
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return false;
    Entry& e = it->second;
    if (delete_on_close) e.delete_pending = true;
    auto o = std::find_if(e.opens.begin(), e.opens.end(),
                          [&](const OpenRef& r) { return r.info.token == token; });
    if (o != e.opens.end()) {
      OpenInfo info = o->info;
      setState(o->oplock, 0);
      e.opens.erase(o);
      if (info.has_lease) dropLeaseIfUnused(e, info.client_guid, info.lease_key);
    }
    // Closing an open releases its byte-range locks (MS-FSA 2.1.5.4), which may grant others.
    e.locks.removeOpen(token);
    granted = e.locks.grantWaiters();
    // A closed holder may be what a waiting open waits for.
    waiters = takeWaiters(e);
    if (e.opens.empty()) {
      pending = e.delete_pending;
      sh.files.erase(it);
    }
  }
  if (pending && delete_file) delete_file();
  sh.acked.notify_all();
  for (auto& g : granted) g();  // outside the mutex: they reach other connections
  for (auto& w : waiters) w();
  return pending;
}

void FileTable::setDeletePending(const Key& k, bool pending) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it != sh.files.end()) it->second.delete_pending = pending;
}

bool FileTable::deletePending(const Key& k) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  return it != sh.files.end() && it->second.delete_pending;
}

bool FileTable::hasOtherOpens(const Key& k, uint64_t token) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  for (const OpenRef& r : it->second.opens) {
    if (r.info.token != token) return true;
  }
  return false;
}

bool FileTable::setOwner(const Key& k, uint64_t token, std::weak_ptr<OpenOwner> owner,
                         uint64_t volatile_id, bool resend_break, uint64_t session_id) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  for (OpenRef& r : it->second.opens) {
    if (r.info.token != token) continue;
    r.info.owner = std::move(owner);
    r.info.volatile_id = volatile_id;
    if (session_id) r.info.session_id = session_id;
    if (r.info.has_lease) {
      LeaseRef* l = findLease(it->second, r.info.client_guid, r.info.lease_key);
      if (!l || !l->c.breaking) return false;
      if (resend_break) notifyHolder(it->second, nullptr, l, l->c.state, l->c.breaking_to, true);
      return true;
    }
    if (r.oplock.breaking && resend_break) {
      notifyHolder(it->second, &r, nullptr, r.oplock.state, r.oplock.breaking_to, true);
    }
    return r.oplock.breaking;
  }
  return false;
}

uint8_t FileTable::oplockLevel(const Key& k, uint64_t token) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return SMB2_OPLOCK_LEVEL_NONE;
  for (const OpenRef& r : it->second.opens) {
    if (r.info.token == token)
      return r.info.has_lease ? SMB2_OPLOCK_LEVEL_LEASE : oplockOfCaching(r.oplock.state);
  }
  return SMB2_OPLOCK_LEVEL_NONE;
}

bool FileTable::hasOpenWithAccess(const Key& k, uint32_t access) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  for (const OpenRef& r : it->second.opens) {
    if (r.info.access & access) return true;
  }
  return false;
}

bool FileTable::leaseOf(const Key& k, uint64_t token, smb2::LeaseContext* out) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  for (const OpenRef& r : it->second.opens) {
    if (r.info.token != token) continue;
    if (!r.info.has_lease) return false;
    const LeaseRef* l = findLease(it->second, r.info.client_guid, r.info.lease_key);
    if (!l) return false;
    *out = smb2::LeaseContext{};
    out->version = l->version;
    out->key = l->key;
    out->state = l->c.state;
    out->flags = l->c.breaking ? smb2::SMB2_LEASE_FLAG_BREAK_IN_PROGRESS : 0;
    if (l->has_parent) {
      out->flags |= smb2::SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET;
      out->parent_key = l->parent_key;
    }
    out->epoch = l->version == 2 ? l->epoch : 0;
    return true;
  }
  return false;
}

}  // namespace xsmb::vfs
