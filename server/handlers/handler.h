// Command handlers (MS-SMB2 3.3.5.x): each takes one decoded-on-demand request message and
// appends its response body. The dispatcher (server/dispatch/dispatcher.h) owns the header,
// credits, signing and compounding; a handler only sees what its command needs.
#pragma once

#include <cstdint>
#include <functional>

#include "common/base/bytes.h"
#include "common/smb2/header.h"
#include "common/smb2/ntstatus.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "server/vfs/file_io.h"
#include "server/vfs/io_engine.h"

namespace xsmb::handlers {

struct RequestContext {
  session::ServerContext* server;
  session::ConnState* conn;
  const smb2::Header* header;           // this request's header
  ByteSpan message;                     // this request: 64-byte header + body
  session::Session* session = nullptr;  // resolved by the dispatcher when the command needs one
  session::TreeConnect* tree = nullptr;
  // Compound state (MS-SMB2 3.3.5.2.7.2): the FileId a related request's placeholder means.
  smb2::FileId* compound_file_id = nullptr;
  bool related = false;  // SMB2_FLAGS_RELATED_OPERATIONS was set
  // Set by handlers for the dispatcher:
  uint64_t response_session_id = 0;  // SESSION_SETUP: the SessionId to put in the response
  uint32_t response_tree_id = 0;     // TREE_CONNECT: the new TreeId
  bool sign_response = false;        // SESSION_SETUP: sign this response (3.1.1 final)
  session::Session* preauth_session = nullptr;  // hash the response into this session's value
  bool preauth_connection = false;  // NEGOTIATE 3.1.1: hash the response into the connection's
  Bytes error_data;                 // ErrorData of an ERROR response (MS-SMB2 2.2.2)
  // Async requests: the dispatcher fills `async_reply` (how the final response must be signed
  // or sealed); a handler that goes async sets `async_id` and returns STATUS_PENDING.
  session::AsyncReply async_reply;
  // Set when the request is processed on the event loop (a lone READ/WRITE/ECHO...): handlers
  // must not block; READ/WRITE then try RWF_NOWAIT and otherwise set `deferred_io` and return
  // STATUS_PENDING: one file operation run by the worker's I/O engine (io_uring, or threads).
  bool on_event_loop = false;
  // `prepare` appends what precedes the data to the response body and returns the operation (a
  // READ's target points into that body, which is not touched again until `finish`); `finish` turns
  // the result (bytes, or -errno) into the status and body; `body_start` is where the body begins
  // in the buffer `body` writes to.
  struct DeferredIo {
    std::shared_ptr<vfs::UniqueFd> fd;  // keeps the descriptor open while the I/O runs
    std::function<vfs::FileIo(ByteWriter& body)> prepare;
    std::function<NtStatus(int64_t result, ByteWriter& body, size_t body_start)> finish;
  } deferred_io;
  // Set (on the event loop, for a lone request whose response is neither signed nor sealed)
  // where a READ may leave its data in the page cache: the handler then encodes only the READ
  // response header and describes the data here; the caller sends it with sendfile.
  vfs::FileSegment* file_segment = nullptr;
  // The Unix identity this request runs as (when the server runs as root), else nullptr.
  const vfs::UnixIdentity* identity = nullptr;
  uint64_t async_id = 0;
};

// Each returns the NTSTATUS of the response. For an error status the dispatcher discards the
// body and sends an ERROR response (MS-SMB2 2.2.2) — except STATUS_MORE_PROCESSING_REQUIRED and
// STATUS_BUFFER_OVERFLOW, whose bodies are sent.
NtStatus handleNegotiate(RequestContext& ctx, ByteWriter& body);
NtStatus handleSessionSetup(RequestContext& ctx, ByteWriter& body);
NtStatus handleLogoff(RequestContext& ctx, ByteWriter& body);
NtStatus handleTreeConnect(RequestContext& ctx, ByteWriter& body);
NtStatus handleTreeDisconnect(RequestContext& ctx, ByteWriter& body);
NtStatus handleCreate(RequestContext& ctx, ByteWriter& body);
NtStatus handleClose(RequestContext& ctx, ByteWriter& body);
NtStatus handleFlush(RequestContext& ctx, ByteWriter& body);
NtStatus handleRead(RequestContext& ctx, ByteWriter& body);
NtStatus handleWrite(RequestContext& ctx, ByteWriter& body);
NtStatus handleLock(RequestContext& ctx, ByteWriter& body);
NtStatus handleIoctl(RequestContext& ctx, ByteWriter& body);
NtStatus handleEcho(RequestContext& ctx, ByteWriter& body);
NtStatus handleQueryDirectory(RequestContext& ctx, ByteWriter& body);
NtStatus handleChangeNotify(RequestContext& ctx, ByteWriter& body);
NtStatus handleQueryInfo(RequestContext& ctx, ByteWriter& body);
NtStatus handleSetInfo(RequestContext& ctx, ByteWriter& body);
NtStatus handleOplockBreak(RequestContext& ctx, ByteWriter& body);

// Looks up the open a request names: the compound's current FileId when `id` is the related
// placeholder, checking that it belongs to the request's session and tree.
session::Open* findOpen(RequestContext& ctx, const smb2::FileId& id);

// Named pipes: feeds `data` to the pipe's RPC service and appends its reply to the open's
// unread bytes. STATUS_PIPE_DISCONNECTED when the helper failed the call.
NtStatus pipeTransact(RequestContext& ctx, session::Open& o, ByteSpan data);

// "server smb encrypt" applied to a session or tree connect (MS-SMB2 3.3.5.5.3, 3.3.5.7):
// desired and required ask for encryption where `can_encrypt`; required refuses otherwise
// (returns false). Off and if_required change nothing.
inline bool applyEncryptPolicy(config::EncryptPolicy policy, bool can_encrypt, bool* encrypt_data,
                               bool* encrypt_required) {
  const bool required = policy == config::EncryptPolicy::kRequired;
  if (!required && policy != config::EncryptPolicy::kDesired) return true;
  if (required && !can_encrypt) return false;
  *encrypt_data = can_encrypt;
  *encrypt_required = required;
  return true;
}

// Builds the answer to an SMB1 NEGOTIATE that offers SMB2 dialects (MS-SMB2 3.3.5.3.1): a full
// SMB2 message (header + NEGOTIATE response with dialect 0x02FF or 0x0202), without transport
// framing. Empty when the request offers no SMB2 dialect.
Bytes handleSmb1Negotiate(session::ConnState& conn, ByteSpan smb1_message);

}  // namespace xsmb::handlers
