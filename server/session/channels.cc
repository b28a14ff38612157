// Multichannel: the registry's channel lists, routing a bound channel's requests to the
// session's home, binding checks, and handing a session over when its home's connection ends.
#include "server/session/channels.h"

#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/crypto/transform.h"
#include "common/smb2/constants.h"
#include "common/smb2/header.h"

namespace xsmb::session {
namespace {

using namespace smb2;

// A session on its way from the connection that held it to another channel: if it never
// arrives (that connection closed as well), its opens are closed as a disconnected open's are.
struct MovedSession {
  ServerContext* server = nullptr;
  std::unique_ptr<Session> session;
  std::vector<std::unique_ptr<Open>> opens;
  // Requests waiting asynchronously that came in on another channel (their responses go there).
  std::vector<std::shared_ptr<AsyncOp>> async_ops;
  bool installed = false;
  ~MovedSession() {
    if (installed) return;
    for (auto& op : async_ops) {
      if (!op->done && op->withdraw) op->withdraw(AsyncEnd::kDisconnect);
      op->done = true;
    }
    for (auto& o : opens) {
      if (o->pipe_id && server->rpcd) server->rpcd->closePipe(o->pipe_id);
      if (!o->pipe_id) closeDetachedOpen(server, *o);
    }
  }
};

// Moves out of `conn` the requests of session `id` that wait asynchronously and came in on
// another channel (AsyncReply::send_on_channel): they complete on `next`'s strand from now on.
// Those that came in on `conn` itself end without a response: the client saw that connection
// go, and with it its requests (it sends them again on another channel).
void moveAsyncOps(ConnState& conn, uint64_t id, const ConnState& next, MovedSession& m) {
  for (auto it = conn.async_ops.begin(); it != conn.async_ops.end();) {
    const auto& op = it->second;
    if (op->reply.session_id != id || !op->reply.send_on_channel || op->done) {
      ++it;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(op->strand_mu);
      op->run_in_strand = next.run_in_strand;
    }
    m.async_ops.push_back(op);
    it = conn.async_ops.erase(it);
  }
  conn.endAsync(id, 0, 0, AsyncEnd::kDisconnect);
}

// On the new home's strand: the session, its trees and opens join `c`; breaks of the opens go to
// `c` from now on. `c`'s channel entry supplies the channel's signing key. Only then does the
// registry name `c` the home, so that other channels route requests here once the session is.
void installSession(ConnState& c, MovedSession& m) {
  uint64_t id = m.session->id;
  auto stub = c.sessions.find(id);
  if (stub != c.sessions.end()) m.session->channel_signing_key = channelSigningKey(*stub->second);
  m.session->binding = false;
  m.session->bound_channel = false;
  c.sessions[id] = std::move(m.session);
  std::weak_ptr<ConnState> self = c.weak_from_this();
  for (auto& o : m.opens) {
    // Breaks go to this connection from now on; one on its way when the old home closed is
    // sent again on another channel by its delivery (break_delivery.h).
    if (o->token) c.server->files.setOwner(o->key, o->token, self, o->volatile_id);
    if (o->notify) {
      std::lock_guard<std::mutex> lock(o->notify->mu);
      o->notify->conn = self;
    }
    uint64_t vid = o->volatile_id;
    c.opens[vid] = std::move(o);
  }
  // AsyncIds are unique server-wide (ConnState::next_async_id): no clash with c's own.
  for (auto& op : m.async_ops) {
    if (!op->done) c.async_ops[op->reply.async_id] = op;
  }
  m.installed = true;
  c.server->setHome(id, c.weak_from_this());
  XLOG(INFO) << c.peer << ": session " << id << " continues on this channel";
}

// A live channel of the session `e` other than `except`, or null.
std::shared_ptr<ConnState> liveChannel(const ServerContext::SessionEntry& e,
                                       const ConnState* except) {
  for (const auto& w : e.channels) {
    auto c = w.lock();
    if (c && c.get() != except && !c->transport_closed && c->run_in_strand) return c;
  }
  return nullptr;
}

// Moves the session `id`, which `conn` holds, to `next` (see handOverSessions).
void moveSession(ConnState& conn, uint64_t id, const std::shared_ptr<ConnState>& next) {
  auto m = std::make_shared<MovedSession>();
  m->server = conn.server;
  moveAsyncOps(conn, id, *next, *m);
  auto it = conn.sessions.find(id);
  m->session = std::move(it->second);
  conn.sessions.erase(it);
  for (auto o = conn.opens.begin(); o != conn.opens.end();) {
    if (o->second->session_id == id) {
      m->opens.push_back(std::move(o->second));
      o = conn.opens.erase(o);
    } else {
      ++o;
    }
  }
  XLOG(INFO) << conn.peer << ": channel closed; session " << id << " moves to " << next->peer;
  next->run_in_strand([m](ConnState& c) { installSession(c, *m); });
}

}  // namespace

const Bytes& channelSigningKey(const Session& s) {
  return s.channel_signing_key.empty() ? s.signing_key : s.channel_signing_key;
}

std::optional<ChannelRoute> routeToHome(ConnState& conn, ByteSpan payload) {
  if (payload.size() < 4) return std::nullopt;
  uint64_t sid = 0;
  uint32_t protocol = loadU32(payload.data());
  if (protocol == kProtocolId) {
    Header h;
    if (!decodeHeader(payload, &h)) return std::nullopt;
    sid = h.session_id;
  } else if (protocol == kTransformProtocolId) {
    crypto::TransformHeader th;
    if (!crypto::parseTransformHeader(payload, &th)) return std::nullopt;
    sid = th.session_id;
  } else {
    return std::nullopt;
  }
  Session* s = sid ? conn.findSession(sid) : nullptr;
  if (!s || !s->bound_channel || !conn.server->lookupSession(sid)) return std::nullopt;
  std::shared_ptr<ConnState> home = conn.server->sessionHome(sid).lock();
  // Between homes (the old one's connection closed; the session is on its way here or to
  // another channel): no home yet.
  if (home && (home.get() == &conn || home->transport_closed || !home->run_in_strand)) {
    home.reset();
  }
  return ChannelRoute{std::move(home), conn.shared_from_this(), channelSigningKey(*s),
                      s->signing_algorithm, sid};
}

bool holdsSession(ConnState& home, uint64_t id) {
  const Session* s = home.findSession(id);
  return s && !s->bound_channel && !s->binding;
}

Session* prepareBinding(ConnState& conn, uint64_t id) {
  auto e = conn.server->lookupSession(id);
  if (!e || e->conn.expired()) return nullptr;
  auto ns = std::make_unique<Session>();
  ns->id = id;
  ns->binding = true;
  ns->signing_key = e->signing_key;
  // The binding exchange is signed with Session.SigningKey in the session's signing algorithm,
  // whatever this connection negotiated.
  ns->signing_algorithm = static_cast<crypto::SigningAlgorithm>(e->signing_algorithm);
  ns->preauth_hash = conn.preauth_hash;
  Session* s = ns.get();
  conn.sessions[id] = std::move(ns);
  return s;
}

NtStatus checkBinding(const ConnState& conn, uint64_t id) {
  auto e = conn.server->lookupSession(id);
  if (!e || e->conn.expired()) return STATUS_USER_SESSION_DELETED;
  // AES-GMAC signing on one side only: Windows answers these before any other check (the
  // statuses smbtorture's smb2.session.bind_negative_smb3sign*toG* / *Gto* expect).
  constexpr auto kGmac = static_cast<uint8_t>(crypto::SigningAlgorithm::kAesGmac);
  bool conn_gmac = conn.dialect == SMB2_DIALECT_311 &&
                   conn.signing_algorithm == crypto::SigningAlgorithm::kAesGmac;
  bool session_gmac = e->dialect == SMB2_DIALECT_311 && e->signing_algorithm == kGmac;
  if (conn_gmac && !session_gmac) return STATUS_NOT_SUPPORTED;
  if (session_gmac && !conn_gmac) return STATUS_REQUEST_OUT_OF_SEQUENCE;
  if (!conn.server->config.global.server_multi_channel_support || conn.dialect < SMB2_DIALECT_300) {
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  if (e->dialect != conn.dialect) return STATUS_INVALID_PARAMETER;
  if (conn.dialect == SMB2_DIALECT_311 && e->cipher != conn.cipher) {
    return STATUS_INVALID_PARAMETER;
  }
  // Connection.ClientGuid is not compared: Windows binds a connection with another ClientGuid
  // (smb2.session.bind_negative_*d expect the same outcome as the same-ClientGuid variants).
  if (e->guest_or_anonymous || e->signing_key.empty()) return STATUS_NOT_SUPPORTED;
  if (e->channels.size() + 1 >= kMaxChannels) return STATUS_INSUFFICIENT_RESOURCES;
  return STATUS_SUCCESS;
}

bool completeBinding(ConnState& conn, Session& s, ByteSpan channel_key) {
  s.channel_signing_key.assign(channel_key.begin(), channel_key.end());
  // The channel signs in its own connection's algorithm (Windows, and smbtorture's
  // smb2.session.bind_negative_smb3signCtoH*, bind a connection that negotiated another one).
  s.signing_algorithm = conn.signing_algorithm;
  s.binding = false;
  s.bound_channel = true;
  s.state = Session::State::kValid;
  s.ntlm.reset();
  if (!conn.server->addChannel(s.id, conn.weak_from_this())) return false;
  // A channel that goes dark (its peer stops acknowledging) must end, so that the session's
  // breaks move to a live channel (MS-SMB2 3.3.4.6/3.3.4.7; smbtorture's
  // smb2.multichannel.oplocks.test2 cuts one off with iptables).
  if (conn.set_unacked_timeout) conn.set_unacked_timeout(kChannelUnackedTimeout);
  if (auto e = conn.server->lookupSession(s.id)) {
    if (auto home = e->conn.lock(); home && home->set_unacked_timeout) {
      home->set_unacked_timeout(kChannelUnackedTimeout);
    }
  }
  return true;
}

void dropChannelEntries(ServerContext& server, uint64_t id, const ConnState* home) {
  auto e = server.lookupSession(id);
  if (!e) return;
  for (const auto& w : e->channels) {
    auto c = w.lock();
    if (!c || c.get() == home || !c->run_in_strand) continue;
    c->run_in_strand([id](ConnState& cs) {
      auto it = cs.sessions.find(id);
      if (it != cs.sessions.end() && (it->second->bound_channel || it->second->binding)) {
        cs.sessions.erase(it);
      }
    });
  }
}

void handOverSessions(ConnState& conn) {
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : conn.sessions) ids.push_back(id);
  for (uint64_t id : ids) {
    Session& s = *conn.sessions[id];
    if (s.binding || s.bound_channel) {
      conn.server->removeChannel(id, &conn);
      conn.sessions.erase(id);
      continue;
    }
    if (s.state != Session::State::kValid) continue;
    auto e = conn.server->lookupSession(id);
    if (!e) continue;
    if (auto next = liveChannel(*e, &conn)) moveSession(conn, id, next);
  }
}

// ServerContext's channel lists (server_context.h).

std::weak_ptr<ConnState> ServerContext::sessionHome(uint64_t id) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  return it == registry_.end() ? std::weak_ptr<ConnState>() : it->second.conn;
}

void ServerContext::setBindingInfo(uint64_t id, const SessionEntry& info) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  if (it == registry_.end()) return;
  SessionEntry& e = it->second;
  e.dialect = info.dialect;
  e.client_guid = info.client_guid;
  e.signing_algorithm = info.signing_algorithm;
  e.cipher = info.cipher;
  e.signing_key = info.signing_key;
  e.guest_or_anonymous = info.guest_or_anonymous;
}

bool ServerContext::addChannel(uint64_t id, std::weak_ptr<ConnState> conn) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  if (it == registry_.end()) return false;
  std::erase_if(it->second.channels, [](const std::weak_ptr<ConnState>& w) { return w.expired(); });
  it->second.channels.push_back(std::move(conn));
  return true;
}

void ServerContext::removeChannel(uint64_t id, const ConnState* conn) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  if (it == registry_.end()) return;
  std::erase_if(it->second.channels, [conn](const std::weak_ptr<ConnState>& w) {
    auto c = w.lock();
    return !c || c.get() == conn;
  });
}

void ServerContext::setHome(uint64_t id, std::weak_ptr<ConnState> conn) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  if (it == registry_.end()) return;
  auto target = conn.lock();
  std::erase_if(it->second.channels, [&target](const std::weak_ptr<ConnState>& w) {
    auto c = w.lock();
    return !c || c == target;
  });
  it->second.conn = std::move(conn);
}

}  // namespace xsmb::session
