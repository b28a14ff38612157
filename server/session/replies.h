// SMB2 messages the server sends outside a request's own reply: the final response of a request
// that went async, and oplock break notifications. Both are complete SMB2 messages (a TRANSFORM
// message when sealed) without transport framing: the connection's transport frames them.
#pragma once

#include <cstdint>

#include "common/base/bytes.h"
#include "common/smb2/lease.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::session {

struct AsyncReply;

// The final response of a request that went async (MS-SMB2 3.3.4.2): async header with
// `r.async_id`, `status`, and `body` encoded (std::monostate: an ERROR body, 2.2.2), signed or
// encrypted as the original request required (3.3.4.1.1, 3.3.4.1.4).
Bytes buildAsyncResponse(const AsyncReply& r, NtStatus status, const smb2::ResponseBody& body);

// MS-SMB2 2.2.23.1 Oplock Break Notification: MessageId all ones, no session, for the open
// `volatile_id` (both halves of its FileId carry it) to `level` (SMB2_OPLOCK_LEVEL_*).
Bytes buildOplockBreakNotification(uint64_t volatile_id, uint8_t level);

// MS-SMB2 2.2.23.2 Lease Break Notification: MessageId all ones, no session.
Bytes buildLeaseBreakNotification(const smb2::LeaseBreakNotification& n);

}  // namespace xsmb::session
