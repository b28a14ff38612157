// NEGOTIATE (MS-SMB2 3.3.5.3 / 3.3.5.4) and the SMB1 upgrade path (3.3.5.3.1).
#include <algorithm>

#include "common/crypto/crypto.h"
#include "server/auth/spnego.h"
#include "server/handlers/handler.h"
#include "server/vfs/attributes.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t kSmallIoSize = 64 * 1024;  // 2.0.2 has no multi-credit requests

bool dialectAllowed(const session::ServerContext& s, uint16_t d) {
  return d >= s.config.global.server_min_protocol && d <= s.config.global.server_max_protocol;
}

// Common part of both NEGOTIATE paths: fills `r` and the connection for dialect `d`.
void prepareResponse(session::ConnState& conn, uint16_t d, NegotiateResponse* r) {
  const auto& s = *conn.server;
  r->dialect = d;
  r->security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
  if (s.config.global.server_signing == config::SigningPolicy::kMandatory) {
    r->security_mode |= SMB2_NEGOTIATE_SIGNING_REQUIRED;
  }
  r->server_guid = s.server_guid;
  r->capabilities = 0;
  uint32_t io = kSmallIoSize;
  if (d != SMB2_DIALECT_202 && d != SMB2_DIALECT_WILDCARD) {
    r->capabilities |= SMB2_GLOBAL_CAP_LARGE_MTU;
    r->capabilities |= SMB2_GLOBAL_CAP_LEASING;  // leases from 2.1 on (MS-SMB2 3.3.5.4)
    io = s.max_io_size;
  }
  // MS-SMB2 3.3.5.4: 3.x connections learn that sessions may be bound to further channels.
  if (d >= SMB2_DIALECT_300 && s.config.global.server_multi_channel_support) {
    r->capabilities |= SMB2_GLOBAL_CAP_MULTI_CHANNEL;
  }
  // MS-SMB2 3.3.5.4: directory leasing only on the 3.x dialects.
  if (d >= SMB2_DIALECT_300 && d != SMB2_DIALECT_WILDCARD && s.config.global.smb3_directory_leases)
    r->capabilities |= SMB2_GLOBAL_CAP_DIRECTORY_LEASING;
  r->max_transact_size = r->max_read_size = r->max_write_size = io;
  r->system_time = vfs::ntTimeNow();
  r->server_start_time = 0;
  // Kerberos is offered first when a keytab is configured (as Windows and Samba order them).
  if (s.config.global.kerberos_keytab_file.empty()) {
    r->security_buffer = auth::spnegoNegotiateToken({auth::SpnegoMech::kNtlmssp});
  } else {
    r->security_buffer =
        auth::spnegoNegotiateToken({auth::SpnegoMech::kKerberosLegacy, auth::SpnegoMech::kKerberos,
                                    auth::SpnegoMech::kNtlmssp});
  }
  conn.server_security_mode = r->security_mode;
  conn.server_capabilities = r->capabilities;
  conn.max_transact_size = conn.max_read_size = conn.max_write_size = io;
}

// MS-SMB2 3.3.5.4: the highest dialect that both the client offers and "server min/max protocol"
// allow; 0 when there is none.
uint16_t selectDialect(const session::ServerContext& server, const NegotiateRequest& req) {
  for (uint16_t d :
       {SMB2_DIALECT_311, SMB2_DIALECT_302, SMB2_DIALECT_300, SMB2_DIALECT_210, SMB2_DIALECT_202}) {
    if (dialectAllowed(server, d) &&
        std::find(req.dialects.begin(), req.dialects.end(), d) != req.dialects.end()) {
      return d;
    }
  }
  return 0;
}

// MS-SMB2 3.3.5.4: the signing algorithm the dialect implies (AES-CMAC from 3.0, HMAC-SHA256
// before; 3.1.1 may change it through its signing context), and for 3.0 / 3.0.2 encryption with
// AES-128-CCM (their only cipher) when the client is capable, "server smb encrypt" is not off and
// "server smb3 encryption algorithms" allows it.
void selectDialectSecurity(RequestContext& ctx, const NegotiateRequest& req, uint16_t dialect,
                           NegotiateResponse* resp) {
  session::ConnState& conn = *ctx.conn;
  if (dialect < SMB2_DIALECT_300) {
    conn.signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
    return;
  }
  conn.signing_algorithm = crypto::SigningAlgorithm::kAesCmac;
  const auto& g = ctx.server->config.global;
  bool ccm_allowed =
      std::find(g.server_smb3_encryption_algorithms.begin(),
                g.server_smb3_encryption_algorithms.end(),
                SMB2_ENCRYPTION_AES128_CCM) != g.server_smb3_encryption_algorithms.end();
  if (dialect < SMB2_DIALECT_311 && (req.capabilities & SMB2_GLOBAL_CAP_ENCRYPTION) &&
      g.server_smb_encrypt != config::EncryptPolicy::kOff && ccm_allowed) {
    conn.cipher = SMB2_ENCRYPTION_AES128_CCM;
    resp->capabilities |= SMB2_GLOBAL_CAP_ENCRYPTION;
    conn.server_capabilities = resp->capabilities;
  }
}

// An algorithm list of a negotiate context: a 16-bit count, then that many 16-bit ids.
std::vector<uint16_t> readAlgorithms(ByteReader& r) {
  uint16_t count = r.u16();
  std::vector<uint16_t> offered;
  for (uint16_t i = 0; i < count && r.ok(); ++i) offered.push_back(r.u16());
  return offered;
}

// The first of the server's preferences that the client offers, else `none`.
uint16_t firstPreferred(const std::vector<uint16_t>& preferences,
                        const std::vector<uint16_t>& offered, uint16_t none) {
  for (uint16_t pref : preferences) {
    if (std::find(offered.begin(), offered.end(), pref) != offered.end()) return pref;
  }
  return none;
}

// The response context that names the one algorithm chosen (signing or cipher).
Bytes oneAlgorithm(uint16_t id) {
  ByteWriter w;
  w.u16(1);
  w.u16(id);
  return w.take();
}

// MS-SMB2 3.3.5.4 SMB2_PREAUTH_INTEGRITY_CAPABILITIES: whether the client offers SHA-512.
bool offersSha512(ByteReader& r) {
  uint16_t count = r.u16();
  r.u16();  // SaltLength
  bool sha512 = false;
  for (uint16_t i = 0; i < count && r.ok(); ++i) {
    if (r.u16() == SMB2_PREAUTH_HASH_SHA512 && r.ok()) sha512 = true;
  }
  return sha512;
}

// MS-SMB2 3.3.5.4 SMB2_SIGNING_CAPABILITIES: the first of "server smb3 signing algorithms" that the
// client offers (AES-CMAC when none is).
uint16_t selectSigningAlgorithm(RequestContext& ctx, ByteReader& r) {
  std::vector<uint16_t> offered = readAlgorithms(r);
  uint16_t alg = firstPreferred(ctx.server->config.global.server_smb3_signing_algorithms, offered,
                                SMB2_SIGNING_AES_CMAC);
  ctx.conn->signing_algorithm = alg == SMB2_SIGNING_AES_GMAC ? crypto::SigningAlgorithm::kAesGmac
                                : alg == SMB2_SIGNING_HMAC_SHA256
                                    ? crypto::SigningAlgorithm::kHmacSha256
                                    : crypto::SigningAlgorithm::kAesCmac;
  return alg;
}

// MS-SMB2 3.3.5.4 SMB2_ENCRYPTION_CAPABILITIES: the first of "server smb3 encryption algorithms"
// (the server's order of preference, as Samba's default) that the client offers; 0 = no common
// cipher, and always 0 when "server smb encrypt" is off.
uint16_t selectCipher(RequestContext& ctx, ByteReader& r) {
  std::vector<uint16_t> offered = readAlgorithms(r);
  const auto& g = ctx.server->config.global;
  const std::vector<uint16_t> none;
  ctx.conn->cipher = firstPreferred(g.server_smb_encrypt == config::EncryptPolicy::kOff
                                        ? none
                                        : g.server_smb3_encryption_algorithms,
                                    offered, 0);
  return ctx.conn->cipher;
}

// MS-SMB2 3.3.5.4 SMB2_TRANSPORT_CAPABILITIES (2.2.3.1.5), on a QUIC connection only: a
// client that trusts the transport's encryption (SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY) gets
// the same flag back (2.2.4.1.5), and the connection skips SMB3 encryption.
void acceptTransportSecurity(session::ConnState& conn, ByteReader& r, NegotiateResponse* resp) {
  const uint32_t flags = r.u32();
  if (!r.ok() || !(flags & SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY)) return;
  conn.accept_transport_security = true;
  ByteWriter w;
  w.u32(SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY);
  resp->contexts.emplace_back(SMB2_TRANSPORT_CAPABILITIES, w.take());
}

// MS-SMB2 3.3.5.4, dialect 3.1.1: the negotiate contexts choose the signing algorithm and the
// cipher (each answered with a context of the one chosen); a request without SHA-512 preauth
// integrity is invalid. The response's preauth context (SHA-512, a fresh salt) comes first, and
// the connection's PreauthIntegrityHashValue starts from this request; the dispatcher adds the
// response (preauth_connection).
NtStatus negotiateContexts311(RequestContext& ctx, const NegotiateRequest& req,
                              NegotiateResponse* resp) {
  session::ConnState& conn = *ctx.conn;
  bool has_preauth = false;
  for (const NegotiateContext& c : req.contexts) {
    ByteReader r(c.data);
    if (c.type == SMB2_PREAUTH_INTEGRITY_CAPABILITIES) {
      if (offersSha512(r)) has_preauth = true;
    } else if (c.type == SMB2_SIGNING_CAPABILITIES) {
      resp->contexts.emplace_back(SMB2_SIGNING_CAPABILITIES,
                                  oneAlgorithm(selectSigningAlgorithm(ctx, r)));
    } else if (c.type == SMB2_ENCRYPTION_CAPABILITIES) {
      resp->contexts.emplace_back(SMB2_ENCRYPTION_CAPABILITIES, oneAlgorithm(selectCipher(ctx, r)));
    } else if (c.type == SMB2_TRANSPORT_CAPABILITIES && conn.over_quic) {
      acceptTransportSecurity(conn, r, resp);
    }
  }
  if (!has_preauth) return STATUS_INVALID_PARAMETER;
  ByteWriter w;
  w.u16(1);   // HashAlgorithmCount
  w.u16(32);  // SaltLength
  w.u16(SMB2_PREAUTH_HASH_SHA512);
  uint8_t salt[32];
  crypto::randomBytes(salt);
  w.bytes(salt, sizeof(salt));
  resp->contexts.insert(resp->contexts.begin(), {SMB2_PREAUTH_INTEGRITY_CAPABILITIES, w.take()});
  std::array<uint8_t, 64> zero{};
  conn.preauth_hash = crypto::sha512Concat(zero, ctx.message);
  ctx.preauth_connection = true;
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus handleNegotiate(RequestContext& ctx, ResponseBody& out) {
  session::ConnState& conn = *ctx.conn;
  if (conn.negotiated) {
    // MS-SMB2 3.3.5.3: a second NEGOTIATE on a connection ends it.
    conn.disconnect = true;
    return STATUS_INVALID_PARAMETER;
  }
  NegotiateRequest req;
  if (NtStatus st = decodeNegotiateRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  uint16_t chosen = selectDialect(*ctx.server, req);
  // MS-SMB2 2.1: SMB over QUIC is 3.1.1 only.
  if (chosen == 0 || (conn.over_quic && chosen != SMB2_DIALECT_311)) return STATUS_NOT_SUPPORTED;

  NegotiateResponse resp;
  prepareResponse(conn, chosen, &resp);
  conn.client_security_mode = req.security_mode;
  conn.client_capabilities = req.capabilities;
  conn.client_guid = req.client_guid;
  conn.client_dialects = req.dialects;
  selectDialectSecurity(ctx, req, chosen, &resp);
  if (chosen == SMB2_DIALECT_311) {
    if (NtStatus st = negotiateContexts311(ctx, req, &resp); st != STATUS_SUCCESS) return st;
  }
  conn.dialect = chosen;
  conn.negotiated = true;
  out = std::move(resp);
  return STATUS_SUCCESS;
}

std::optional<NegotiateResponse> handleSmb1Negotiate(session::ConnState& conn, ByteSpan msg) {
  // SMB1 header (32 bytes), WordCount, ByteCount, then 0x02-prefixed NUL-terminated dialects.
  ByteReader r(msg);
  r.skip(4);
  if (r.u8() != 0x72) return std::nullopt;
  r.seek(32);
  uint8_t word_count = r.u8();
  r.skip(size_t{word_count} * 2);
  uint16_t byte_count = r.u16();
  ByteSpan strings = r.bytes(std::min<size_t>(byte_count, r.remaining()));
  if (!r.ok()) return std::nullopt;
  bool wildcard = false, smb2002 = false;
  std::string cur;
  for (uint8_t b : strings) {
    if (b == 0) {
      if (cur == "SMB 2.???") wildcard = true;
      if (cur == "SMB 2.002") smb2002 = true;
      cur.clear();
    } else if (b != 0x02 || !cur.empty()) {
      cur.push_back(static_cast<char>(b));
    }
  }
  const auto& g = conn.server->config.global;
  uint16_t dialect = 0;
  if (wildcard && g.server_max_protocol >= SMB2_DIALECT_210) {
    dialect = SMB2_DIALECT_WILDCARD;
  } else if ((wildcard || smb2002) && g.server_min_protocol <= SMB2_DIALECT_202) {
    dialect = SMB2_DIALECT_202;
  }
  if (dialect == 0 || (conn.over_quic && dialect == SMB2_DIALECT_202)) return std::nullopt;

  NegotiateResponse resp;
  prepareResponse(conn, dialect, &resp);
  if (dialect == SMB2_DIALECT_202) {
    conn.dialect = dialect;
    conn.negotiated = true;
    conn.signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  }
  // The SMB1 request used MessageId 0; the SMB2 exchange continues at 1.
  conn.credits.consume(0, 1);
  conn.credits.grant(1);
  return resp;
}

}  // namespace xsmb::handlers
