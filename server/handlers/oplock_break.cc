// OPLOCK_BREAK requests (MS-SMB2 3.3.5.22): an Oplock Break Acknowledgment (2.2.24.1,
// StructureSize 24) or a Lease Break Acknowledgment (2.2.24.2, StructureSize 36).
#include "common/smb2/lease.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// MS-SMB2 3.3.5.22.1.
NtStatus oplockAck(RequestContext& ctx, ResponseBody& out) {
  uint8_t level = 0;
  FileId id;
  if (NtStatus st = decodeOplockBreakAck(ctx.message, &level, &id); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, id);
  if (!o) return STATUS_FILE_CLOSED;
  uint8_t granted = 0;
  NtStatus st = ctx.server->files.acknowledgeBreak(o->key, o->token, level, &granted);
  if (st != STATUS_SUCCESS) return st;
  out = OplockBreakResponse{granted, id};
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.22.2: the lease is found by the connection's ClientGuid and the LeaseKey.
NtStatus leaseAck(RequestContext& ctx, ResponseBody& out) {
  LeaseBreakAck ack;
  if (NtStatus st = decodeLeaseBreakAck(ctx.message, &ack); st != STATUS_SUCCESS) return st;
  if (ctx.conn->dialect < SMB2_DIALECT_210) return STATUS_INVALID_PARAMETER;
  NtStatus st = ctx.server->files.acknowledgeLease(ctx.conn->client_guid, ack.key, ack.state);
  if (st != STATUS_SUCCESS) return st;
  LeaseBreakResponse r;
  r.lease_key = ack.key;
  r.lease_state = ack.state;
  out = r;
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus handleOplockBreak(RequestContext& ctx, ResponseBody& out) {
  if (oplockBreakStructureSize(ctx.message) == 36) return leaseAck(ctx, out);
  return oplockAck(ctx, out);
}

}  // namespace xsmb::handlers
