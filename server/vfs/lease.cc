#include "server/vfs/lease.h"

#include "common/smb2/constants.h"

namespace xsmb::vfs {

using namespace smb2;

uint32_t cachingOfOplock(uint8_t level) {
  switch (level) {
    case SMB2_OPLOCK_LEVEL_BATCH:
      return kLeaseR | kLeaseW | kLeaseH;
    case SMB2_OPLOCK_LEVEL_EXCLUSIVE:
      return kLeaseR | kLeaseW;
    case SMB2_OPLOCK_LEVEL_II:
      return kLeaseR;
    default:
      return 0;
  }
}

uint8_t oplockOfCaching(uint32_t caching) {
  if (caching == (kLeaseR | kLeaseW | kLeaseH)) return SMB2_OPLOCK_LEVEL_BATCH;
  if (caching == (kLeaseR | kLeaseW)) return SMB2_OPLOCK_LEVEL_EXCLUSIVE;
  if (caching == kLeaseR || caching == (kLeaseR | kLeaseH)) return SMB2_OPLOCK_LEVEL_II;
  return SMB2_OPLOCK_LEVEL_NONE;
}

namespace {
bool onlyBits(uint32_t access, uint32_t bits) { return (access & bits) && !(access & ~bits); }
}  // namespace

bool isOplockStatOpen(uint32_t access) {
  return onlyBits(access, SYNCHRONIZE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES);
}

bool isLeaseStatOpen(uint32_t access) {
  return onlyBits(access,
                  SYNCHRONIZE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | READ_CONTROL);
}

OpenBreak planOpenBreak(const Caching& holder, bool is_lease, bool sharing_violation,
                        bool will_overwrite, bool first_attempt) {
  OpenBreak b;
  // Normally only write caching stands in the way of another open; when the share modes refuse
  // the open, the holder may close its cached handle (H) and so make room.
  const uint32_t wait_mask = sharing_violation ? kLeaseH : kLeaseW;
  const bool overwrite = will_overwrite && !sharing_violation;
  uint32_t held = holder.state;
  uint32_t to = held & ~wait_mask;
  if (overwrite) to &= ~(kLeaseH | kLeaseR);  // the data the holder caches is going away
  if ((held & ~to) == 0) {
    b.break_to = held;
    b.wait = holder.breaking;  // an earlier break must finish first
    return b;
  }
  if (overwrite) to = 0;
  if (!is_lease) to &= ~(kLeaseH | kLeaseW);  // oplocks break to LEVEL_II or NONE
  b.break_to = to;
  b.send = true;
  b.wait = (held & wait_mask) || (holder.breaking && !first_attempt);
  return b;
}

uint32_t validLeaseRequest(uint32_t requested) {
  requested &= kLeaseR | kLeaseH | kLeaseW;
  if (!(requested & kLeaseR)) return 0;  // H, W and HW alone are not granted
  return requested;
}

uint32_t grantLease(uint32_t requested, const GrantLimits& l) {
  uint32_t g = validLeaseRequest(requested);
  if (l.other_write) return 0;
  if (l.byte_range_locks) g &= ~(kLeaseR | kLeaseH);
  if (l.other_opens) g &= ~kLeaseW;
  if (l.other_oplock) g &= ~kLeaseH;
  if (g == kLeaseW || g == (kLeaseW | kLeaseH) || !(g & kLeaseR)) g = 0;
  return g;
}

uint8_t grantOplock(uint8_t requested, const GrantLimits& l) {
  uint32_t g = cachingOfOplock(requested);
  if (l.other_write) return SMB2_OPLOCK_LEVEL_NONE;
  if (l.byte_range_locks) g &= ~(kLeaseR | kLeaseH);
  if (l.other_opens) g &= ~kLeaseW;
  if (l.other_handle) g = 0;
  // RH (a batch request next to other opens) is LEVEL_II.
  return oplockOfCaching(g);
}

NtStatus acknowledgeLeaseBreak(Caching* c, uint32_t acked, uint32_t* next) {
  if (!c->breaking) return STATUS_UNSUCCESSFUL;
  if (acked & ~c->breaking_to) return STATUS_REQUEST_NOT_ACCEPTED;
  c->state = acked;
  c->breaking = false;
  *next = acked;
  if (c->breaking_to_required != c->breaking_to) {
    // More was required meanwhile. Windows gives it up in steps: read caching goes last.
    uint32_t to = c->breaking_to_required & acked;
    if (acked & ~kLeaseR) to |= kLeaseR & acked;
    *next = to;
  }
  c->breaking_to = c->breaking_to_required = *next;
  return STATUS_SUCCESS;
}

}  // namespace xsmb::vfs
