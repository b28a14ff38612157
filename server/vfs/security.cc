#include "server/vfs/security.h"

#include <sys/xattr.h>
#include <unistd.h>

#include <iterator>
#include <string>

#include "common/smb2/constants.h"
#include "common/smb2/security_constants.h"
#include "server/vfs/info.h"
#include "server/vfs/path.h"

namespace xsmb::vfs {
namespace {

using namespace smb2;

// Returns the byte length of the SID at `off`, or 0 when it does not fit.
size_t sidLength(ByteSpan sd, size_t off) {
  if (off + 8 > sd.size() || sd[off] != SID_REVISION || sd[off + 1] > SID_MAX_SUB_AUTHORITIES) {
    return 0;
  }
  size_t len = 8 + 4 * size_t{sd[off + 1]};
  return off + len <= sd.size() ? len : 0;
}

// Returns the byte length of the ACL at `off` (its AclSize), or 0 when it is malformed.
size_t aclLength(ByteSpan sd, size_t off) {
  if (off + 8 > sd.size()) return 0;
  uint8_t rev = sd[off];
  size_t size = loadU16(&sd[off + 2]);
  size_t count = loadU16(&sd[off + 4]);
  if ((rev != 2 && rev != 4) || size < 8 || off + size > sd.size()) return 0;
  size_t pos = 8;
  for (size_t i = 0; i < count; ++i) {
    if (pos + 4 > size) return 0;
    size_t ace_size = loadU16(&sd[off + pos + 2]);
    if (ace_size < 4 || pos + ace_size > size) return 0;
    pos += ace_size;
  }
  return size;
}

std::optional<Bytes> readStored(int fd) {
  uint8_t buf[64 * 1024];
  ssize_t n = fgetxattr(fd, kSecurityDescriptorXattr, buf, sizeof(buf));
  if (n < 0 && errno == EBADF) {
    std::string p = "/proc/self/fd/" + std::to_string(fd);
    n = getxattr(p.c_str(), kSecurityDescriptorXattr, buf, sizeof(buf));
  }
  if (n <= 0) return std::nullopt;
  return Bytes(buf, buf + n);
}

int writeStored(int fd, ByteSpan sd) {
  int r = fsetxattr(fd, kSecurityDescriptorXattr, sd.data(), sd.size(), 0);
  if (r < 0 && errno == EBADF) {
    std::string p = "/proc/self/fd/" + std::to_string(fd);
    r = setxattr(p.c_str(), kSecurityDescriptorXattr, sd.data(), sd.size(), 0);
  }
  return r;
}

Bytes unixSid(uint32_t kind, uint32_t id) {  // S-1-22-kind-id, Samba's Unix SIDs
  ByteWriter w;
  w.u8(SID_REVISION);
  w.u8(2);  // SubAuthorityCount: kind, id
  w.bytes(Bytes{0, 0, 0, 0, 0, static_cast<uint8_t>(kUnixSidAuthority)});
  w.u32(kind);
  w.u32(id);
  return w.take();
}

uint32_t rwxFromMask(uint32_t mask) {
  uint32_t bits = 0;
  if (mask & (GENERIC_ALL | GENERIC_READ | FILE_READ_DATA)) bits |= 4;
  if (mask & (GENERIC_ALL | GENERIC_WRITE | FILE_WRITE_DATA | FILE_APPEND_DATA)) bits |= 2;
  if (mask & (GENERIC_ALL | GENERIC_EXECUTE | FILE_EXECUTE)) bits |= 1;
  return bits;
}

// The mode the DACL implies for owner, group and Everyone; nullopt when it names none of them.
std::optional<mode_t> modeFromDacl(const Bytes& dacl, const Bytes& owner_sid,
                                   const Bytes& group_sid, mode_t current) {
  static const Bytes kEveryone(std::begin(kEveryoneSid), std::end(kEveryoneSid));
  uint32_t u = 0, g = 0, o = 0;
  bool any = false;
  size_t count = loadU16(&dacl[4]);
  size_t pos = 8;
  for (size_t i = 0; i < count && pos + 8 <= dacl.size(); ++i) {
    uint8_t type = dacl[pos], flags = dacl[pos + 1];
    size_t size = loadU16(&dacl[pos + 2]);
    if (size < 8 || pos + size > dacl.size()) break;
    if (type == ACCESS_ALLOWED_ACE_TYPE && !(flags & INHERIT_ONLY_ACE)) {
      uint32_t mask = loadU32(&dacl[pos + 4]);
      Bytes sid(dacl.begin() + pos + 8, dacl.begin() + pos + size);
      if (sid == owner_sid) u |= rwxFromMask(mask), any = true;
      if (sid == group_sid) g |= rwxFromMask(mask), any = true;
      if (sid == kEveryone) o |= rwxFromMask(mask), any = true;
    }
    pos += size;
  }
  if (!any) return std::nullopt;
  return (current & ~mode_t{0777}) | (u << 6) | (g << 3) | o;
}

}  // namespace

NtStatus parseSecurityDescriptor(ByteSpan sd, SecurityDescriptorParts* out) {
  if (sd.size() < 20 || sd[0] != 1) return STATUS_INVALID_SECURITY_DESCR;
  uint16_t control = loadU16(&sd[2]);
  if (!(control & SE_SELF_RELATIVE)) return STATUS_INVALID_SECURITY_DESCR;
  *out = SecurityDescriptorParts{};
  out->control = control;
  uint32_t off_owner = loadU32(&sd[4]), off_group = loadU32(&sd[8]);
  uint32_t off_sacl = loadU32(&sd[12]), off_dacl = loadU32(&sd[16]);
  auto sid = [&](uint32_t off, std::optional<Bytes>* dst) {
    if (off == 0) return true;
    size_t len = sidLength(sd, off);
    if (!len || off < 20) return false;
    *dst = Bytes(sd.begin() + off, sd.begin() + off + len);
    return true;
  };
  auto acl = [&](uint32_t off, bool present, std::optional<Bytes>* dst) {
    if (!present || off == 0) return true;
    size_t len = aclLength(sd, off);
    if (!len || off < 20) return false;
    *dst = Bytes(sd.begin() + off, sd.begin() + off + len);
    return true;
  };
  if (!sid(off_owner, &out->owner) || !sid(off_group, &out->group) ||
      !acl(off_sacl, control & SE_SACL_PRESENT, &out->sacl) ||
      !acl(off_dacl, control & SE_DACL_PRESENT, &out->dacl)) {
    return STATUS_INVALID_SECURITY_DESCR;
  }
  return STATUS_SUCCESS;
}

Bytes buildSecurityDescriptor(const SecurityDescriptorParts& p, uint32_t info) {
  ByteWriter w;
  bool owner = (info & OWNER_SECURITY_INFORMATION) && p.owner;
  bool group = (info & GROUP_SECURITY_INFORMATION) && p.group;
  bool sacl = (info & SACL_SECURITY_INFORMATION) && p.sacl;
  bool dacl = (info & DACL_SECURITY_INFORMATION) && p.dacl;
  uint16_t control = (p.control & ~(SE_DACL_PRESENT | SE_SACL_PRESENT)) | SE_SELF_RELATIVE |
                     (dacl ? SE_DACL_PRESENT : 0) | (sacl ? SE_SACL_PRESENT : 0);
  w.u8(1);
  w.u8(0);
  w.u16(control);
  w.zeros(16);
  if (owner) {
    w.patchU32(4, static_cast<uint32_t>(w.size()));
    w.bytes(*p.owner);
  }
  if (group) {
    w.patchU32(8, static_cast<uint32_t>(w.size()));
    w.bytes(*p.group);
  }
  if (sacl) {
    w.patchU32(12, static_cast<uint32_t>(w.size()));
    w.bytes(*p.sacl);
  }
  if (dacl) {
    w.patchU32(16, static_cast<uint32_t>(w.size()));
    w.bytes(*p.dacl);
  }
  return w.take();
}

Bytes querySecurityDescriptor(int fd, const struct stat& st, bool directory, uint32_t info) {
  SecurityDescriptorParts parts;
  if (auto stored = readStored(fd);
      stored && parseSecurityDescriptor(*stored, &parts) == STATUS_SUCCESS) {
    return buildSecurityDescriptor(parts, info);
  }
  return securityDescriptorFromStat(st.st_uid, st.st_gid, st.st_mode, directory, info);
}

NtStatus setSecurityDescriptor(int fd, const struct stat& st, bool directory, uint32_t info,
                               ByteSpan sd) {
  SecurityDescriptorParts incoming, current;
  if (NtStatus s = parseSecurityDescriptor(sd, &incoming); s != STATUS_SUCCESS) return s;
  constexpr uint32_t kAll = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
                            DACL_SECURITY_INFORMATION | SACL_SECURITY_INFORMATION;
  Bytes base = querySecurityDescriptor(fd, st, directory, kAll);
  if (NtStatus s = parseSecurityDescriptor(base, &current); s != STATUS_SUCCESS) return s;
  if (info & OWNER_SECURITY_INFORMATION) current.owner = incoming.owner;
  if (info & GROUP_SECURITY_INFORMATION) current.group = incoming.group;
  if (info & SACL_SECURITY_INFORMATION) current.sacl = incoming.sacl;
  if (info & DACL_SECURITY_INFORMATION) {
    current.dacl = incoming.dacl;
    current.control =
        (current.control & ~SE_DACL_PROTECTED) | (incoming.control & SE_DACL_PROTECTED);
  }
  Bytes merged = buildSecurityDescriptor(current, kAll);
  if (writeStored(fd, merged) != 0) return ntStatusFromErrno(errno);
  if ((info & DACL_SECURITY_INFORMATION) && current.dacl) {
    Bytes owner_sid = current.owner ? *current.owner : unixSid(1, st.st_uid);
    if (auto mode = modeFromDacl(*current.dacl, owner_sid, unixSid(2, st.st_gid), st.st_mode)) {
      std::string p = "/proc/self/fd/" + std::to_string(fd);
      if (fchmod(fd, *mode) != 0 && (errno != EBADF || chmod(p.c_str(), *mode) != 0))
        return ntStatusFromErrno(errno);
    }
  }
  return STATUS_SUCCESS;
}

}  // namespace xsmb::vfs
