// Multichannel: one session over several connections (MS-SMB2 3.3.1.7 Session.ChannelList,
// 3.3.1.8 Channel, 3.3.5.5.2 binding, 3.3.4.1 responses on the request's channel).
//
// How a session spans connections here: its trees and opens stay in the ConnState of one
// connection, the session's home (ServerContext::SessionEntry::conn), so that, as before, only
// that connection's strand touches them. A connection bound to the session (SESSION_SETUP with
// SMB2_SESSION_FLAG_BINDING) holds a channel entry for it (Session::bound_channel) with its own
// Channel.SigningKey; the requests it receives for the session are processed on the home's
// strand (routeToHome, dispatch::processOnChannel) with the channel's MessageId window and key,
// and their responses go out on the channel. When the home's connection ends while other
// channels live, the session with its trees and opens moves to one of them, which becomes the
// home (handOverSessions); with no channel left it ends as before. LOGOFF on any channel ends it
// on all (dropChannelEntries). Records are found by SessionId in the server's registry, never
// through a pointer kept across requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/base/bytes.h"
#include "common/crypto/signing.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::session {

// Channels a session may have, its first included (Windows Server 2012 R2/2016's limit, which
// smb2.multichannel.generic.num_channels expects): one more binding fails with
// STATUS_INSUFFICIENT_RESOURCES.
constexpr size_t kMaxChannels = 32;
// How long a channel of a multichannel session may leave data unacknowledged before it is
// closed (transport::Connection::setUnackedTimeout), so that a channel that went dark while
// answering requests ends and its session moves. Break notifications are watched more closely
// (break_delivery.h: 6 retransmission timeouts, then the next channel).
constexpr std::chrono::milliseconds kChannelUnackedTimeout{5000};

// Channel.SigningKey of `s` on the connection holding this entry (MS-SMB2 3.3.5.5.3): the
// channel's own key when it was bound, else Session.SigningKey (the first channel's key).
const Bytes& channelSigningKey(const Session& s);

// Where a request for a bound session is processed, and with which channel's state.
struct ChannelRoute {
  std::shared_ptr<ConnState> home;     // holds the session's trees and opens
  std::shared_ptr<ConnState> channel;  // the connection the request came in on
  Bytes signing_key;                   // the channel's Channel.SigningKey
  crypto::SigningAlgorithm signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  uint64_t session_id = 0;
};

// On `conn`'s strand: the route of `payload` (an SMB2 message or chain, or a TRANSFORM message)
// when the SessionId of its (first) header names a session bound to `conn`, with `home` null
// while the session is between homes (its home's connection closed and handOverSessions has not
// installed it elsewhere yet: ask again shortly). std::nullopt: it is processed on `conn` as any
// other message (a bound channel's entry of a session that ended answers
// STATUS_USER_SESSION_DELETED there).
std::optional<ChannelRoute> routeToHome(ConnState& conn, ByteSpan payload);

// On `home`'s strand: whether `home` holds session `id` itself (its trees and opens), not just
// a channel's entry for it. The registry names a connection the home only once the session is
// installed on its strand (handOverSessions), but a request queued on the old home's strand
// before it handed the session on can still run there afterwards: such a request is routed
// again (core::forwardToHome).
bool holdsSession(ConnState& home, uint64_t id);

// MS-SMB2 3.3.5.2.4 / 3.3.5.5.2, on `conn`'s strand: a SESSION_SETUP with
// SMB2_SESSION_FLAG_BINDING for session `id`, which `conn` does not hold, finds it in the
// server's registry: `conn` gets an entry for the exchange (Session::binding), carrying
// Session.SigningKey to verify and sign the exchange. Returns it, or nullptr when no such session
// is registered (the caller answers STATUS_USER_SESSION_DELETED).
Session* prepareBinding(ConnState& conn, uint64_t id);

// MS-SMB2 3.3.5.5.2 checks of a binding request on `conn` against the session's registered
// facts: STATUS_SUCCESS, STATUS_REQUEST_NOT_ACCEPTED (not a 3.x connection, multichannel off),
// STATUS_INVALID_PARAMETER (dialect or, on 3.1.1, cipher differ), STATUS_NOT_SUPPORTED (AES-GMAC
// signing on this connection only; a guest or anonymous session has no key to bind with),
// STATUS_REQUEST_OUT_OF_SEQUENCE (AES-GMAC on the session's connection only),
// STATUS_INSUFFICIENT_RESOURCES (kMaxChannels reached), STATUS_USER_SESSION_DELETED (gone).
NtStatus checkBinding(const ConnState& conn, uint64_t id);

// After a successful binding on `conn`'s strand: `s` (conn's entry) becomes a bound channel with
// `channel_key` as its Channel.SigningKey and `conn` joins the session's channel list. False
// when the session ended meanwhile (the caller answers STATUS_USER_SESSION_DELETED).
bool completeBinding(ConnState& conn, Session& s, ByteSpan channel_key);

// The session `id` ended at its home (LOGOFF, failed re-authentication): the channel entries of
// the other connections go, each on its own strand, and the registry forgets the channel list.
void dropChannelEntries(ServerContext& server, uint64_t id, const ConnState* home);

// ~ConnState, before its opens are closed: each session `conn` holds that has another live
// channel moves there (with its trees, opens and their file table ownership), which becomes its
// home; `conn` leaves the channel lists of the sessions bound to it. Requests of the moved
// session waiting asynchronously (a blocking LOCK, CHANGE_NOTIFY) move with it when they came in
// on another channel, keeping their AsyncId, and are answered there as before; those that came
// in on `conn` end without a response (the client saw that connection, and them, go).
void handOverSessions(ConnState& conn);

}  // namespace xsmb::session
