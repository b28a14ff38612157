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

void FileTable::breakOplocks(const Key& k, const OpenOwner* requester, bool write_intent,
                             int timeout_ms) {
  Shard& sh = shardOf(k);
  std::unique_lock<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return;
  std::vector<uint64_t> wait_for;
  for (OpenRef& r : it->second.opens) {
    uint8_t to;
    if (r.oplock == SMB2_OPLOCK_LEVEL_BATCH || r.oplock == SMB2_OPLOCK_LEVEL_EXCLUSIVE) {
      to = write_intent ? SMB2_OPLOCK_LEVEL_NONE : SMB2_OPLOCK_LEVEL_II;
    } else if (r.oplock == SMB2_OPLOCK_LEVEL_II && write_intent) {
      to = SMB2_OPLOCK_LEVEL_NONE;
    } else {
      continue;
    }
    auto holder = r.info.owner.lock();
    if (!holder) {
      setLevel(r, to);
      continue;
    }
    bool level2 = r.oplock == SMB2_OPLOCK_LEVEL_II;
    if (!r.breaking) {
      holder->sendOplockBreak(r.info.volatile_id, to);
    }
    // A LEVEL_II break needs no acknowledgment (MS-SMB2 3.3.4.6), and neither does one sent
    // to the requester's own connection: its reply can only come after this request.
    // Nor can one on a connection of the requester's own event loop when this request runs on
    // that loop: the acknowledgment would be read by the thread that waits for it.
    bool same_loop =
        onEventLoopThread() && requester && holder->loopIndex() == requester->loopIndex();
    if (level2 || holder.get() == requester || same_loop) {
      setLevel(r, to);
      r.breaking = false;
    } else {
      r.breaking = true;
      r.break_to = to;
      wait_for.push_back(r.info.token);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (uint64_t token : wait_for) {
    sh.acked.wait_until(lock, deadline, [&] {
      auto f = sh.files.find(k);
      if (f == sh.files.end()) return true;
      for (const OpenRef& r : f->second.opens) {
        if (r.info.token == token) return !r.breaking;
      }
      return true;  // closed
    });
    auto f = sh.files.find(k);
    if (f == sh.files.end()) return;
    for (OpenRef& r : f->second.opens) {
      if (r.info.token == token && r.breaking) {
        r.breaking = false;  // no acknowledgment in time: the break applies anyway
        setLevel(r, r.break_to);
      }
    }
  }
}

NtStatus FileTable::add(const Key& k, const OpenInfo& info) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  Entry& e = sh.files[k];
  if (e.delete_pending) return STATUS_DELETE_PENDING;
  // Only data and delete access take part in sharing (MS-FSA 2.1.5.1.2.1).
  const uint32_t relevant =
      FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA | DELETE;
  if (info.access & relevant) {
    for (const OpenRef& o : e.opens) {
      if (conflicts(info.access, o.info.share_access) ||
          conflicts(o.info.access, info.share_access)) {
        return STATUS_SHARING_VIOLATION;
      }
    }
  }
  OpenRef r;
  r.info = info;
  e.opens.push_back(std::move(r));
  return STATUS_SUCCESS;
}

uint8_t FileTable::grantOplock(const Key& k, uint64_t token, uint8_t requested) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return SMB2_OPLOCK_LEVEL_NONE;
  OpenRef* self = nullptr;
  bool others = false, others_strong = false;
  for (OpenRef& r : it->second.opens) {
    if (r.info.token == token) {
      self = &r;
    } else {
      others = true;
      if (r.oplock != SMB2_OPLOCK_LEVEL_NONE && r.oplock != SMB2_OPLOCK_LEVEL_II)
        others_strong = true;
    }
  }
  if (!self) return SMB2_OPLOCK_LEVEL_NONE;
  uint8_t level = SMB2_OPLOCK_LEVEL_NONE;
  if (requested == SMB2_OPLOCK_LEVEL_BATCH || requested == SMB2_OPLOCK_LEVEL_EXCLUSIVE) {
    level = !others ? requested : (others_strong ? SMB2_OPLOCK_LEVEL_NONE : SMB2_OPLOCK_LEVEL_II);
  } else if (requested == SMB2_OPLOCK_LEVEL_II) {
    level = others_strong ? SMB2_OPLOCK_LEVEL_NONE : SMB2_OPLOCK_LEVEL_II;
  }
  setLevel(*self, level);
  return level;
}

NtStatus FileTable::acknowledgeBreak(const Key& k, uint64_t token, uint8_t level,
                                     uint8_t* new_level) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return STATUS_INVALID_OPLOCK_PROTOCOL;
  for (OpenRef& r : it->second.opens) {
    if (r.info.token != token) continue;
    if (!r.breaking) return STATUS_INVALID_DEVICE_STATE;
    if (level > r.break_to && level != SMB2_OPLOCK_LEVEL_NONE) {
      r.breaking = false;
      setLevel(r, SMB2_OPLOCK_LEVEL_NONE);
      sh.acked.notify_all();
      return STATUS_INVALID_OPLOCK_PROTOCOL;
    }
    r.breaking = false;
    setLevel(r, level);
    *new_level = level;
    sh.acked.notify_all();
    return STATUS_SUCCESS;
  }
  return STATUS_INVALID_OPLOCK_PROTOCOL;
}

void FileTable::setLevel(OpenRef& r, uint8_t level) {
  auto strong = [](uint8_t l) {
    return l == SMB2_OPLOCK_LEVEL_BATCH || l == SMB2_OPLOCK_LEVEL_EXCLUSIVE;
  };
  if (strong(r.oplock) != strong(level)) {
    strong_oplocks_.fetch_add(strong(level) ? 1 : -1, std::memory_order_relaxed);
  }
  r.oplock = level;
}

bool FileTable::remove(const Key& k, uint64_t token, bool delete_on_close) {
  std::vector<std::function<void()>> granted;
  bool pending = false;
  {
    Shard& sh = shardOf(k);
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return false;
    Entry& e = it->second;
    if (delete_on_close) e.delete_pending = true;
    e.opens.erase(std::remove_if(e.opens.begin(), e.opens.end(),
                                 [&](OpenRef& o) {
                                   if (o.info.token != token) return false;
                                   setLevel(o, SMB2_OPLOCK_LEVEL_NONE);
                                   return true;
                                 }),
                  e.opens.end());
    // Closing an open releases its byte-range locks (MS-FSA 2.1.5.4), which may grant others.
    e.locks.removeOpen(token);
    granted = e.locks.grantWaiters();
    sh.acked.notify_all();
    if (e.opens.empty()) {
      pending = e.delete_pending;
      sh.files.erase(it);
    }
  }
  for (auto& g : granted) g();  // outside the mutex: they reach other connections
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
                         uint64_t volatile_id) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  for (OpenRef& r : it->second.opens) {
    if (r.info.token != token) continue;
    r.info.owner = std::move(owner);
    r.info.volatile_id = volatile_id;
    return r.breaking;
  }
  return false;
}

uint8_t FileTable::oplockLevel(const Key& k, uint64_t token) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return SMB2_OPLOCK_LEVEL_NONE;
  for (const OpenRef& r : it->second.opens) {
    if (r.info.token == token) return r.oplock;
  }
  return SMB2_OPLOCK_LEVEL_NONE;
}

}  // namespace xsmb::vfs
