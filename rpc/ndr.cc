#include "rpc/ndr.h"

#include <charconv>

#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {
constexpr size_t kMaxSubAuthorities = 15;
}  // namespace

std::optional<Sid> Sid::parse(std::string_view text) {
  if (text.size() < 4 || (text[0] != 'S' && text[0] != 's') || text[1] != '-') return std::nullopt;
  text.remove_prefix(2);
  std::vector<uint64_t> parts;
  while (true) {
    size_t dash = text.find('-');
    std::string_view part = text.substr(0, dash);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    parts.push_back(v);
    if (dash == std::string_view::npos) break;
    text.remove_prefix(dash + 1);
  }
  if (parts.size() < 2 || parts.size() - 2 > kMaxSubAuthorities) return std::nullopt;
  if (parts[0] > 255 || parts[1] >= (uint64_t{1} << 48)) return std::nullopt;
  Sid sid;
  sid.revision = static_cast<uint8_t>(parts[0]);
  for (int i = 0; i < 6; ++i) sid.authority[i] = static_cast<uint8_t>(parts[1] >> (8 * (5 - i)));
  for (size_t i = 2; i < parts.size(); ++i) {
    if (parts[i] > 0xFFFFFFFFu) return std::nullopt;
    sid.sub_authorities.push_back(static_cast<uint32_t>(parts[i]));
  }
  return sid;
}

std::string Sid::toString() const {
  uint64_t auth = 0;
  for (uint8_t b : authority) auth = (auth << 8) | b;
  std::string out = "S-" + std::to_string(revision) + "-" + std::to_string(auth);
  for (uint32_t s : sub_authorities) out += "-" + std::to_string(s);
  return out;
}

Sid Sid::withRid(uint32_t rid) const {
  Sid s = *this;
  s.sub_authorities.push_back(rid);
  return s;
}

bool Sid::isInDomain(const Sid& domain, uint32_t* rid) const {
  if (revision != domain.revision || authority != domain.authority ||
      sub_authorities.size() != domain.sub_authorities.size() + 1) {
    return false;
  }
  for (size_t i = 0; i < domain.sub_authorities.size(); ++i) {
    if (sub_authorities[i] != domain.sub_authorities[i]) return false;
  }
  *rid = sub_authorities.back();
  return true;
}

bool PolicyHandle::isNull() const {
  if (attributes != 0) return false;
  for (uint8_t b : uuid) {
    if (b) return false;
  }
  return true;
}

void NdrReader::align(size_t n) {
  size_t pad = (n - r_.offset() % n) % n;
  r_.skip(pad);
}

uint16_t NdrReader::u16() {
  align(2);
  return r_.u16();
}

uint32_t NdrReader::u32() {
  align(4);
  return r_.u32();
}

uint64_t NdrReader::u64() {
  align(8);
  return r_.u64();
}

uint32_t NdrReader::pointer() {
  uint32_t id = u32();
  if (id != 0 && ++pointers_ > limits_.max_pointers) fail();
  return ok() ? id : 0;
}

bool NdrReader::refPointer() {
  uint32_t id = pointer();
  if (id == 0) fail();
  return ok();
}

bool NdrReader::fullPointer(uint32_t* id) {
  *id = pointer();
  if (*id == 0) return false;
  return full_ids_.insert(*id).second;
}

uint32_t NdrReader::conformance(uint32_t min_elem_size, uint32_t cap) {
  uint32_t n = u32();
  if (cap == 0) cap = limits_.max_count;
  if (n > cap) fail();
  // A conformant array that is not also varying has all max_count elements in the stream.
  if (min_elem_size && uint64_t{n} * min_elem_size > remaining()) fail();
  return ok() ? n : 0;
}

NdrReader::Variance NdrReader::variance(uint32_t max_count, uint32_t min_elem_size) {
  Variance v;
  v.offset = u32();
  v.actual = u32();
  if (uint64_t{v.offset} + v.actual > max_count) fail();
  if (min_elem_size && uint64_t{v.actual} * min_elem_size > remaining()) fail();
  if (!ok()) return {};
  return v;
}

std::string NdrReader::utf16(ByteSpan units) {
  auto s = utf16leToUtf8(units);
  if (!s) {
    fail();
    return {};
  }
  return *std::move(s);
}

std::string NdrReader::cvString() {
  uint32_t max = u32();
  if (max > limits_.max_string_chars) fail();
  Variance v = variance(max, 2);
  // MS-RPCE 2.2.5.3.4.1: a [string] array carries its terminator and starts at offset 0.
  if (!ok() || v.offset != 0 || v.actual == 0) {
    fail();
    return {};
  }
  ByteSpan units = bytes(size_t{v.actual} * 2);
  if (!ok()) return {};
  if (units[units.size() - 2] != 0 || units[units.size() - 1] != 0) {
    fail();
    return {};
  }
  return utf16(units.first(units.size() - 2));
}

std::string NdrReader::unicodeStringBody(uint16_t length, uint16_t max_length) {
  uint32_t max = u32();
  Variance v = variance(max, 2);
  if (!ok() || max != max_length / 2u || v.offset != 0 || v.actual != length / 2u ||
      max > limits_.max_string_chars) {
    fail();
    return {};
  }
  ByteSpan units = bytes(size_t{v.actual} * 2);
  if (!ok()) return {};
  return utf16(units);
}

Sid NdrReader::sid() {
  DepthGuard guard(this);
  Sid sid;
  uint32_t count = u32();
  sid.revision = u8();
  uint8_t sub_count = u8();
  ByteSpan auth = bytes(6);
  if (!ok() || count != sub_count || count > kMaxSubAuthorities || sid.revision != 1) {
    fail();
    return {};
  }
  std::copy(auth.begin(), auth.end(), sid.authority.begin());
  for (uint32_t i = 0; i < count && ok(); ++i) sid.sub_authorities.push_back(u32());
  if (!ok()) return {};
  return sid;
}

PolicyHandle NdrReader::policyHandle() {
  PolicyHandle h;
  h.attributes = u32();
  ByteSpan u = bytes(16);
  if (ok()) std::copy(u.begin(), u.end(), h.uuid.begin());
  return h;
}

UnicodeStringHeader readUnicodeStringHeader(NdrReader& r) {
  UnicodeStringHeader h;
  r.align(4);  // a struct aligns to its widest member, the pointer (C706 14.2.5)
  h.length = r.u16();
  h.max_length = r.u16();
  h.referent = r.pointer();
  if (h.length > h.max_length || (h.length & 1) || (h.max_length & 1)) r.fail();
  return h;
}

std::string readUnicodeStringBody(NdrReader& r, const UnicodeStringHeader& h) {
  if (h.referent == 0) {
    if (h.length != 0) r.fail();
    return {};
  }
  return r.unicodeStringBody(h.length, h.max_length);
}

uint32_t NdrWriter::nextReferent() {
  uint32_t id = next_referent_;
  next_referent_ += 4;
  return id;
}

void NdrWriter::pointer(bool present) { u32(present ? nextReferent() : 0); }

void NdrWriter::deferredPointer(bool present, std::function<void(NdrWriter&)> body) {
  pointer(present);
  if (present) deferred_.push_back(std::move(body));
}

void NdrWriter::flush() {
  std::vector<std::function<void(NdrWriter&)>> todo;
  todo.swap(deferred_);
  for (auto& fn : todo) {
    fn(*this);
    flush();
  }
}

void NdrWriter::cvString(std::string_view utf8) {
  Bytes units = utf8ToUtf16le(utf8);
  uint32_t n = static_cast<uint32_t>(units.size() / 2 + 1);
  u32(n);
  u32(0);
  u32(n);
  bytes(units);
  w_.u16(0);
}

void NdrWriter::unicodeString(std::string_view utf8, bool null_if_empty) {
  Bytes units = utf8ToUtf16le(utf8);
  // Length is a USHORT; longer strings are cut at a code unit boundary.
  if (units.size() > 0xFFFC) units.resize(0xFFFC);
  auto len = static_cast<uint16_t>(units.size());
  align(4);  // a struct aligns to its widest member, the pointer (C706 14.2.5)
  u16(len);
  u16(len);
  bool present = !(null_if_empty && units.empty());
  deferredPointer(present, [units = std::move(units)](NdrWriter& w) {
    uint32_t n = static_cast<uint32_t>(units.size() / 2);
    w.u32(n);
    w.u32(0);
    w.u32(n);
    w.bytes(units);
  });
}

void NdrWriter::sid(const Sid& s) {
  u32(static_cast<uint32_t>(s.sub_authorities.size()));
  u8(s.revision);
  u8(static_cast<uint8_t>(s.sub_authorities.size()));
  bytes(s.authority);
  for (uint32_t v : s.sub_authorities) u32(v);
}

void NdrWriter::policyHandle(const PolicyHandle& h) {
  u32(h.attributes);
  bytes(h.uuid);
}

}  // namespace xsmb::rpc
