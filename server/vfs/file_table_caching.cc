// FileTable: oplocks and leases (MS-SMB2 3.3.4.6, 3.3.4.7, 3.3.5.9.8, 3.3.5.9.11, 3.3.5.22;
// MS-FSA 2.1.4.12, 2.1.5.17). The rules themselves are in lease.cc; this file applies them to a
// file's record under its shard mutex, sends the notifications and runs the acknowledgment timer.
#include <algorithm>

#include "common/smb2/constants.h"
#include "server/vfs/file_table.h"

namespace xsmb::vfs {

using namespace smb2;
using Clock = std::chrono::steady_clock;

namespace {

bool strongCaching(uint32_t s) { return s & (kLeaseW | kLeaseH); }

bool sameLease(const FileTable::OpenInfo& a, const Guid& g, const LeaseKey& key) {
  return a.has_lease && a.client_guid == g && a.lease_key == key;
}

}  // namespace

FileTable::FileTable() : timer_([this] { timerLoop(); }) {}

FileTable::~FileTable() {
  {
    std::lock_guard<std::mutex> l(timer_mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  timer_.join();
}

void FileTable::setState(Caching& c, uint32_t state) {
  if (strongCaching(c.state) != strongCaching(state)) {
    strong_oplocks_.fetch_add(strongCaching(state) ? 1 : -1, std::memory_order_relaxed);
  }
  c.state = state;
}

FileTable::LeaseRef* FileTable::findLease(Entry& e, const Guid& g, const LeaseKey& key) {
  for (LeaseRef& l : e.leases) {
    if (l.client_guid == g && l.key == key) return &l;
  }
  return nullptr;
}

void FileTable::notifyHolder(Entry& e, OpenRef* open, LeaseRef* lease, uint32_t from, uint32_t to,
                             bool ack_required) {
  if (open) {
    if (auto owner = open->info.owner.lock()) {
      owner->sendOplockBreakOf(open->info.session_id, open->info.channel, open->info.volatile_id,
                               oplockOfCaching(to));
      return;
    }
  } else {
    // A lease's notification goes to the connection of any of its opens (MS-SMB2 3.3.4.7).
    for (OpenRef& o : e.opens) {
      if (!sameLease(o.info, lease->client_guid, lease->key)) continue;
      if (auto owner = o.info.owner.lock()) {
        LeaseBreakNotification n;
        n.new_epoch = lease->version == 2 ? lease->epoch : 0;
        n.flags = ack_required ? SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED : 0;
        n.key = lease->key;
        n.current_state = from;
        n.new_state = to;
        owner->sendLeaseBreakOf(o.info.session_id, n);
        return;
      }
    }
  }
  // Nobody to tell: the holder's connection is being torn down. Its opens are about to be closed
  // or, when durable, handed to the durable table, whose setOwner() sees the break in progress
  // and closes them (MS-SMB2 3.3.4.6/3.3.4.7); either wakes whoever waits. Applying the break
  // here instead would leave a durable open that the conflicting open should have discarded.
}

void FileTable::sendBreak(const Key& k, Entry& e, OpenRef* open, LeaseRef* lease, uint32_t to) {
  Caching& c = open ? open->oplock : lease->c;
  if (c.breaking) {
    // Already told to go to breaking_to: what is required now follows its acknowledgment.
    c.breaking_to_required &= to;
    return;
  }
  const uint32_t from = c.state;
  if ((from & ~to) == 0) return;
  if (lease && lease->version == 2) ++lease->epoch;
  // Giving up read caching alone needs no acknowledgment (MS-SMB2 3.3.4.6, 3.3.4.7).
  const bool ack = from & (kLeaseW | kLeaseH);
  if (ack) {
    c.breaking = true;
    c.breaking_to = c.breaking_to_required = to;
    c.deadline = Clock::now() + kBreakAckTimeout;
    armTimer(k, c.deadline);
  } else {
    setState(c, to);
  }
  notifyHolder(e, open, lease, from, to, ack);
}

bool FileTable::breakOthers(const Key& k, Entry& e, const OpenRequest& req,
                            bool sharing_violation) {
  // Opens that touch no data neither break nor wait, unless they replace the data.
  if (isOplockStatOpen(req.info.access) && !req.will_overwrite) return false;
  bool wait = false;
  for (OpenRef& o : e.opens) {
    if (o.info.has_lease || (o.oplock.state == 0 && !o.oplock.breaking)) continue;
    OpenBreak b =
        planOpenBreak(o.oplock, false, sharing_violation, req.will_overwrite, req.first_attempt);
    if (b.send) sendBreak(k, e, &o, nullptr, b.break_to);
    wait |= b.wait;
  }
  if (isLeaseStatOpen(req.info.access)) return wait;
  for (size_t i = 0; i < e.leases.size(); ++i) {
    LeaseRef& l = e.leases[i];
    if (sameLease(req.info, l.client_guid, l.key)) continue;  // a lease never breaks itself
    if (l.c.state == 0 && !l.c.breaking) continue;
    OpenBreak b =
        planOpenBreak(l.c, true, sharing_violation, req.will_overwrite, req.first_attempt);
    if (b.send) sendBreak(k, e, nullptr, &l, b.break_to);
    wait |= b.wait;
  }
  return wait;
}

void FileTable::grant(const Key& k, Entry& e, OpenRef& self, const OpenRequest& req,
                      OpenGrant* out) {
  *out = OpenGrant{};
  const bool want_lease = req.lease && req.oplock == SMB2_OPLOCK_LEVEL_LEASE;
  // Directories get no oplock, and a lease only where directory leasing was negotiated.
  if (req.directory && !(want_lease && req.directory_lease)) return;
  // MS-SMB2 3.3.5.9.11: a directory lease caches reads and handles, never writes.
  const uint32_t allowed = req.directory ? (kLeaseR | kLeaseH) : (kLeaseR | kLeaseH | kLeaseW);
  GrantLimits lim;
  lim.byte_range_locks = e.locks.lockCount() > 0 && !req.will_overwrite;
  for (const OpenRef& o : e.opens) {
    if (o.info.token == self.info.token) continue;
    if (want_lease && sameLease(o.info, self.info.client_guid, self.info.lease_key)) continue;
    uint32_t held = o.oplock.state;
    if (o.info.has_lease) {
      const LeaseRef* l = findLease(e, o.info.client_guid, o.info.lease_key);
      held = l ? l->c.state : 0;
    }
    if (o.info.has_lease || o.oplock.state != 0 || !isOplockStatOpen(o.info.access))
      lim.other_opens = true;
    if (!o.info.has_lease && o.oplock.state != 0) lim.other_oplock = true;
    if (held & kLeaseH) lim.other_handle = true;
    if (held & kLeaseW) lim.other_write = true;
  }
  if (!want_lease) {
    uint8_t level = grantOplock(req.oplock, lim);
    setState(self.oplock, cachingOfOplock(level));
    out->oplock_level = level;
    return;
  }
  const LeaseContext& rq = *req.lease;
  const uint32_t requested = rq.state & allowed;
  uint32_t g = grantLease(requested, lim);
  LeaseRef* l = findLease(e, self.info.client_guid, self.info.lease_key);
  if (!l) {
    LeaseRef n;
    n.client_guid = self.info.client_guid;
    n.key = rq.key;
    n.version = rq.version;
    n.epoch = rq.epoch;
    n.has_parent = rq.version == 2 && (rq.flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET);
    if (n.has_parent) n.parent_key = rq.parent_key;
    n.directory = req.directory;
    if (n.directory) dir_leases_.fetch_add(1, std::memory_order_relaxed);
    e.leases.push_back(n);
    l = &e.leases.back();
    setState(l->c, g);
    if (l->version == 2) ++l->epoch;
    std::lock_guard<std::mutex> lk(lease_mu_);
    lease_files_[{l->client_guid, l->key}] = k;
  } else {
    // An existing lease is upgraded only to a strict superset that nothing else prevents.
    uint32_t have = l->c.state;
    if ((have & requested) == have && g != have && g == validLeaseRequest(requested) &&
        !l->c.breaking) {
      setState(l->c, g);
      if (l->version == 2) ++l->epoch;
    }
  }
  out->oplock_level = SMB2_OPLOCK_LEVEL_LEASE;
  out->lease = true;
  LeaseContext& r = out->lease_response;
  r.version = l->version;
  r.key = l->key;
  r.state = l->c.state;
  r.flags = l->c.breaking ? SMB2_LEASE_FLAG_BREAK_IN_PROGRESS : 0;
  if (l->has_parent) {
    r.flags |= SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET;
    r.parent_key = l->parent_key;
  }
  r.epoch = l->version == 2 ? l->epoch : 0;
}

NtStatus FileTable::open(const Key& k, const OpenRequest& req, OpenGrant* out) {
  *out = OpenGrant{};
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  Entry& e = sh.files[k];
  auto fail = [&](NtStatus st) {
    if (e.opens.empty()) sh.files.erase(k);
    return st;
  };
  if (e.delete_pending) return fail(STATUS_DELETE_PENDING);
  if (req.info.has_lease) {
    // One lease key names one file (MS-SMB2 3.3.5.9.8).
    std::lock_guard<std::mutex> lk(lease_mu_);
    auto it = lease_files_.find({req.info.client_guid, req.info.lease_key});
    if (it != lease_files_.end() && (it->second.dev != k.dev || it->second.ino != k.ino))
      return fail(STATUS_INVALID_PARAMETER);
  }
  const bool sharing_violation = sharingViolation(e, req.info);
  if (breakOthers(k, e, req, sharing_violation)) return fail(STATUS_PENDING);
  if (sharing_violation) return fail(STATUS_SHARING_VIOLATION);
  OpenRef r;
  r.info = req.info;
  e.opens.push_back(std::move(r));
  grant(k, e, e.opens.back(), req, out);
  return STATUS_SUCCESS;
}

namespace {
bool anyBreaking(const std::vector<Caching*>& cs) {
  return std::any_of(cs.begin(), cs.end(), [](const Caching* c) { return c->breaking; });
}
}  // namespace

void FileTable::whenBreakProgresses(const Key& k, std::function<void()> resume) {
  Shard& sh = shardOf(k);
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it != sh.files.end()) {
      std::vector<Caching*> cs;
      for (OpenRef& o : it->second.opens) cs.push_back(&o.oplock);
      for (LeaseRef& l : it->second.leases) cs.push_back(&l.c);
      if (anyBreaking(cs)) {
        it->second.waiters.push_back(std::move(resume));
        return;
      }
    }
  }
  resume();
}

void FileTable::waitBreakProgress(const Key& k) {
  Shard& sh = shardOf(k);
  std::unique_lock<std::mutex> lock(sh.mu);
  auto deadline = Clock::now() + kBreakAckTimeout + std::chrono::seconds(1);
  sh.acked.wait_until(lock, deadline, [&] {
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return true;
    std::vector<Caching*> cs;
    for (OpenRef& o : it->second.opens) cs.push_back(&o.oplock);
    for (LeaseRef& l : it->second.leases) cs.push_back(&l.c);
    return !anyBreaking(cs);
  });
}

std::vector<std::function<void()>> FileTable::takeWaiters(Entry& e) {
  std::vector<std::function<void()>> w;
  w.swap(e.waiters);
  return w;
}

NtStatus FileTable::acknowledgeBreak(const Key& k, uint64_t token, uint8_t level,
                                     uint8_t* new_level) {
  Shard& sh = shardOf(k);
  std::vector<std::function<void()>> waiters;
  NtStatus st = STATUS_INVALID_OPLOCK_PROTOCOL;
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return STATUS_INVALID_OPLOCK_PROTOCOL;
    Entry& e = it->second;
    for (OpenRef& r : e.opens) {
      if (r.info.token != token) continue;
      Caching& c = r.oplock;
      // MS-SMB2 3.3.5.22.1: no break in progress; LEVEL_II and NONE never wait for one.
      if (!c.breaking)
        return (c.state & kLeaseW) ? STATUS_INVALID_DEVICE_STATE : STATUS_INVALID_OPLOCK_PROTOCOL;
      uint32_t acked = cachingOfOplock(level);
      c.breaking = false;
      if (acked & ~c.breaking_to) {
        setState(c, 0);  // a level above what the break allowed: the oplock is gone
        st = STATUS_INVALID_OPLOCK_PROTOCOL;
      } else {
        setState(c, acked);
        *new_level = level;
        st = STATUS_SUCCESS;
        // A break to none requested meanwhile follows the acknowledgment (LEVEL_II -> NONE
        // needs no acknowledgment of its own).
        if (acked & ~c.breaking_to_required) sendBreak(k, e, &r, nullptr, c.breaking_to_required);
      }
      break;
    }
    waiters = takeWaiters(e);
    sh.acked.notify_all();
  }
  for (auto& w : waiters) w();
  return st;
}

NtStatus FileTable::acknowledgeLease(const Guid& client_guid, const LeaseKey& key, uint32_t state) {
  Key k;
  {
    std::lock_guard<std::mutex> lk(lease_mu_);
    auto it = lease_files_.find({client_guid, key});
    if (it == lease_files_.end()) return STATUS_OBJECT_NAME_NOT_FOUND;
    k = it->second;
  }
  Shard& sh = shardOf(k);
  std::vector<std::function<void()>> waiters;
  NtStatus st;
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return STATUS_OBJECT_NAME_NOT_FOUND;
    Entry& e = it->second;
    LeaseRef* l = findLease(e, client_guid, key);
    if (!l) return STATUS_OBJECT_NAME_NOT_FOUND;
    const uint32_t before = l->c.state;
    const uint32_t required = l->c.breaking_to_required;
    uint32_t next = 0;
    st = acknowledgeLeaseBreak(&l->c, state, &next);
    if (st != STATUS_SUCCESS) return st;
    const uint32_t after = l->c.state;
    l->c.state = before;
    setState(l->c, after);
    if (next != after) {
      // Still more to give up: the next break starts from the acknowledged state.
      sendBreak(k, e, nullptr, l, next);
      l->c.breaking_to_required = l->c.breaking ? required : l->c.state;
    }
    waiters = takeWaiters(e);
    sh.acked.notify_all();
  }
  for (auto& w : waiters) w();
  return st;
}

void FileTable::breakToNone(const Key& k, uint64_t token) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return;
  Entry& e = it->second;
  const OpenRef* self = nullptr;
  for (const OpenRef& o : e.opens) {
    if (o.info.token == token) self = &o;
  }
  // The writer's own LEVEL_II oplock goes too; its own lease stays.
  for (OpenRef& o : e.opens) {
    if (o.info.has_lease) continue;
    if ((o.oplock.state & kLeaseR) && !(o.oplock.state & kLeaseW)) sendBreak(k, e, &o, nullptr, 0);
  }
  for (LeaseRef& l : e.leases) {
    if (self && sameLease(self->info, l.client_guid, l.key)) continue;
    if ((l.c.state & kLeaseR) && !(l.c.state & kLeaseW)) sendBreak(k, e, nullptr, &l, 0);
  }
}

bool FileTable::breakHandleCaching(const Key& k, uint64_t token) {
  Shard& sh = shardOf(k);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(k);
  if (it == sh.files.end()) return false;
  Entry& e = it->second;
  const OpenRef* self = nullptr;
  for (const OpenRef& o : e.opens) {
    if (o.info.token == token) self = &o;
  }
  bool wait = false;
  for (LeaseRef& l : e.leases) {
    if (self && sameLease(self->info, l.client_guid, l.key)) continue;
    if (l.c.state & kLeaseH) {
      sendBreak(k, e, nullptr, &l, l.c.state & ~kLeaseH);
      wait |= l.c.breaking;
    } else if (l.c.breaking && (l.c.breaking_to & kLeaseH)) {
      wait = true;
    }
  }
  return wait;
}

FileTable::ParentLease FileTable::parentLeaseOf(const Key& file, uint64_t token) {
  ParentLease p;
  Shard& sh = shardOf(file);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(file);
  if (it == sh.files.end()) return p;
  for (const OpenRef& o : it->second.opens) {
    if (o.info.token != token || !o.info.has_lease) continue;
    const LeaseRef* l = findLease(it->second, o.info.client_guid, o.info.lease_key);
    if (l && l->has_parent) {
      p.set = true;
      p.client_guid = l->client_guid;
      p.key = l->parent_key;
    }
    break;
  }
  return p;
}

void FileTable::breakDirectoryLeases(const Key& dir, const ParentLease& exempt) {
  if (!anyDirectoryLeases()) return;
  Shard& sh = shardOf(dir);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(dir);
  if (it == sh.files.end()) return;
  Entry& e = it->second;
  for (LeaseRef& l : e.leases) {
    if (!l.directory) continue;
    if (exempt.set && l.client_guid == exempt.client_guid && l.key == exempt.key) continue;
    sendBreak(dir, e, nullptr, &l, 0);
  }
}

NtStatus FileTable::renameParentStatus(const Key& parent) {
  Shard& sh = shardOf(parent);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.files.find(parent);
  if (it == sh.files.end()) return STATUS_SUCCESS;
  if (it->second.delete_pending) return STATUS_DELETE_PENDING;
  for (const OpenRef& o : it->second.opens) {
    if (o.info.access & DELETE) return STATUS_SHARING_VIOLATION;
  }
  return STATUS_SUCCESS;
}

void FileTable::dropLeaseIfUnused(Entry& e, const Guid& g, const LeaseKey& key) {
  for (const OpenRef& o : e.opens) {
    if (sameLease(o.info, g, key)) return;
  }
  auto l = std::find_if(e.leases.begin(), e.leases.end(),
                        [&](const LeaseRef& r) { return r.client_guid == g && r.key == key; });
  if (l == e.leases.end()) return;
  setState(l->c, 0);
  if (l->directory) dir_leases_.fetch_sub(1, std::memory_order_relaxed);
  e.leases.erase(l);
  std::lock_guard<std::mutex> lk(lease_mu_);
  lease_files_.erase({g, key});
}

void FileTable::armTimer(const Key& k, Clock::time_point deadline) {
  std::lock_guard<std::mutex> l(timer_mu_);
  deadlines_.emplace(deadline, k);
  timer_cv_.notify_all();
}

void FileTable::timerLoop() {
  std::unique_lock<std::mutex> l(timer_mu_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      timer_cv_.wait(l);
      continue;
    }
    auto first = deadlines_.begin();
    if (first->first > Clock::now()) {
      timer_cv_.wait_until(l, first->first);
      continue;
    }
    Key k = first->second;
    deadlines_.erase(first);
    l.unlock();
    expireBreaks(k);
    l.lock();
  }
}

// MS-SMB2 3.3.2.1 (the Oplock Break Acknowledgment Timer) and 3.3.2.5 (the lease's): a holder
// that did not acknowledge in time loses all its caching, an oplock to NONE, a lease to none.
void FileTable::expireBreaks(const Key& k) {
  Shard& sh = shardOf(k);
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.files.find(k);
    if (it == sh.files.end()) return;
    Entry& e = it->second;
    auto now = Clock::now();
    auto expire = [&](Caching& c) {
      if (!c.breaking || c.deadline > now) return false;
      c.breaking = false;
      c.breaking_to = c.breaking_to_required = 0;
      setState(c, 0);
      return true;
    };
    bool any = false;
    for (OpenRef& o : e.opens) any |= expire(o.oplock);
    for (LeaseRef& l : e.leases) any |= expire(l.c);
    if (!any) return;
    waiters = takeWaiters(e);
    sh.acked.notify_all();
  }
  for (auto& w : waiters) w();
}

}  // namespace xsmb::vfs
