#include "server/session/replies.h"

#include "common/crypto/signing.h"
#include "common/crypto/transform.h"
#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "server/session/state.h"

namespace xsmb::session {

using namespace smb2;

Bytes buildAsyncResponse(const AsyncReply& r, NtStatus status, const ResponseBody& body) {
  Header h;
  h.command = r.command;
  h.status = status;
  h.credit_charge = r.credit_charge;
  h.credits = 0;  // credits were granted with the interim response
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_ASYNC_COMMAND;
  h.message_id = r.message_id;
  h.async_id = r.async_id;
  h.session_id = r.session_id;
  ByteWriter w;
  encodeHeader(h, w);
  encodeResponse(body, w);
  Bytes msg = w.take();
  if (r.seal) {
    return crypto::encryptMessage(static_cast<crypto::Cipher>(r.cipher), r.encryption_key,
                                  r.session_id, msg);
  }
  if (r.sign) {
    storeU32(&msg[kHeaderFlagsOffset], loadU32(&msg[kHeaderFlagsOffset]) | SMB2_FLAGS_SIGNED);
    crypto::signInPlace(r.signing_algorithm, r.signing_key, msg);
  }
  return msg;
}

Bytes buildOplockBreakNotification(uint64_t volatile_id, uint8_t level) {
  Header h;
  h.command = SMB2_OPLOCK_BREAK;
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
  h.message_id = ~0ULL;
  ByteWriter w;
  encodeHeader(h, w);
  w.u16(24);  // StructureSize
  w.u8(level);
  w.u8(0);   // Reserved
  w.u32(0);  // Reserved2
  w.u64(volatile_id);
  w.u64(volatile_id);
  return w.take();
}

Bytes buildLeaseBreakNotification(const smb2::LeaseBreakNotification& n) {
  Header h;
  h.command = SMB2_OPLOCK_BREAK;
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
  h.message_id = ~0ULL;
  ByteWriter w;
  encodeHeader(h, w);
  encodeLeaseBreakNotification(n, w);
  return w.take();
}

}  // namespace xsmb::session
