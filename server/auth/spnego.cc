#include "server/auth/spnego.h"

#include <algorithm>
#include <string_view>

#include "absl/status/status.h"

namespace xsmb::auth {
namespace {

// DER identifier octets used here (X.690 8.1.2).
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagEnumerated = 0x0A;
constexpr uint8_t kTagGeneralString = 0x1B;
constexpr uint8_t kTagSequence = 0x30;
constexpr uint8_t kTagApplication0 = 0x60;  // GSS-API InitialContextToken, RFC 2743 3.1
constexpr uint8_t kTagBitString = 0x03;
constexpr uint8_t contextTag(int n) { return static_cast<uint8_t>(0xA0 + n); }

// OID contents octets (without tag and length).
constexpr uint8_t kOidSpnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};  // 1.3.6.1.5.5.2
constexpr uint8_t kOidNtlmssp[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                   0x82, 0x37, 0x02, 0x02, 0x0a};  // 1.3.6.1.4.1.311.2.2.10
constexpr uint8_t kOidKerberos[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                    0x12, 0x01, 0x02, 0x02};  // 1.2.840.113554.1.2.2
constexpr uint8_t kOidKerberosLegacy[] = {0x2a, 0x86, 0x48, 0x82, 0xf7,
                                          0x12, 0x01, 0x02, 0x02};  // 1.2.840.48018.1.2.2
constexpr uint8_t kNtlmsspSignature[] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
constexpr std::string_view kNegHint = "not_defined_in_RFC4178@please_ignore";


absl::Status malformed(std::string_view what) {
  return absl::InvalidArgumentError(std::string("SPNEGO: ") + std::string(what));
}

ByteSpan oidFor(SpnegoMech m) {
  switch (m) {
    case SpnegoMech::kNtlmssp:
      return kOidNtlmssp;
    case SpnegoMech::kKerberos:
      return kOidKerberos;
    case SpnegoMech::kKerberosLegacy:
      return kOidKerberosLegacy;
    case SpnegoMech::kUnknown:
      break;
  }
  return {};
}

SpnegoMech mechFor(ByteSpan oid) {
  for (SpnegoMech m : {SpnegoMech::kNtlmssp, SpnegoMech::kKerberos, SpnegoMech::kKerberosLegacy}) {
    ByteSpan known = oidFor(m);
    if (std::equal(oid.begin(), oid.end(), known.begin(), known.end())) return m;
  }
  return SpnegoMech::kUnknown;
}

// One DER TLV: `whole` spans tag, length and contents.
struct Tlv {
  uint8_t tag = 0;
  ByteSpan contents;
  ByteSpan whole;
};

// Reads one TLV with a single-octet tag and a definite, minimally encoded length (X.690 10.1).
bool readTlv(ByteReader& r, Tlv* out) {
  size_t start = r.offset();
  uint8_t tag = r.u8();
  if (!r.ok() || (tag & 0x1F) == 0x1F) return false;  // multi-octet tags are never used here
  uint8_t first = r.u8();
  if (!r.ok()) return false;
  size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else {
    size_t n = first & 0x7F;
    if (n == 0 || n > 4) {  // indefinite length, or larger than any token we accept
      r.fail();
      return false;
    }
    for (size_t i = 0; i < n; ++i) len = (len << 8) | r.u8();
    if (!r.ok()) return false;
    // Minimal encoding: no leading zero octet and no long form for short lengths.
    if (len < 0x80 || (len >> (8 * (n - 1))) == 0) {
      r.fail();
      return false;
    }
  }
  out->tag = tag;
  out->contents = r.bytes(len);
  if (!r.ok()) return false;
  out->whole = r.data().subspan(start, r.offset() - start);
  return true;
}

// Reads one TLV that must carry `tag`.
bool expectTlv(ByteReader& r, uint8_t tag, Tlv* out) { return readTlv(r, out) && out->tag == tag; }

// The explicit-tagged wrapper [n] { inner } where inner must have `inner_tag` and fill [n].
bool readExplicit(ByteSpan wrapper_contents, uint8_t inner_tag, Tlv* inner) {
  ByteReader r(wrapper_contents);
  return expectTlv(r, inner_tag, inner) && r.remaining() == 0;
}

absl::Status parseMechTypeList(const Tlv& wrapper, SpnegoRequest* req) {
  Tlv list;
  if (!readExplicit(wrapper.contents, kTagSequence, &list)) return malformed("bad mechTypes");
  req->mech_types_der.assign(list.whole.begin(), list.whole.end());
  ByteReader r(list.contents);
  while (r.remaining() > 0) {
    Tlv oid;
    if (!expectTlv(r, kTagOid, &oid) || oid.contents.empty()) return malformed("bad MechType");
    req->mech_types.push_back(mechFor(oid.contents));
  }
  if (req->mech_types.empty()) return malformed("empty mechTypes");
  return absl::OkStatus();
}

absl::Status readOctetString(const Tlv& wrapper, Bytes* out) {
  Tlv s;
  if (!readExplicit(wrapper.contents, kTagOctetString, &s)) return malformed("bad OCTET STRING");
  out->assign(s.contents.begin(), s.contents.end());
  return absl::OkStatus();
}

// NegTokenInit (RFC 4178 4.2.1), also accepting NegTokenInit2's negHints [3] (MS-SPNG 2.2.1).
absl::Status parseNegTokenInit(ByteSpan contents, SpnegoRequest* req) {
  ByteReader outer(contents);
  Tlv seq;
  if (!expectTlv(outer, kTagSequence, &seq) || outer.remaining() != 0) {
    return malformed("negTokenInit is not one SEQUENCE");
  }
  ByteReader r(seq.contents);
  int last = -1;
  bool have_mech_types = false;
  while (r.remaining() > 0) {
    Tlv field;
    if (!readTlv(r, &field)) return malformed("truncated negTokenInit field");
    int n = field.tag - 0xA0;
    if (n < 0 || n > 4 || n <= last) return malformed("unexpected negTokenInit field");
    last = n;
    absl::Status s;
    switch (n) {
      case 0:
        s = parseMechTypeList(field, req);
        have_mech_types = true;
        break;
      case 1: {  // reqFlags: ignored, but must be a BIT STRING
        Tlv bits;
        if (!readExplicit(field.contents, kTagBitString, &bits)) s = malformed("bad reqFlags");
        break;
      }
      case 2:
        s = readOctetString(field, &req->mech_token);
        break;
      case 3: {
        // mechListMIC in RFC 4178, negHints (a SEQUENCE) in NegTokenInit2.
        Tlv inner;
        if (!readExplicit(field.contents, kTagOctetString, &inner) &&
            !readExplicit(field.contents, kTagSequence, &inner)) {
          s = malformed("bad negTokenInit [3]");
        } else if (inner.tag == kTagOctetString) {
          req->mech_list_mic.assign(inner.contents.begin(), inner.contents.end());
        }
        break;
      }
      case 4:
        s = readOctetString(field, &req->mech_list_mic);
        break;
    }
    if (!s.ok()) return s;
  }
  if (!have_mech_types) return malformed("negTokenInit without mechTypes");
  return absl::OkStatus();
}

// NegTokenResp (RFC 4178 4.2.2) as a client sends it in later legs.
absl::Status parseNegTokenResp(ByteSpan contents, SpnegoRequest* req) {
  ByteReader outer(contents);
  Tlv seq;
  if (!expectTlv(outer, kTagSequence, &seq) || outer.remaining() != 0) {
    return malformed("negTokenResp is not one SEQUENCE");
  }
  ByteReader r(seq.contents);
  int last = -1;
  while (r.remaining() > 0) {
    Tlv field;
    if (!readTlv(r, &field)) return malformed("truncated negTokenResp field");
    int n = field.tag - 0xA0;
    if (n < 0 || n > 3 || n <= last) return malformed("unexpected negTokenResp field");
    last = n;
    Tlv inner;
    switch (n) {
      case 0:
        if (!readExplicit(field.contents, kTagEnumerated, &inner) || inner.contents.size() != 1 ||
            inner.contents[0] > 3) {
          return malformed("bad negState");
        }
        break;
      case 1:
        if (!readExplicit(field.contents, kTagOid, &inner) || inner.contents.empty()) {
          return malformed("bad supportedMech");
        }
        break;
      case 2:
        if (auto s = readOctetString(field, &req->mech_token); !s.ok()) return s;
        break;
      case 3:
        if (auto s = readOctetString(field, &req->mech_list_mic); !s.ok()) return s;
        break;
    }
  }
  return absl::OkStatus();
}

void appendLength(Bytes* out, size_t len) {
  if (len < 0x80) {
    out->push_back(static_cast<uint8_t>(len));
    return;
  }
  uint8_t buf[4];
  int n = 0;
  for (size_t v = len; v; v >>= 8) buf[n++] = static_cast<uint8_t>(v);
  out->push_back(static_cast<uint8_t>(0x80 | n));
  while (n) out->push_back(buf[--n]);
}

Bytes tlv(uint8_t tag, ByteSpan contents) {
  Bytes out;
  out.reserve(contents.size() + 6);
  out.push_back(tag);
  appendLength(&out, contents.size());
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

Bytes concat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

Bytes spnegoMechOidDer(SpnegoMech mech) {
  ByteSpan oid = oidFor(mech);
  if (oid.empty()) return {};
  return tlv(kTagOid, oid);
}

absl::StatusOr<SpnegoRequest> parseSpnegoRequest(ByteSpan token) {
  SpnegoRequest req;
  if (token.size() >= sizeof(kNtlmsspSignature) &&
      std::equal(std::begin(kNtlmsspSignature), std::end(kNtlmsspSignature), token.begin())) {
    req.raw_ntlmssp = true;
    req.mech_token.assign(token.begin(), token.end());
    return req;
  }
  ByteReader r(token);
  Tlv top;
  if (!readTlv(r, &top) || r.remaining() != 0) return malformed("not one DER element");
  if (top.tag == kTagApplication0) {
    ByteReader inner(top.contents);
    Tlv oid, neg;
    if (!expectTlv(inner, kTagOid, &oid) ||
        !std::equal(oid.contents.begin(), oid.contents.end(), std::begin(kOidSpnego),
                    std::end(kOidSpnego))) {
      return malformed("InitialContextToken is not SPNEGO");
    }
    if (!expectTlv(inner, contextTag(0), &neg) || inner.remaining() != 0) {
      return malformed("InitialContextToken without negTokenInit");
    }
    if (auto s = parseNegTokenInit(neg.contents, &req); !s.ok()) return s;
    return req;
  }
  if (top.tag == contextTag(1)) {
    if (auto s = parseNegTokenResp(top.contents, &req); !s.ok()) return s;
    return req;
  }
  if (top.tag == contextTag(0)) {  // a bare negTokenInit without the GSS-API framing
    if (auto s = parseNegTokenInit(top.contents, &req); !s.ok()) return s;
    return req;
  }
  return malformed("unknown token type");
}

Bytes spnegoNegotiateToken(const std::vector<SpnegoMech>& mechs) {
  Bytes oids;
  for (SpnegoMech m : mechs) {
    Bytes oid = spnegoMechOidDer(m);
    oids.insert(oids.end(), oid.begin(), oid.end());
  }
  Bytes mech_types = tlv(contextTag(0), tlv(kTagSequence, oids));
  ByteSpan hint(reinterpret_cast<const uint8_t*>(kNegHint.data()), kNegHint.size());
  Bytes neg_hints =
      tlv(contextTag(3), tlv(kTagSequence, tlv(contextTag(0), tlv(kTagGeneralString, hint))));
  Bytes init = tlv(contextTag(0), tlv(kTagSequence, concat({mech_types, neg_hints})));
  return tlv(kTagApplication0, concat({tlv(kTagOid, kOidSpnego), init}));
}

Bytes spnegoResponse(NegState state, std::optional<SpnegoMech> supported_mech,
                     ByteSpan response_token, ByteSpan mech_list_mic) {
  uint8_t state_byte = static_cast<uint8_t>(state);
  Bytes fields = tlv(contextTag(0), tlv(kTagEnumerated, ByteSpan(&state_byte, 1)));
  if (supported_mech && *supported_mech != SpnegoMech::kUnknown) {
    Bytes f = tlv(contextTag(1), spnegoMechOidDer(*supported_mech));
    fields.insert(fields.end(), f.begin(), f.end());
  }
  if (!response_token.empty()) {
    Bytes f = tlv(contextTag(2), tlv(kTagOctetString, response_token));
    fields.insert(fields.end(), f.begin(), f.end());
  }
  if (!mech_list_mic.empty()) {
    Bytes f = tlv(contextTag(3), tlv(kTagOctetString, mech_list_mic));
    fields.insert(fields.end(), f.begin(), f.end());
  }
  return tlv(contextTag(1), tlv(kTagSequence, fields));
}

}  // namespace xsmb::auth
