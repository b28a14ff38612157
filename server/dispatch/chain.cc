// One SMB2 message or compound chain through the handlers (MS-SMB2 3.3.5.2): each request is
// admitted (header, credits), checked (session, signature, tree, encryption policy), handled,
// and its response header completed; then the responses are signed.
#include "server/dispatch/chain.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <variant>
#include <vector>

#include "common/base/log.h"
#include "common/crypto/crypto.h"
#include "common/crypto/signing.h"
#include "common/crypto/transform.h"
#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "server/dispatch/commands.h"
#include "server/dispatch/pacing.h"
#include "server/handlers/handler.h"
#include "server/metrics/request_metrics.h"
#include "server/session/replies.h"
#include "server/vfs/identity.h"

namespace xsmb::dispatch::internal {
namespace {

using namespace smb2;
using handlers::RequestContext;

// How one response of the chain is to be signed.
struct PendingResponse {
  size_t start;  // offset of its header in the output
  bool sign;
  Bytes key;
  crypto::SigningAlgorithm alg;
};

// What a compound carries from one request to the next (MS-SMB2 3.3.5.2.7.2), and the output.
struct Chain {
  session::ConnState& conn;
  bool encrypted;
  uint64_t* seal_session;
  DeferredReply* deferred;
  vfs::FileSegment* segment;
  size_t base;  // where the first response starts (after room for a TRANSFORM header)
  Bytes out;
  std::vector<PendingResponse> responses;
  uint64_t cur_session = 0;
  uint32_t cur_tree = 0;
  FileId cur_file{~0ULL, ~0ULL};
  NtStatus create_error = STATUS_SUCCESS;
  // Multichannel: the channel the chain came in on when `conn` is its session's home only.
  const session::ChannelRoute* route = nullptr;
  // The connection whose MessageId window the chain uses.
  session::ConnState& channel() const { return route ? *route->channel : conn; }
};

// One request of the chain and where its response lives in Chain::out.
struct Request {
  Header h;
  ByteSpan msg;
  size_t offset = 0;  // in the payload
  bool related = false;
  uint64_t sid = 0;
  uint32_t tid = 0;
  uint16_t charge = 1;
  bool multi_credit = false;
  std::chrono::steady_clock::time_point started;
  size_t start = 0;       // the response header in Chain::out
  size_t body_start = 0;  // the response body in Chain::out
};

// MS-SMB2 3.3.5.2.5: the CreditCharge a request must carry for its payload size.
uint32_t requiredCharge(const Header& h, ByteSpan msg) {
  uint64_t size = 0;
  ByteReader r(msg);
  switch (h.command) {
    case SMB2_READ:
    case SMB2_WRITE:
      r.seek(kHeaderSize + 4);  // Length (MS-SMB2 2.2.19, 2.2.21)
      size = r.u32();
      break;
    case SMB2_IOCTL:
      r.seek(kHeaderSize + 28);
      size = r.u32();  // InputCount
      r.seek(kHeaderSize + 44);
      size = std::max<uint64_t>(size, r.u32());  // MaxOutputResponse
      break;
    case SMB2_QUERY_DIRECTORY:
      r.seek(kHeaderSize + 28);  // OutputBufferLength
      size = r.u32();
      break;
    default:
      return 1;
  }
  if (!r.ok()) return 1;
  return static_cast<uint32_t>(std::max<uint64_t>(1, (size + 65535) / 65536));
}

uint16_t grantCredits(Chain& c, const Header& h, uint16_t charge) {
  session::ConnState& conn = c.conn;
  session::ConnState& ch = c.channel();
  std::lock_guard<std::mutex> lock(ch.credits_mu);
  uint64_t outstanding = ch.credits.outstanding();
  // What the request used is given back at least, so a client issuing large multi-credit
  // READ/WRITEs keeps its window (as Windows and Samba do), plus what it asks for beyond that.
  uint64_t want = std::max<uint64_t>({h.credits, charge, 1});
  // A connection being paced by a live limit (its replies held, session/limits.h) gets no
  // window beyond kPacedCredits: the requests it can have waiting here stay bounded, and it
  // sees the limit in its credits as well as in the delay.
  uint64_t cap = kMaxCredits;
  if (conn.hold_until != std::chrono::steady_clock::time_point{} &&
      conn.hold_until > std::chrono::steady_clock::now()) {
    cap = kPacedCredits;
  }
  uint64_t room = outstanding >= cap ? 0 : cap - outstanding;
  uint64_t grant = std::min(want, room);
  if (grant == 0 && outstanding == 0) grant = 1;
  ch.credits.grant(static_cast<uint16_t>(grant));
  return static_cast<uint16_t>(grant);
}

void signMessage(std::span<uint8_t> msg, crypto::SigningAlgorithm alg, const Bytes& key) {
  storeU32(&msg[kHeaderFlagsOffset], loadU32(&msg[kHeaderFlagsOffset]) | SMB2_FLAGS_SIGNED);
  crypto::signInPlace(alg, key, msg);
}

// Encodes the body of the response whose header ends at `body_start` in `out` (MS-SMB2 2.2.2 -
// 2.2.40). An error status (STATUS_MORE_PROCESSING_REQUIRED is none) sends the ERROR response:
// the handler's ErrorResponse, else one without ErrorData. A READ's data placed in `out` by its
// ReadPayload stays where it is, cut to the length read; anything else beyond `body_start` (such
// a payload area of a READ that failed) is dropped first.
void encodeBody(Bytes& out, size_t body_start, NtStatus st, ResponseBody& body) {
  // An IOCTL body set with an error is meant to be sent (MS-SMB2 3.3.5.15.6: the copy limits).
  if (ntIsError(st) && st != STATUS_MORE_PROCESSING_REQUIRED &&
      !std::holds_alternative<ErrorResponse>(body) && !std::holds_alternative<IoctlResponse>(body)) {
    body = ErrorResponse{};
  }
  const auto* read = std::get_if<ReadResponse>(&body);
  if (read && read->placement == ReadResponse::Placement::kInPlace) {
    out.resize(body_start + ReadResponse::kFixedSize + read->data_length);  // never grows
  } else {
    out.resize(body_start);
  }
  ByteWriter w(&out);
  encodeResponse(body, w);
}

// The Prometheus request metrics (server/metrics): one request answered (finally, or with its
// interim STATUS_PENDING) after the time since `started`, and the payload of a READ or WRITE that
// succeeded.
void recordRequest(session::ServerContext& server, uint16_t command,
                   std::chrono::steady_clock::time_point started, NtStatus st,
                   const ResponseBody& body) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  metrics::RequestMetrics& m = server.metrics.requests;
  m.record(command, static_cast<uint64_t>(ns));
  if (ntIsError(st)) return;
  if (const auto* r = std::get_if<ReadResponse>(&body)) {
    m.addRead(r->placement == ReadResponse::Placement::kBuffer ? r->buffer.size() : r->data_length);
  } else if (const auto* w = std::get_if<WriteResponse>(&body)) {
    m.addWritten(w->count);
  }
}

// The response of deferred I/O: `msg` holds the SMB2 header, from `body` a READ's data where the
// I/O put it; `finish` gave the status and the body.
Bytes completeDeferred(Bytes msg, size_t body, NtStatus st, ResponseBody& out, bool sign,
                       const Bytes& key, crypto::SigningAlgorithm alg) {
  encodeBody(msg, body, st, out);
  storeU32(&msg[kHeaderStatusOffset], st);
  if (sign) signMessage(msg, alg, key);
  return msg;
}

enum class Admit { kHandle, kNext, kStop };

// Reads the request at `off`: its header, its extent (NextCommand), the clock. kStop (and the
// connection marked for closing) when it is malformed.
Admit readRequest(Chain& c, ByteSpan payload, size_t off, Request* req) {
  session::ServerContext& server = *c.conn.server;
  ByteSpan rest = payload.subspan(off);
  Header& h = req->h;
  if (!decodeHeader(rest, &h)) {
    XLOG(INFO) << c.conn.peer << ": malformed SMB2 header at offset " << off;
    server.stats.malformed_frames++;
    c.conn.disconnect = true;
    return Admit::kStop;
  }
  size_t len = rest.size();
  if (h.next_command) {
    if (h.next_command < kHeaderSize || h.next_command > rest.size() || h.next_command % 8) {
      server.stats.malformed_frames++;
      c.conn.disconnect = true;
      return Admit::kStop;
    }
    len = h.next_command;
  }
  req->msg = rest.first(len);
  req->offset = off;
  server.stats.requests++;
  req->started = std::chrono::steady_clock::now();  // latency histograms (metrics, BPF)
  return Admit::kHandle;
}

// CANCEL, the NEGOTIATE-first rule and the credit window (MS-SMB2 3.3.5.2.3, 3.3.5.16).
Admit admitRequest(Chain& c, Request* req) {
  session::ConnState& conn = c.conn;
  const Header& h = req->h;
  if (h.command == SMB2_CANCEL) {
    // Only requests that went async (session::AsyncOp) can still be waiting: a request of this
    // connection is answered before the next one is read. The cancelled one is answered
    // (STATUS_CANCELLED); CANCEL itself gets no response and uses no credit.
    conn.cancelAsync(h.isAsync(), h.async_id, h.message_id);
    return Admit::kNext;
  }
  if (!conn.negotiated && h.command != SMB2_NEGOTIATE) {
    XLOG(INFO) << conn.peer << ": command " << h.command << " before NEGOTIATE";
    conn.disconnect = true;
    return Admit::kStop;
  }
  req->multi_credit = conn.dialect >= SMB2_DIALECT_210 && conn.dialect != SMB2_DIALECT_WILDCARD;
  if (req->multi_credit) req->charge = std::max<uint16_t>(h.credit_charge, 1);
  bool in_window;
  {
    session::ConnState& ch = c.channel();
    std::lock_guard<std::mutex> lock(ch.credits_mu);
    in_window = ch.credits.consume(h.message_id, req->charge);
  }
  if (!in_window) {
    // A MessageId outside the window ends the connection.
    XLOG(INFO) << conn.peer << ": MessageId " << h.message_id << " outside the credit window";
    conn.disconnect = true;
    return Admit::kStop;
  }
  // MS-SMB2 3.3.5.2.7.2: a related request works on the session, tree and file of the one
  // before it, whatever its own header says; an unrelated one starts afresh.
  req->related = h.isRelated();
  req->sid = req->related ? c.cur_session : h.session_id;
  req->tid = req->related ? c.cur_tree : h.tree_id;
  if (!req->related) c.cur_file = FileId{~0ULL, ~0ULL};
  return Admit::kHandle;
}

// Appends the response header, 8-byte aligned and linked from the previous response's
// NextCommand; status, credits and ids are patched after the handler ran.
void beginResponse(Chain& c, Request* req) {
  Bytes& out = c.out;
  size_t start = c.base + ((out.size() - c.base + 7) & ~size_t{7});
  out.resize(start, 0);
  if (!c.responses.empty()) {
    storeU32(&out[c.responses.back().start + kHeaderNextCommandOffset],
             static_cast<uint32_t>(start - c.responses.back().start));
  }
  const Header& h = req->h;
  Header rh;
  rh.command = h.command;
  rh.message_id = h.message_id;
  rh.credit_charge = h.credit_charge;
  rh.flags = SMB2_FLAGS_SERVER_TO_REDIR | (req->related ? SMB2_FLAGS_RELATED_OPERATIONS : 0);
  rh.process_id = h.process_id;
  rh.tree_id = h.tree_id;  // ids are echoed as sent (related requests carry placeholders)
  rh.session_id = h.session_id;
  ByteWriter w(&out);
  encodeHeader(rh, w);
  req->start = start;
  req->body_start = out.size();
}

// A SESSION_SETUP request with SMB2_SESSION_FLAG_BINDING (MS-SMB2 2.2.5 Flags, byte 2 of the
// body).
bool isBindingRequest(ByteSpan msg) {
  return msg.size() > kHeaderSize + 2 && (msg[kHeaderSize + 2] & SMB2_SESSION_FLAG_BINDING);
}

// The signature of a signed request, and whether the response is signed (MS-SMB2 3.3.5.2.4,
// 3.3.4.1.1). Encrypted requests are authenticated by the cipher and never signed.
NtStatus checkSignature(Chain& c, const Request& req, session::Session* s, PendingResponse* pr) {
  if (!s || s->signing_key.empty() || c.encrypted) return STATUS_SUCCESS;
  const Header& h = req.h;
  // MS-SMB2 3.3.5.2.4: SESSION_SETUP (binding, re-authentication) is signed with
  // Session.SigningKey, everything else with the Channel.SigningKey of the connection it came on.
  const Bytes& key = h.command == SMB2_SESSION_SETUP ? s->signing_key
                     : c.route                       ? c.route->signing_key
                                                     : session::channelSigningKey(*s);
  // A bound channel signs in its own connection's algorithm (session/channels.h); what is signed
  // with Session.SigningKey, in the session's (the key of the session's first connection:
  // smbtorture's smb2.session.bind_negative_smb3signCtoH*, HtoC* re-authenticate on a bound
  // channel that negotiated another algorithm).
  const crypto::SigningAlgorithm alg = c.route && h.command != SMB2_SESSION_SETUP
                                           ? c.route->signing_algorithm
                                           : s->signing_algorithm;
  NtStatus st = STATUS_SUCCESS;
  bool bad_signature = false;
  if (h.isSigned()) {
    if (!crypto::verifySignature(alg, key, req.msg)) {
      c.conn.server->stats.bad_signatures++;
      XLOG(WARNING) << c.conn.peer << ": bad signature on command " << h.command;
      st = STATUS_ACCESS_DENIED;
      bad_signature = true;
    }
  } else if (s->signing_required && h.command != SMB2_SESSION_SETUP) {
    st = STATUS_ACCESS_DENIED;
  }
  if (!bad_signature && (h.isSigned() || s->signing_required)) {
    pr->sign = true;
    pr->key = key;
    pr->alg = alg;
  }
  return st;
}

// Everything a request must pass before its handler runs: command and flags, session, signature,
// CreditCharge, tree, "server smb encrypt" and a failed CREATE earlier in a related chain.
NtStatus checkRequest(Chain& c, Request& req, const CommandInfo* ci, session::Session* s,
                      RequestContext& ctx, PendingResponse* pr) {
  const Header& h = req.h;
  constexpr uint32_t kAllowedFlags = SMB2_FLAGS_RELATED_OPERATIONS | SMB2_FLAGS_SIGNED |
                                     SMB2_FLAGS_DFS_OPERATIONS | SMB2_FLAGS_PRIORITY_MASK |
                                     SMB2_FLAGS_REPLAY_OPERATION;
  NtStatus st = STATUS_SUCCESS;
  if (!ci || !ci->fn || (h.flags & ~kAllowedFlags)) {
    st = STATUS_INVALID_PARAMETER;
  } else if (req.related && !s && ci->needs_session) {
    st = STATUS_INVALID_PARAMETER;  // the request it is related to had no valid session
  } else if (ci->needs_session && (!s || s->state != session::Session::State::kValid)) {
    st = STATUS_USER_SESSION_DELETED;
  } else if (h.command == SMB2_SESSION_SETUP && req.sid != 0 && !s) {
    st = STATUS_USER_SESSION_DELETED;
  }
  if (st == STATUS_SUCCESS) st = checkSignature(c, req, s, pr);
  if (st == STATUS_SUCCESS && c.route && h.command == SMB2_SESSION_SETUP) {
    // A bound channel neither binds again nor re-authenticates (Windows; smbtorture's
    // smb2.session.bind_negative_*): STATUS_ACCESS_DENIED, signed when the request was, so
    // that the client keeps the connection.
    st = STATUS_ACCESS_DENIED;
    if (!h.isSigned() || isBindingRequest(req.msg)) pr->sign = false;
  }
  if (st == STATUS_SUCCESS && req.multi_credit && req.charge < requiredCharge(h, req.msg)) {
    st = STATUS_INVALID_PARAMETER;  // MS-SMB2 3.3.5.2.5
  }
  if (st == STATUS_SUCCESS && s && ci->needs_tree) {
    auto it = s->trees.find(req.tid);
    if (it == s->trees.end()) {
      st = STATUS_NETWORK_NAME_DELETED;
    } else {
      ctx.tree = &it->second;
      c.cur_tree = req.tid;
    }
  }
  // "server smb encrypt = required" on the session or the share: plain requests are refused;
  // desired or required: responses are encrypted (MS-SMB2 3.3.5.2.9, 3.3.4.1.4).
  if (s && h.command != SMB2_SESSION_SETUP && h.command != SMB2_NEGOTIATE) {
    bool want_seal = s->encrypt_data || (ctx.tree && ctx.tree->encrypt_data);
    if (want_seal) ctx.on_event_loop = false;  // the sealed reply is built here, not deferred
    if (!c.encrypted && st == STATUS_SUCCESS &&
        (s->encrypt_required || (ctx.tree && ctx.tree->encrypt_required))) {
      st = STATUS_ACCESS_DENIED;
    }
    if (want_seal && !c.encrypted && !s->encryption_key.empty()) *c.seal_session = req.sid;
  }
  if (st == STATUS_SUCCESS && req.related && c.create_error != STATUS_SUCCESS) {
    st = c.create_error;  // a failed CREATE fails the rest of its related chain
  }
  return st;
}

// How the final response of a request that goes async must be signed or sealed.
void prepareAsyncReply(Chain& c, const Request& req, session::Session* s, const PendingResponse& pr,
                       RequestContext& ctx) {
  session::AsyncReply& ar = ctx.async_reply;
  ar.message_id = req.h.message_id;
  ar.session_id = req.sid;
  ar.command = req.h.command;
  ar.credit_charge = req.h.credit_charge;
  ar.sign = pr.sign;
  ar.signing_key = pr.key;
  ar.signing_algorithm = pr.alg;
  if (c.route) ar.send_on_channel = c.route->channel->send_unsolicited;
  if (s && (c.encrypted || s->encrypt_data || (ctx.tree && ctx.tree->encrypt_data)) &&
      !s->encryption_key.empty()) {
    ar.seal = true;
    ar.sign = false;
    ar.cipher = c.conn.cipher;
    ar.encryption_key = s->encryption_key;
  }
}

// Calls the handler, under the session user's Unix identity for commands that reach the
// filesystem by path (when the server runs as root). A READ's data goes straight into the
// output, where the body of its response will be (ctx.read_payload).
NtStatus runHandler(Chain& c, const Request& req, const CommandInfo& ci, session::Session* s,
                    const PendingResponse& pr, RequestContext& ctx, ResponseBody& body) {
  ctx.session = s;
  ctx.channel = c.route ? c.route->channel.get() : nullptr;
  prepareAsyncReply(c, req, s, pr, ctx);
  bool identity_ok = true;
  vfs::UnixIdentity forced;  // lives as long as the handler runs (ctx.identity may name it)
  if (c.conn.server->run_as_root && s && ci.needs_identity) {
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
  if (c.segment && req.offset == 0 && req.h.next_command == 0 && !pr.sign &&
      !ctx.async_reply.seal && !*c.seal_session) {
    ctx.file_segment = c.segment;  // offered once the signing decision is known
  }
  ctx.read_payload = handlers::ReadPayload(&c.out, req.body_start);
  // Never serve a request with the daemon's own (root) rights by accident.
  NtStatus st = identity_ok ? ci.fn(ctx, body) : STATUS_ACCESS_DENIED;
  if (st != STATUS_SUCCESS && ctx.file_segment) *ctx.file_segment = {};
  return st;
}

// Completes the response after the handler: async id, the encoded body (unless its I/O is
// deferred), status, session and tree ids, credits, signing key, preauth integrity hash; the
// server-side latency sample.
void finishResponse(Chain& c, Request& req, RequestContext& ctx, NtStatus st, ResponseBody& body,
                    PendingResponse* pr) {
  session::ConnState& conn = c.conn;
  Bytes& out = c.out;
  const size_t start = req.start;
  if (st == STATUS_PENDING && ctx.async_id) {
    // MS-SMB2 3.3.4.2: the interim response carries the AsyncId the final one will use.
    storeU32(&out[start + kHeaderFlagsOffset],
             loadU32(&out[start + kHeaderFlagsOffset]) | SMB2_FLAGS_ASYNC_COMMAND);
    storeU64(&out[start + kHeaderAsyncIdOffset], ctx.async_id);
  }
  if (!ctx.deferred_io.finish) {
    encodeBody(out, req.body_start, st, body);
    recordRequest(*conn.server, req.h.command, req.started, st, body);
  }
  storeU32(&out[start + kHeaderStatusOffset], st);
  if (st == STATUS_USER_SESSION_DELETED && req.h.isSigned() && !c.encrypted) {
    // No key is left to sign with, yet a client that signs expects the flag (as Windows sends
    // it); clients do not verify the signature of this status (Samba's smbXcli checks the flag).
    storeU32(&out[start + kHeaderFlagsOffset],
             loadU32(&out[start + kHeaderFlagsOffset]) | SMB2_FLAGS_SIGNED);
  }
  if (conn.server->dataplane) {  // server-measured latency histogram, one sample per request
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - req.started)
                  .count();
    conn.server->dataplane->recordLatency(req.h.command, static_cast<uint64_t>(ns));
  }
  XLOG(DEBUG) << conn.peer << ": cmd " << req.h.command << " mid " << req.h.message_id << " -> "
              << ntStatusName(st);
  if (ctx.response_session_id) {
    req.sid = ctx.response_session_id;
    c.cur_session = req.sid;
    storeU64(&out[start + kHeaderSessionIdOffset], req.sid);
  }
  if (ctx.response_tree_id) {
    req.tid = ctx.response_tree_id;
    c.cur_tree = req.tid;
    storeU32(&out[start + kHeaderTreeIdOffset], req.tid);
  }
  storeU16(&out[start + kHeaderCreditsOffset], grantCredits(c, req.h, req.charge));
  if (ctx.sign_response && !c.encrypted) {
    if (session::Session* ns = conn.findSession(req.sid); ns && !ns->signing_key.empty()) {
      pr->sign = true;
      // MS-SMB2 3.3.4.1.1: a successful SESSION_SETUP (a binding's too) is signed with the
      // Channel.SigningKey.
      pr->key = c.route ? c.route->signing_key : session::channelSigningKey(*ns);
      pr->alg = ns->signing_algorithm;
    }
  }
  ByteSpan response(out.data() + start, out.size() - start);
  if (ctx.preauth_connection) {
    conn.preauth_hash = crypto::sha512Concat(conn.preauth_hash, response);
  }
  if (ctx.preauth_session) {
    if (pr->sign && req.h.next_command == 0) {
      // A binding's interim response is signed (Session.SigningKey), and the hash covers the
      // response as sent: it is signed now (the last of its chain: nothing changes it later).
      signMessage(std::span<uint8_t>(out.data() + start, out.size() - start), pr->alg, pr->key);
      pr->sign = false;
    }
    if (session::Session* ps = conn.findSession(req.sid)) {
      ps->preauth_hash = crypto::sha512Concat(ps->preauth_hash, response);
    }
  }
}

// Hands a request whose file I/O runs later to the caller: its response is completed then
// (header as patched here, body and status from the I/O, signed as decided here). A READ reads
// into the message itself, into the payload area where its response's Buffer goes.
void deferResponse(Chain& c, const Request& req, RequestContext& ctx, const PendingResponse& pr) {
  Bytes msg(c.out.begin() + req.start, c.out.begin() + req.body_start);
  const size_t body = msg.size();
  RequestContext::DeferredIo& d = ctx.deferred_io;
  vfs::FileIo io{d.op, d.fd->get(), d.offset, nullptr, 0, d.datasync};
  if (d.op == vfs::FileIo::Op::kRead) {
    std::span<uint8_t> data = handlers::ReadPayload(&msg, body).reserve(d.length);
    io.data = data.data();
    io.length = data.size();
  } else if (d.op == vfs::FileIo::Op::kWrite) {
    io.data = const_cast<uint8_t*>(d.source.data());  // only read from: a write's source
    io.length = d.source.size();
  }
  c.deferred->io = io;
  c.deferred->fd = std::move(d.fd);
  // A READ's target points into `msg`'s heap buffer, which moving the vector into the closure
  // keeps where it is.
  c.deferred->complete = [msg = std::move(msg), body, finish = std::move(d.finish), sign = pr.sign,
                          key = pr.key, alg = pr.alg, server = c.conn.server,
                          command = req.h.command, started = req.started](int64_t r) mutable {
    ResponseBody out;
    NtStatus st = finish(r, out);
    Bytes done = completeDeferred(std::move(msg), body, st, out, sign, key, alg);
    recordRequest(*server, command, started, st, out);
    return done;
  };
  c.out.resize(req.start);
}

// Handles one admitted request. False when the chain ends here (deferred I/O).
bool handleRequest(Chain& c, Request& req) {
  beginResponse(c, &req);
  session::ConnState& conn = c.conn;
  RequestContext ctx{conn.server, &conn, &req.h, req.msg};
  ctx.compound_file_id = &c.cur_file;
  ctx.related = req.related;
  ctx.on_event_loop = c.deferred != nullptr;
  PendingResponse pr{req.start, false, {}, crypto::SigningAlgorithm::kHmacSha256};
  const CommandInfo* ci = commandInfo(req.h.command);
  session::Session* s = req.sid ? conn.findSession(req.sid) : nullptr;
  // A bound channel's entry reaching here: its session ended (its requests go to its home).
  if (s && s->bound_channel && !c.route) s = nullptr;
  if (!s && req.sid && req.h.command == SMB2_SESSION_SETUP && isBindingRequest(req.msg)) {
    s = session::prepareBinding(conn, req.sid);  // MS-SMB2 3.3.5.2.4: GlobalSessionTable
  }
  c.cur_session = s ? req.sid : 0;
  c.cur_tree = 0;
  ResponseBody body;
  NtStatus st = checkRequest(c, req, ci, s, ctx, &pr);
  if (st != STATUS_SUCCESS && s && s->binding) {
    conn.sessions.erase(req.sid);  // a binding refused before its handler leaves no entry
    s = nullptr;
  }
  if (st == STATUS_SUCCESS) {
    chargeRequest(conn, s, ctx.tree, req.h, req.msg);  // live limits (pacing.h)
    st = runHandler(c, req, *ci, s, pr, ctx, body);
  }
  if (req.h.command == SMB2_CREATE && st != STATUS_SUCCESS) c.create_error = st;
  finishResponse(c, req, ctx, st, body, &pr);
  if (ctx.deferred_io.finish) {
    deferResponse(c, req, ctx, pr);
    return false;
  }
  c.responses.push_back(std::move(pr));
  return true;
}

void signResponses(Chain& c) {
  if (*c.seal_session && !c.encrypted) return;  // sealed instead
  for (size_t i = 0; i < c.responses.size(); ++i) {
    const PendingResponse& r = c.responses[i];
    if (!r.sign) continue;
    size_t end = i + 1 < c.responses.size() ? c.responses[i + 1].start : c.out.size();
    signMessage(std::span<uint8_t>(c.out.data() + r.start, end - r.start), r.alg, r.key);
  }
}

}  // namespace

Bytes processChain(session::ConnState& conn, ByteSpan payload, bool encrypted,
                   uint64_t* seal_session, DeferredReply* deferred, bool room_for_transform,
                   vfs::FileSegment* segment, const session::ChannelRoute* route) {
  const size_t base = room_for_transform ? crypto::kTransformHeaderSize : 0;
  Chain c{conn, encrypted, seal_session, deferred, segment, base, Bytes(base, 0), {}};
  c.route = route;
  c.out.reserve(512);  // most responses fit: one allocation per reply
  size_t off = 0;
  for (;;) {
    Request req;
    if (readRequest(c, payload, off, &req) == Admit::kStop) break;
    Admit a = admitRequest(c, &req);
    if (a == Admit::kStop) break;
    if (a == Admit::kHandle && !handleRequest(c, req)) break;
    if (conn.disconnect || req.h.next_command == 0) break;
    off += req.msg.size();
  }
  // Every response of a compound is 8-byte aligned, and so padded, the last one too, as Windows
  // does (MS-SMB2 3.3.4.1.3; smb2.compound.compound-padding); a lone response is not padded.
  if (c.responses.size() > 1) c.out.resize(c.base + ((c.out.size() - c.base + 7) & ~size_t{7}), 0);
  signResponses(c);
  return c.out.size() > base ? std::move(c.out) : Bytes{};
}

Bytes seal(session::ConnState& conn, uint64_t session_id, Bytes messages, bool has_room) {
  const size_t room = has_room ? crypto::kTransformHeaderSize : 0;
  if (messages.size() <= room) return {};
  session::Session* s = conn.findSession(session_id);
  if (!s || s->encryption_key.empty() || conn.cipher == 0) {
    if (has_room) messages.erase(messages.begin(), messages.begin() + room);
    return messages;
  }
  // Room for the TRANSFORM header goes in front of the messages, which are encrypted in place.
  if (!has_room) messages.insert(messages.begin(), crypto::kTransformHeaderSize, 0);
  if (!crypto::encryptInPlace(static_cast<crypto::Cipher>(conn.cipher), s->encryption_key,
                              session_id, messages)) {
    conn.disconnect = true;
    return {};
  }
  return messages;
}

}  // namespace xsmb::dispatch::internal
