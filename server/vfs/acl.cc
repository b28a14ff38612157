#include "server/vfs/acl.h"

#include "common/smb2/security_constants.h"

namespace xsmb::vfs::acl {
namespace {

using namespace smb2;

constexpr uint8_t kSystemAlarmAceType = 0x03;
constexpr uint8_t kMandatoryLabelAceType = 0x11;
constexpr size_t kHeaderSize = 20;  // Revision, Sbz1, Control, four 32-bit offsets

// The ACE types whose body is Mask then Sid (MS-DTYP 2.4.4.2-2.4.4.13).
bool basicAceType(uint8_t type) {
  return type == ACCESS_ALLOWED_ACE_TYPE || type == ACCESS_DENIED_ACE_TYPE ||
         type == SYSTEM_AUDIT_ACE_TYPE || type == kSystemAlarmAceType ||
         type == kMandatoryLabelAceType;
}

bool decodeAce(ByteReader& r, Ace* ace) {
  size_t start = r.offset();
  ace->type = r.u8();
  ace->flags = r.u8();
  uint16_t size = r.u16();
  if (!r.ok() || size < 4 || size - 4 > r.remaining()) return false;
  ByteReader body(r.bytes(size - 4));
  if (basicAceType(ace->type)) {
    ace->mask = body.u32();
    if (!decodeSid(body, &ace->sid)) return false;
  } else {
    ByteSpan rest = body.bytes(body.remaining());
    ace->opaque = Bytes(rest.begin(), rest.end());
  }
  return r.ok() && r.offset() == start + size;
}

bool decodeAcl(ByteSpan data, size_t off, Acl* acl) {
  if (off < kHeaderSize || off > data.size()) return false;
  ByteReader r(data.subspan(off));
  acl->revision = r.u8();
  r.u8();  // Sbz1
  uint16_t size = r.u16();
  uint16_t count = r.u16();
  r.u16();  // Sbz2
  if (!r.ok() || (acl->revision != ACL_REVISION && acl->revision != ACL_REVISION_DS) ||
      size < 8 || size > r.size()) {
    return false;
  }
  ByteReader aces(data.subspan(off + 8, size - 8));
  // Each ACE takes at least its 4-byte header: a count the size cannot hold is refused before
  // any work.
  if (size_t{count} * 4 > aces.size()) return false;
  acl->aces.resize(count);
  for (Ace& ace : acl->aces) {
    if (!decodeAce(aces, &ace)) return false;
  }
  return true;
}

void encodeAce(ByteWriter& w, const Ace& ace) {
  size_t start = w.size();
  w.u8(ace.type);
  w.u8(ace.flags);
  w.u16(0);  // AceSize, patched below
  if (ace.opaque) {
    w.bytes(*ace.opaque);
  } else {
    w.u32(ace.mask);
    encodeSid(w, ace.sid);
  }
  w.patchU16(start + 2, static_cast<uint16_t>(w.size() - start));
}

Sid makeSid(uint64_t authority, std::vector<uint32_t> sub) { return Sid{authority, std::move(sub)}; }

}  // namespace

std::string sidToString(const Sid& sid) {
  std::string s = "S-1-" + std::to_string(sid.authority);
  for (uint32_t v : sid.sub) s += "-" + std::to_string(v);
  return s;
}

Sid everyoneSid() { return makeSid(SECURITY_WORLD_SID_AUTHORITY, {SECURITY_WORLD_RID}); }
Sid creatorOwnerSid() { return makeSid(3, {0}); }
Sid creatorGroupSid() { return makeSid(3, {1}); }
Sid ownerRightsSid() { return makeSid(3, {4}); }
Sid authenticatedUsersSid() { return makeSid(SECURITY_NT_AUTHORITY, {11}); }
Sid localSystemSid() { return makeSid(SECURITY_NT_AUTHORITY, {18}); }
Sid unixUserSid(uint32_t uid) { return makeSid(kUnixSidAuthority, {kUnixUserSidRid, uid}); }
Sid unixGroupSid(uint32_t gid) { return makeSid(kUnixSidAuthority, {kUnixGroupSidRid, gid}); }

bool decodeSid(ByteReader& r, Sid* out) {
  uint8_t revision = r.u8();
  uint8_t count = r.u8();
  ByteSpan auth = r.bytes(6);
  if (!r.ok() || revision != SID_REVISION || count > SID_MAX_SUB_AUTHORITIES) return false;
  out->authority = 0;
  for (uint8_t b : auth) out->authority = (out->authority << 8) | b;
  out->sub.resize(count);
  for (uint32_t& v : out->sub) v = r.u32();
  return r.ok();
}

void encodeSid(ByteWriter& w, const Sid& sid) {
  w.u8(SID_REVISION);
  w.u8(static_cast<uint8_t>(sid.sub.size()));
  for (int i = 5; i >= 0; --i) w.u8(static_cast<uint8_t>(sid.authority >> (8 * i)));
  for (uint32_t v : sid.sub) w.u32(v);
}

void encodeAcl(ByteWriter& w, const Acl& acl) {
  size_t start = w.size();
  w.u8(acl.revision);
  w.u8(0);
  w.u16(0);  // AclSize, patched below
  w.u16(static_cast<uint16_t>(acl.aces.size()));
  w.u16(0);
  for (const Ace& ace : acl.aces) encodeAce(w, ace);
  w.patchU16(start + 2, static_cast<uint16_t>(w.size() - start));
}

NtStatus decodeSecurityDescriptor(ByteSpan data, SecurityDescriptor* out,
                                  bool require_self_relative, size_t header_offset) {
  ByteReader r(data);
  r.seek(header_offset);
  uint8_t revision = r.u8();
  r.u8();  // Sbz1
  uint16_t control = r.u16();
  uint32_t off_owner = r.u32(), off_group = r.u32(), off_sacl = r.u32(), off_dacl = r.u32();
  if (!r.ok() || revision != SECURITY_DESCRIPTOR_REVISION) return STATUS_INVALID_SECURITY_DESCR;
  if (require_self_relative && !(control & SE_SELF_RELATIVE)) return STATUS_INVALID_SECURITY_DESCR;
  *out = SecurityDescriptor{};
  out->control = control | SE_SELF_RELATIVE;
  auto sid = [&](uint32_t off, std::optional<Sid>* dst) {
    if (off == 0) return true;
    if (off < header_offset + kHeaderSize || off > data.size()) return false;
    ByteReader sr(data.subspan(off));
    dst->emplace();
    return decodeSid(sr, &**dst);
  };
  auto acl = [&](uint32_t off, uint16_t present_bit, std::optional<Acl>* dst) {
    if (!(control & present_bit) || off == 0) return true;  // absent, or NULL ACL
    dst->emplace();
    return off >= header_offset + kHeaderSize && decodeAcl(data, off, &**dst);
  };
  if (!sid(off_owner, &out->owner) || !sid(off_group, &out->group) ||
      !acl(off_sacl, SE_SACL_PRESENT, &out->sacl) || !acl(off_dacl, SE_DACL_PRESENT, &out->dacl)) {
    return STATUS_INVALID_SECURITY_DESCR;
  }
  return STATUS_SUCCESS;
}

Bytes encodeSecurityDescriptor(const SecurityDescriptor& sd, uint32_t info, uint32_t base) {
  constexpr uint16_t kDaclBits = SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED;
  constexpr uint16_t kSaclBits = SE_SACL_PRESENT | SE_SACL_AUTO_INHERITED | SE_SACL_PROTECTED;
  uint16_t control = SE_SELF_RELATIVE;
  if (info & DACL_SECURITY_INFORMATION) control |= sd.control & kDaclBits;
  if (info & SACL_SECURITY_INFORMATION) control |= sd.control & kSaclBits;
  ByteWriter w;
  w.u8(SECURITY_DESCRIPTOR_REVISION);
  w.u8(0);
  w.u16(control);
  w.zeros(16);  // offsets, patched below
  if ((info & OWNER_SECURITY_INFORMATION) && sd.owner) {
    w.patchU32(4, base + static_cast<uint32_t>(w.size()));
    encodeSid(w, *sd.owner);
  }
  if ((info & GROUP_SECURITY_INFORMATION) && sd.group) {
    w.patchU32(8, base + static_cast<uint32_t>(w.size()));
    encodeSid(w, *sd.group);
  }
  if ((control & SE_SACL_PRESENT) && sd.sacl) {
    w.patchU32(12, base + static_cast<uint32_t>(w.size()));
    encodeAcl(w, *sd.sacl);
  }
  if ((control & SE_DACL_PRESENT) && sd.dacl) {
    w.patchU32(16, base + static_cast<uint32_t>(w.size()));
    encodeAcl(w, *sd.dacl);
  }
  return w.take();
}

}  // namespace xsmb::vfs::acl
