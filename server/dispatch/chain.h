// Internal to the dispatch layer: one SMB2 message or compound chain through the handlers, and
// the encryption of its responses.
#pragma once

#include <cstdint>

#include "common/base/bytes.h"
#include "server/dispatch/dispatcher.h"
#include "server/session/channels.h"

namespace xsmb::dispatch::internal {

// Processes an SMB2 message or compound chain (plain, or already decrypted when `encrypted`) and
// returns its responses. Sets *seal_session when the responses must be encrypted for a session
// that asks for it (then nothing is signed). With `room_for_transform` the responses start
// after kTransformHeaderSize bytes left free for seal() to encrypt them in place. `deferred` and
// `segment` as in processOnEventLoop (nullptr off the event loop). With `route`, the chain came
// in on another channel of a session `conn` holds (session/channels.h): that channel's MessageId
// window and Channel.SigningKey apply.
Bytes processChain(session::ConnState& conn, ByteSpan payload, bool encrypted,
                   uint64_t* seal_session, DeferredReply* deferred, bool room_for_transform,
                   vfs::FileSegment* segment, const session::ChannelRoute* route = nullptr);

// Encrypts responses for `session_id` into a TRANSFORM message (MS-SMB2 3.3.4.1.4); with
// `has_room` they start after room for its header. A session that went away meanwhile (LOGOFF)
// takes its keys with it: the responses then go out as they are. Empty when there is nothing to
// send, or when encryption fails (conn.disconnect is then set).
Bytes seal(session::ConnState& conn, uint64_t session_id, Bytes messages, bool has_room);

}  // namespace xsmb::dispatch::internal
