// Which opens exist per file (device, inode) across all connections, for what MS-FSA keeps per
// file: share modes (MS-FSA 2.1.5.1.2), delete-pending state (2.1.5.4), oplocks and leases
// (MS-SMB2 3.3.1.4, 3.3.4.6, 3.3.4.7, 3.3.5.9.8, 3.3.5.22; MS-FSA 2.1.5.17) and byte-range
// locks with their waiting requests (byte_range_locks.h; MS-FSA 2.1.5.7). The table is split
// in shards by file, each with its own mutex, so opens of different files do not contend. A file's
// record (Entry) is shared by all its opens and freed when the last one goes; everything outside
// names records by (device, inode) and opens by token, never by pointer. Breaks are sent to the
// holder's OpenOwner; an open that must wait for an acknowledgment is not blocked: open() answers
// STATUS_PENDING and whenBreakProgresses() calls the caller back (see file_table_caching.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/smb2/lease.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/byte_range_locks.h"
#include "server/vfs/lease.h"

namespace xsmb::vfs {

// The holder of opens, as the file table sees it: where break notifications go and which event
// loop reads the holder's requests. The session layer's connection implements it; the table
// holds it weakly, so an open whose owner is gone (a durable open kept across a dropped
// connection, MS-SMB2 3.3.7.1) is one whose weak_ptr no longer locks.
class OpenOwner {
 public:
  virtual ~OpenOwner() = default;
  // Sends an Oplock Break Notification (MS-SMB2 2.2.23.1) for the open `volatile_id` to
  // `new_level` (SMB2_OPLOCK_LEVEL_*). Any thread; must not block.
  virtual void sendOplockBreak(uint64_t volatile_id, uint8_t new_level) = 0;
  // Sends a Lease Break Notification (MS-SMB2 2.2.23.2). Any thread; must not block. An owner
  // with no connection (the durable table) keeps the lease until its acknowledgment timer ends.
  virtual void sendLeaseBreak(const smb2::LeaseBreakNotification& n) {}
  // The same for an open of the session `session_id` (OpenInfo::session_id; 0: unknown) made
  // on the connection `channel` (OpenInfo::channel), which a multichannel session's notification
  // may go out on (MS-SMB2 3.3.4.1.6). By default neither is needed.
  virtual void sendOplockBreakOf(uint64_t /*session_id*/, uint64_t /*channel*/,
                                 uint64_t volatile_id, uint8_t new_level) {
    sendOplockBreak(volatile_id, new_level);
  }
  virtual void sendLeaseBreakOf(uint64_t /*session_id*/, const smb2::LeaseBreakNotification& n) {
    sendLeaseBreak(n);
  }
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
    std::weak_ptr<OpenOwner> owner;  // where breaks are sent
    uint64_t volatile_id = 0;        // the open's FileId on that connection
    uint64_t session_id = 0;         // the owner's session of the open (0: unknown)
    uint64_t channel = 0;            // the owner's number of the connection it was made on
    // The lease the open belongs to (MS-SMB2 3.3.1.4: leases are per ClientGuid and LeaseKey).
    bool has_lease = false;
    smb2::Guid client_guid{};
    smb2::LeaseKey lease_key{};
  };

  FileTable();
  ~FileTable();
  FileTable(const FileTable&) = delete;
  FileTable& operator=(const FileTable&) = delete;

  // A CREATE's request to the table (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1.2).
  struct OpenRequest {
    OpenInfo info;
    uint8_t oplock = 0;  // RequestedOplockLevel; SMB2_OPLOCK_LEVEL_LEASE with `lease` set
    const smb2::LeaseContext* lease = nullptr;  // the "RqLs" context, when leasing applies
    bool directory = false;  // directories get no oplock, and a lease only with directory_lease
    // The connection negotiated SMB2_GLOBAL_CAP_DIRECTORY_LEASING and asked with a v2 lease: a
    // directory may then hold read and handle caching, never write (MS-SMB2 3.3.5.9.11).
    bool directory_lease = false;
    bool will_overwrite = false;  // FILE_OVERWRITE(_IF), FILE_SUPERSEDE of an existing file
    bool first_attempt = true;    // false when retried after STATUS_PENDING
  };
  struct OpenGrant {
    uint8_t oplock_level = 0;  // the response's OplockLevel (SMB2_OPLOCK_LEVEL_LEASE for leases)
    bool lease = false;        // answer with `lease_response`
    smb2::LeaseContext lease_response;
  };
  // Checks share modes and the caching of the file's other holders, sends the breaks the open
  // causes (MS-FSA 2.1.4.12) and, unless it must wait, registers the open and grants its oplock
  // or lease (MS-SMB2 3.3.5.9.8, 3.3.5.9.11). STATUS_PENDING: an acknowledgment is awaited, the
  // open was not registered; retry with first_attempt = false once whenBreakProgresses() calls
  // back. STATUS_SHARING_VIOLATION, STATUS_DELETE_PENDING, STATUS_INVALID_PARAMETER (the lease
  // key is in use for another file) otherwise.
  NtStatus open(const Key& k, const OpenRequest& req, OpenGrant* grant);
  // Calls `resume` once, on any thread and without table locks held, when a break of file `k`
  // progresses (acknowledged, timed out, or its holder closed); at once when nothing is pending.
  void whenBreakProgresses(const Key& k, std::function<void()> resume);
  // Waits (blocking, up to kBreakAckTimeout) for a break of `k` to progress; for callers that
  // cannot go async (a CREATE inside a compound). Never on an event loop thread.
  void waitBreakProgress(const Key& k);

  // MS-SMB2 3.3.5.22.1: the client acknowledges an oplock break to `level`. Returns the level now
  // held, or STATUS_INVALID_OPLOCK_PROTOCOL / STATUS_INVALID_DEVICE_STATE when no break is
  // pending or the level is higher than the break allowed.
  NtStatus acknowledgeBreak(const Key& k, uint64_t token, uint8_t level, uint8_t* new_level);
  // MS-SMB2 3.3.5.22.2: the client `client_guid` acknowledges a break of lease `key` to `state`.
  // STATUS_OBJECT_NAME_NOT_FOUND (no such lease), STATUS_UNSUCCESSFUL (no break in progress),
  // STATUS_REQUEST_NOT_ACCEPTED (a state the break did not offer).
  NtStatus acknowledgeLease(const smb2::Guid& client_guid, const smb2::LeaseKey& key,
                            uint32_t state);

  // Breaks the read caching of every holder but `token`'s own open and lease to none, without
  // waiting (MS-FSA 2.1.5.3 write, 2.1.5.14.x truncation, 2.1.5.7 byte-range lock: "break to
  // none" for LEVEL_II oplocks and R leases).
  void breakToNone(const Key& k, uint64_t token);
  // Before a rename, delete-on-close or link of the file through `token`'s open: handle caching
  // of other leases is broken (MS-FSA 2.1.5.14.11). Returns true when an acknowledgment is awaited
  // (the caller may wait with waitBreakProgress).
  bool breakHandleCaching(const Key& k, uint64_t token);

  // Directory leases (MS-SMB2 3.3.4.7; ParentLeaseKey of 2.2.13.2.10, 3.3.5.9.11). A change of
  // an entry of a directory (create, delete, rename in or out, set-info, close after a write)
  // breaks every lease of the directory to none, except the lease that the changing open's own
  // lease names as its parent (same ClientGuid and LeaseKey == ParentLeaseKey). The change does
  // not wait for the acknowledgments.
  struct ParentLease {
    bool set = false;
    smb2::Guid client_guid{};
    smb2::LeaseKey key{};
  };
  // The parent lease key that `token`'s open of `file` carries (set == false: none).
  ParentLease parentLeaseOf(const Key& file, uint64_t token);
  void breakDirectoryLeases(const Key& dir, const ParentLease& exempt);
  // False while no directory holds a lease: the callers then skip finding the parent's key.
  bool anyDirectoryLeases() const { return dir_leases_.load(std::memory_order_relaxed) > 0; }

  // A rename into directory `parent` is refused while an open of that directory has DELETE
  // access (STATUS_SHARING_VIOLATION) or it is being deleted (STATUS_DELETE_PENDING), as
  // Windows does; STATUS_SUCCESS otherwise.
  NtStatus renameParentStatus(const Key& parent);

  // Registers an open without oplock or lease. STATUS_SHARING_VIOLATION when it conflicts with a
  // live open, STATUS_DELETE_PENDING when the file is being deleted.
  NtStatus add(const Key& k, const OpenInfo& info);
  // Unregisters; returns true when this was the last open and the file is delete-pending (the
  // caller then removes it). `delete_file`, when given, is that removal: it runs (without table
  // locks) before the opens waiting for this close are woken, so that they find the file gone.
  bool remove(const Key& k, uint64_t token, bool delete_on_close,
              const std::function<void()>& delete_file = nullptr);
  void setDeletePending(const Key& k, bool pending);
  bool deletePending(const Key& k);
  // True when another open than `token` exists (used to refuse replacing an open file).
  bool hasOtherOpens(const Key& k, uint64_t token);
  // True when an open of `k` holds any of `access` (a directory open with DELETE blocks renames
  // into it, as Samba's parent_dirname_compatible_open does).
  bool hasOpenWithAccess(const Key& k, uint32_t access);
  // Names a new owner of open `token`, known there as `volatile_id`: a durable open moving to
  // the server's table of disconnected opens, or back to a connection that reclaimed it
  // (MS-SMB2 3.3.7.1, 3.3.5.9.7). Breaks go to the new owner from now on. Returns true when a
  // break of the open is waiting for its acknowledgment; with `resend_break`, that break's
  // notification is sent again, to the new owner (a multichannel session moving to another
  // channel: the first notification may have been lost with the old one).
  bool setOwner(const Key& k, uint64_t token, std::weak_ptr<OpenOwner> owner, uint64_t volatile_id,
                bool resend_break = false, uint64_t session_id = 0);
  // The oplock (SMB2_OPLOCK_LEVEL_*) open `token` holds now; NONE when unknown.
  uint8_t oplockLevel(const Key& k, uint64_t token);
  // The lease open `token` belongs to, as a CREATE response's "RqLs" context states it now
  // (MS-SMB2 2.2.14.2.10/.11: version, key, state, BREAK_IN_PROGRESS, parent key, epoch): what a
  // durable reconnect answers (3.3.5.9.7, 3.3.5.9.12). False when the open has no lease.
  bool leaseOf(const Key& k, uint64_t token, smb2::LeaseContext* out);

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
    Caching oplock;  // an oplock as lease bits (cachingOfOplock); unused for lease opens
  };
  // A lease (MS-SMB2 3.3.1.4), alive while an open of the file belongs to it.
  struct LeaseRef {
    smb2::Guid client_guid{};
    smb2::LeaseKey key{};
    smb2::LeaseKey parent_key{};
    bool has_parent = false;
    bool directory = false;  // a directory lease (counted in dir_leases_)
    uint16_t version = 1;
    uint16_t epoch = 0;
    Caching c;
  };
  std::atomic<int64_t> strong_oplocks_{0};
  std::atomic<int64_t> dir_leases_{0};
  struct Entry {
    std::vector<OpenRef> opens;
    std::vector<LeaseRef> leases;
    ByteRangeLocks locks;
    bool delete_pending = false;
    std::vector<std::function<void()>> waiters;  // whenBreakProgresses
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

  // Caching internals (file_table_caching.cc); `e` is under its shard's mutex.
  void setState(Caching& c, uint32_t state);  // keeps strong_oplocks_ in step
  void sendBreak(const Key& k, Entry& e, OpenRef* open, LeaseRef* lease, uint32_t to);
  void notifyHolder(Entry& e, OpenRef* open, LeaseRef* lease, uint32_t from, uint32_t to,
                    bool ack_required);
  LeaseRef* findLease(Entry& e, const smb2::Guid& g, const smb2::LeaseKey& key);
  bool sharingViolation(const Entry& e, const OpenInfo& info) const;
  bool breakOthers(const Key& k, Entry& e, const OpenRequest& req, bool sharing_violation);
  void grant(const Key& k, Entry& e, OpenRef& self, const OpenRequest& req, OpenGrant* out);
  void dropLeaseIfUnused(Entry& e, const smb2::Guid& g, const smb2::LeaseKey& key);
  std::vector<std::function<void()>> takeWaiters(Entry& e);
  void armTimer(const Key& k, std::chrono::steady_clock::time_point deadline);
  void timerLoop();
  void expireBreaks(const Key& k);

  // Leases by (ClientGuid, LeaseKey) -> file, to refuse one key on two files (MS-SMB2
  // 3.3.5.9.8). Taken after a shard mutex, never before one.
  std::mutex lease_mu_;
  std::map<std::pair<smb2::Guid, smb2::LeaseKey>, Key> lease_files_;
  // Acknowledgment deadlines, served by one timer thread.
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::multimap<std::chrono::steady_clock::time_point, Key> deadlines_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace xsmb::vfs
