// NEGOTIATE (MS-SMB2 3.3.5.3 / 3.3.5.4) and the SMB1 upgrade path (3.3.5.3.1).
#include <algorithm>

#include "server/auth/spnego.h"
#include "common/crypto/crypto.h"
#include "server/handlers/handler.h"
#include "server/vfs/attributes.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t kSmallIoSize = 64 * 1024;        // 2.0.2 has no multi-credit requests

bool dialectAllowed(const session::ServerContext& s, uint16_t d) {
  return d >= s.config.global.server_min_protocol && d <= s.config.global.server_max_protocol;
}

// Common part of both NEGOTIATE paths: fills `r` and the connection for dialect `d`.
void prepareResponse(session::ConnState& conn, uint16_t d, NegotiateResponse* r,
                     Bytes* spnego_token) {
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
    io = s.max_io_size;
  }
  r->max_transact_size = r->max_read_size = r->max_write_size = io;
  r->system_time = vfs::ntTimeNow();
  r->server_start_time = 0;
  // Kerberos is offered first when a keytab is configured (as Windows and Samba order them).
  if (s.config.global.kerberos_keytab_file.empty()) {
    *spnego_token = auth::spnegoNegotiateToken({auth::SpnegoMech::kNtlmssp});
  } else {
    *spnego_token = auth::spnegoNegotiateToken({auth::SpnegoMech::kKerberosLegacy,
                                                auth::SpnegoMech::kKerberos,
                                                auth::SpnegoMech::kNtlmssp});
  }
  r->security_buffer = *spnego_token;
  conn.server_security_mode = r->security_mode;
  conn.server_capabilities = r->capabilities;
  conn.max_transact_size = conn.max_read_size = conn.max_write_size = io;
}

}  // namespace

NtStatus handleNegotiate(RequestContext& ctx, ByteWriter& body) {
  session::ConnState& conn = *ctx.conn;
  if (conn.negotiated) {
    // MS-SMB2 3.3.5.3: a second NEGOTIATE on a connection ends it.
    conn.disconnect = true;
    return STATUS_INVALID_PARAMETER;
  }
  NegotiateRequest req;
  if (NtStatus st = decodeNegotiateRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  uint16_t chosen = 0;
  for (uint16_t d :
       {SMB2_DIALECT_311, SMB2_DIALECT_302, SMB2_DIALECT_300, SMB2_DIALECT_210, SMB2_DIALECT_202}) {
    if (dialectAllowed(*ctx.server, d) &&
        std::find(req.dialects.begin(), req.dialects.end(), d) != req.dialects.end()) {
      chosen = d;
      break;
    }
  }
  if (chosen == 0) return STATUS_NOT_SUPPORTED;

  NegotiateResponse resp;
  Bytes token;
  prepareResponse(conn, chosen, &resp, &token);
  conn.client_security_mode = req.security_mode;
  conn.client_capabilities = req.capabilities;
  conn.client_guid = req.client_guid;
  conn.client_dialects = req.dialects;

  if (chosen >= SMB2_DIALECT_300) {
    conn.signing_algorithm = crypto::SigningAlgorithm::kAesCmac;
    const auto& g = ctx.server->config.global;
    bool ccm_allowed = std::find(g.server_smb3_encryption_algorithms.begin(),
                                 g.server_smb3_encryption_algorithms.end(),
                                 SMB2_ENCRYPTION_AES128_CCM) !=
                       g.server_smb3_encryption_algorithms.end();
    if (chosen < SMB2_DIALECT_311 && (req.capabilities & SMB2_GLOBAL_CAP_ENCRYPTION) &&
        g.server_smb_encrypt != config::EncryptPolicy::kOff && ccm_allowed) {
      conn.cipher = SMB2_ENCRYPTION_AES128_CCM;  // the only cipher of 3.0 / 3.0.2
      resp.capabilities |= SMB2_GLOBAL_CAP_ENCRYPTION;
      conn.server_capabilities = resp.capabilities;
    }
  } else {
    conn.signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  }
  if (chosen == SMB2_DIALECT_311) {
    bool has_preauth = false;
    for (const NegotiateContext& c : req.contexts) {
      ByteReader r(c.data);
      if (c.type == SMB2_PREAUTH_INTEGRITY_CAPABILITIES) {
        uint16_t count = r.u16();
        r.u16();  // SaltLength
        for (uint16_t i = 0; i < count && r.ok(); ++i) {
          if (r.u16() == SMB2_PREAUTH_HASH_SHA512 && r.ok()) has_preauth = true;
        }
      } else if (c.type == SMB2_SIGNING_CAPABILITIES) {
        // The first of the server's preferences that the client offers (MS-SMB2 3.3.5.4).
        uint16_t count = r.u16();
        std::vector<uint16_t> offered;
        for (uint16_t i = 0; i < count && r.ok(); ++i) offered.push_back(r.u16());
        uint16_t chosen_alg = SMB2_SIGNING_AES_CMAC;
        for (uint16_t pref : ctx.server->config.global.server_smb3_signing_algorithms) {
          if (std::find(offered.begin(), offered.end(), pref) != offered.end()) {
            chosen_alg = pref;
            break;
          }
        }
        conn.signing_algorithm = chosen_alg == SMB2_SIGNING_AES_GMAC ? crypto::SigningAlgorithm::kAesGmac
                                 : chosen_alg == SMB2_SIGNING_HMAC_SHA256
                                     ? crypto::SigningAlgorithm::kHmacSha256
                                     : crypto::SigningAlgorithm::kAesCmac;
        ByteWriter w;
        w.u16(1);
        w.u16(chosen_alg);
        resp.contexts.emplace_back(SMB2_SIGNING_CAPABILITIES, w.take());
      } else if (c.type == SMB2_ENCRYPTION_CAPABILITIES) {
        // The server's order of preference, as Samba's default; 0 = no common cipher.
        uint16_t count = r.u16();
        std::vector<uint16_t> offered;
        for (uint16_t i = 0; i < count && r.ok(); ++i) offered.push_back(r.u16());
        uint16_t cipher = 0;
        const auto& g = ctx.server->config.global;
        const std::vector<uint16_t> none;
        for (uint16_t pref : g.server_smb_encrypt == config::EncryptPolicy::kOff
                                 ? none
                                 : g.server_smb3_encryption_algorithms) {
          if (std::find(offered.begin(), offered.end(), pref) != offered.end()) {
            cipher = pref;
            break;
          }
        }
        conn.cipher = cipher;
        ByteWriter w;
        w.u16(1);
        w.u16(cipher);
        resp.contexts.emplace_back(SMB2_ENCRYPTION_CAPABILITIES, w.take());
      }
    }
    // MS-SMB2 3.3.5.4: a 3.1.1 NEGOTIATE without SHA-512 preauth integrity is invalid.
    if (!has_preauth) return STATUS_INVALID_PARAMETER;
    ByteWriter w;
    w.u16(1);   // HashAlgorithmCount
    w.u16(32);  // SaltLength
    w.u16(SMB2_PREAUTH_HASH_SHA512);
    uint8_t salt[32];
    crypto::randomBytes(salt);
    w.bytes(salt, sizeof(salt));
    resp.contexts.insert(resp.contexts.begin(), {SMB2_PREAUTH_INTEGRITY_CAPABILITIES, w.take()});
    std::array<uint8_t, 64> zero{};
    conn.preauth_hash = crypto::sha512Concat(zero, ctx.message);
    ctx.preauth_connection = true;
  }
  conn.dialect = chosen;
  conn.negotiated = true;
  encodeNegotiateResponse(resp, body);
  return STATUS_SUCCESS;
}

Bytes handleSmb1Negotiate(session::ConnState& conn, ByteSpan msg) {
  // SMB1 header (32 bytes), WordCount, ByteCount, then 0x02-prefixed NUL-terminated dialects.
  ByteReader r(msg);
  r.skip(4);
  if (r.u8() != 0x72) return {};
  r.seek(32);
  uint8_t word_count = r.u8();
  r.skip(size_t{word_count} * 2);
  uint16_t byte_count = r.u16();
  ByteSpan strings = r.bytes(std::min<size_t>(byte_count, r.remaining()));
  if (!r.ok()) return {};
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
  if (dialect == 0) return {};

  NegotiateResponse resp;
  Bytes token;
  prepareResponse(conn, dialect, &resp, &token);
  if (dialect == SMB2_DIALECT_202) {
    conn.dialect = dialect;
    conn.negotiated = true;
    conn.signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  }
  // The SMB1 request used MessageId 0; the SMB2 exchange continues at 1.
  conn.credits.consume(0, 1);
  conn.credits.grant(1);
  Header h;
  h.command = SMB2_NEGOTIATE;
  h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
  h.credits = 1;
  ByteWriter w;
  encodeHeader(h, w);
  encodeNegotiateResponse(resp, w);
  return w.take();
}

}  // namespace xsmb::handlers
