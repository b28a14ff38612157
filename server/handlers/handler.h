// Command handlers (MS-SMB2 3.3.5.x): each takes one decoded-on-demand request message and
// returns its status and its typed response body (smb2::ResponseBody). The dispatcher
// (server/dispatch/dispatcher.h) encodes that body after the handler returned, and owns the
// header, credits, signing and compounding; a handler only sees what its command needs and never
// writes response bytes itself, with one exception: a READ's data, which it reads straight into
// the place the dispatcher gives it (ReadPayload), so that the data is never copied.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "common/base/bytes.h"
#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "server/vfs/file_io.h"
#include "server/vfs/io_engine.h"

namespace xsmb::handlers {

// Where a READ response's data goes without a copy (MS-SMB2 2.2.20). The dispatcher makes one over
// its output buffer, at the body of the request's response: the area reserve() returns is exactly
// where the Buffer of the encoded READ response will be (DataOffset 0x50 from its header). A
// handler reads the data into it and answers smb2::ReadResponse::inPlace(n) with n no larger than
// what it reserved; the dispatcher then cuts the area to n bytes and writes the fixed part in front
// of it. Any other answer (an error, another body) makes the dispatcher discard the area.
class ReadPayload {
 public:
  ReadPayload() = default;
  ReadPayload(Bytes* out, size_t body_start) : out_(out), body_start_(body_start) {}
  // `length` writable bytes (zero-filled, like the response vector they are part of); valid until
  // the handler returns or calls reserve again, which replaces the area.
  std::span<uint8_t> reserve(size_t length) {
    const size_t data = body_start_ + smb2::ReadResponse::kFixedSize;
    out_->resize(data + length);
    return {out_->data() + data, length};
  }

 private:
  Bytes* out_ = nullptr;
  size_t body_start_ = 0;
};

struct RequestContext {
  session::ServerContext* server;
  session::ConnState* conn;
  const smb2::Header* header;           // this request's header
  ByteSpan message;                     // this request: 64-byte header + body
  session::Session* session = nullptr;  // resolved by the dispatcher when the command needs one
  // Multichannel: the connection the request came in on, when it is not `conn` (the session's
  // home, session/channels.h); nullptr otherwise.
  session::ConnState* channel = nullptr;
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
  // Async requests: the dispatcher fills `async_reply` (how the final response must be signed
  // or sealed); a handler that goes async sets `async_id` and returns STATUS_PENDING.
  session::AsyncReply async_reply;
  // Set when the request is processed on the event loop (a lone READ/WRITE/ECHO...): handlers
  // must not block; READ/WRITE then try RWF_NOWAIT and otherwise set `deferred_io` and return
  // STATUS_PENDING: one file operation run by the worker's I/O engine (io_uring, or threads).
  bool on_event_loop = false;
  // The operation, described for the dispatcher, which builds the vfs::FileIo: `op`, the
  // descriptor, `offset` (bytes); kRead reads `length` bytes into a place the dispatcher owns,
  // the Buffer of the deferred response itself (its ReadPayload), so the data is read where it is
  // sent from; kWrite writes `source` (in the request message, which stays alive until the reply),
  // with RWF_DSYNC when `datasync`; kFsync syncs. `finish` runs when the operation completed and
  // turns its result (bytes, or -errno) into the status and body: a READ's success is
  // smb2::ReadResponse::inPlace(n) with n <= `length`. Deferred I/O is pending when `finish` is
  // set.
  struct DeferredIo {
    vfs::FileIo::Op op = vfs::FileIo::Op::kRead;
    std::shared_ptr<vfs::UniqueFd> fd;  // keeps the descriptor open while the I/O runs
    uint64_t offset = 0;
    size_t length = 0;  // kRead only
    ByteSpan source;    // kWrite only
    bool datasync = false;
    std::function<NtStatus(int64_t result, smb2::ResponseBody& out)> finish;
  } deferred_io;
  // READ: where its data is read to without a copy (set by the dispatcher for every request).
  ReadPayload read_payload;
  // Set (on the event loop, for a lone request whose response is neither signed nor sealed)
  // where a READ may leave its data in the page cache or in a buffer of its own: the handler then
  // answers smb2::ReadResponse::inSegment(length), whose encoding is the fixed part only, and
  // describes the data here; the caller sends it with sendfile or from that buffer.
  vfs::FileSegment* file_segment = nullptr;
  // The Unix identity this request runs as (when the server runs as root), else nullptr.
  const vfs::UnixIdentity* identity = nullptr;
  uint64_t async_id = 0;
  // CREATE: this is a retry of a request that went async waiting for a break acknowledgment
  // (server/handlers/create_wait.h).
  bool create_retry = false;
};

// Each returns the NTSTATUS of the response and sets `out` (which starts as std::monostate) to
// its body. The dispatcher encodes `out`, except that for an error status it sends an ERROR
// response (MS-SMB2 2.2.2) instead: the smb2::ErrorResponse the handler set (with its
// ErrorData), else one without data. STATUS_MORE_PROCESSING_REQUIRED is not such an error, nor
// are warnings and informational statuses (STATUS_BUFFER_OVERFLOW, STATUS_NOTIFY_ENUM_DIR):
// their bodies are sent, and a body left std::monostate is sent as ERROR. With STATUS_PENDING and
// `deferred_io.finish` set, `out` is ignored: `finish` produces the body later.
NtStatus handleNegotiate(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleSessionSetup(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleLogoff(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleTreeConnect(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleTreeDisconnect(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleCreate(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleClose(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleFlush(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleRead(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleWrite(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleLock(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleIoctl(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleEcho(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleQueryDirectory(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleChangeNotify(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleQueryInfo(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleSetInfo(RequestContext& ctx, smb2::ResponseBody& out);
NtStatus handleOplockBreak(RequestContext& ctx, smb2::ResponseBody& out);

// Whether the request may go async (MS-SMB2 3.3.4.2): only the last request of a compound may;
// one before it that would have to wait fails with STATUS_INTERNAL_ERROR instead, as Windows
// answers (MS-SMB2 <159>, smb2.compound.interim2).
inline bool mayGoAsync(const RequestContext& ctx) { return ctx.header->next_command == 0; }

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

// The answer to an SMB1 NEGOTIATE that offers SMB2 dialects (MS-SMB2 3.3.5.3.1): the SMB2
// NEGOTIATE response with dialect 0x02FF or 0x0202, for the dispatcher to send behind an SMB2
// header (MessageId 0, one credit). std::nullopt when the request offers no SMB2 dialect.
std::optional<smb2::NegotiateResponse> handleSmb1Negotiate(session::ConnState& conn,
                                                           ByteSpan smb1_message);

}  // namespace xsmb::handlers
