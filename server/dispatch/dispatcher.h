// The request pipeline of one connection (MS-SMB2 3.3.5.2): SMB1 upgrade, decryption of
// TRANSFORM messages, header checks, MessageId/credit accounting, session and tree lookup,
// signature verification, compounds (3.3.5.2.7), the call into the command handler under the
// session user's identity, response headers, credit grants, preauth integrity hashing, response
// signing and encryption. It takes and returns SMB2 messages without transport framing: the
// connection's transport (TCP's NetBIOS header, SMB Direct, QUIC) frames them.
#pragma once

#include <functional>
#include <memory>

#include "common/base/bytes.h"
#include "server/session/channels.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "server/vfs/file_io.h"
#include "server/vfs/io_engine.h"

namespace xsmb::dispatch {

// Processes one received message (an SMB2 message or compound chain, a TRANSFORM message, or an
// SMB1 NEGOTIATE). Returns the response: SMB2 message(s), or a TRANSFORM message when sealed;
// empty when nothing is to be sent (CANCEL). Sets conn.disconnect when the connection must be
// closed after sending what is returned (malformed input, a second NEGOTIATE, a MessageId
// outside the credit window).
Bytes processMessage(session::ConnState& conn, ByteSpan payload);

// Multichannel (session/channels.h), on the strand of `home`, the connection holding the
// session: processes `payload`, which arrived on `route.channel` (bound to that session), with
// that channel's MessageId window and Channel.SigningKey; returns the response to send on the
// channel (empty: none). Sets *close when the channel must be closed after it.
Bytes processOnChannel(session::ConnState& home, const session::ChannelRoute& route,
                       ByteSpan payload, bool* close);

// What is left of a request answered on the event loop once its file I/O is done: one file
// operation for the loop's I/O engine, and `complete`, which builds the response message from
// its result.
struct DeferredReply {
  vfs::FileIo io;
  std::shared_ptr<vfs::UniqueFd> fd;  // keeps io.fd open until the operation completes
  std::function<Bytes(int64_t result)> complete;
};

// The event loop's variant, for requests the connection chose to answer there (see
// answerOnEventLoop): handlers must not block. A READ, WRITE or FLUSH that would wait for the
// disk comes back as `*deferred` (and an empty response); the payload must stay alive until it
// completes.
//
// With `segment`, a READ of data that is in the page cache may be answered by reference: the
// response returned then holds the headers only and `*segment` names the file data that must
// follow it on the wire (the transport's framing counts both).
Bytes processOnEventLoop(session::ConnState& conn, ByteSpan payload, DeferredReply* deferred,
                         vfs::FileSegment* segment = nullptr);

// Whether a message may be answered on the event loop itself (processOnEventLoop) when nothing
// else of its connection is in flight: the hop to the I/O pool and back (two thread wake-ups)
// costs more than the work for a lone ECHO, CANCEL, NEGOTIATE, READ, WRITE or FLUSH (READ and
// WRITE only touch the page cache there; what would block goes to the I/O engine), and for a
// message or compound chain of CREATE, CLOSE and QUERY_INFO: a CREATE only while no open holds
// a BATCH or EXCLUSIVE oplock, whose break it would have to wait for. TRANSFORM (encrypted)
// messages, requests of a session or tree connect whose responses are sealed (their reply is
// built at once, so its file I/O could not wait on the I/O engine), requests on IPC$ (named
// pipes wait for the RPC helper) and everything else go to the pool. Reads `conn`'s sessions: call it on the connection's strand.
bool answerOnEventLoop(ByteSpan msg, const session::ConnState& conn);

// Credits granted in a response (MS-SMB2 3.3.1.2): what the client asked for, at least 1,
// keeping the client's outstanding credits at or below kMaxCredits, or kPacedCredits while a
// live limit holds the connection's replies (ConnState::hold_until): then a response grants
// nothing until the client's window is below it (never 0 outstanding: one is always left).
// kPacedCredits allows the largest READ/WRITE (8 MiB = 128 credits) with room for others.
constexpr uint32_t kMaxCredits = 8192;
constexpr uint32_t kPacedCredits = 256;

}  // namespace xsmb::dispatch
