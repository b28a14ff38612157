#include "rpc/server_info.h"

namespace xsmb::rpc {

namespace {

constexpr uint8_t kMagic[4] = {'X', 'S', 'I', 1};
constexpr uint32_t kMaxEntries = 65536;
constexpr uint32_t kMaxString = 65536;

void putString(ByteWriter& w, const std::string& s) {
  w.u32(static_cast<uint32_t>(s.size()));
  w.bytes(s.data(), s.size());
}

bool getString(ByteReader& r, std::string* out) {
  uint32_t n = r.u32();
  if (!r.ok() || n > kMaxString) return false;
  ByteSpan b = r.bytes(n);
  if (!r.ok()) return false;
  out->assign(b.begin(), b.end());
  return true;
}

void putShort(ByteWriter& w, const std::string& s) {
  size_t n = std::min<size_t>(s.size(), 0xFFFF);
  w.u16(static_cast<uint16_t>(n));
  w.bytes(s.data(), n);
}

bool getShort(ByteReader& r, std::string* out) {
  uint16_t n = r.u16();
  ByteSpan b = r.bytes(n);
  if (!r.ok()) return false;
  out->assign(b.begin(), b.end());
  return true;
}

}  // namespace

Bytes serializeServerInfo(const ServerInfo& info) {
  ByteWriter w;
  w.bytes(kMagic, sizeof(kMagic));
  putString(w, info.netbios_name);
  putString(w, info.workgroup);
  putString(w, info.server_string);
  putString(w, info.domain_sid);
  w.u32(static_cast<uint32_t>(info.shares.size()));
  for (const auto& s : info.shares) {
    putString(w, s.name);
    putString(w, s.comment);
    putString(w, s.path);
    w.u32(s.type);
    w.u8(s.browseable ? 1 : 0);
  }
  w.u32(static_cast<uint32_t>(info.users.size()));
  for (const auto& u : info.users) {
    putString(w, u.name);
    w.u32(u.rid);
    putString(w, u.full_name);
  }
  return w.take();
}

std::optional<ServerInfo> parseServerInfo(ByteSpan data) {
  ByteReader r(data);
  ByteSpan magic = r.bytes(4);
  if (!r.ok() || !std::equal(magic.begin(), magic.end(), kMagic)) return std::nullopt;
  ServerInfo info;
  if (!getString(r, &info.netbios_name) || !getString(r, &info.workgroup) ||
      !getString(r, &info.server_string) || !getString(r, &info.domain_sid)) {
    return std::nullopt;
  }
  uint32_t n = r.u32();
  if (!r.ok() || n > kMaxEntries) return std::nullopt;
  for (uint32_t i = 0; i < n; ++i) {
    ShareInfo s;
    if (!getString(r, &s.name) || !getString(r, &s.comment) || !getString(r, &s.path)) {
      return std::nullopt;
    }
    s.type = r.u32();
    uint8_t b = r.u8();
    if (!r.ok() || b > 1) return std::nullopt;
    s.browseable = b == 1;
    info.shares.push_back(std::move(s));
  }
  n = r.u32();
  if (!r.ok() || n > kMaxEntries) return std::nullopt;
  for (uint32_t i = 0; i < n; ++i) {
    UserInfo u;
    if (!getString(r, &u.name)) return std::nullopt;
    u.rid = r.u32();
    if (!r.ok() || !getString(r, &u.full_name)) return std::nullopt;
    info.users.push_back(std::move(u));
  }
  if (r.remaining() != 0) return std::nullopt;
  return info;
}

Bytes serializeCallerInfo(const CallerInfo& caller) {
  ByteWriter w;
  putShort(w, caller.user);
  putShort(w, caller.domain);
  w.u8(caller.guest ? 1 : 0);
  w.u8(caller.restrict_anonymous);
  return w.take();
}

std::optional<CallerInfo> parseCallerInfo(ByteReader& r) {
  CallerInfo c;
  if (!getShort(r, &c.user) || !getShort(r, &c.domain)) return std::nullopt;
  uint8_t g = r.u8();
  c.restrict_anonymous = r.u8();
  if (!r.ok() || g > 1 || c.restrict_anonymous > 2) return std::nullopt;
  c.guest = g == 1;
  return c;
}

}  // namespace xsmb::rpc
