#include "server/auth/ntlmssp.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "common/base/unicode.h"

namespace xsmb::auth {
namespace {

constexpr size_t kChallengeHeaderSize = 56;  // through Version, MS-NLMP 2.2.1.2
constexpr size_t kAuthenticateMicOffset = 72;  // MS-NLMP 2.2.1.3
constexpr size_t kNtlmV2MinResponse = 16 + 28;  // NTProofStr + fixed part of the client blob

// The flags this server can honour; anything else the client asks for is dropped.
constexpr uint32_t kSupportedFlags =
    NTLMSSP_NEGOTIATE_UNICODE | NTLM_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET |
    NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_NTLM |
    NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 |
    NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56;

absl::Status malformed(std::string_view what) {
  return absl::InvalidArgumentError(std::string("NTLMSSP: ") + std::string(what));
}

bool checkHeader(ByteReader& r, uint32_t type) {
  ByteSpan sig = r.bytes(sizeof(kNtlmSignature));
  uint32_t t = r.u32();
  return r.ok() && std::equal(sig.begin(), sig.end(), kNtlmSignature) && t == type;
}

// A (Len, MaxLen, BufferOffset) field of MS-NLMP 2.2.1; the payload it points at must lie
// inside the message.
struct Field {
  uint16_t len = 0;
  uint32_t offset = 0;
};

Field readField(ByteReader& r) {
  Field f;
  f.len = r.u16();
  r.u16();  // MaxLen: ignored on receipt
  f.offset = r.u32();
  return f;
}

ByteSpan fieldBytes(ByteReader& r, const Field& f) {
  if (f.len == 0) return {};
  return r.slice(f.offset, f.len);
}

std::optional<std::string> decodeString(ByteSpan b, bool unicode) {
  if (unicode) return utf16leToUtf8(b);
  // OEM strings: only ASCII is accepted, as a code page is not negotiated.
  std::string s(b.begin(), b.end());
  for (unsigned char c : s) {
    if (c >= 0x80) return std::nullopt;
  }
  return s;
}

void appendString(std::string_view s, bool unicode, Bytes* out) {
  if (unicode) {
    appendUtf16le(s, out);
  } else {
    out->insert(out->end(), s.begin(), s.end());
  }
}

void appendAvPair(ByteWriter& w, uint16_t id, ByteSpan value) {
  w.u16(id);
  w.u16(static_cast<uint16_t>(value.size()));
  w.bytes(value);
}

void appendAvString(ByteWriter& w, uint16_t id, std::string_view s) {
  if (s.empty()) return;
  Bytes v = utf8ToUtf16le(s);
  appendAvPair(w, id, v);
}

// Walks the AV_PAIR list of an NTLMv2 client challenge (MS-NLMP 2.2.2.1) and returns the
// MsvAvFlags value (0 when absent); nullopt if the list is malformed or lacks MsvAvEOL.
std::optional<uint32_t> avFlags(ByteSpan av_pairs) {
  ByteReader r(av_pairs);
  uint32_t flags = 0;
  while (r.ok()) {
    uint16_t id = r.u16();
    uint16_t len = r.u16();
    ByteSpan value = r.bytes(len);
    if (!r.ok()) return std::nullopt;
    if (id == MsvAvEOL) return flags;
    if (id == MsvAvFlags) {
      if (len != 4) return std::nullopt;
      flags = loadU32(value.data());
    }
  }
  return std::nullopt;
}

}  // namespace

NtlmServer::NtlmServer(NtlmServerConfig cfg) : cfg_(std::move(cfg)) {
  crypto::randomBytes(server_challenge_);
}

NtlmServer::NtlmServer(NtlmServerConfig cfg, std::array<uint8_t, 8> server_challenge,
                       uint64_t timestamp_filetime)
    : cfg_(std::move(cfg)),
      server_challenge_(server_challenge),
      fixed_timestamp_(timestamp_filetime) {}

absl::StatusOr<Bytes> NtlmServer::negotiate(ByteSpan negotiate_message) {
  ByteReader r(negotiate_message);
  if (!checkHeader(r, kNtlmNegotiateMessage)) return malformed("bad NEGOTIATE_MESSAGE header");
  uint32_t client_flags = r.u32();
  if (!r.ok()) return malformed("NEGOTIATE_MESSAGE too short");
  // DomainNameFields / WorkstationFields, when present, must point inside the message.
  if (r.remaining() >= 16) {
    Field domain = readField(r);
    Field workstation = readField(r);
    if ((client_flags & NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED) && domain.len) {
      fieldBytes(r, domain);
    }
    if ((client_flags & NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED) && workstation.len) {
      fieldBytes(r, workstation);
    }
    if (!r.ok()) return malformed("NEGOTIATE_MESSAGE field out of range");
  }

  uint32_t flags = client_flags & kSupportedFlags;
  // NTLMv2 needs NTLM, TargetInfo and a target type; Unicode is preferred over OEM.
  flags |= NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_TARGET_TYPE_SERVER;
  if (flags & NTLMSSP_NEGOTIATE_UNICODE) flags &= ~NTLM_NEGOTIATE_OEM;
  if (!(flags & (NTLMSSP_NEGOTIATE_UNICODE | NTLM_NEGOTIATE_OEM))) {
    flags |= NTLMSSP_NEGOTIATE_UNICODE;
  }
  bool unicode = flags & NTLMSSP_NEGOTIATE_UNICODE;

  Bytes target_name;
  appendString(cfg_.netbios_domain, unicode, &target_name);

  ByteWriter info;
  appendAvString(info, MsvAvNbDomainName, cfg_.netbios_domain);
  appendAvString(info, MsvAvNbComputerName, cfg_.netbios_name);
  appendAvString(info, MsvAvDnsDomainName, cfg_.dns_domain);
  appendAvString(info, MsvAvDnsComputerName, cfg_.dns_name);
  uint8_t ts[8];
  storeU64(ts, fixed_timestamp_ ? *fixed_timestamp_ : crypto::ntlmTimestampNow());
  appendAvPair(info, MsvAvTimestamp, ByteSpan(ts, 8));
  appendAvPair(info, MsvAvEOL, {});
  Bytes target_info = info.take();

  ByteWriter w;
  w.bytes(kNtlmSignature, sizeof(kNtlmSignature));
  w.u32(kNtlmChallengeMessage);
  size_t target_name_offset = kChallengeHeaderSize;
  size_t target_info_offset = target_name_offset + target_name.size();
  w.u16(static_cast<uint16_t>(target_name.size()));
  w.u16(static_cast<uint16_t>(target_name.size()));
  w.u32(static_cast<uint32_t>(target_name_offset));
  w.u32(flags);
  w.bytes(server_challenge_.data(), server_challenge_.size());
  w.zeros(8);  // Reserved
  w.u16(static_cast<uint16_t>(target_info.size()));
  w.u16(static_cast<uint16_t>(target_info.size()));
  w.u32(static_cast<uint32_t>(target_info_offset));
  // Version is sent whether or not the client asked: its bytes are reserved otherwise, and
  // the payload offsets stay fixed.
  w.bytes(kNtlmVersion, sizeof(kNtlmVersion));
  w.bytes(target_name);
  w.bytes(target_info);

  negotiate_message_.assign(negotiate_message.begin(), negotiate_message.end());
  challenge_message_ = w.take();
  negotiate_flags_ = flags;
  have_keys_ = false;
  return challenge_message_;
}

absl::Status NtlmServer::restoreExchangeForTest(ByteSpan negotiate_message,
                                                ByteSpan challenge_message) {
  ByteReader r(challenge_message);
  if (!checkHeader(r, kNtlmChallengeMessage)) return malformed("bad CHALLENGE_MESSAGE header");
  readField(r);  // TargetNameFields
  uint32_t flags = r.u32();
  ByteSpan challenge = r.bytes(server_challenge_.size());
  if (!r.ok()) return malformed("CHALLENGE_MESSAGE too short");
  std::copy(challenge.begin(), challenge.end(), server_challenge_.begin());
  negotiate_message_.assign(negotiate_message.begin(), negotiate_message.end());
  challenge_message_.assign(challenge_message.begin(), challenge_message.end());
  negotiate_flags_ = flags;
  have_keys_ = false;
  return absl::OkStatus();
}

absl::StatusOr<NtlmResult> NtlmServer::authenticate(ByteSpan authenticate_message,
                                                    const NtHashLookup& lookup) {
  if (challenge_message_.empty()) return absl::FailedPreconditionError("NTLMSSP: no challenge");
  ByteReader r(authenticate_message);
  if (!checkHeader(r, kNtlmAuthenticateMessage)) {
    return malformed("bad AUTHENTICATE_MESSAGE header");
  }
  Field lm_f = readField(r);
  Field nt_f = readField(r);
  Field domain_f = readField(r);
  Field user_f = readField(r);
  Field ws_f = readField(r);
  Field key_f = readField(r);
  uint32_t auth_flags = r.u32();
  if (!r.ok()) return malformed("AUTHENTICATE_MESSAGE too short");
  ByteSpan lm = fieldBytes(r, lm_f);
  ByteSpan nt = fieldBytes(r, nt_f);
  ByteSpan domain_b = fieldBytes(r, domain_f);
  ByteSpan user_b = fieldBytes(r, user_f);
  ByteSpan ws_b = fieldBytes(r, ws_f);
  ByteSpan enc_key = fieldBytes(r, key_f);
  if (!r.ok()) return malformed("AUTHENTICATE_MESSAGE field out of range");

  uint32_t flags = auth_flags & negotiate_flags_;
  bool unicode = negotiate_flags_ & NTLMSSP_NEGOTIATE_UNICODE;
  auto user = decodeString(user_b, unicode);
  auto domain = decodeString(domain_b, unicode);
  auto workstation = decodeString(ws_b, unicode);
  if (!user || !domain || !workstation) return malformed("bad string encoding");

  NtlmResult result;
  result.user = *user;
  result.domain = *domain;
  result.workstation = *workstation;
  result.negotiate_flags = flags;
  have_keys_ = false;

  // MS-NLMP 3.2.5.1.2: anonymous is an empty user with empty NT and (empty or Z(1)) LM.
  if (user->empty() && nt.empty() && (lm.empty() || (lm.size() == 1 && lm[0] == 0))) {
    result.outcome = NtlmOutcome::kAnonymous;
    return result;
  }
  if (nt.size() < kNtlmV2MinResponse) {
    // NTLMv1 (24 bytes) or garbage: this server accepts NTLMv2 only.
    if (nt.size() == 24 || nt.empty()) {
      result.outcome = lookup(*user, *domain) ? NtlmOutcome::kWrongPassword
                                             : NtlmOutcome::kNoSuchUser;
      return result;
    }
    return malformed("NTLMv2 response too short");
  }
  ByteSpan nt_proof = nt.first(16);
  ByteSpan client_blob = nt.subspan(16);
  // NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7): RespType, HiRespType, reserved, TimeStamp,
  // ChallengeFromClient, reserved, then AvPairs.
  ByteReader blob(client_blob);
  uint8_t resp_type = blob.u8();
  uint8_t hi_resp_type = blob.u8();
  blob.skip(2 + 4 + 8 + 8 + 4);
  ByteSpan av_pairs = blob.bytes(blob.remaining());
  std::optional<uint32_t> msv_flags = avFlags(av_pairs);
  if (!blob.ok() || resp_type != 1 || hi_resp_type != 1 || !msv_flags) {
    result.outcome = NtlmOutcome::kMalformedResponse;
    return result;
  }

  std::optional<crypto::Key16> nt_hash = lookup(*user, *domain);
  if (!nt_hash) {
    result.outcome = NtlmOutcome::kNoSuchUser;
    return result;
  }

  Bytes challenge_and_blob(server_challenge_.begin(), server_challenge_.end());
  challenge_and_blob.insert(challenge_and_blob.end(), client_blob.begin(), client_blob.end());
  // The client may have used the domain it sent, none (local accounts), or ours.
  std::vector<std::string_view> domains = {*domain, ""};
  if (!equalsIgnoreCase(cfg_.netbios_domain, *domain)) domains.push_back(cfg_.netbios_domain);
  std::optional<crypto::Key16> response_key;
  for (std::string_view d : domains) {
    crypto::Key16 key = crypto::ntowfV2(*nt_hash, *user, d);
    crypto::Key16 proof = crypto::hmacMd5(key, challenge_and_blob);
    if (crypto::constantTimeEqual(proof, nt_proof)) {
      response_key = key;
      break;
    }
  }
  OPENSSL_cleanse(nt_hash->data(), nt_hash->size());
  if (!response_key) {
    result.outcome = NtlmOutcome::kWrongPassword;
    return result;
  }

  // MS-NLMP 3.3.2: SessionBaseKey; KXKEY (3.4.5.1) is the identity for NTLMv2.
  crypto::Key16 key_exchange_key = crypto::hmacMd5(*response_key, nt_proof);
  crypto::Key16 exported = key_exchange_key;
  if (flags & NTLMSSP_NEGOTIATE_KEY_EXCH) {
    if (enc_key.size() != 16) return malformed("EncryptedRandomSessionKey must be 16 bytes");
    Bytes k = crypto::rc4(key_exchange_key, enc_key);
    std::copy_n(k.begin(), 16, exported.begin());
  }

  if (*msv_flags & kMsvAvFlagMicPresent) {
    // The MIC sits at offset 72 (after Version); messages whose payload starts earlier cannot
    // carry one.
    uint32_t min_offset = UINT32_MAX;
    for (const Field* f : {&lm_f, &nt_f, &domain_f, &user_f, &ws_f, &key_f}) {
      if (f->len) min_offset = std::min(min_offset, f->offset);
    }
    if (authenticate_message.size() < kAuthenticateMicOffset + 16 ||
        min_offset < kAuthenticateMicOffset + 16) {
      return malformed("MIC flagged but absent");
    }
    Bytes all = negotiate_message_;
    all.insert(all.end(), challenge_message_.begin(), challenge_message_.end());
    size_t auth_start = all.size();
    all.insert(all.end(), authenticate_message.begin(), authenticate_message.end());
    std::fill_n(all.begin() + auth_start + kAuthenticateMicOffset, 16, 0);
    crypto::Key16 mic = crypto::hmacMd5(exported, all);
    if (!crypto::constantTimeEqual(mic,
                                   authenticate_message.subspan(kAuthenticateMicOffset, 16))) {
      result.outcome = NtlmOutcome::kWrongPassword;
      return result;
    }
  }

  result.outcome = NtlmOutcome::kAuthenticated;
  result.session_key = exported;
  final_flags_ = flags;
  client_sign_key_ = crypto::ntlmSignKey(exported, true);
  server_sign_key_ = crypto::ntlmSignKey(exported, false);
  client_seal_key_ = crypto::ntlmSealKey(exported, flags, true);
  server_seal_key_ = crypto::ntlmSealKey(exported, flags, false);
  client_seal_ = crypto::Rc4Stream(client_seal_key_);
  server_seal_ = crypto::Rc4Stream(server_seal_key_);
  have_keys_ = true;
  return result;
}

namespace {

// MS-NLMP 3.4.4.2 MAC with extended session security: Version 1, the first 8 bytes of
// HMAC_MD5(SigningKey, SeqNum || Message) (RC4-encrypted under KEY_EXCH), SeqNum.
Bytes ntlmMac(const crypto::Key16& sign_key, crypto::Rc4Stream& seal, bool key_exch,
              uint32_t seq_num, ByteSpan data) {
  Bytes in(4);
  storeU32(in.data(), seq_num);
  in.insert(in.end(), data.begin(), data.end());
  crypto::Key16 h = crypto::hmacMd5(sign_key, in);
  std::array<uint8_t, 8> checksum;
  std::copy_n(h.begin(), 8, checksum.begin());
  if (key_exch) seal.apply(checksum);
  ByteWriter w;
  w.u32(1);
  w.bytes(checksum.data(), checksum.size());
  w.u32(seq_num);
  return w.take();
}

}  // namespace

Bytes NtlmServer::makeMic(ByteSpan data) {
  if (!have_keys_) return {};
  return ntlmMac(server_sign_key_, server_seal_, final_flags_ & NTLMSSP_NEGOTIATE_KEY_EXCH, 0,
                 data);
}

bool NtlmServer::checkMic(ByteSpan data, ByteSpan mic) {
  if (!have_keys_ || mic.size() != 16) return false;
  Bytes expected =
      ntlmMac(client_sign_key_, client_seal_, final_flags_ & NTLMSSP_NEGOTIATE_KEY_EXCH, 0, data);
  return crypto::constantTimeEqual(expected, mic);
}

}  // namespace xsmb::auth
