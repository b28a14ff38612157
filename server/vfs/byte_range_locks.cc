#include "server/vfs/byte_range_locks.h"

#include <algorithm>

namespace xsmb::vfs {
namespace {

// A zero-length range at X collides with a range that holds X strictly inside it, and with no
// zero-length range (as Windows behaves, smb2.lock.zerobytelength).
bool insideStrictly(uint64_t x, uint64_t off, uint64_t len) { return off < x && x - off < len; }

}  // namespace

bool rangesOverlap(uint64_t a_off, uint64_t a_len, uint64_t b_off, uint64_t b_len) {
  if (a_len == 0 && b_len == 0) return false;
  if (a_len == 0) return insideStrictly(a_off, b_off, b_len);
  if (b_len == 0) return insideStrictly(b_off, a_off, a_len);
  uint64_t a_last = a_off + (a_len - 1), b_last = b_off + (b_len - 1);
  if (a_last < a_off) a_last = ~0ULL;  // ranges running past 2^64 end there
  if (b_last < b_off) b_last = ~0ULL;
  return a_off <= b_last && b_off <= a_last;
}

bool ByteRangeLocks::conflicts(uint64_t token, const LockRange& r) const {
  for (const Held& h : locks_) {
    if (!rangesOverlap(r.offset, r.length, h.range.offset, h.range.length)) continue;
    if (r.exclusive || (h.range.exclusive && h.token != token)) return true;
  }
  return false;
}

NtStatus ByteRangeLocks::lock(uint64_t token, std::span<const LockRange> ranges, bool apply) {
  const size_t before = locks_.size();
  NtStatus st = STATUS_SUCCESS;
  for (const LockRange& r : ranges) {
    if (conflicts(token, r)) {
      st = STATUS_LOCK_NOT_GRANTED;
      break;
    }
    locks_.push_back({token, r});  // later elements of the request see it
  }
  if (st != STATUS_SUCCESS || !apply) locks_.resize(before);
  return st;
}

NtStatus ByteRangeLocks::unlock(uint64_t token, uint64_t offset, uint64_t length) {
  for (bool exclusive : {true, false}) {
    auto it = std::find_if(locks_.begin(), locks_.end(), [&](const Held& h) {
      return h.token == token && h.range.offset == offset && h.range.length == length &&
             h.range.exclusive == exclusive;
    });
    if (it != locks_.end()) {
      locks_.erase(it);
      return STATUS_SUCCESS;
    }
  }
  return STATUS_RANGE_NOT_LOCKED;
}

bool ByteRangeLocks::ioConflicts(uint64_t token, uint64_t offset, uint64_t length,
                                 bool write) const {
  if (length == 0) return false;
  for (const Held& h : locks_) {
    if (!rangesOverlap(offset, length, h.range.offset, h.range.length)) continue;
    if (h.token != token && (h.range.exclusive || write)) return true;
    if (h.token == token && write && !h.range.exclusive) return true;
  }
  return false;
}

NtStatus ByteRangeLocks::lockOrWait(uint64_t token, uint64_t waiter_id, const LockRange& range,
                                    std::function<void()> granted) {
  if (!conflicts(token, range)) {
    locks_.push_back({token, range});
    return STATUS_SUCCESS;
  }
  waiters_.push_back({token, waiter_id, range, std::move(granted)});
  return STATUS_PENDING;
}

bool ByteRangeLocks::cancelWait(uint64_t token, uint64_t waiter_id) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const Waiter& w) { return w.token == token && w.id == waiter_id; });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

std::vector<std::function<void()>> ByteRangeLocks::grantWaiters() {
  std::vector<std::function<void()>> done;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (conflicts(it->token, it->range)) {
      ++it;
      continue;
    }
    locks_.push_back({it->token, it->range});
    done.push_back(std::move(it->granted));
    it = waiters_.erase(it);
  }
  return done;
}

void ByteRangeLocks::removeOpen(uint64_t token) {
  std::erase_if(locks_, [&](const Held& h) { return h.token == token; });
  std::erase_if(waiters_, [&](const Waiter& w) { return w.token == token; });
}

}  // namespace xsmb::vfs
