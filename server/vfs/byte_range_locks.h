// The byte-range locks of one file and the lock requests waiting on them, with Windows semantics
// (MS-FSA 2.1.5.7 FileLockControl, 2.1.4.4 conflict rules; MS-SMB2 3.3.5.14.2). Locks are
// mandatory and belong to an open (its FileTable token), not to a process: an exclusive lock
// conflicts with every overlapping lock (its own open's too), a shared one with overlapping
// exclusive locks of other opens (a shared lock stacks on its own exclusive one). Zero-length
// ranges overlap nothing but a range that holds their offset strictly inside it. Ranges are
// [offset, offset + length) in bytes; one that runs past 2^64 ends there (callers refuse those with
// STATUS_INVALID_LOCK_RANGE first).
//
// Not thread-safe: FileTable keeps one per file under its shard's mutex. A waiter's `granted`
// callback is never run here: grantWaiters() hands the callbacks back, and the caller runs them
// once it released its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/smb2/ntstatus.h"

namespace xsmb::vfs {

// One element of a lock request (MS-SMB2 2.2.26.1 without its flags): `length` bytes from
// `offset`, exclusive or shared.
struct LockRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool exclusive = false;
};

// Whether two ranges collide, as MS-FSA 2.1.4.4 decides for locks and I/O (zero-length ranges
// included; smb2.lock.zerobytelength shows Windows' rule).
bool rangesOverlap(uint64_t a_off, uint64_t a_len, uint64_t b_off, uint64_t b_len);

class ByteRangeLocks {
 public:
  // Takes every range of `ranges` for the open `token`, or none of them: each is checked against
  // the locks held and the ranges of this request before it. STATUS_LOCK_NOT_GRANTED on the first
  // conflict. With `apply` false nothing is taken: the result says what taking would answer.
  NtStatus lock(uint64_t token, std::span<const LockRange> ranges, bool apply = true);
  // Removes the lock of exactly this range held by `token` (its exclusive lock first when it
  // holds both kinds on the range); STATUS_RANGE_NOT_LOCKED when it holds none.
  NtStatus unlock(uint64_t token, uint64_t offset, uint64_t length);
  // True when I/O of [offset, offset + length) by `token` hits a lock (MS-FSA 2.1.4.4): for a
  // read, another open's exclusive lock; for a write, any lock of another open or a shared lock
  // of its own. Zero-length I/O hits nothing.
  bool ioConflicts(uint64_t token, uint64_t offset, uint64_t length, bool write) const;

  // A request of `token` for `range` that waits (no SMB2_LOCKFLAG_FAIL_IMMEDIATELY): taken at
  // once when nothing conflicts (STATUS_SUCCESS, `granted` dropped), else queued behind earlier
  // waiters as (token, waiter_id) and STATUS_PENDING. A queued request is granted by
  // grantWaiters() once nothing conflicts any more, in arrival order.
  NtStatus lockOrWait(uint64_t token, uint64_t waiter_id, const LockRange& range,
                      std::function<void()> granted);
  // Withdraws a queued request (CANCEL, its open closing): true when it was still waiting, false
  // when it was granted meanwhile or never queued.
  bool cancelWait(uint64_t token, uint64_t waiter_id);
  // Grants, in arrival order, each queued request that no longer conflicts (a granted lock may
  // block those behind it). Returns the callbacks of the granted requests, for the caller to run
  // once it holds no lock. Call after anything that removed locks.
  std::vector<std::function<void()>> grantWaiters();
  // Drops the locks and the queued requests of `token` (its open closed, MS-FSA 2.1.5.4); the
  // callbacks of the dropped requests are not run. Call grantWaiters() afterwards.
  void removeOpen(uint64_t token);

  bool empty() const { return locks_.empty() && waiters_.empty(); }
  size_t lockCount() const { return locks_.size(); }
  size_t waiterCount() const { return waiters_.size(); }

 private:
  struct Held {
    uint64_t token;
    LockRange range;
  };
  struct Waiter {
    uint64_t token;
    uint64_t id;
    LockRange range;
    std::function<void()> granted;
  };
  // Whether `r` for `token` collides with a lock held.
  bool conflicts(uint64_t token, const LockRange& r) const;
  std::vector<Held> locks_;
  std::vector<Waiter> waiters_;  // in arrival order
};

}  // namespace xsmb::vfs
