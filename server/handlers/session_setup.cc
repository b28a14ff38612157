// SESSION_SETUP (MS-SMB2 3.3.5.5) with SPNEGO/NTLMSSP, and LOGOFF (3.3.5.6).
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/base/log.h"
#include "common/base/unicode.h"
#include "common/crypto/crypto.h"
#include "common/crypto/smb3_keys.h"
#include "server/auth/kerberos.h"
#include "server/auth/spnego.h"
#include "server/handlers/handler.h"
#include "server/session/channels.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

auth::NtlmServerConfig ntlmConfig(const session::ServerContext& s) {
  auth::NtlmServerConfig c;
  c.netbios_name = upcaseUtf8(s.config.global.netbios_name);
  c.netbios_domain = upcaseUtf8(s.config.global.workgroup);
  c.dns_name = s.config.global.netbios_name;
  c.dns_domain = "";
  return c;
}

bool isNtlmssp(ByteSpan token) {
  static const char kSig[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
  return token.size() >= 12 && std::memcmp(token.data(), kSig, 8) == 0;
}

uint32_t ntlmMessageType(ByteSpan token) { return token.size() >= 12 ? loadU32(&token[8]) : 0; }

// Derives Session.SigningKey for the dialect (MS-SMB2 3.3.5.5.3).
void deriveKeys(session::ConnState& conn, session::Session& s) {
  s.signing_algorithm = conn.signing_algorithm;
  if (conn.dialect >= SMB2_DIALECT_300) {
    bool aes256 =
        conn.cipher == SMB2_ENCRYPTION_AES256_CCM || conn.cipher == SMB2_ENCRYPTION_AES256_GCM;
    auto keys = crypto::deriveSmb3ServerKeys(conn.dialect, s.session_key, s.preauth_hash, aes256);
    s.signing_key.assign(keys.signing_key.begin(), keys.signing_key.end());
    if (conn.cipher != 0) {
      s.encryption_key = keys.encryption_key;
      s.decryption_key = keys.decryption_key;
    }
  } else {
    s.signing_key = s.session_key;
  }
}

// MS-SMB2 3.3.5.5.3: the previous session ends before this SESSION_SETUP completes, so that the
// client's next request finds its durable opens disconnected and ready to be reclaimed. Waits
// (at most 2 s) until the other connection's strand removed the session (`done`) or that
// connection is gone (its teardown keeps the durable opens, ConnState::~ConnState).
void awaitPreviousSession(const std::atomic<bool>& done,
                          const std::weak_ptr<session::ConnState>& other) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!done.load() && !other.expired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// MS-SMB2 3.3.5.5.3 for a binding (SMB2_SESSION_FLAG_BINDING): the user authenticated on this
// channel must be the session's (else STATUS_ACCESS_DENIED); the channel's own
// Channel.SigningKey is derived from this authentication's session key (and, on 3.1.1, from this
// connection's preauth hash of the exchange), and the final response is signed with it.
NtStatus completeBindingLogon(RequestContext& ctx, session::Session& s, ByteSpan session_key) {
  session::ConnState& conn = *ctx.conn;
  auto e = ctx.server->lookupSession(s.id);
  if (!e) return STATUS_USER_SESSION_DELETED;
  if (s.guest || s.anonymous || session_key.empty() || !equalsIgnoreCase(e->user, s.user)) {
    XLOG(INFO) << conn.peer << ": binding to session " << s.id << " as another user refused";
    return STATUS_ACCESS_DENIED;
  }
  bool aes256 =
      conn.cipher == SMB2_ENCRYPTION_AES256_CCM || conn.cipher == SMB2_ENCRYPTION_AES256_GCM;
  auto keys = crypto::deriveSmb3ServerKeys(conn.dialect, session_key, s.preauth_hash, aes256);
  if (!session::completeBinding(conn, s, keys.signing_key)) return STATUS_USER_SESSION_DELETED;
  ctx.sign_response = true;
  XLOG(INFO) << conn.peer << ": bound to session " << s.id << " as a further channel";
  return STATUS_SUCCESS;
}

// What a later binding on another connection checks (MS-SMB2 3.3.5.5.2), kept in the registry.
void registerBindingInfo(RequestContext& ctx, const session::Session& s) {
  const session::ConnState& conn = *ctx.conn;
  session::ServerContext::SessionEntry info;
  info.dialect = conn.dialect;
  info.client_guid = conn.client_guid;
  info.signing_algorithm = static_cast<uint8_t>(s.signing_algorithm);
  info.cipher = conn.cipher;
  info.signing_key = s.signing_key;
  info.guest_or_anonymous = s.guest || s.anonymous;
  ctx.server->setBindingInfo(s.id, info);
}

// Completes an authenticated SESSION_SETUP: on a new session the keys (from `session_key`,
// empty for guest and anonymous), signing (MS-SMB2 3.3.5.5.3: "server signing", the client's
// SecurityMode; the final 3.1.1 response is signed) and "server smb encrypt" (required refuses
// a session that cannot encrypt; desired and required ask the client to encrypt). Sets the
// encryption/guest/null SessionFlags.
NtStatus completeLogon(RequestContext& ctx, session::Session& s, bool reauth, uint8_t security_mode,
                       uint64_t previous_session_id, ByteSpan session_key, uint16_t* flags) {
  session::ConnState& conn = *ctx.conn;
  const auto& g = ctx.server->config.global;
  if (s.binding) {
    *flags = 0;
    return completeBindingLogon(ctx, s, session_key);
  }
  if (!reauth) {
    if (!session_key.empty()) {
      s.session_key.assign(session_key.begin(), session_key.end());
      deriveKeys(conn, s);
      s.signing_required = g.server_signing == config::SigningPolicy::kMandatory ||
                           (security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED);
      ctx.sign_response = conn.dialect == SMB2_DIALECT_311 || s.signing_required;
    }
    // MS-SMB2 3.3.5.5.3: with Connection.AcceptTransportSecurity, QUIC's TLS encrypts.
    const auto policy =
        conn.accept_transport_security ? config::EncryptPolicy::kOff : g.server_smb_encrypt;
    if (!applyEncryptPolicy(policy, !s.encryption_key.empty(), &s.encrypt_data,
                            &s.encrypt_required)) {
      XLOG(INFO) << conn.peer << ": encryption is required and the session cannot encrypt";
      return STATUS_ACCESS_DENIED;
    }
    s.state = session::Session::State::kValid;
    ctx.server->registerSession(s.id, conn.weak_from_this(), s.user);
    registerBindingInfo(ctx, s);
    if (ctx.server->dataplane) {
      // The session's look-aside record in the pinned BPF map (bpftool map dump shows it).
      bpf::SessionRecord r{};
      r.session_id = s.id;
      r.uid = s.identity.uid;
      r.dialect = conn.dialect;
      r.signing = s.signing_required ? 2 : (s.signing_key.empty() ? 0 : 1);
      r.encryption = s.encrypt_required ? 2 : (s.encrypt_data ? 1 : 0);
      // The CPU of the worker that serves the connection the session was set up on.
      r.home_cpu = conn.worker < ctx.server->worker_cpus.size()
                       ? ctx.server->worker_cpus[conn.worker]
                       : XSMB_CPU_NONE;
      ctx.server->dataplane->sessionUp(r);
    }
    // MS-SMB2 3.3.5.5.3: a client reconnecting names its previous session, which ends now if it
    // belongs to the same user (its opens are closed, wherever its connection is).
    if (previous_session_id && previous_session_id != s.id) {
      auto prev = ctx.server->lookupSession(previous_session_id);
      if (prev && equalsIgnoreCase(prev->user, s.user) && !s.guest && !s.anonymous) {
        if (auto other = prev->conn.lock(); other.get() == &conn) {
          conn.removeSession(previous_session_id);
        } else if (other && other->run_in_strand) {
          auto done = std::make_shared<std::atomic<bool>>(false);
          other->run_in_strand([previous_session_id, done](session::ConnState& c) {
            c.removeSession(previous_session_id);
            done->store(true);
          });
          std::weak_ptr<session::ConnState> weak = other;
          other.reset();
          awaitPreviousSession(*done, weak);
        }
      }
    }
  } else {
    ctx.server->registerSession(s.id, conn.weak_from_this(), s.user);
  }
  *flags = 0;
  if (s.encrypt_data) *flags |= SMB2_SESSION_FLAG_ENCRYPT_DATA;
  if (s.guest) *flags |= SMB2_SESSION_FLAG_IS_GUEST;
  if (s.anonymous) *flags |= SMB2_SESSION_FLAG_IS_NULL;
  return STATUS_SUCCESS;
}

// MS-SPNG 3.3.5 / RFC 4121: a Kerberos AP-REQ, accepted against "kerberos keytab file"; the
// client principal must be a user of the database (in the configured realm, if any). A failure
// is returned for the caller to end the setup (failSessionSetup).
NtStatus kerberosLogon(RequestContext& ctx, session::Session& s, bool reauth, uint8_t security_mode,
                       uint64_t previous_session_id, const auth::SpnegoRequest& spnego,
                       ResponseBody& body) {
  session::ConnState& conn = *ctx.conn;
  session::ServerContext& server = *ctx.server;
  const auto& g = server.config.global;
  if (g.kerberos_keytab_file.empty() || spnego.raw_ntlmssp || spnego.mech_token.empty()) {
    return STATUS_LOGON_FAILURE;
  }
  auth::KerberosAcceptor acceptor(g.kerberos_keytab_file);
  auto result = acceptor.accept(spnego.mech_token);
  if (!result.ok()) {
    XLOG(INFO) << conn.peer << ": Kerberos AP-REQ rejected: " << result.status().message();
    return STATUS_LOGON_FAILURE;
  }
  if (!g.realm.empty() && !equalsIgnoreCase(result->realm, g.realm)) {
    XLOG(INFO) << conn.peer << ": Kerberos principal " << result->principal << " is not of realm "
               << g.realm;
    return STATUS_LOGON_FAILURE;
  }
  std::optional<config::UserEntry> entry = server.findUser(result->user);
  if (!entry) {
    XLOG(INFO) << conn.peer << ": Kerberos principal " << result->principal
               << " has no user in the database";
    return STATUS_LOGON_FAILURE;
  }
  auto id = vfs::lookupUnixIdentity(entry->unix_name);
  if (!id.ok()) {
    XLOG(WARNING) << "user " << entry->name << ": unix account " << entry->unix_name
                  << " not found";
    return STATUS_LOGON_FAILURE;
  }
  auth::SpnegoMech mech =
      !spnego.mech_types.empty() && spnego.mech_types[0] == auth::SpnegoMech::kKerberosLegacy
          ? auth::SpnegoMech::kKerberosLegacy
          : auth::SpnegoMech::kKerberos;
  Bytes out = auth::spnegoResponse(auth::NegState::kAcceptCompleted, mech, result->response_token);
  s.user = entry->name;
  s.domain = result->realm;
  s.identity = std::move(*id);
  s.guest = false;
  s.anonymous = false;
  uint16_t flags = 0;
  if (NtStatus st = completeLogon(ctx, s, reauth, security_mode, previous_session_id,
                                  result->session_key, &flags);
      st != STATUS_SUCCESS) {
    return st;
  }
  body = SessionSetupResponse{flags, std::move(out)};
  XLOG(INFO) << conn.peer << ": session " << s.id << " for " << result->principal
             << " (Kerberos) as " << entry->name;
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.5.1 / 3.3.5.5.2: SessionId 0 starts a new session (in the connection's table, in
// progress until authenticated); any other names a session of this connection, which is
// re-authenticated when it is already valid.
NtStatus findOrCreateSession(RequestContext& ctx, session::Session** s, bool* reauth) {
  session::ConnState& conn = *ctx.conn;
  session::ServerContext& server = *ctx.server;
  if (ctx.header->session_id == 0) {
    if (NtStatus st = session::admitSession(conn); st != STATUS_SUCCESS) return st;
    auto ns = std::make_unique<session::Session>();
    // Session ids are unique per server; the low bits count, the high bits vary per start.
    ns->id = (server.next_session_id.fetch_add(1) & 0xFFFFFFFFULL) |
             (static_cast<uint64_t>(server.start_time & 0xFFFF) << 32);
    ns->preauth_hash = conn.preauth_hash;
    *s = ns.get();
    conn.sessions[ns->id] = std::move(ns);
    return STATUS_SUCCESS;
  }
  *s = conn.findSession(ctx.header->session_id);
  if (!*s) return STATUS_USER_SESSION_DELETED;
  *reauth = (*s)->state == session::Session::State::kValid;
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.5.2: a SESSION_SETUP with SMB2_SESSION_FLAG_BINDING continues the binding
// exchange of this connection's entry for the session (session::prepareBinding made it when the
// request arrived), after the checks of channels.h's checkBinding; an unsigned request is
// refused with STATUS_INVALID_PARAMETER. A refused first leg leaves no entry behind.
NtStatus beginBinding(RequestContext& ctx, session::Session** s) {
  session::ConnState& conn = *ctx.conn;
  uint64_t sid = ctx.header->session_id;
  session::Session* cur = conn.findSession(sid);
  NtStatus st = session::checkBinding(conn, sid);
  if (st == STATUS_SUCCESS && !ctx.header->isSigned()) st = STATUS_INVALID_PARAMETER;
  if (st == STATUS_SUCCESS && (!cur || !cur->binding)) st = STATUS_REQUEST_NOT_ACCEPTED;
  if (st != STATUS_SUCCESS) {
    if (cur && cur->binding) conn.sessions.erase(sid);
    XLOG(INFO) << conn.peer << ": binding to session " << sid << " refused: " << ntStatusName(st);
    return st;
  }
  *s = cur;
  return STATUS_SUCCESS;
}

// A failed SESSION_SETUP: a session it was establishing (or this connection's binding entry) is
// removed again; a valid session that failed to re-authenticate ends on every channel
// (MS-SMB2 3.3.5.5.3). Counted as a logon failure.
NtStatus failSessionSetup(RequestContext& ctx, session::Session& s, bool reauth, NtStatus st) {
  session::ConnState& conn = *ctx.conn;
  XLOG(INFO) << conn.peer << ": session setup failed: " << ntStatusName(st);
  if (!reauth) {
    conn.sessions.erase(s.id);
  } else {
    conn.removeSession(s.id);
    ctx.session = nullptr;
  }
  ctx.server->stats.logon_failures++;
  return st;
}

// MS-NLMP 3.2.5.1.1: a NEGOTIATE_MESSAGE starts the session's NTLM exchange; its CHALLENGE_MESSAGE
// goes back with STATUS_MORE_PROCESSING_REQUIRED. On 3.1.1 that response is hashed into a new
// session's PreauthIntegrityHashValue too (MS-SMB2 3.3.5.5.3).
NtStatus ntlmChallenge(RequestContext& ctx, session::Session& s, bool reauth,
                       const auth::SpnegoRequest& spnego, ResponseBody& body) {
  s.ntlm = std::make_unique<auth::NtlmServer>(ntlmConfig(*ctx.server));
  s.mech_types_der = spnego.mech_types_der;
  auto challenge = s.ntlm->negotiate(spnego.mech_token);
  if (!challenge.ok()) return STATUS_INVALID_PARAMETER;
  Bytes out = spnego.raw_ntlmssp ? *challenge
                                 : auth::spnegoResponse(auth::NegState::kAcceptIncomplete,
                                                        auth::SpnegoMech::kNtlmssp, *challenge);
  body = SessionSetupResponse{0, std::move(out)};
  if (ctx.conn->dialect == SMB2_DIALECT_311 && !reauth) ctx.preauth_session = &s;
  return STATUS_MORE_PROCESSING_REQUIRED;
}

// "map to guest": an unknown user (Bad User) or a wrong password (Bad Password) may log on as the
// guest instead of failing; an anonymous AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2) is a null
// session.
NtStatus mapNtlmOutcome(RequestContext& ctx, const auth::NtlmResult& result, bool* guest,
                        bool* anonymous) {
  session::ConnState& conn = *ctx.conn;
  const auto map = ctx.server->config.global.map_to_guest;
  switch (result.outcome) {
    case auth::NtlmOutcome::kAuthenticated:
      break;
    case auth::NtlmOutcome::kAnonymous:
      *anonymous = true;
      break;
    case auth::NtlmOutcome::kNoSuchUser:
      XLOG(INFO) << conn.peer << ": no such user " << result.user;
      if (map == config::MapToGuest::kNever) return STATUS_LOGON_FAILURE;
      *guest = true;
      break;
    case auth::NtlmOutcome::kMalformedResponse:
      XLOG(INFO) << conn.peer << ": malformed NTLMv2 response from " << result.user;
      return STATUS_INVALID_PARAMETER;
    case auth::NtlmOutcome::kWrongPassword:
      XLOG(INFO) << conn.peer << ": wrong password for " << result.user;
      if (map != config::MapToGuest::kBadPassword) return STATUS_LOGON_FAILURE;
      *guest = true;
      break;
  }
  return STATUS_SUCCESS;
}

// The Unix identity the session's requests run as: the user's account, or the guest account for
// guest and anonymous logons.
NtStatus sessionIdentity(const session::ServerContext& server,
                         const std::optional<config::UserEntry>& entry, bool guest, bool anonymous,
                         vfs::UnixIdentity* identity) {
  *identity = server.guest_identity;
  if (!guest && !anonymous) {
    auto id = vfs::lookupUnixIdentity(entry->unix_name);
    if (!id.ok()) {
      XLOG(WARNING) << "user " << entry->name << ": unix account " << entry->unix_name
                    << " not found";
      return STATUS_LOGON_FAILURE;
    }
    *identity = *id;
  }
  return STATUS_SUCCESS;
}

// The last SPNEGO token (accept-completed), with the server's mechListMIC when the client sent
// one and the logon is a user's (a guest or anonymous exchange has no key to sign it with); none
// after a bare NTLMSSP exchange.
Bytes ntlmFinalToken(session::Session& s, const auth::SpnegoRequest& spnego, bool guest_or_anon) {
  Bytes mic;
  if (!spnego.mech_list_mic.empty() && !guest_or_anon) {
    mic = s.ntlm->makeMic(s.mech_types_der);
  }
  return spnego.raw_ntlmssp
             ? Bytes{}
             : auth::spnegoResponse(auth::NegState::kAcceptCompleted, std::nullopt, {}, mic);
}

// MS-NLMP 3.2.5.1.2: the AUTHENTICATE_MESSAGE ends the exchange: the response is checked against
// the user database, the SPNEGO mechListMIC (when the client sent one) verified and answered, and
// the session takes the user, the identity and, unless guest or anonymous, the session key.
NtStatus ntlmAuthenticate(RequestContext& ctx, session::Session& s, bool reauth,
                          const SessionSetupRequest& req, const auth::SpnegoRequest& spnego,
                          ResponseBody& body) {
  session::ConnState& conn = *ctx.conn;
  session::ServerContext& server = *ctx.server;
  std::optional<config::UserEntry> entry;
  auto lookup = [&](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
    entry = server.findUser(user);
    if (!entry) return std::nullopt;
    return entry->nt_hash;
  };
  auto result = s.ntlm->authenticate(spnego.mech_token, lookup);
  if (!result.ok()) {
    XLOG(INFO) << conn.peer << ": NTLM AUTHENTICATE rejected: " << result.status().message();
    return STATUS_LOGON_FAILURE;
  }
  bool guest = false, anonymous = false;
  if (NtStatus st = mapNtlmOutcome(ctx, *result, &guest, &anonymous); st != STATUS_SUCCESS)
    return st;
  if (!spnego.mech_list_mic.empty() && !guest && !anonymous &&
      !s.ntlm->checkMic(s.mech_types_der, spnego.mech_list_mic)) {
    XLOG(INFO) << conn.peer << ": SPNEGO mechListMIC does not verify";
    return STATUS_LOGON_FAILURE;
  }
  vfs::UnixIdentity identity;
  if (NtStatus st = sessionIdentity(server, entry, guest, anonymous, &identity);
      st != STATUS_SUCCESS) {
    return st;
  }
  Bytes out = ntlmFinalToken(s, spnego, guest || anonymous);
  s.user = result->user;
  s.domain = result->domain;
  s.identity = std::move(identity);
  s.ntlm.reset();
  // A re-authentication changes whose rights the session uses, never its keys
  // (MS-SMB2 3.3.5.5.3).
  s.guest = guest;
  s.anonymous = anonymous;
  Bytes key;
  if (!guest && !anonymous) key.assign(result->session_key.begin(), result->session_key.end());
  uint16_t flags = 0;
  if (NtStatus st =
          completeLogon(ctx, s, reauth, req.security_mode, req.previous_session_id, key, &flags);
      st != STATUS_SUCCESS) {
    return st;
  }
  body = SessionSetupResponse{flags, std::move(out)};
  if (s.bound_channel) return STATUS_SUCCESS;  // completeBindingLogon logged it
  XLOG(INFO) << conn.peer << ": session " << s.id << (reauth ? " re-authenticated " : " for ")
             << (anonymous ? "anonymous"
                 : guest   ? "guest"
                           : result->user);
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.5.3: the security buffer is SPNEGO (or a bare NTLMSSP message). An NTLMSSP token
// is one leg of the NTLM exchange (NEGOTIATE, then AUTHENTICATE); any other is taken as Kerberos.
// Returns STATUS_SUCCESS, STATUS_MORE_PROCESSING_REQUIRED, or a failure for failSessionSetup.
NtStatus acceptSecurityBuffer(RequestContext& ctx, session::Session& s, bool reauth,
                              const SessionSetupRequest& req, ResponseBody& body) {
  auto spnego = auth::parseSpnegoRequest(req.security_buffer);
  if (!spnego.ok()) return STATUS_INVALID_PARAMETER;
  const Bytes& token = spnego->mech_token;
  if (!isNtlmssp(token)) {
    return kerberosLogon(ctx, s, reauth, req.security_mode, req.previous_session_id, *spnego, body);
  }
  uint32_t type = ntlmMessageType(token);
  if (type == 1) return ntlmChallenge(ctx, s, reauth, *spnego, body);
  if (type != 3 || !s.ntlm) return STATUS_INVALID_PARAMETER;
  return ntlmAuthenticate(ctx, s, reauth, req, *spnego, body);
}

}  // namespace

NtStatus handleSessionSetup(RequestContext& ctx, ResponseBody& out) {
  session::ConnState& conn = *ctx.conn;
  if (!conn.negotiated) return STATUS_ACCESS_DENIED;
  SessionSetupRequest req;
  if (NtStatus st = decodeSessionSetupRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Session* s = nullptr;
  bool reauth = false;
  if ((req.flags & SMB2_SESSION_FLAG_BINDING) && ctx.header->session_id != 0) {
    if (NtStatus st = beginBinding(ctx, &s); st != STATUS_SUCCESS) return st;
  } else if (NtStatus st = findOrCreateSession(ctx, &s, &reauth); st != STATUS_SUCCESS) {
    return st;
  }
  ctx.response_session_id = s->id;
  // MS-SMB2 3.3.5.5.1: on 3.1.1 every request of a new session's setup goes into the session's
  // PreauthIntegrityHashValue, from which its keys are derived.
  if (conn.dialect == SMB2_DIALECT_311 && !reauth) {
    s->preauth_hash = crypto::sha512Concat(s->preauth_hash, ctx.message);
  }
  NtStatus st = acceptSecurityBuffer(ctx, *s, reauth, req, out);
  if (st != STATUS_SUCCESS && st != STATUS_MORE_PROCESSING_REQUIRED)
    return failSessionSetup(ctx, *s, reauth, st);
  return st;
}

NtStatus handleLogoff(RequestContext& ctx, ResponseBody& out) {
  if (NtStatus st = decodeEmptyRequest(ctx.message, 4); st != STATUS_SUCCESS) return st;
  ctx.conn->removeSession(ctx.session->id);
  ctx.session = nullptr;
  out = LogoffResponse{};
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
