// The request pipeline of one connection (MS-SMB2 3.3.5.2): SMB1 upgrade, header checks,
// MessageId/credit accounting, session and tree lookup, signature verification, compound
// handling (3.3.5.2.7), the call into the command handler under the session user's identity,
// response headers, credit grants, preauth integrity hashing and response signing.
#pragma once

#include <functional>

#include "server/common/bytes.h"
#include "server/session/state.h"
#include "server/smb2/ntstatus.h"

namespace xsmb::handlers {

// Processes one NetBIOS payload (an SMB2 message or compound chain, or an SMB1 NEGOTIATE).
// Returns the complete response frame INCLUDING its 4-byte NetBIOS header, or an empty buffer
// when nothing is to be sent (CANCEL). Sets conn.disconnect when the connection must be closed
// after sending what is returned (malformed input, a second NEGOTIATE, a MessageId outside the
// credit window).
Bytes processMessage(session::ConnState& conn, ByteSpan payload);

// The event loop's variant, for a lone READ, WRITE, ECHO, CANCEL or NEGOTIATE of a connection
// with nothing else in flight: handlers must not block. A READ or WRITE whose data is not
// taken by the page cache at once comes back as `*deferred` (and an empty frame): the caller
// runs it on the I/O pool, where it does the I/O and returns the complete response frame. The
// payload must stay alive until then.
Bytes processOnEventLoop(session::ConnState& conn, ByteSpan payload,
                         std::function<Bytes()>* deferred);

// A complete frame (NetBIOS header included) for the final response of a request that went
// async: async header with `r.async_id`, `status`, and `body` (an ERROR body when empty), signed
// or encrypted as the original request required (MS-SMB2 3.3.4.2, 3.3.4.1.1, 3.3.4.1.4).
Bytes buildAsyncResponse(const session::AsyncReply& r, NtStatus status, ByteSpan body);

// Credits granted in a response (MS-SMB2 3.3.1.2): what the client asked for, at least 1,
// keeping the client's outstanding credits at or below kMaxCredits.
constexpr uint32_t kMaxCredits = 8192;

}  // namespace xsmb::handlers
