// FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9): resilient handles, which Windows 7 clients
// ask for to keep an open (and its byte-range locks) through a short network failure.
#include <memory>

#include "common/smb2/constants.h"
#include "server/handlers/fsctl.h"
#include "server/session/durable.h"

namespace xsmb::handlers {

using namespace smb2;

NtStatus fsctlRequestResiliency(RequestContext& ctx, const IoctlRequest& req, Bytes* /*out*/) {
  if (ctx.conn->dialect == SMB2_DIALECT_202) return STATUS_INVALID_DEVICE_REQUEST;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  // NETWORK_RESILIENCY_REQUEST (MS-SMB2 2.2.31.3): Timeout (ms), Reserved.
  ByteReader r(req.input);
  uint32_t timeout_ms = r.u32();
  r.u32();
  if (!r.ok() || timeout_ms > kMaxResiliencyTimeoutMs) return STATUS_INVALID_PARAMETER;
  auto d = std::make_shared<session::DurableState>();
  d->resilient = true;
  d->timeout_ms = timeout_ms ? timeout_ms : kDefaultResiliencyTimeoutMs;
  d->client_guid = ctx.conn->client_guid;
  d->user = ctx.session->user;
  d->domain = ctx.session->domain;
  d->create_action = o->durable ? o->durable->create_action : FILE_OPENED;
  o->durable = std::move(d);  // Open.IsDurable FALSE, Open.IsResilient TRUE
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
