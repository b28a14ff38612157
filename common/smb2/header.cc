#include "common/smb2/header.h"

#include <algorithm>

namespace xsmb::smb2 {

bool decodeHeader(ByteSpan msg, Header* out) {
  ByteReader r(msg);
  if (r.u32() != kProtocolId) return false;
  if (r.u16() != kHeaderSize) return false;
  out->credit_charge = r.u16();
  out->status = r.u32();
  out->command = r.u16();
  out->credits = r.u16();
  out->flags = r.u32();
  out->next_command = r.u32();
  out->message_id = r.u64();
  if (out->flags & SMB2_FLAGS_ASYNC_COMMAND) {
    out->async_id = r.u64();
    out->process_id = 0;
    out->tree_id = 0;
  } else {
    out->async_id = 0;
    out->process_id = r.u32();
    out->tree_id = r.u32();
  }
  out->session_id = r.u64();
  ByteSpan sig = r.bytes(16);
  if (!r.ok()) return false;
  std::copy(sig.begin(), sig.end(), out->signature.begin());
  return true;
}

void encodeHeader(const Header& h, ByteWriter& w) {
  w.u32(kProtocolId);
  w.u16(kHeaderSize);
  w.u16(h.credit_charge);
  w.u32(h.status);
  w.u16(h.command);
  w.u16(h.credits);
  w.u32(h.flags);
  w.u32(h.next_command);
  w.u64(h.message_id);
  if (h.flags & SMB2_FLAGS_ASYNC_COMMAND) {
    w.u64(h.async_id);
  } else {
    w.u32(h.process_id);
    w.u32(h.tree_id);
  }
  w.u64(h.session_id);
  w.bytes(h.signature.data(), h.signature.size());
}

}  // namespace xsmb::smb2
