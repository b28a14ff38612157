#include "server/vfs/acl_xattr.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sys/xattr.h>

#include <cstring>
#include <string>

#include "common/smb2/security_constants.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs::acl {
namespace {

constexpr uint32_t kFirstReferent = 0x00020000;  // NDR unique pointer ids, as Samba numbers them
constexpr size_t kMaxBlob = 64 * 1024;

void align4(ByteReader& r) { r.seek((r.offset() + 3) & ~size_t{3}); }

// The descriptor at the reader's position (aligned to 4). Samba's NDR counts its offsets from
// the start of the blob, not of the descriptor (checked with Samba 4.17's ndrdump --validate).
NtStatus decodeDeferredSd(ByteReader& r, SecurityDescriptor* sd) {
  align4(r);
  if (!r.ok()) return STATUS_INVALID_SECURITY_DESCR;
  return decodeSecurityDescriptor(r.data(), sd, false, r.offset());
}

Bytes sha256(ByteSpan data) {
  Bytes out(32);
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

// xattr_NTACL version 3 (what Samba hashes): header, hash_v3, descriptor.
Bytes encodeV3(const SecurityDescriptor& sd, uint16_t hash_type, ByteSpan hash) {
  ByteWriter w;
  w.u16(3);
  w.u16(3);
  w.u32(kFirstReferent);
  w.u32(kFirstReferent + 4);
  w.u16(hash_type);
  w.bytes(hash);
  w.zeros(kXattrSdHashSize - hash.size());
  w.align(4);
  w.bytes(encodeSecurityDescriptor(sd, 0xF, static_cast<uint32_t>(w.size())));
  return w.take();
}

std::optional<Bytes> getXattr(int fd, const char* name, FdKind kind) {
  Bytes buf(kMaxBlob);
  ssize_t n = fdGetXattr(fd, name, buf.data(), buf.size(), kind);
  if (n <= 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

int setXattr(int fd, const char* name, ByteSpan value) {
  return fdSetXattr(fd, name, value.data(), value.size(), 0) == 0 ? 0 : errno;
}

uint64_t nowNtTime() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return (static_cast<uint64_t>(ts.tv_sec) + 11644473600ULL) * 10000000ULL +
         static_cast<uint64_t>(ts.tv_nsec) / 100;
}

}  // namespace

NtStatus decodeNtAclBlob(ByteSpan blob, SecurityDescriptor* sd, NtAclBlobInfo* info) {
  NtAclBlobInfo local;
  NtAclBlobInfo& out = info ? *info : local;
  out = NtAclBlobInfo{};
  ByteReader r(blob);
  out.version = r.u16();
  uint16_t level = r.u16();
  uint32_t referent = r.u32();
  if (!r.ok() || level != out.version || referent == 0) return STATUS_INVALID_SECURITY_DESCR;
  if (out.version < 1 || out.version > 4) return STATUS_NOT_SUPPORTED;
  if (out.version == 1) return decodeDeferredSd(r, sd);
  uint32_t sd_referent = r.u32();
  if (out.version == 2) {
    r.skip(16);
  } else {
    out.hash_type = r.u16();
    r.skip(kXattrSdHashSize);
  }
  if (out.version == 4) {
    ByteSpan rest = r.data().subspan(std::min(r.offset(), r.size()));
    const void* nul = std::memchr(rest.data(), 0, rest.size());
    if (!r.ok() || !nul) return STATUS_INVALID_SECURITY_DESCR;
    size_t len = static_cast<const uint8_t*>(nul) - rest.data();
    out.description.assign(reinterpret_cast<const char*>(rest.data()), len);
    r.skip(len + 1);
    align4(r);
    uint32_t low = r.u32();
    out.time = low | (static_cast<uint64_t>(r.u32()) << 32);
    r.skip(kXattrSdHashSize);
  }
  if (!r.ok() || sd_referent == 0) return STATUS_INVALID_SECURITY_DESCR;
  return decodeDeferredSd(r, sd);
}

Bytes encodeNtAclBlob(const SecurityDescriptor& sd, const std::string& description,
                      uint64_t nttime) {
  Bytes hash = sha256(encodeV3(sd, kXattrSdHashTypeSha256, {}));
  ByteWriter w;
  w.u16(4);
  w.u16(4);
  w.u32(kFirstReferent);
  w.u32(kFirstReferent + 4);
  w.u16(kXattrSdHashTypeSha256);
  w.bytes(hash);
  w.zeros(kXattrSdHashSize - hash.size());
  w.bytes(description.data(), description.size());
  w.u8(0);
  w.align(4);
  w.u32(static_cast<uint32_t>(nttime));
  w.u32(static_cast<uint32_t>(nttime >> 32));
  w.zeros(kXattrSdHashSize);  // sys_acl_hash: no POSIX ACL blob is hashed
  w.align(4);
  w.bytes(encodeSecurityDescriptor(sd, 0xF, static_cast<uint32_t>(w.size())));
  return w.take();
}

std::optional<SecurityDescriptor> readNtAcl(int fd) { return readNtAcl(fd, XattrNames{}, FdKind::kAny); }

std::optional<SecurityDescriptor> readNtAcl(int fd, const XattrNames& names, FdKind kind) {
  for (const char* name : {kNtAclXattr, kNtAclUserXattr}) {
    if (!names.mayHave(name)) continue;
    std::optional<Bytes> blob = getXattr(fd, name, kind);
    if (!blob) continue;
    SecurityDescriptor sd;
    if (decodeNtAclBlob(*blob, &sd) == STATUS_SUCCESS) return sd;
  }
  return std::nullopt;
}

int writeNtAcl(int fd, const SecurityDescriptor& sd) {
  Bytes blob = encodeNtAclBlob(sd, "xsmbd", nowNtTime());
  int err = setXattr(fd, kNtAclXattr, blob);
  if (err == EPERM || err == ENOTSUP) err = setXattr(fd, kNtAclUserXattr, blob);
  return err;
}

}  // namespace xsmb::vfs::acl
