// The caching rules shared by oplocks and leases (MS-SMB2 3.3.4.6, 3.3.4.7, 3.3.5.9.8,
// 3.3.5.9.11; MS-FSA 2.1.4.12 and 2.1.5.17/2.1.5.18). Both are expressed as lease state bits
// (SMB2_LEASE_READ_CACHING, _HANDLE_CACHING, _WRITE_CACHING): an oplock is the lease state it
// grants the same rights as (BATCH = RWH, EXCLUSIVE = RW, LEVEL_II = R). Pure functions, no
// locking: the file table applies them under its shard mutex.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/smb2/lease.h"

namespace xsmb::vfs {

constexpr uint32_t kLeaseR = smb2::SMB2_LEASE_READ_CACHING;
constexpr uint32_t kLeaseH = smb2::SMB2_LEASE_HANDLE_CACHING;
constexpr uint32_t kLeaseW = smb2::SMB2_LEASE_WRITE_CACHING;

// MS-SMB2 3.3.4.6 / 3.3.4.7: how long a break waits for its acknowledgment (the server's
// implementation-specific OplockBreakAckTimeout; Windows uses 35 s).
constexpr std::chrono::milliseconds kBreakAckTimeout{35000};

// SMB2_OPLOCK_LEVEL_* -> lease bits, and back (R and RH -> LEVEL_II, RW -> EXCLUSIVE,
// RWH -> BATCH, anything else NONE).
uint32_t cachingOfOplock(uint8_t level);
uint8_t oplockOfCaching(uint32_t caching);

// Opens that read or write no data do not break oplocks (an "oplock stat open": only
// SYNCHRONIZE, FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES) nor leases (a "lease stat open", which
// may also have READ_CONTROL).
bool isOplockStatOpen(uint32_t access);
bool isLeaseStatOpen(uint32_t access);

// The cache state of one holder (a lease, or an open's oplock) and its break in progress.
struct Caching {
  uint32_t state = 0;  // lease bits held now
  bool breaking = false;
  uint32_t breaking_to = 0;  // what the notification asked for (Lease.BreakToLeaseState)
  // A break requested while one was in progress may need a lower state than the one sent; the
  // acknowledgment then starts the next break (MS-SMB2 3.3.5.22.2).
  uint32_t breaking_to_required = 0;
  std::chrono::steady_clock::time_point deadline{};
};

// What a new open does to one other holder (MS-FSA 2.1.4.12 "Check Oplock/Lease on open", as
// Windows behaves): `break_to` is the state the holder must go to; `send` when that takes
// anything away; `wait` when the open must wait for the holder's acknowledgment first (it holds
// W, or H when the open meets a sharing violation, or a break is already in progress).
struct OpenBreak {
  uint32_t break_to = 0;
  bool send = false;
  bool wait = false;
};
// `held`: the holder's state; `is_lease`: a lease (an oplock breaks only to R or none);
// `sharing_violation`: the share modes refuse the new open as things are; `will_overwrite`:
// FILE_OVERWRITE(_IF) or FILE_SUPERSEDE; `first_attempt`: false when the open is retried after a
// wait.
OpenBreak planOpenBreak(const Caching& holder, bool is_lease, bool sharing_violation,
                        bool will_overwrite, bool first_attempt);

// The lease states a client may ask for: R, RH, RW and RWH; any other request is granted none
// (MS-SMB2 3.3.5.9.8).
uint32_t validLeaseRequest(uint32_t requested);

// What the other opens of a file allow a new request of `requested` (lease bits) to get.
struct GrantLimits {
  bool other_opens = false;       // another open that is not a stat open, or holds any caching
  bool other_oplock = false;      // another open holds an oplock (not a lease) above NONE
  bool other_handle = false;      // another holder caches handles (H)
  bool other_write = false;       // another holder still caches writes (W): nothing is granted
  bool byte_range_locks = false;  // the file has byte-range locks
};
uint32_t grantLease(uint32_t requested, const GrantLimits& limits);
uint8_t grantOplock(uint8_t requested, const GrantLimits& limits);

// MS-SMB2 3.3.5.22.2: the client acknowledges `acked`. STATUS_UNSUCCESSFUL when no break is in
// progress, STATUS_REQUEST_NOT_ACCEPTED when `acked` holds bits the break did not leave. On
// success the holder holds `acked` and is no longer breaking; `*next` is the state a further
// break must take it to when less was required meanwhile (`*next == acked`: none), the required
// state still to come in `breaking_to_required`.
NtStatus acknowledgeLeaseBreak(Caching* c, uint32_t acked, uint32_t* next);

}  // namespace xsmb::vfs
