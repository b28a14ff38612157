#include "server/dispatch/dispatcher.h"

#include <utility>

#include "common/base/log.h"
#include "common/crypto/transform.h"
#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "server/dispatch/chain.h"
#include "server/handlers/handler.h"

namespace xsmb::dispatch {
namespace {

using namespace smb2;
using internal::processChain;
using internal::seal;

// `messages` sealed for `session_id`, or as they are when that is 0. (An `if`, not `sid ?
// seal(...) : messages`: a conditional expression would copy them, a READ's megabytes included.)
Bytes sealIfAsked(session::ConnState& conn, uint64_t session_id, Bytes messages) {
  if (session_id) return seal(conn, session_id, std::move(messages), /*has_room=*/false);
  return messages;
}

Bytes refuse(session::ConnState& conn) {
  conn.server->stats.malformed_frames++;
  conn.disconnect = true;
  return {};
}

// MS-SMB2 3.3.5.2.1: decrypts with the session's key; whatever fails to decrypt or authenticate
// ends the connection and reaches no handler.
Bytes processTransform(session::ConnState& conn, ByteSpan payload,
                       const session::ChannelRoute* route = nullptr) {
  crypto::TransformHeader th;
  session::Session* s = nullptr;
  if (crypto::parseTransformHeader(payload, &th)) s = conn.findSession(th.session_id);
  auto fail = [&conn](const char* why) {
    conn.server->stats.decrypt_failures++;
    XLOG(INFO) << conn.peer << ": TRANSFORM message " << why << ", closing";
    conn.disconnect = true;
    return Bytes{};
  };
  if (!s || s->decryption_key.empty() || conn.cipher == 0) return fail("for no usable session");
  auto plain =
      crypto::decryptMessage(static_cast<crypto::Cipher>(conn.cipher), s->decryption_key, payload);
  if (!plain.ok() || plain->size() < 4 || loadU32(plain->data()) != kProtocolId) {
    return fail("does not decrypt");
  }
  uint64_t sid = th.session_id;
  uint64_t seal_sid = sid;
  // The replies are built behind room for their TRANSFORM header and encrypted in place.
  Bytes resp = processChain(conn, *plain, /*encrypted=*/true, &seal_sid, nullptr,
                            /*room_for_transform=*/true, nullptr, route);
  return seal(conn, sid, std::move(resp), /*has_room=*/true);
}

// MS-SMB2 3.3.5.3.1: an SMB1 NEGOTIATE offering SMB2 is answered with an SMB2 NEGOTIATE
// response (MessageId 0, one credit); one offering no SMB2 dialect, or a second NEGOTIATE, closes
// the connection.
Bytes processSmb1Negotiate(session::ConnState& conn, ByteSpan payload) {
  std::optional<NegotiateResponse> resp;
  if (!conn.negotiated) resp = handlers::handleSmb1Negotiate(conn, payload);
  if (!resp) return refuse(conn);
  Header h;
  h.command = SMB2_NEGOTIATE;
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
  h.credits = 1;
  ByteWriter w;
  encodeHeader(h, w);
  encodeResponse(ResponseBody(std::move(*resp)), w);
  return w.take();
}

}  // namespace

Bytes processMessage(session::ConnState& conn, ByteSpan payload) {
  if (payload.size() < 4) return refuse(conn);
  uint32_t protocol = loadU32(payload.data());
  if (protocol == kSmb1ProtocolId) return processSmb1Negotiate(conn, payload);
  if (protocol == kTransformProtocolId) return processTransform(conn, payload);
  if (protocol != kProtocolId) return refuse(conn);
  uint64_t seal_sid = 0;
  Bytes resp = processChain(conn, payload, /*encrypted=*/false, &seal_sid, nullptr, false, nullptr);
  return sealIfAsked(conn, seal_sid, std::move(resp));
}

Bytes processOnChannel(session::ConnState& home, const session::ChannelRoute& route,
                       ByteSpan payload, bool* close) {
  // What the chain sets on the connection concerns the channel; the home's own stay as they were.
  bool home_disconnect = std::exchange(home.disconnect, false);
  auto home_hold = home.hold_until;
  Bytes resp;
  if (payload.size() >= 4 && loadU32(payload.data()) == kTransformProtocolId) {
    resp = processTransform(home, payload, &route);
  } else if (payload.size() >= 4 && loadU32(payload.data()) == kProtocolId) {
    uint64_t seal_sid = 0;
    resp = processChain(home, payload, /*encrypted=*/false, &seal_sid, nullptr, false, nullptr,
                        &route);
    resp = sealIfAsked(home, seal_sid, std::move(resp));
  } else {
    home.disconnect = true;
  }
  *close = home.disconnect;
  home.disconnect = home_disconnect;
  home.hold_until = home_hold;
  return resp;
}

Bytes processOnEventLoop(session::ConnState& conn, ByteSpan payload, DeferredReply* deferred,
                         vfs::FileSegment* segment) {
  uint64_t seal_sid = 0;
  Bytes resp =
      processChain(conn, payload, /*encrypted=*/false, &seal_sid, deferred, false, segment);
  // A segment is only offered to a lone request whose response is neither signed nor sealed.
  if (segment && segment->length) return resp;
  return sealIfAsked(conn, seal_sid, std::move(resp));
}

namespace {

// Whether responses to a request of session `sid` on tree `tid` are sealed ("server smb encrypt"
// desired or required on the session or the share, MS-SMB2 3.3.4.1.4).
bool sealsReplies(const session::ConnState& conn, uint64_t sid, uint32_t tid) {
  auto s = conn.sessions.find(sid);
  if (s == conn.sessions.end()) return false;
  if (s->second->encrypt_data) return true;
  auto t = s->second->trees.find(tid);
  return t != s->second->trees.end() && t->second.encrypt_data;
}

// Whether tree `tid` of session `sid` is IPC$: its CREATE, READ and WRITE wait for the RPC
// helper (rpc::RpcdClient), up to its call timeout when the helper hangs.
bool onIpcTree(const session::ConnState& conn, uint64_t sid, uint32_t tid) {
  auto s = conn.sessions.find(sid);
  if (s == conn.sessions.end()) return false;
  auto t = s->second->trees.find(tid);
  return t != s->second->trees.end() && t->second.ipc;
}

}  // namespace

bool answerOnEventLoop(ByteSpan msg, const session::ConnState& conn) {
  constexpr int kMaxChain = 8;
  size_t off = 0;
  uint64_t sid = 0;
  uint32_t tid = 0;
  for (int i = 0; i < kMaxChain; ++i) {
    Header h;
    if (!decodeHeader(msg.subspan(off), &h)) return false;
    bool lone = off == 0 && h.next_command == 0;
    if (!h.isRelated()) {  // a related request works on the session and tree before it
      sid = h.session_id;
      tid = h.tree_id;
    }
    if (sealsReplies(conn, sid, tid) || onIpcTree(conn, sid, tid)) return false;
    switch (h.command) {
      case SMB2_ECHO:
      case SMB2_CANCEL:
      case SMB2_NEGOTIATE:
      case SMB2_READ:
      case SMB2_WRITE:
      case SMB2_FLUSH:
        return lone;
      case SMB2_CREATE:
        if (conn.server->files.anyStrongOplocks()) return false;
        break;
      case SMB2_CLOSE:
      case SMB2_QUERY_INFO:
        break;
      default:
        return false;
    }
    if (h.next_command == 0) return true;
    if (h.next_command < kHeaderSize || h.next_command > msg.size() - off) return false;
    off += h.next_command;
  }
  return false;
}

}  // namespace xsmb::dispatch
