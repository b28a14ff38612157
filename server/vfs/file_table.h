// Which opens exist per file (device, inode) across all connections, for what MS-FSA keeps per
// file: share modes (MS-FSA 2.1.5.1.2), delete-pending state (2.1.5.4), oplocks
// (MS-SMB2 3.3.5.9.8, 3.3.4.6; MS-FSA 2.1.5.17) and byte-range locks with their waiting
// requests (byte_range_locks.h; MS-FSA 2.1.5.7). The table is split in shards by file, each
// with its own mutex, so opens of different files do not contend; breaking an oplock sends the
// notification to the holder's connection and waits (releasing the mutex) for its
// acknowledgment.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "common/smb2/ntstatus.h"
#include "server/vfs/byte_range_locks.h"

namespace xsmb::vfs {

// The holder of opens, as the file table sees it: where an oplock break notification goes and
// which event loop reads the holder's requests. The session layer's connection implements it.
class OpenOwner {
 public:
  virtual ~OpenOwner() = default;
  // Sends an Oplock Break Notification (MS-SMB2 2.2.23.1) for the open `volatile_id` to
  // `new_level` (SMB2_OPLOCK_LEVEL_*). Any thread; must not block.
  virtual void sendOplockBreak(uint64_t volatile_id, uint8_t new_level) = 0;
  // The index of the event loop (worker) that reads this owner's requests.
  virtual uint32_t loopIndex() const = 0;
};

// Marks the calling thread as a worker's event loop (for its whole life): requests run there
// must never wait for something only that loop can deliver (see breakOplocks).
void setOnEventLoopThread();
bool onEventLoopThread();

class FileTable {
 public:
  struct Key {
    uint64_t dev = 0, ino = 0;
    bool operator<(const Key& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
  };
  struct OpenInfo {
    uint64_t token = 0;              // unique per open, server-wide
    uint32_t access = 0;             // granted access mask
    uint32_t share_access = 0;       // FILE_SHARE_* bits
    std::weak_ptr<OpenOwner> owner;  // where oplock breaks are sent
    uint64_t volatile_id = 0;        // the open's FileId on that connection
  };

  // Breaks oplocks that conflict with a new open by `requester` (MS-SMB2 3.3.4.6): exclusive
  // and batch oplocks of other opens go to LEVEL_II (NONE when `write_intent`), and the call
  // waits up to `timeout_ms` for each holder on another connection to acknowledge; holders on
  // the requester's own connection are notified without waiting (their acknowledgment can only
  // arrive after this request), nor, on an event loop thread, are holders on connections of the
  // same loop. LEVEL_II oplocks are broken to NONE when `write_intent`.
  void breakOplocks(const Key& k, const OpenOwner* requester, bool write_intent,
                    int timeout_ms = 35000);
  // Registers an open. STATUS_SHARING_VIOLATION when it conflicts with a live open,
  // STATUS_DELETE_PENDING when the file is being deleted.
  NtStatus add(const Key& k, const OpenInfo& info);
  // The oplock granted to a just-added open for `requested` (SMB2_OPLOCK_LEVEL_*): exclusive and
  // batch only when it is the file's only open, LEVEL_II when no other open holds more than
  // LEVEL_II, NONE otherwise (leases are not offered).
  uint8_t grantOplock(const Key& k, uint64_t token, uint8_t requested);
  // MS-SMB2 3.3.5.22.1: the client acknowledges a break to `level`. Returns the level now held,
  // or STATUS_INVALID_OPLOCK_PROTOCOL / STATUS_INVALID_DEVICE_STATE when no break is pending or
  // the level is higher than the break allowed.
  NtStatus acknowledgeBreak(const Key& k, uint64_t token, uint8_t level, uint8_t* new_level);
  // Unregisters; returns true when this was the last open and the file is delete-pending (the
  // caller then removes it).
  bool remove(const Key& k, uint64_t token, bool delete_on_close);
  void setDeletePending(const Key& k, bool pending);
  bool deletePending(const Key& k);
  // True when another open than `token` exists (used to refuse replacing an open file).
  bool hasOtherOpens(const Key& k, uint64_t token);
  // Names a new owner of open `token`, known there as `volatile_id`: a durable open moving to
  // the server's table of disconnected opens, or back to a connection that reclaimed it
  // (MS-SMB2 3.3.7.1, 3.3.5.9.7). Breaks go to the new owner from now on. Returns true when a
  // break of the open is waiting for its acknowledgment.
  bool setOwner(const Key& k, uint64_t token, std::weak_ptr<OpenOwner> owner, uint64_t volatile_id);
  // The oplock (SMB2_OPLOCK_LEVEL_*) open `token` holds now; NONE when unknown.
  uint8_t oplockLevel(const Key& k, uint64_t token);

  // Byte-range locks of the file's opens, with Windows semantics (server/vfs/byte_range_locks.h;
  // MS-FSA 2.1.5.7). Takes every range of `ranges` for `token` or none (MS-SMB2 3.3.5.14.2):
  // STATUS_LOCK_NOT_GRANTED on the first conflict, STATUS_INVALID_HANDLE when the file has no
  // open. With `apply` false nothing is taken: the answer says what taking would answer.
  NtStatus lock(const Key& k, uint64_t token, std::span<const LockRange> ranges, bool apply = true);
  // A lock request that waits (MS-SMB2 3.3.5.14.2 without SMB2_LOCKFLAG_FAIL_IMMEDIATELY):
  // STATUS_SUCCESS when taken at once; else STATUS_PENDING, queued as (token, waiter_id) until
  // the conflicting locks go (unlock, close), and then taken and `granted` run, on the thread
  // that freed the range and with no FileTable mutex held: it must not block. The request is
  // dropped without `granted` when cancelLockWait withdraws it or its open is removed.
  NtStatus lockOrWait(const Key& k, uint64_t token, uint64_t waiter_id, const LockRange& range,
                      std::function<void()> granted);
  // Withdraws a waiting request: true when it was still waiting, false when it was granted
  // (its `granted` has run or is running) or is unknown.
  bool cancelLockWait(const Key& k, uint64_t token, uint64_t waiter_id);
  // Removes the lock of exactly this range held by `token`; STATUS_RANGE_NOT_LOCKED if none.
  // Waiting requests that no longer conflict are granted.
  NtStatus unlock(const Key& k, uint64_t token, uint64_t offset, uint64_t length);
  // True when a read (or write) of [offset, offset+length) by `token` hits another open's
  // exclusive lock (for a write: any lock of another open, or a shared lock of its own).
  bool ioConflicts(const Key& k, uint64_t token, uint64_t offset, uint64_t length, bool write);
  // Files with at least one open, summed over the shards (for status and leak checks).
  size_t fileCount();
  // True while any open holds a BATCH or EXCLUSIVE oplock: only then may a CREATE have to wait
  // for a break acknowledgment. Racy by nature; the event loop uses it to keep CREATEs that
  // would probably wait off the loop.
  bool anyStrongOplocks() const { return strong_oplocks_.load(std::memory_order_relaxed) > 0; }

 private:
  struct OpenRef {
    OpenInfo info;
    uint8_t oplock = 0;
    bool breaking = false;
    uint8_t break_to = 0;
  };
  void setLevel(OpenRef& r, uint8_t level);  // keeps strong_oplocks_ in step
  std::atomic<int64_t> strong_oplocks_{0};
  struct Entry {
    std::vector<OpenRef> opens;
    ByteRangeLocks locks;
    bool delete_pending = false;
  };
  struct Shard {
    std::mutex mu;
    std::condition_variable acked;
    std::map<Key, Entry> files;
  };
  static constexpr size_t kShards = 64;
  Shard& shardOf(const Key& k) {
    return shards_[(k.ino ^ (k.dev * 0x9E3779B97F4A7C15ULL)) % kShards];
  }
  Shard shards_[kShards];
};

}  // namespace xsmb::vfs
