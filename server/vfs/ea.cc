#include "server/vfs/ea.h"

#include <errno.h>
#include <sys/xattr.h>

#include <cstring>

#include "common/base/unicode.h"
#include "server/vfs/attributes.h"
#include "server/vfs/path.h"
#include "server/vfs/xattr.h"

namespace xsmb::vfs {
namespace {

constexpr uint8_t kFileNeedEa = 0x80;  // MS-FSCC 2.4.15 Flags
constexpr size_t kMaxEntries = 65536;
constexpr std::string_view kUserPrefix = "user.";

// The xattrs of other state (compared without case: EA names have none).
bool isPrivateXattr(std::string_view x) {
  static constexpr std::string_view kPrivate[] = {
      "user.DOSATTRIB", "user.SAMBA_PAI", "user.SAMBA_STREAMS", "user.NTACL",
      "user.DosStream",  "user.xsmb",      "user.SAMBA"};
  for (std::string_view p : kPrivate) {
    if (x.size() >= p.size() && equalsIgnoreCase(x.substr(0, p.size()), p) &&
        (x.size() == p.size() || x[p.size()] == '.' || p == "user.SAMBA"))
      return true;
  }
  return std::string_view(kDosInfoXattr) == x;
}

NtStatus eaStatus(int err) {
  if (err == ENOSPC || err == E2BIG || err == ERANGE) return STATUS_DISK_FULL;
  return ntStatusFromErrno(err);
}


}  // namespace

bool isValidEaName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7F) return false;
    if (std::strchr("\"*+,/:;<=>?[\\]|", c)) return false;
  }
  return true;
}

NtStatus parseFullEaList(ByteSpan buf, std::vector<FullEa>* out) {
  out->clear();
  if (buf.empty()) return STATUS_EA_LIST_INCONSISTENT;
  size_t pos = 0;
  while (true) {
    if (out->size() >= kMaxEntries || buf.size() - pos < 8) return STATUS_EA_LIST_INCONSISTENT;
    ByteReader r(buf.subspan(pos));
    uint32_t next = r.u32();
    FullEa ea;
    ea.flags = r.u8();
    uint8_t name_len = r.u8();
    uint16_t value_len = r.u16();
    ByteSpan name = r.bytes(name_len);
    uint8_t nul = r.u8();
    ByteSpan value = r.bytes(value_len);
    if (!r.ok() || nul != 0 || (ea.flags & ~kFileNeedEa)) return STATUS_EA_LIST_INCONSISTENT;
    if (next != 0 && (next % 4 != 0 || next < r.offset() || next > buf.size() - pos))
      return STATUS_EA_LIST_INCONSISTENT;
    ea.name.assign(name.begin(), name.end());
    if (!isValidEaName(ea.name)) return STATUS_INVALID_EA_NAME;
    ea.value.assign(value.begin(), value.end());
    out->push_back(std::move(ea));
    if (next == 0) return STATUS_SUCCESS;
    pos += next;
  }
}

NtStatus parseGetEaList(ByteSpan buf, std::vector<std::string>* names) {
  names->clear();
  if (buf.empty()) return STATUS_EA_LIST_INCONSISTENT;
  size_t pos = 0;
  while (true) {
    if (names->size() >= kMaxEntries || buf.size() - pos < 6) return STATUS_EA_LIST_INCONSISTENT;
    ByteReader r(buf.subspan(pos));
    uint32_t next = r.u32();
    uint8_t name_len = r.u8();
    ByteSpan name = r.bytes(name_len);
    uint8_t nul = r.u8();
    if (!r.ok() || nul != 0) return STATUS_EA_LIST_INCONSISTENT;
    if (next != 0 && (next % 4 != 0 || next < r.offset() || next > buf.size() - pos))
      return STATUS_EA_LIST_INCONSISTENT;
    std::string n(name.begin(), name.end());
    if (!isValidEaName(n)) return STATUS_INVALID_EA_NAME;
    names->push_back(std::move(n));
    if (next == 0) return STATUS_SUCCESS;
    pos += next;
  }
}

size_t fullEaEntrySize(const FullEa& ea) { return 8 + ea.name.size() + 1 + ea.value.size(); }

size_t encodeFullEaList(const std::vector<FullEa>& eas, size_t limit, Bytes* out) {
  size_t base = out->size(), count = 0;
  size_t prev = SIZE_MAX;
  for (const FullEa& ea : eas) {
    size_t start = out->size();
    size_t aligned = (start - base + 3) & ~size_t{3};
    if (aligned + fullEaEntrySize(ea) > limit) break;
    out->resize(base + aligned, 0);
    start = out->size();
    if (prev != SIZE_MAX) {
      uint32_t off = static_cast<uint32_t>(start - prev);
      std::memcpy(out->data() + prev, &off, 4);  // little-endian host (x86-64, arm64)
    }
    ByteWriter w(out);
    w.u32(0);
    w.u8(ea.flags);
    w.u8(static_cast<uint8_t>(ea.name.size()));
    w.u16(static_cast<uint16_t>(ea.value.size()));
    w.bytes(ByteSpan(reinterpret_cast<const uint8_t*>(ea.name.data()), ea.name.size()));
    w.u8(0);
    w.bytes(ea.value);
    prev = start;
    ++count;
  }
  return count;
}

uint32_t eaListSize(const std::vector<FullEa>& eas) {
  Bytes b;
  encodeFullEaList(eas, SIZE_MAX, &b);
  return static_cast<uint32_t>(b.size());
}

std::string eaXattrName(std::string_view name) {
  std::string x(kUserPrefix);
  x.append(name);
  return x;
}

std::optional<std::string> eaNameFromXattr(std::string_view x) {
  if (x.size() <= kUserPrefix.size() || x.substr(0, kUserPrefix.size()) != kUserPrefix)
    return std::nullopt;
  if (isPrivateXattr(x)) return std::nullopt;
  std::string name(x.substr(kUserPrefix.size()));
  if (!isValidEaName(name)) return std::nullopt;
  return name;
}

NtStatus readEas(int fd, std::vector<FullEa>* out) {
  out->clear();
  // One listxattr into a stack buffer answers for nearly every file; a longer list is sized first.
  char small[4096];
  std::string names;
  ssize_t n = fdListXattr(fd, small, sizeof(small));
  if (n >= 0) {
    names.assign(small, static_cast<size_t>(n));
  } else if (errno == ENOTSUP) {
    return STATUS_SUCCESS;
  } else if (errno != ERANGE) {
    return eaStatus(errno);
  } else {
    n = fdListXattr(fd, nullptr, 0);
    if (n < 0) return eaStatus(errno);
    names.resize(static_cast<size_t>(n));
    n = fdListXattr(fd, names.data(), names.size());
    if (n < 0) return eaStatus(errno);
    names.resize(static_cast<size_t>(n));
  }
  Bytes value;  // one read per EA into the largest value SMB allows (ERANGE: larger, skipped)
  for (size_t pos = 0; pos < names.size();) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string x = names.substr(pos, end - pos);
    pos = end + 1;
    auto name = eaNameFromXattr(x);
    if (!name) continue;
    value.resize(65535);
    ssize_t len = fdGetXattr(fd, x.c_str(), value.data(), value.size());
    if (len <= 0) continue;  // gone meanwhile, too large for an SMB EA, or empty (no EA for SMB)
    FullEa ea;
    ea.name = *name;
    ea.value.assign(value.begin(), value.begin() + len);
    out->push_back(std::move(ea));
  }
  return STATUS_SUCCESS;
}

NtStatus writeEas(int fd, const std::vector<FullEa>& eas) {
  for (const FullEa& ea : eas) {
    std::string x = eaXattrName(ea.name);
    if (isPrivateXattr(x) || isPrivateXattr(ea.name)) return STATUS_ACCESS_DENIED;
    std::string_view n = ea.name;
    if (equalsIgnoreCase(n.substr(0, 9), "security.") ||
        equalsIgnoreCase(n.substr(0, 7), "system.") || equalsIgnoreCase(n.substr(0, 5), "user."))
      return STATUS_ACCESS_DENIED;  // would name another xattr namespace than ours
    if (ea.value.empty()) {
      int r = fdRemoveXattr(fd, x.c_str());
      if (r < 0 && errno != ENODATA) return eaStatus(errno);
      continue;
    }
    int r = fdSetXattr(fd, x.c_str(), ea.value.data(), ea.value.size(), 0);
    if (r < 0) return eaStatus(errno);
  }
  return STATUS_SUCCESS;
}

}  // namespace xsmb::vfs
