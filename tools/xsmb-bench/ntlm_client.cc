#include "tools/xsmb-bench/ntlm_client.h"

#include <cstring>

#include "common/base/unicode.h"
#include "common/crypto/ntlm.h"

namespace xsmb::bench {
namespace {

// One "fields" triple (Len, MaxLen, Offset) pointing at `data` appended to `payload`, whose
// first byte sits at `payload_base` in the message.
void putField(ByteWriter& w, size_t field_off, Bytes& payload, size_t payload_base, ByteSpan data) {
  w.patchU16(field_off, static_cast<uint16_t>(data.size()));
  w.patchU16(field_off + 2, static_cast<uint16_t>(data.size()));
  w.patchU32(field_off + 4, static_cast<uint32_t>(payload_base + payload.size()));
  payload.insert(payload.end(), data.begin(), data.end());
}

Bytes der(uint8_t tag, ByteSpan content) {
  ByteWriter w;
  w.u8(tag);
  size_t n = content.size();
  if (n < 0x80) {
    w.u8(static_cast<uint8_t>(n));
  } else if (n < 0x100) {
    w.u8(0x81);
    w.u8(static_cast<uint8_t>(n));
  } else if (n < 0x10000) {
    w.u8(0x82);
    w.u16be(static_cast<uint16_t>(n));
  } else {
    w.u8(0x83);
    w.u8(static_cast<uint8_t>(n >> 16));
    w.u16be(static_cast<uint16_t>(n));
  }
  w.bytes(content);
  return w.take();
}

Bytes concat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Reads one DER TLV (definite length up to 3 length bytes). False on malformed input.
bool readTlv(ByteReader& r, uint8_t* tag, ByteSpan* value) {
  *tag = r.u8();
  uint8_t first = r.u8();
  size_t len = first;
  if (first & 0x80) {
    size_t nbytes = first & 0x7f;
    if (nbytes == 0 || nbytes > 3) return false;
    len = 0;
    for (size_t i = 0; i < nbytes; ++i) len = (len << 8) | r.u8();
  }
  *value = r.bytes(len);
  return r.ok();
}

// Within a SEQUENCE of [n] elements, the OCTET STRING content of element [want].
std::optional<Bytes> octetsOfElement(ByteSpan seq_content, uint8_t want_tag) {
  ByteReader r(seq_content);
  while (r.remaining() > 0) {
    uint8_t tag;
    ByteSpan v;
    if (!readTlv(r, &tag, &v)) return std::nullopt;
    if (tag != want_tag) continue;
    ByteReader inner(v);
    uint8_t itag;
    ByteSpan octets;
    if (!readTlv(inner, &itag, &octets) || itag != 0x04) return std::nullopt;
    return Bytes(octets.begin(), octets.end());
  }
  return std::nullopt;
}

bool isNtlmssp(ByteSpan token) {
  return token.size() >= 8 && std::memcmp(token.data(), kNtlmSignature, 8) == 0;
}

// What the AUTHENTICATE_MESSAGE needs of a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
struct ChallengeMessage {
  uint32_t flags = 0;                 // NegotiateFlags
  ByteSpan server_challenge;          // 8 bytes
  ByteSpan target_info;               // AV_PAIRs
  std::optional<uint64_t> timestamp;  // MsvAvTimestamp (FILETIME), when the server sent one
};

// The server's MsvAvTimestamp in TargetInfo, when present: the one the NTLMv2 blob must carry.
std::optional<uint64_t> serverTimestamp(ByteSpan target_info) {
  std::optional<uint64_t> server_time;
  ByteReader av(target_info);
  while (av.remaining() >= 4) {
    uint16_t id = av.u16();
    uint16_t len = av.u16();
    ByteSpan value = av.bytes(len);
    if (!av.ok() || id == MsvAvEOL) break;
    if (id == MsvAvTimestamp && len == 8) server_time = ByteReader(value).u64();
  }
  return server_time;
}

// Spans into `challenge`; InvalidArgument when it is not a CHALLENGE_MESSAGE or its TargetInfo
// lies outside it.
absl::StatusOr<ChallengeMessage> parseChallenge(ByteSpan challenge) {
  ByteReader r(challenge);
  ByteSpan sig = r.bytes(8);
  uint32_t type = r.u32();
  r.skip(8);  // TargetNameFields
  ChallengeMessage out;
  out.flags = r.u32();
  out.server_challenge = r.bytes(8);
  r.skip(8);  // Reserved
  uint16_t ti_len = r.u16();
  r.u16();
  uint32_t ti_off = r.u32();
  if (!r.ok() || std::memcmp(sig.data(), kNtlmSignature, 8) != 0 || type != kNtlmChallengeMessage) {
    return absl::InvalidArgumentError("not an NTLMSSP CHALLENGE_MESSAGE");
  }
  out.target_info = r.slice(ti_off, ti_len);
  if (!r.ok()) return absl::InvalidArgumentError("TargetInfo outside the CHALLENGE_MESSAGE");
  out.timestamp = serverTimestamp(out.target_info);
  return out;
}

// The response fields of an AUTHENTICATE_MESSAGE and the key they establish.
struct Responses {
  Bytes lm, nt;
  Bytes encrypted_key;  // EncryptedRandomSessionKey, empty without KEY_EXCH
  crypto::Key16 exported_key{};
};

// MS-NLMP 3.3.2 NTLMv2 and LMv2 responses (LMv2 zeros when the server sent a timestamp) and,
// with `key_exch`, a random exported session key (`fixed_key` when set) RC4-encrypted under the
// session base key.
Responses ntlmV2Responses(const NtlmCredentials& creds, const ChallengeMessage& ch,
                          const std::array<uint8_t, 8>& client_challenge, uint64_t timestamp,
                          bool key_exch, const std::optional<crypto::Key16>& fixed_key) {
  Responses out;
  crypto::Key16 response_key =
      crypto::ntowfV2(crypto::ntHash(creds.password), creds.user, creds.domain);
  ByteWriter temp;
  temp.u8(1);  // RespType
  temp.u8(1);  // HiRespType
  temp.zeros(6);
  temp.u64(timestamp);
  temp.bytes(client_challenge.data(), 8);
  temp.zeros(4);
  temp.bytes(ch.target_info);
  temp.zeros(4);
  Bytes proof_input = concat({ch.server_challenge, temp.buf()});
  crypto::Key16 nt_proof = crypto::hmacMd5(response_key, proof_input);
  out.nt = concat({nt_proof, temp.buf()});
  if (ch.timestamp) {
    out.lm.assign(24, 0);  // MS-NLMP 3.1.5.1.2: no LMv2 response with a timestamp
  } else {
    Bytes lm_input = concat({ch.server_challenge, client_challenge});
    crypto::Key16 lm = crypto::hmacMd5(response_key, lm_input);
    out.lm = concat({lm, client_challenge});
  }
  crypto::Key16 session_base_key = crypto::hmacMd5(response_key, nt_proof);
  out.exported_key = session_base_key;  // KeyExchangeKey == SessionBaseKey for NTLMv2
  if (key_exch) {
    if (fixed_key) {
      out.exported_key = *fixed_key;
    } else {
      crypto::randomBytes(out.exported_key);
    }
    out.encrypted_key = crypto::rc4(session_base_key, out.exported_key);
  }
  return out;
}

// MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE: the fixed part with Version and a zero MIC, then the
// payload in field order.
Bytes authenticateBody(uint32_t flags, const Responses& responses, const NtlmCredentials& creds) {
  constexpr size_t kPayloadBase = 88;  // fixed part incl. Version and MIC
  ByteWriter w;
  w.bytes(kNtlmSignature, 8);
  w.u32(kNtlmAuthenticateMessage);
  w.zeros(6 * 8);  // six fields, patched below
  w.u32(flags);
  w.bytes(kNtlmVersion, 8);
  w.zeros(16);  // MIC: not sent
  Bytes payload;
  putField(w, 12, payload, kPayloadBase, responses.lm);
  putField(w, 20, payload, kPayloadBase, responses.nt);
  putField(w, 28, payload, kPayloadBase, utf8ToUtf16le(creds.domain));
  putField(w, 36, payload, kPayloadBase, utf8ToUtf16le(creds.user));
  putField(w, 44, payload, kPayloadBase, utf8ToUtf16le(creds.workstation));
  putField(w, 52, payload, kPayloadBase, responses.encrypted_key);
  w.bytes(payload);
  return w.take();
}

}  // namespace

NtlmClient::NtlmClient(NtlmCredentials creds) : creds_(std::move(creds)) {}

NtlmClient::NtlmClient(NtlmCredentials creds, std::array<uint8_t, 8> client_challenge,
                       crypto::Key16 exported_session_key, uint64_t timestamp_filetime)
    : creds_(std::move(creds)),
      fixed_challenge_(client_challenge),
      fixed_session_key_(exported_session_key),
      fixed_timestamp_(timestamp_filetime) {}

Bytes NtlmClient::negotiateMessage() {
  flags_ = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_NTLM |
           NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
           NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP_NEGOTIATE_VERSION |
           NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56;
  ByteWriter w;
  w.bytes(kNtlmSignature, 8);
  w.u32(kNtlmNegotiateMessage);
  w.u32(flags_);
  w.zeros(8);  // DomainNameFields
  w.zeros(8);  // WorkstationFields
  w.bytes(kNtlmVersion, 8);
  return w.take();
}

absl::StatusOr<Bytes> NtlmClient::authenticateMessage(ByteSpan challenge) {
  auto parsed = parseChallenge(challenge);
  if (!parsed.ok()) return parsed.status();
  const ChallengeMessage& ch = *parsed;
  // Agreed flags: what both sides offered (MS-NLMP 3.1.5.1.2).
  flags_ &= ch.flags | NTLMSSP_NEGOTIATE_VERSION;

  std::array<uint8_t, 8> client_challenge{};
  if (fixed_challenge_) {
    client_challenge = *fixed_challenge_;
  } else {
    crypto::randomBytes(client_challenge);
  }
  uint64_t timestamp = ch.timestamp
                           ? *ch.timestamp
                           : (fixed_challenge_ ? fixed_timestamp_ : crypto::ntlmTimestampNow());

  Responses responses;
  if (!creds_.user.empty()) {
    responses = ntlmV2Responses(creds_, ch, client_challenge, timestamp,
                                (flags_ & NTLMSSP_NEGOTIATE_KEY_EXCH) != 0, fixed_session_key_);
  } else {
    flags_ |= NTLMSSP_ANONYMOUS;
    flags_ &= ~NTLMSSP_NEGOTIATE_KEY_EXCH;
    responses.lm.assign(1, 0);
  }
  session_key_ = responses.exported_key;
  return authenticateBody(flags_, responses, creds_);
}

Bytes spnegoInitToken(ByteSpan ntlm_negotiate) {
  static constexpr uint8_t kSpnegoOid[] = {0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
  static constexpr uint8_t kNtlmOid[] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                         0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
  Bytes mech_types = der(0xa0, der(0x30, kNtlmOid));
  Bytes mech_token = der(0xa2, der(0x04, ntlm_negotiate));
  Bytes init = der(0xa0, der(0x30, concat({mech_types, mech_token})));
  return der(0x60, concat({kSpnegoOid, init}));
}

Bytes spnegoResponseToken(ByteSpan ntlm_authenticate) {
  return der(0xa1, der(0x30, der(0xa2, der(0x04, ntlm_authenticate))));
}

std::optional<Bytes> ntlmFromSpnego(ByteSpan token) {
  if (isNtlmssp(token)) return Bytes(token.begin(), token.end());
  ByteReader r(token);
  uint8_t tag;
  ByteSpan v;
  if (!readTlv(r, &tag, &v)) return std::nullopt;
  if (tag == 0xa1) {  // negTokenResp: SEQUENCE { [0] negState, [1] mech, [2] responseToken }
    ByteReader seq(v);
    uint8_t stag;
    ByteSpan sv;
    if (!readTlv(seq, &stag, &sv) || stag != 0x30) return std::nullopt;
    return octetsOfElement(sv, 0xa2);
  }
  if (tag == 0x60) {  // InitialContextToken: OID, [0] negTokenInit SEQUENCE {.., [2] mechToken}
    ByteReader app(v);
    uint8_t otag;
    ByteSpan oid;
    if (!readTlv(app, &otag, &oid) || otag != 0x06) return std::nullopt;
    uint8_t itag;
    ByteSpan init;
    if (!readTlv(app, &itag, &init) || itag != 0xa0) return std::nullopt;
    ByteReader seq(init);
    uint8_t stag;
    ByteSpan sv;
    if (!readTlv(seq, &stag, &sv) || stag != 0x30) return std::nullopt;
    return octetsOfElement(sv, 0xa2);
  }
  return std::nullopt;
}

}  // namespace xsmb::bench
