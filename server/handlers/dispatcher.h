// The request pipeline of one connection (MS-SMB2 3.3.5.2): SMB1 upgrade, header checks,
// MessageId/credit accounting, session and tree lookup, signature verification, compound
// handling (3.3.5.2.7), the call into the command handler under the session user's identity,
// response headers, credit grants, preauth integrity hashing and response signing.
#pragma once

#include <functional>

#include "common/base/bytes.h"
#include "server/net/io_engine.h"
#include "server/session/state.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::handlers {

// Processes one NetBIOS payload (an SMB2 message or compound chain, or an SMB1 NEGOTIATE).
// Returns the complete response frame INCLUDING its 4-byte NetBIOS header, or an empty buffer
// when nothing is to be sent (CANCEL). Sets conn.disconnect when the connection must be closed
// after sending what is returned (malformed input, a second NEGOTIATE, a MessageId outside the
// credit window).
Bytes processMessage(session::ConnState& conn, ByteSpan payload);

// What is left of a request answered on the event loop once its file I/O is done: one file
// operation for the worker's I/O engine, and `complete`, which builds the response frame from
// its result.
struct DeferredReply {
  net::FileIo io;
  std::shared_ptr<vfs::UniqueFd> fd;  // keeps io.fd open until the operation completes
  std::function<Bytes(int64_t result)> complete;
};

// The event loop's variant, for requests the worker chose to answer there (see
// Worker::deliver): handlers must not block. A READ, WRITE or FLUSH that would wait for the
// disk comes back as `*deferred` (and an empty frame); the payload must stay alive until it
// completes.
//
// With `segment`, a READ of data that is in the page cache may be answered by reference: the
// frame returned then holds the headers only (its NetBIOS length counts the data) and
// `*segment` names the file range that must follow it on the wire.
Bytes processOnEventLoop(session::ConnState& conn, ByteSpan payload, DeferredReply* deferred,
                         session::FileSegment* segment = nullptr);

// A complete frame (NetBIOS header included) for the final response of a request that went
// async: async header with `r.async_id`, `status`, and `body` (an ERROR body when empty), signed
// or encrypted as the original request required (MS-SMB2 3.3.4.2, 3.3.4.1.1, 3.3.4.1.4).
Bytes buildAsyncResponse(const session::AsyncReply& r, NtStatus status, ByteSpan body);

// Credits granted in a response (MS-SMB2 3.3.1.2): what the client asked for, at least 1,
// keeping the client's outstanding credits at or below kMaxCredits.
constexpr uint32_t kMaxCredits = 8192;

}  // namespace xsmb::handlers
