// Durable handles in CREATE (MS-SMB2 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12): the parts
// of handleCreate that grant a durable open, reclaim a disconnected one, and detect a replayed
// or duplicate CreateGuid. The open's life while disconnected is session::DurableTable's.
#pragma once

#include "common/smb2/durable.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {

// Runs before any other field of the CREATE is looked at. Checks the durable contexts'
// combinations (STATUS_INVALID_PARAMETER for a reconnect with a request of the other version or
// with a v2 request, and for DHnQ with DH2Q). A reconnect (DHnC or DH2C), or a replayed DH2Q
// whose open exists, is answered here: `*answered` is set and the status is the CREATE's.
// A DH2Q whose CreateGuid a live open of this client uses is STATUS_DUPLICATE_OBJECTID.
NtStatus durableBeforeCreate(RequestContext& ctx, const smb2::CreateRequest& req,
                             smb2::DurableContexts* dc, smb2::ResponseBody& out, bool* answered);

// After the open was granted its oplock: a durable handle when one was asked for and the open
// holds a batch oplock (MS-SMB2 3.3.5.9.6, 3.3.5.9.10) or `handle_lease` (a lease with handle
// caching); the DHnQ / DH2Q response context goes into `resp`.
void grantDurable(RequestContext& ctx, const smb2::DurableContexts& dc, session::Open& o,
                  uint32_t create_action, uint8_t oplock_level, bool handle_lease,
                  smb2::CreateResponse* resp);

}  // namespace xsmb::handlers
