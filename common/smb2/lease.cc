#include "common/smb2/lease.h"

#include <algorithm>

#include "common/smb2/constants.h"

namespace xsmb::smb2 {
namespace {

LeaseKey readKey(ByteReader& r) {
  LeaseKey k{};
  ByteSpan b = r.bytes(16);
  if (b.size() == 16) std::copy(b.begin(), b.end(), k.begin());
  return k;
}

}  // namespace

NtStatus decodeLeaseContext(ByteSpan data, bool v2_allowed, LeaseContext* out) {
  if (data.size() < 32) return STATUS_INVALID_PARAMETER;
  ByteReader r(data);
  *out = LeaseContext{};
  out->key = readKey(r);
  out->state = r.u32();
  out->flags = r.u32();
  r.skip(8);  // LeaseDuration, reserved
  if (v2_allowed && data.size() >= 52) {
    out->version = 2;
    out->parent_key = readKey(r);
    out->epoch = r.u16();
  } else {
    out->flags = 0;  // version 1 has no flags the server acts on
  }
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

Bytes encodeLeaseContext(const LeaseContext& c) {
  ByteWriter w;
  w.bytes(c.key);
  w.u32(c.state);
  w.u32(c.flags);
  w.u64(0);  // LeaseDuration
  if (c.version == 2) {
    if (c.flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET) {
      w.bytes(c.parent_key);
    } else {
      w.zeros(16);
    }
    w.u16(c.epoch);
    w.u16(0);  // Reserved
  }
  return w.take();
}

uint16_t oplockBreakStructureSize(ByteSpan msg) {
  if (msg.size() < kHeaderSize + 2) return 0;
  return loadU16(&msg[kHeaderSize]);
}

NtStatus decodeLeaseBreakAck(ByteSpan msg, LeaseBreakAck* out) {
  if (msg.size() < kHeaderSize + 36) return STATUS_INVALID_PARAMETER;
  ByteReader r(msg);
  r.seek(kHeaderSize);
  if (r.u16() != 36) return STATUS_INVALID_PARAMETER;
  r.skip(2 + 4);  // Reserved, Flags
  out->key = readKey(r);
  out->state = r.u32();
  r.skip(8);  // LeaseDuration
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

void encodeLeaseBreakNotification(const LeaseBreakNotification& n, ByteWriter& w) {
  w.u16(44);
  w.u16(n.new_epoch);
  w.u32(n.flags);
  w.bytes(n.key);
  w.u32(n.current_state);
  w.u32(n.new_state);
  w.u32(0);  // BreakReason
  w.u32(0);  // AccessMaskHint
  w.u32(0);  // ShareMaskHint
}

}  // namespace xsmb::smb2
