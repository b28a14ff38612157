#include "server/handlers/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "common/base/log.h"
#include "common/crypto/crypto.h"
#include "common/crypto/signing.h"
#include "common/crypto/transform.h"
#include "server/handlers/handler.h"
#include "common/smb2/netbios.h"
#include "server/vfs/identity.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

using HandlerFn = NtStatus (*)(RequestContext&, ByteWriter&);

struct CommandInfo {
  HandlerFn fn;
  bool needs_session;
  bool needs_tree;
  bool needs_identity;  // touches the filesystem by path: runs as the session's Unix user
};

// Indexed by Command (MS-SMB2 2.2.1.2).
constexpr CommandInfo kCommands[kNumCommands] = {
    {handleNegotiate, false, false, false},     // NEGOTIATE
    {handleSessionSetup, false, false, false},  // SESSION_SETUP
    {handleLogoff, true, false, true},          // LOGOFF (closes opens: delete-on-close)
    {handleTreeConnect, true, false, false},    // TREE_CONNECT
    {handleTreeDisconnect, true, true, true},   // TREE_DISCONNECT
    {handleCreate, true, true, true},           // CREATE
    {handleClose, true, true, true},            // CLOSE
    {handleFlush, true, true, false},           // FLUSH (an open descriptor)
    {handleRead, true, true, false},            // READ
    {handleWrite, true, true, false},           // WRITE
    {handleLock, true, true, false},            // LOCK
    {handleIoctl, true, true, true},            // IOCTL
    {nullptr, false, false, false},             // CANCEL: handled before dispatch
    {handleEcho, false, false, false},          // ECHO
    {handleQueryDirectory, true, true, true},   // QUERY_DIRECTORY
    {handleChangeNotify, true, true, true},     // CHANGE_NOTIFY
    {handleQueryInfo, true, true, true},        // QUERY_INFO
    {handleSetInfo, true, true, true},          // SET_INFO
    {handleOplockBreak, true, true, false},     // OPLOCK_BREAK
};

struct PendingResponse {
  size_t start;  // offset of its header in the output frame
  bool sign;
  Bytes key;
  crypto::SigningAlgorithm alg;
};

// MS-SMB2 3.3.5.2.5: the CreditCharge a request must carry for its payload size.
uint32_t requiredCharge(const Header& h, ByteSpan msg) {
  uint64_t size = 0;
  ByteReader r(msg);
  switch (h.command) {
    case SMB2_READ:
      r.seek(kHeaderSize + 4);
      size = r.u32();
      break;
    case SMB2_WRITE:
      r.seek(kHeaderSize + 4);
      size = r.u32();
      break;
    case SMB2_IOCTL:
      r.seek(kHeaderSize + 28);
      size = r.u32();  // InputCount
      r.seek(kHeaderSize + 44);
      size = std::max<uint64_t>(size, r.u32());  // MaxOutputResponse
      break;
    case SMB2_QUERY_DIRECTORY:
      r.seek(kHeaderSize + 28);
      size = r.u32();
      break;
    default:
      return 1;
  }
  if (!r.ok()) return 1;
  return static_cast<uint32_t>(std::max<uint64_t>(1, (size + 65535) / 65536));
}

uint16_t grantCredits(session::ConnState& conn, const Header& h, uint16_t charge) {
  uint64_t outstanding = conn.credits.outstanding();
  // What the request used is given back at least, so a client issuing large multi-credit
  // READ/WRITEs keeps its window (as Windows and Samba do), plus what it asks for beyond that.
  uint64_t want = std::max<uint64_t>({h.credits, charge, 1});
  uint64_t room = outstanding >= kMaxCredits ? 0 : kMaxCredits - outstanding;
  uint64_t grant = std::min(want, room);
  if (grant == 0 && outstanding == 0) grant = 1;
  conn.credits.grant(static_cast<uint16_t>(grant));
  return static_cast<uint16_t>(grant);
}

Bytes finishFrame(Bytes out);

// Answers the request a CANCEL names (by AsyncId, or by MessageId for a request that has not
// gone async — which here has already been answered) with STATUS_CANCELLED.
void cancelRequest(session::ConnState& conn, const Header& h) {
  for (auto it = conn.async_ops.begin(); it != conn.async_ops.end();) {
    auto st = it->second.lock();
    if (!st) {
      it = conn.async_ops.erase(it);
      continue;
    }
    std::unique_lock<std::mutex> lock(st->mu);
    for (auto w = st->waiting.begin(); w != st->waiting.end(); ++w) {
      bool match =
          h.isAsync() ? w->reply.async_id == h.async_id : w->reply.message_id == h.message_id;
      if (!match) continue;
      session::AsyncReply r = std::move(w->reply);
      st->waiting.erase(w);
      lock.unlock();
      conn.async_ops.erase(it);
      conn.sendUnsolicited(buildAsyncResponse(r, STATUS_CANCELLED, {}));
      return;
    }
    ++it;
  }
}

// The response frame of deferred I/O: `frame` holds the NetBIOS and SMB2 headers and, from
// `body`, what the I/O produced; an error status replaces the body with an ERROR body.
Bytes completeDeferred(Bytes frame, size_t body, NtStatus st, bool sign, const Bytes& key,
                       crypto::SigningAlgorithm alg) {
  ByteWriter w(&frame);
  if (ntIsError(st) || (st != STATUS_SUCCESS && frame.size() == body)) {
    frame.resize(body);
    encodeErrorResponse(w);
  }
  std::span<uint8_t> msg(frame.data() + net::kNetBiosHeaderSize,
                         frame.size() - net::kNetBiosHeaderSize);
  storeU32(&msg[8], st);
  if (sign) {
    storeU32(&msg[kHeaderFlagsOffset], loadU32(&msg[kHeaderFlagsOffset]) | SMB2_FLAGS_SIGNED);
    crypto::signInPlace(alg, key, msg);
  }
  return finishFrame(std::move(frame));
}

Bytes finishFrame(Bytes out) {
  if (out.size() <= net::kNetBiosHeaderSize) return {};
  net::writeFrameHeader(static_cast<uint32_t>(out.size() - net::kNetBiosHeaderSize), out.data());
  return out;
}

}  // namespace

Bytes buildAsyncResponse(const session::AsyncReply& r, NtStatus status, ByteSpan body) {
  Header h;
  h.command = r.command;
  h.status = status;
  h.credit_charge = r.credit_charge;
  h.credits = 0;  // credits were granted with the interim response
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_ASYNC_COMMAND;
  h.message_id = r.message_id;
  h.async_id = r.async_id;
  h.session_id = r.session_id;
  Bytes out(net::kNetBiosHeaderSize, 0);
  ByteWriter w(&out);
  encodeHeader(h, w);
  if (body.empty()) {
    encodeErrorResponse(w);
  } else {
    w.bytes(body);
  }
  std::span<uint8_t> msg(out.data() + net::kNetBiosHeaderSize,
                         out.size() - net::kNetBiosHeaderSize);
  if (r.seal) {
    Bytes sealed = crypto::encryptMessage(static_cast<crypto::Cipher>(r.cipher), r.encryption_key,
                                          r.session_id, msg);
    Bytes frame(net::kNetBiosHeaderSize, 0);
    frame.insert(frame.end(), sealed.begin(), sealed.end());
    return finishFrame(std::move(frame));
  }
  if (r.sign) {
    storeU32(&msg[kHeaderFlagsOffset], loadU32(&msg[kHeaderFlagsOffset]) | SMB2_FLAGS_SIGNED);
    crypto::signInPlace(r.signing_algorithm, r.signing_key, msg);
  }
  return finishFrame(std::move(out));
}

namespace {
Bytes processChain(session::ConnState& conn, ByteSpan payload, bool encrypted,
                   uint64_t* seal_session, DeferredReply* deferred = nullptr,
                   bool room_for_transform = false, session::FileSegment* segment = nullptr);
Bytes seal(session::ConnState& conn, uint64_t session_id, Bytes frame, bool has_room = false);

// `frame` sealed for `session_id`, or as it is when that is 0. (An `if`, not `sid ? seal(...) :
// frame`: a conditional expression would copy the frame, a READ's megabytes included.)
Bytes sealIfAsked(session::ConnState& conn, uint64_t session_id, Bytes frame) {
  if (session_id) return seal(conn, session_id, std::move(frame));
  return frame;
}
}  // namespace

Bytes processMessage(session::ConnState& conn, ByteSpan payload) {
  session::ServerContext& server = *conn.server;
  Bytes out(net::kNetBiosHeaderSize, 0);
  if (payload.size() < 4) {
    server.stats.malformed_frames++;
    conn.disconnect = true;
    return {};
  }
  uint32_t protocol = loadU32(payload.data());
  if (protocol == kSmb1ProtocolId) {
    Bytes r = conn.negotiated ? Bytes{} : handleSmb1Negotiate(conn, payload);
    if (r.empty()) {
      server.stats.malformed_frames++;
      conn.disconnect = true;
      return {};
    }
    out.insert(out.end(), r.begin(), r.end());
    return finishFrame(std::move(out));
  }
  if (protocol == kTransformProtocolId) {
    // MS-SMB2 3.3.5.2.1: decrypt with the session's key; whatever fails to decrypt or
    // authenticate ends the connection and reaches no handler.
    crypto::TransformHeader th;
    session::Session* s = nullptr;
    if (crypto::parseTransformHeader(payload, &th)) s = conn.findSession(th.session_id);
    if (!s || s->decryption_key.empty() || conn.cipher == 0) {
      server.stats.decrypt_failures++;
      XLOG(INFO) << conn.peer << ": TRANSFORM message for no usable session, closing";
      conn.disconnect = true;
      return {};
    }
    auto plain = crypto::decryptMessage(static_cast<crypto::Cipher>(conn.cipher), s->decryption_key,
                                        payload);
    if (!plain.ok() || plain->size() < 4 || loadU32(plain->data()) != kProtocolId) {
      server.stats.decrypt_failures++;
      XLOG(INFO) << conn.peer << ": TRANSFORM message does not decrypt, closing";
      conn.disconnect = true;
      return {};
    }
    uint64_t sid = th.session_id;
    uint64_t seal_sid = sid;
    // The replies are built behind room for their TRANSFORM header and encrypted in place.
    Bytes resp = processChain(conn, *plain, /*encrypted=*/true, &seal_sid, nullptr,
                              /*room_for_transform=*/true);
    return seal(conn, sid, std::move(resp), /*has_room=*/true);
  }
  if (protocol != kProtocolId) {
    server.stats.malformed_frames++;
    conn.disconnect = true;
    return {};
  }
  uint64_t seal_sid = 0;
  Bytes resp = processChain(conn, payload, /*encrypted=*/false, &seal_sid);
  return sealIfAsked(conn, seal_sid, std::move(resp));
}

Bytes processOnEventLoop(session::ConnState& conn, ByteSpan payload, DeferredReply* deferred,
                         session::FileSegment* segment) {
  uint64_t seal_sid = 0;
  Bytes resp =
      processChain(conn, payload, /*encrypted=*/false, &seal_sid, deferred, false, segment);
  if (segment && segment->length) {
    // The data follows the headers on the wire: the NetBIOS length counts both. (A segment is
    // only offered to a lone request whose response is neither signed nor sealed.)
    net::writeFrameHeader(
        static_cast<uint32_t>(resp.size() - net::kNetBiosHeaderSize + segment->length),
        resp.data());
    return resp;
  }
  return sealIfAsked(conn, seal_sid, std::move(resp));
}

namespace {

// Encrypts a response frame for `session_id` (MS-SMB2 3.3.4.1.4). A session that went away
// meanwhile (LOGOFF) takes its keys with it; its response then goes out as it is.
Bytes seal(session::ConnState& conn, uint64_t session_id, Bytes frame, bool has_room) {
  const size_t room = has_room ? crypto::kTransformHeaderSize : 0;
  if (frame.size() <= net::kNetBiosHeaderSize + room) return {};
  session::Session* s = conn.findSession(session_id);
  if (!s || s->encryption_key.empty() || conn.cipher == 0) {
    if (!has_room) return frame;
    frame.erase(frame.begin() + net::kNetBiosHeaderSize,
                frame.begin() + net::kNetBiosHeaderSize + room);
    return finishFrame(std::move(frame));
  }
  // Room for the TRANSFORM header goes in front of the messages, which are encrypted in place.
  if (!has_room) {
    frame.insert(frame.begin() + net::kNetBiosHeaderSize, crypto::kTransformHeaderSize, 0);
  }
  std::span<uint8_t> msg(frame.data() + net::kNetBiosHeaderSize,
                         frame.size() - net::kNetBiosHeaderSize);
  if (!crypto::encryptInPlace(static_cast<crypto::Cipher>(conn.cipher), s->encryption_key,
                              session_id, msg)) {
    conn.disconnect = true;
    return {};
  }
  return finishFrame(std::move(frame));
}

// Processes an SMB2 message or compound chain (plain, or already decrypted) and returns the
// response frame with its NetBIOS header. Sets *seal_session when the responses must be
// encrypted for a session that asks for it (then nothing is signed).
Bytes processChain(session::ConnState& conn, ByteSpan payload, bool encrypted,
                   uint64_t* seal_session, DeferredReply* deferred, bool room_for_transform,
                   session::FileSegment* segment) {
  session::ServerContext& server = *conn.server;
  // Where the first reply starts: after the NetBIOS header, and after room for a TRANSFORM
  // header when the replies will be encrypted in place (the frame is then left unfinished).
  const size_t base =
      net::kNetBiosHeaderSize + (room_for_transform ? crypto::kTransformHeaderSize : 0);
  Bytes out(base, 0);
  out.reserve(512);  // most responses fit: one allocation per reply
  std::vector<PendingResponse> responses;
  size_t off = 0;
  uint64_t cur_session = 0;
  uint32_t cur_tree = 0;
  FileId cur_file{~0ULL, ~0ULL};
  NtStatus create_error = STATUS_SUCCESS;
  for (;;) {
    ByteSpan rest = payload.subspan(off);
    Header h;
    if (!decodeHeader(rest, &h)) {
      XLOG(INFO) << conn.peer << ": malformed SMB2 header at offset " << off;
      server.stats.malformed_frames++;
      conn.disconnect = true;
      break;
    }
    size_t len = rest.size();
    if (h.next_command) {
      if (h.next_command < kHeaderSize || h.next_command > rest.size() || h.next_command % 8) {
        server.stats.malformed_frames++;
        conn.disconnect = true;
        break;
      }
      len = h.next_command;
    }
    ByteSpan msg = rest.first(len);
    server.stats.requests++;
    // Only the BPF data plane's server-side latency histogram needs the clock.
    const auto started = server.dataplane ? std::chrono::steady_clock::now()
                                          : std::chrono::steady_clock::time_point{};

    if (h.command == SMB2_CANCEL) {
      // Only requests that went async (CHANGE_NOTIFY) can still be waiting; the cancelled one
      // is answered STATUS_CANCELLED; CANCEL itself gets no response and uses no credit
      // (MS-SMB2 3.3.5.16).
      cancelRequest(conn, h);
      if (h.next_command == 0) break;
      off += len;
      continue;
    }
    if (!conn.negotiated && h.command != SMB2_NEGOTIATE) {
      XLOG(INFO) << conn.peer << ": command " << h.command << " before NEGOTIATE";
      conn.disconnect = true;
      break;
    }
    uint16_t charge = 1;
    bool multi_credit = conn.dialect >= SMB2_DIALECT_210 && conn.dialect != SMB2_DIALECT_WILDCARD;
    if (multi_credit) charge = std::max<uint16_t>(h.credit_charge, 1);
    if (!conn.credits.consume(h.message_id, charge)) {
      // MS-SMB2 3.3.5.2.3: a MessageId outside the window ends the connection.
      XLOG(INFO) << conn.peer << ": MessageId " << h.message_id << " outside the credit window";
      conn.disconnect = true;
      break;
    }

    // MS-SMB2 3.3.5.2.7.2: a related request works on the session, tree and file of the one
    // before it, whatever its own header says; an unrelated one starts afresh.
    bool related = h.isRelated();
    uint64_t sid = related ? cur_session : h.session_id;
    uint32_t tid = related ? cur_tree : h.tree_id;
    if (!related) cur_file = FileId{~0ULL, ~0ULL};

    // Response header; status, credits and ids are patched after the handler ran.
    size_t start = out.size();
    size_t aligned = base + ((start - base + 7) & ~size_t{7});
    out.resize(aligned, 0);
    start = aligned;
    if (!responses.empty()) {
      storeU32(&out[responses.back().start + kHeaderNextCommandOffset],
               static_cast<uint32_t>(start - responses.back().start));
    }
    Header rh;
    rh.command = h.command;
    rh.message_id = h.message_id;
    rh.credit_charge = h.credit_charge;
    rh.flags = SMB2_FLAGS_SERVER_TO_REDIR | (related ? SMB2_FLAGS_RELATED_OPERATIONS : 0);
    rh.process_id = h.process_id;
    rh.tree_id = h.tree_id;  // ids are echoed as sent (related requests carry placeholders)
    rh.session_id = h.session_id;
    ByteWriter w(&out);
    encodeHeader(rh, w);
    size_t body_start = out.size();

    RequestContext ctx{&server, &conn, &h, msg};
    ctx.compound_file_id = &cur_file;
    ctx.related = related;
    ctx.on_event_loop = deferred != nullptr;
    NtStatus st = STATUS_SUCCESS;
    PendingResponse pr{start, false, {}, crypto::SigningAlgorithm::kHmacSha256};
    const CommandInfo* ci = h.command < kNumCommands ? &kCommands[h.command] : nullptr;
    session::Session* s = nullptr;
    bool bad_signature = false;
    uint32_t allowed_flags = SMB2_FLAGS_RELATED_OPERATIONS | SMB2_FLAGS_SIGNED |
                             SMB2_FLAGS_DFS_OPERATIONS | SMB2_FLAGS_PRIORITY_MASK |
                             SMB2_FLAGS_REPLAY_OPERATION;
    s = sid ? conn.findSession(sid) : nullptr;
    cur_session = s ? sid : 0;
    cur_tree = 0;
    if (!ci || !ci->fn || (h.flags & ~allowed_flags)) {
      st = STATUS_INVALID_PARAMETER;
    } else if (related && !s && ci->needs_session) {
      st = STATUS_INVALID_PARAMETER;  // the request it is related to had no valid session
    } else if (ci->needs_session && (!s || s->state != session::Session::State::kValid)) {
      st = STATUS_USER_SESSION_DELETED;
    } else if (h.command == SMB2_SESSION_SETUP && sid != 0 && !s) {
      st = STATUS_USER_SESSION_DELETED;
    }
    // Encrypted requests are authenticated by the cipher and never signed (MS-SMB2 3.3.4.1.1).
    if (st == STATUS_SUCCESS && s && !s->signing_key.empty() && !encrypted) {
      if (h.isSigned()) {
        if (!crypto::verifySignature(s->signing_algorithm, s->signing_key, msg)) {
          server.stats.bad_signatures++;
          XLOG(WARNING) << conn.peer << ": bad signature on command " << h.command;
          st = STATUS_ACCESS_DENIED;
          bad_signature = true;
        }
      } else if (s->signing_required && h.command != SMB2_SESSION_SETUP) {
        st = STATUS_ACCESS_DENIED;
      }
      if (!bad_signature && (h.isSigned() || s->signing_required)) {
        pr.sign = true;
        pr.key = s->signing_key;
        pr.alg = s->signing_algorithm;
      }
    }
    if (st == STATUS_SUCCESS && multi_credit && charge < requiredCharge(h, msg)) {
      st = STATUS_INVALID_PARAMETER;  // MS-SMB2 3.3.5.2.5
    }
    if (st == STATUS_SUCCESS && s && ci->needs_tree) {
      auto it = s->trees.find(tid);
      if (it == s->trees.end()) {
        st = STATUS_NETWORK_NAME_DELETED;
      } else {
        ctx.tree = &it->second;
        cur_tree = tid;
      }
    }
    // "server smb encrypt = required" on the session or the share: plain requests are refused;
    // desired or required: responses are encrypted (MS-SMB2 3.3.5.2.9, 3.3.4.1.4).
    if (s && h.command != SMB2_SESSION_SETUP && h.command != SMB2_NEGOTIATE) {
      bool want_seal = s->encrypt_data || (ctx.tree && ctx.tree->encrypt_data);
      if (want_seal) ctx.on_event_loop = false;  // the sealed reply is built here, not deferred
      if (!encrypted && st == STATUS_SUCCESS &&
          (s->encrypt_required || (ctx.tree && ctx.tree->encrypt_required))) {
        st = STATUS_ACCESS_DENIED;
      }
      if (want_seal && !encrypted && !s->encryption_key.empty()) *seal_session = sid;
    }
    if (st == STATUS_SUCCESS && related && create_error != STATUS_SUCCESS) {
      st = create_error;  // a failed CREATE fails the rest of its related chain
    }
    if (st == STATUS_SUCCESS) {
      ctx.session = s;
      session::AsyncReply& ar = ctx.async_reply;
      ar.message_id = h.message_id;
      ar.session_id = sid;
      ar.command = h.command;
      ar.credit_charge = h.credit_charge;
      ar.sign = pr.sign;
      ar.signing_key = pr.key;
      ar.signing_algorithm = pr.alg;
      if (s && (encrypted || s->encrypt_data || (ctx.tree && ctx.tree->encrypt_data)) &&
          !s->encryption_key.empty()) {
        ar.seal = true;
        ar.sign = false;
        ar.cipher = conn.cipher;
        ar.encryption_key = s->encryption_key;
      }
      bool identity_ok = true;
      vfs::UnixIdentity forced;  // lives as long as the handler runs (ctx.identity may name it)
      // Only commands that reach the filesystem by path take on the user's identity.
      if (server.run_as_root && s && ci->needs_identity) {
        const vfs::UnixIdentity* id = &s->identity;
        if (ctx.tree && ctx.tree->share->force_identity) id = &*ctx.tree->share->force_identity;
        if (ctx.tree && ctx.tree->share->force_gid) {
          forced = *id;
          forced.gid = *ctx.tree->share->force_gid;
          forced.groups.push_back(forced.gid);
          id = &forced;
        }
        identity_ok = vfs::assumeIdentity(*id);
        ctx.identity = id;
      }
      if (segment && off == 0 && h.next_command == 0 && !pr.sign && !ar.seal && !*seal_session) {
        ctx.file_segment = segment;  // offered once the signing decision is known
      }
      // Never serve a request with the daemon's own (root) rights by accident.
      st = identity_ok ? ci->fn(ctx, w) : STATUS_ACCESS_DENIED;
      if (st != STATUS_SUCCESS && ctx.file_segment) *ctx.file_segment = {};
    }
    if (h.command == SMB2_CREATE && st != STATUS_SUCCESS) create_error = st;
    if (st == STATUS_PENDING && ctx.async_id) {
      // MS-SMB2 3.3.4.2: the interim response carries the AsyncId the final one will use.
      storeU32(&out[start + kHeaderFlagsOffset],
               loadU32(&out[start + kHeaderFlagsOffset]) | SMB2_FLAGS_ASYNC_COMMAND);
      storeU64(&out[start + 32], ctx.async_id);
    }
    const bool is_deferred = static_cast<bool>(ctx.deferred_io.prepare);
    if (!is_deferred && ((ntIsError(st) && st != STATUS_MORE_PROCESSING_REQUIRED) ||
                         (st != STATUS_SUCCESS && out.size() == body_start))) {
      out.resize(body_start);
      encodeErrorResponse(w, ctx.error_data);
    }
    if (ctx.no_response) {
      out.resize(start);
    }
    storeU32(&out[start + 8], st);
    if (server.dataplane) {  // server-measured latency histogram, one sample per request
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
      server.dataplane->recordLatency(h.command, static_cast<uint64_t>(ns));
    }
    XLOG(DEBUG) << conn.peer << ": cmd " << h.command << " mid " << h.message_id << " -> "
                << ntStatusName(st);
    if (ctx.response_session_id) {
      sid = ctx.response_session_id;
      cur_session = sid;
      storeU64(&out[start + 40], sid);
    }
    if (ctx.response_tree_id) {
      tid = ctx.response_tree_id;
      cur_tree = tid;
      storeU32(&out[start + 36], tid);
    }
    storeU16(&out[start + 14], grantCredits(conn, h, charge));
    if (ctx.sign_response && !encrypted) {
      if (session::Session* ns = conn.findSession(sid); ns && !ns->signing_key.empty()) {
        pr.sign = true;
        pr.key = ns->signing_key;
        pr.alg = ns->signing_algorithm;
      }
    }
    ByteSpan response(out.data() + start, out.size() - start);
    if (ctx.preauth_connection) {
      conn.preauth_hash = crypto::sha512Concat(conn.preauth_hash, response);
    }
    if (ctx.preauth_session) {
      if (session::Session* ps = conn.findSession(sid)) {
        ps->preauth_hash = crypto::sha512Concat(ps->preauth_hash, response);
      }
    }
    if (is_deferred) {
      // The I/O runs later; this message's response is completed then (header as patched
      // here, body and status from the I/O, signed as decided here).
      Bytes frame(net::kNetBiosHeaderSize, 0);
      frame.insert(frame.end(), out.begin() + start, out.begin() + body_start);
      const size_t body = frame.size();
      ByteWriter fw(&frame);
      deferred->io = ctx.deferred_io.prepare(fw);
      deferred->fd = std::move(ctx.deferred_io.fd);
      // A READ's target points into `frame`'s heap buffer, which moving the vector into the
      // closure keeps where it is.
      deferred->complete = [frame = std::move(frame), body,
                            finish = std::move(ctx.deferred_io.finish), sign = pr.sign,
                            key = pr.key, alg = pr.alg](int64_t r) mutable {
        ByteWriter fw(&frame);
        NtStatus st = finish(r, fw, body);
        return completeDeferred(std::move(frame), body, st, sign, key, alg);
      };
      out.resize(start);
      break;
    }
    responses.push_back(std::move(pr));
    if (conn.disconnect || h.next_command == 0) break;
    off += len;
  }

  for (size_t i = 0; i < responses.size() && !(*seal_session && !encrypted); ++i) {
    const PendingResponse& r = responses[i];
    if (!r.sign) continue;
    size_t end = i + 1 < responses.size() ? responses[i + 1].start : out.size();
    uint32_t flags = loadU32(&out[r.start + kHeaderFlagsOffset]);
    storeU32(&out[r.start + kHeaderFlagsOffset], flags | SMB2_FLAGS_SIGNED);
    crypto::signInPlace(r.alg, r.key, std::span<uint8_t>(out.data() + r.start, end - r.start));
  }
  if (room_for_transform) return out.size() > base ? std::move(out) : Bytes{};
  return finishFrame(std::move(out));
}

}  // namespace
}  // namespace xsmb::handlers
