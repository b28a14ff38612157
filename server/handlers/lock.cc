// LOCK (MS-SMB2 3.3.5.14): byte-range locks and unlocks of an open. A single lock without
// SMB2_LOCKFLAG_FAIL_IMMEDIATELY that conflicts goes async (MS-SMB2 3.3.4.2): the client gets an
// interim STATUS_PENDING with an AsyncId, and the final response when the range frees
// (STATUS_SUCCESS, sent on this connection's strand by whoever freed it), when it is cancelled
// (STATUS_CANCELLED, 3.3.5.16), or when its own open closes first (STATUS_RANGE_NOT_LOCKED).
// The lock state itself is vfs::FileTable's (server/vfs/byte_range_locks.h). Lock sequences
// (MS-SMB2 3.3.5.14) make a replayed LOCK of a durable, resilient or multichannel open succeed
// without being applied twice.
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "server/handlers/handler.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT Flags.
constexpr uint32_t SMB2_LOCKFLAG_SHARED_LOCK = 0x01;
constexpr uint32_t SMB2_LOCKFLAG_EXCLUSIVE_LOCK = 0x02;
constexpr uint32_t SMB2_LOCKFLAG_UNLOCK = 0x04;
constexpr uint32_t SMB2_LOCKFLAG_FAIL_IMMEDIATELY = 0x10;

// MS-SMB2 3.3.5.14.2: a lock element is SHARED or EXCLUSIVE, optionally FAIL_IMMEDIATELY, and
// in a request of several elements each must fail immediately (Windows refuses waiting ones).
bool validLockFlags(uint32_t flags, size_t count) {
  uint32_t kind =
      flags & (SMB2_LOCKFLAG_SHARED_LOCK | SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_UNLOCK);
  if (kind != SMB2_LOCKFLAG_SHARED_LOCK && kind != SMB2_LOCKFLAG_EXCLUSIVE_LOCK) return false;
  if (flags & ~(kind | SMB2_LOCKFLAG_FAIL_IMMEDIATELY)) return false;
  return count == 1 || (flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY);
}

// A range whose last byte lies beyond 2^64 - 1 (MS-FSA 2.1.5.7: STATUS_INVALID_LOCK_RANGE).
bool rangeWraps(const LockElement& e) { return e.length && e.offset + (e.length - 1) < e.offset; }

// MS-SMB2 3.3.5.14.1: unlocks in order, stopping at the first failure (what was unlocked
// before it stays unlocked). An element must be exactly SMB2_LOCKFLAG_UNLOCK.
NtStatus unlockAll(RequestContext& ctx, const session::Open& o, const LockRequest& req) {
  for (const LockElement& e : req.locks) {
    if (e.flags != SMB2_LOCKFLAG_UNLOCK) return STATUS_INVALID_PARAMETER;
    if (rangeWraps(e)) return STATUS_INVALID_LOCK_RANGE;
    NtStatus st = ctx.server->files.unlock(o.key, o.token, e.offset, e.length);
    if (st != STATUS_SUCCESS) return st;
  }
  return STATUS_SUCCESS;
}

// Where a waiting lock is taken back (session::AsyncOp::withdraw): STATUS_CANCELLED for CANCEL,
// STATUS_RANGE_NOT_LOCKED when its open (tree connect, session) closes first; std::nullopt when
// it was granted meanwhile.
std::optional<NtStatus> withdrawLock(vfs::FileTable* files, const vfs::FileTable::Key& key,
                                     uint64_t token, uint64_t async_id, session::AsyncEnd why) {
  if (!files->cancelLockWait(key, token, async_id)) return std::nullopt;
  return why == session::AsyncEnd::kCancel ? STATUS_CANCELLED : STATUS_RANGE_NOT_LOCKED;
}

// One lock that may wait (MS-SMB2 3.3.5.14.2): granted at once, or registered as an async
// request completed when the range frees. The waiter is known to the FileTable by the open's
// token and the AsyncId. In the middle of a compound it may not wait (mayGoAsync).
NtStatus lockOrWait(RequestContext& ctx, const session::Open& o, const vfs::LockRange& range,
                    ResponseBody& out) {
  vfs::FileTable* files = &ctx.server->files;
  if (!mayGoAsync(ctx)) {
    const vfs::LockRange ranges[] = {range};
    NtStatus st = files->lock(o.key, o.token, ranges);
    if (st == STATUS_SUCCESS) out = LockResponse{};
    return st == STATUS_LOCK_NOT_GRANTED ? STATUS_INTERNAL_ERROR : st;
  }
  if (NtStatus st = session::admitAsync(*ctx.conn); st != STATUS_SUCCESS) return st;
  auto op = ctx.conn->beginAsync(ctx.async_reply, ctx.tree ? ctx.tree->id : 0, o.volatile_id);
  const uint64_t id = op->reply.async_id;
  op->withdraw = [files, key = o.key, token = o.token, id](session::AsyncEnd why) {
    return withdrawLock(files, key, token, id, why);
  };
  NtStatus st = files->lockOrWait(o.key, o.token, id, range, [op]() {
    session::ConnState::completeAsyncFrom(op, STATUS_SUCCESS, LockResponse{});
  });
  if (st != STATUS_PENDING) {
    ctx.conn->dropAsync(op);
    if (st == STATUS_SUCCESS) out = LockResponse{};
    return st;
  }
  ctx.async_id = id;
  return STATUS_PENDING;
}

// MS-SMB2 3.3.5.14.2: locks all elements or none. Elements are checked in order: one with
// invalid flags or range fails the request, unless a conflict of an element before it came first.
NtStatus lockAll(RequestContext& ctx, const session::Open& o, const LockRequest& req,
                 ResponseBody& out) {
  std::vector<vfs::LockRange> ranges;
  NtStatus invalid = STATUS_SUCCESS;
  for (const LockElement& e : req.locks) {
    if (!validLockFlags(e.flags, req.locks.size())) {
      invalid = STATUS_INVALID_PARAMETER;
    } else if (rangeWraps(e)) {
      invalid = STATUS_INVALID_LOCK_RANGE;
    }
    if (invalid != STATUS_SUCCESS) break;
    ranges.push_back({e.offset, e.length, (e.flags & SMB2_LOCKFLAG_EXCLUSIVE_LOCK) != 0});
  }
  auto& files = ctx.server->files;
  if (invalid != STATUS_SUCCESS) {
    NtStatus st = files.lock(o.key, o.token, ranges, /*apply=*/false);
    return st != STATUS_SUCCESS ? st : invalid;
  }
  files.breakToNone(o.key, o.token);  // MS-FSA 2.1.5.7: read caches go to none
  if (ranges.size() == 1 && !(req.locks[0].flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY)) {
    return lockOrWait(ctx, o, ranges[0], out);
  }
  NtStatus st = files.lock(o.key, o.token, ranges);
  if (st == STATUS_SUCCESS) out = LockResponse{};
  return st;
}

// MS-SMB2 2.2.26 LockSequenceNumber (low 4 bits) and LockSequenceIndex (the 28 above; 1-64 name
// an entry of Open.LockSequenceArray, anything else none).
struct LockSequence {
  uint8_t number;
  uint32_t index;
  explicit LockSequence(uint32_t field) : number(field & 0xF), index(field >> 4) {}
  bool hasEntry() const { return index >= 1 && index <= 64; }
};

// MS-SMB2 3.3.5.14: sequences are verified for resilient and durable opens (persistent ones are
// never granted) and, on an SMB 3.x connection of a server with SMB2_GLOBAL_CAP_MULTI_CHANNEL,
// for every open; never on SMB 2.0.2.
bool verifiesLockSequence(const RequestContext& ctx, const session::Open& o) {
  const session::ConnState& c = *ctx.conn;
  if (c.dialect == SMB2_DIALECT_202) return false;
  return o.durable || (c.dialect >= SMB2_DIALECT_300 &&
                       (c.server_capabilities & SMB2_GLOBAL_CAP_MULTI_CHANNEL));
}

// True when the request replays the last successful LOCK of its sequence entry (it then
// succeeds without effect); otherwise the entry is invalidated until this request succeeds.
bool isLockReplay(const RequestContext& ctx, session::Open& o, LockSequence seq) {
  if (!seq.hasEntry() || !verifiesLockSequence(ctx, o)) return false;
  if (!o.lock_sequences) {
    o.lock_sequences = std::make_unique<std::array<uint8_t, 64>>();
    o.lock_sequences->fill(session::Open::kNoLockSequence);
  }
  uint8_t& entry = (*o.lock_sequences)[seq.index - 1];
  if (entry == seq.number) return true;
  entry = session::Open::kNoLockSequence;
  return false;
}

void recordLockSequence(const RequestContext& ctx, session::Open& o, LockSequence seq) {
  if (seq.hasEntry() && o.lock_sequences && verifiesLockSequence(ctx, o))
    (*o.lock_sequences)[seq.index - 1] = seq.number;
}

}  // namespace

NtStatus handleLock(RequestContext& ctx, ResponseBody& out) {
  LockRequest req;
  if (NtStatus st = decodeLockRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (o->directory) return STATUS_INVALID_PARAMETER;
  const LockSequence seq(req.lock_sequence);
  if (isLockReplay(ctx, *o, seq)) {
    out = LockResponse{};
    return STATUS_SUCCESS;
  }
  // MS-SMB2 3.3.5.14: the first element decides whether the request unlocks or locks.
  NtStatus st;
  if (req.locks[0].flags & SMB2_LOCKFLAG_UNLOCK) {
    st = unlockAll(ctx, *o, req);
    if (st == STATUS_SUCCESS) out = LockResponse{};
  } else {
    st = lockAll(ctx, *o, req, out);
  }
  // Only a request that succeeded here records its sequence: one that waits (STATUS_PENDING)
  // leaves the entry invalid, as it may still be cancelled.
  if (st == STATUS_SUCCESS) recordLockSequence(ctx, *o, seq);
  return st;
}

}  // namespace xsmb::handlers
