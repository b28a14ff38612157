#include "rpc/pdu.h"

#include <cstdio>

#include "absl/status/status.h"

namespace xsmb::rpc {

namespace {

constexpr size_t kAuthTrailerSize = 8;   // sec_trailer before auth_value (MS-RPCE 2.2.2.11)
constexpr size_t kMaxContextElems = 64;  // far above what any client proposes

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

SyntaxId makeSyntax(const char* uuid, uint16_t major, uint16_t minor) {
  return SyntaxId{*Uuid::parse(uuid), major, minor};
}

SyntaxId readSyntax(ByteReader& r) {
  SyntaxId s;
  ByteSpan u = r.bytes(16);
  if (r.ok()) std::copy(u.begin(), u.end(), s.uuid.bytes.begin());
  s.major = r.u16();
  s.minor = r.u16();
  return s;
}

void writeSyntax(ByteWriter& w, const SyntaxId& s) {
  w.bytes(s.uuid.bytes);
  w.u16(s.major);
  w.u16(s.minor);
}

absl::Status malformed(const char* what) {
  return absl::InvalidArgumentError(std::string("malformed DCE/RPC PDU: ") + what);
}

absl::StatusOr<BindPdu> decodeBind(ByteReader& r) {
  BindPdu b;
  b.max_xmit_frag = r.u16();
  b.max_recv_frag = r.u16();
  b.assoc_group_id = r.u32();
  uint8_t n = r.u8();
  r.skip(3);
  if (!r.ok()) return malformed("bind header");
  if (n > kMaxContextElems) return malformed("too many context elements");
  for (uint8_t i = 0; i < n; ++i) {
    ContextElem c;
    c.context_id = r.u16();
    uint8_t nts = r.u8();
    r.skip(1);
    c.abstract_syntax = readSyntax(r);
    // Each transfer syntax is 20 bytes; a count beyond what remains is rejected by the reader.
    for (uint8_t j = 0; j < nts && r.ok(); ++j) c.transfer_syntaxes.push_back(readSyntax(r));
    if (!r.ok()) return malformed("context element");
    b.contexts.push_back(std::move(c));
  }
  return b;
}

absl::StatusOr<BindAckPdu> decodeBindAck(ByteReader& r) {
  BindAckPdu a;
  a.max_xmit_frag = r.u16();
  a.max_recv_frag = r.u16();
  a.assoc_group_id = r.u32();
  uint16_t len = r.u16();
  ByteSpan addr = r.bytes(len);
  if (!r.ok()) return malformed("bind_ack address");
  // port_spec includes its NUL terminator when not empty.
  if (len > 0) {
    if (addr[len - 1] != 0) return malformed("bind_ack address terminator");
    a.secondary_address.assign(addr.begin(), addr.end() - 1);
  }
  r.skip((4 - r.offset() % 4) % 4);
  uint8_t n = r.u8();
  r.skip(3);
  for (uint8_t i = 0; i < n && r.ok(); ++i) {
    ContextResult c;
    c.result = r.u16();
    c.reason = r.u16();
    c.transfer_syntax = readSyntax(r);
    a.results.push_back(c);
  }
  if (!r.ok()) return malformed("bind_ack results");
  return a;
}

}  // namespace

std::optional<Uuid> Uuid::parse(std::string_view t) {
  // 8-4-4-4-12 hex digits.
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') {
    return std::nullopt;
  }
  uint8_t raw[16];
  size_t k = 0;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '-') {
      ++i;
      continue;
    }
    int hi = hexValue(t[i]), lo = hexValue(t[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    raw[k++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  Uuid u;
  // time_low (4), time_mid (2), time_hi (2) are little-endian on the wire.
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i) u.bytes[i] = raw[order[i]];
  return u;
}

std::string Uuid::toString() const {
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out;
  char buf[3];
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(buf, sizeof(buf), "%02x", bytes[order[i]]);
    out += buf;
  }
  return out;
}

const SyntaxId& ndr20Syntax() {
  static const SyntaxId s = makeSyntax("8a885d04-1ceb-11c9-9fe8-08002b104860", 2, 0);
  return s;
}

const SyntaxId& ndr64Syntax() {
  static const SyntaxId s = makeSyntax("71710533-beba-4937-8319-b5dbef9ccc36", 1, 0);
  return s;
}

bool isBindTimeFeatureSyntax(const SyntaxId& s) {
  static const Uuid prefix = *Uuid::parse("6cb71c2c-9812-4540-0000-000000000000");
  return std::equal(prefix.bytes.begin(), prefix.bytes.begin() + 8, s.uuid.bytes.begin());
}

absl::StatusOr<PduHeader> decodeHeader(ByteSpan data) {
  ByteReader r(data);
  PduHeader h;
  h.rpc_vers = r.u8();
  h.rpc_vers_minor = r.u8();
  h.ptype = static_cast<PType>(r.u8());
  h.pfc_flags = r.u8();
  h.drep = r.u32();
  h.frag_length = r.u16();
  h.auth_length = r.u16();
  h.call_id = r.u32();
  if (!r.ok()) return malformed("short header");
  if (h.rpc_vers != 5 || h.rpc_vers_minor > 1) return malformed("version");
  // Only byte 0 (integer and character representation) and byte 1 (float) matter; byte 2-3
  // are reserved and ignored as C706 says.
  if ((h.drep & 0xFFFF) != kDrepLittleEndian) return malformed("data representation");
  if (h.frag_length < kHeaderSize) return malformed("frag_length");
  if (h.auth_length && size_t{h.auth_length} + kAuthTrailerSize > h.frag_length - kHeaderSize) {
    return malformed("auth_length");
  }
  return h;
}

namespace {

absl::StatusOr<BindNakPdu> decodeBindNak(ByteReader& r) {
  BindNakPdu n;
  n.reject_reason = r.u16();
  n.versions.clear();
  // Windows sends a bare reason without the version list; accept both.
  if (r.remaining() > 0) {
    uint8_t count = r.u8();
    for (uint8_t i = 0; i < count && r.ok(); ++i) {
      uint8_t major = r.u8();
      uint8_t minor = r.u8();
      n.versions.emplace_back(major, minor);
    }
  }
  if (!r.ok()) return malformed("bind_nak");
  return n;
}

absl::StatusOr<RequestPdu> decodeRequest(ByteReader& r, uint8_t pfc_flags) {
  RequestPdu q;
  q.alloc_hint = r.u32();
  q.context_id = r.u16();
  q.opnum = r.u16();
  if (pfc_flags & kPfcObjectUuid) {
    ByteSpan u = r.bytes(16);
    if (r.ok()) {
      Uuid uuid;
      std::copy(u.begin(), u.end(), uuid.bytes.begin());
      q.object = uuid;
    }
  }
  if (!r.ok()) return malformed("request header");
  ByteSpan stub = r.bytes(r.remaining());
  q.stub.assign(stub.begin(), stub.end());
  return q;
}

absl::StatusOr<ResponsePdu> decodeResponse(ByteReader& r) {
  ResponsePdu p;
  p.alloc_hint = r.u32();
  p.context_id = r.u16();
  p.cancel_count = r.u8();
  r.skip(1);
  if (!r.ok()) return malformed("response header");
  ByteSpan stub = r.bytes(r.remaining());
  p.stub.assign(stub.begin(), stub.end());
  return p;
}

absl::StatusOr<FaultPdu> decodeFault(ByteReader& r) {
  FaultPdu f;
  f.alloc_hint = r.u32();
  f.context_id = r.u16();
  f.cancel_count = r.u8();
  r.skip(1);
  f.status = r.u32();
  if (!r.ok()) return malformed("fault");
  return f;
}

// Stores a decoded body (or passes its error on).
template <typename T>
absl::Status setBody(absl::StatusOr<T> body, Pdu* pdu) {
  if (!body.ok()) return body.status();
  pdu->body = *std::move(body);
  return absl::OkStatus();
}

// The body after the 16-byte header, by PTYPE (C706 12.6.4).
absl::Status decodeBody(ByteReader& r, const PduHeader& h, Pdu* pdu) {
  switch (h.ptype) {
    case PType::kBind:
    case PType::kAlterContext:
      return setBody(decodeBind(r), pdu);
    case PType::kBindAck:
    case PType::kAlterContextResp:
      return setBody(decodeBindAck(r), pdu);
    case PType::kBindNak:
      return setBody(decodeBindNak(r), pdu);
    case PType::kRequest:
      return setBody(decodeRequest(r, h.pfc_flags), pdu);
    case PType::kResponse:
      return setBody(decodeResponse(r), pdu);
    case PType::kFault:
      return setBody(decodeFault(r), pdu);
    case PType::kAuth3:
    case PType::kShutdown:
    case PType::kCoCancel:
    case PType::kOrphaned:
      pdu->body = EmptyPdu{};
      return absl::OkStatus();
    default:
      return malformed("unknown ptype");
  }
}

}  // namespace

absl::StatusOr<Pdu> decodePdu(ByteSpan data) {
  auto h = decodeHeader(data);
  if (!h.ok()) return h.status();
  if (data.size() != h->frag_length) return malformed("length differs from frag_length");
  Pdu pdu;
  pdu.header = *h;
  size_t body_end = data.size();
  if (h->auth_length) {
    body_end = data.size() - h->auth_length - kAuthTrailerSize;
    pdu.auth_value = data.subspan(data.size() - h->auth_length);
  }
  ByteReader r(data.first(body_end));
  r.skip(kHeaderSize);
  if (absl::Status st = decodeBody(r, *h, &pdu); !st.ok()) return st;
  return pdu;
}

Bytes encodePdu(PduHeader h, const PduBody& body) {
  ByteWriter w;
  w.u8(h.rpc_vers);
  w.u8(h.rpc_vers_minor);
  w.u8(static_cast<uint8_t>(h.ptype));
  w.u8(h.pfc_flags);
  w.u32(h.drep);
  w.u16(0);  // frag_length, patched below
  w.u16(0);  // no auth verifier is ever sent
  w.u32(h.call_id);
  if (auto* b = std::get_if<BindPdu>(&body)) {
    w.u16(b->max_xmit_frag);
    w.u16(b->max_recv_frag);
    w.u32(b->assoc_group_id);
    w.u8(static_cast<uint8_t>(b->contexts.size()));
    w.zeros(3);
    for (const auto& c : b->contexts) {
      w.u16(c.context_id);
      w.u8(static_cast<uint8_t>(c.transfer_syntaxes.size()));
      w.u8(0);
      writeSyntax(w, c.abstract_syntax);
      for (const auto& t : c.transfer_syntaxes) writeSyntax(w, t);
    }
  } else if (auto* a = std::get_if<BindAckPdu>(&body)) {
    w.u16(a->max_xmit_frag);
    w.u16(a->max_recv_frag);
    w.u32(a->assoc_group_id);
    if (a->secondary_address.empty()) {
      w.u16(0);
    } else {
      w.u16(static_cast<uint16_t>(a->secondary_address.size() + 1));
      w.bytes(a->secondary_address.data(), a->secondary_address.size());
      w.u8(0);
    }
    w.align(4);
    w.u8(static_cast<uint8_t>(a->results.size()));
    w.zeros(3);
    for (const auto& c : a->results) {
      w.u16(c.result);
      w.u16(c.reason);
      writeSyntax(w, c.transfer_syntax);
    }
  } else if (auto* n = std::get_if<BindNakPdu>(&body)) {
    w.u16(n->reject_reason);
    w.u8(static_cast<uint8_t>(n->versions.size()));
    for (auto [major, minor] : n->versions) {
      w.u8(major);
      w.u8(minor);
    }
  } else if (auto* q = std::get_if<RequestPdu>(&body)) {
    w.u32(q->alloc_hint);
    w.u16(q->context_id);
    w.u16(q->opnum);
    if (q->object) w.bytes(q->object->bytes);
    w.bytes(q->stub);
  } else if (auto* p = std::get_if<ResponsePdu>(&body)) {
    w.u32(p->alloc_hint);
    w.u16(p->context_id);
    w.u8(p->cancel_count);
    w.u8(0);
    w.bytes(p->stub);
  } else if (auto* f = std::get_if<FaultPdu>(&body)) {
    w.u32(f->alloc_hint);
    w.u16(f->context_id);
    w.u8(f->cancel_count);
    w.u8(0);
    w.u32(f->status);
    w.u32(0);
  }
  w.patchU16(8, static_cast<uint16_t>(w.size()));
  return w.take();
}

std::vector<Bytes> fragmentResponse(uint32_t call_id, uint16_t context_id, ByteSpan stub,
                                    uint16_t max_frag) {
  constexpr size_t kResponseHeader = kHeaderSize + 8;
  if (max_frag < 32) max_frag = 32;
  // Stub bytes per fragment, a multiple of 8 so that every fragment's stub keeps NDR's
  // alignment (MS-RPCE 3.3.3.5.2 leaves the split to the sender; Windows keeps 8).
  size_t chunk = ((max_frag - kResponseHeader) / 8) * 8;
  std::vector<Bytes> out;
  size_t off = 0;
  do {
    size_t n = std::min(chunk, stub.size() - off);
    PduHeader h;
    h.ptype = PType::kResponse;
    h.call_id = call_id;
    h.pfc_flags = 0;
    if (off == 0) h.pfc_flags |= kPfcFirstFrag;
    if (off + n == stub.size()) h.pfc_flags |= kPfcLastFrag;
    ResponsePdu p;
    p.alloc_hint = static_cast<uint32_t>(stub.size() - off);
    p.context_id = context_id;
    p.stub.assign(stub.begin() + off, stub.begin() + off + n);
    out.push_back(encodePdu(h, p));
    off += n;
  } while (off < stub.size());
  return out;
}

}  // namespace xsmb::rpc
