// Extended attributes as SMB sees them (MS-FSCC 2.4.15 FILE_FULL_EA_INFORMATION, 2.4.16
// FILE_GET_EA_INFORMATION), kept in user xattrs as Samba keeps them, so that a share moved from
// Samba keeps its EAs: EA "NAME" is the xattr "user.NAME" with the EA's value as its value.
// xattrs that hold other state (streams, DOS attributes, ACLs: Samba's and ours) are no EAs: they
// are neither listed nor settable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::vfs {

struct FullEa {
  uint8_t flags = 0;  // FILE_NEED_EA (0x80) or 0
  std::string name;   // 1..255 bytes of ASCII (isValidEaName)
  Bytes value;        // 0..65535 bytes; empty in a set request means "remove"
};

// MS-FSCC 2.4.15: an EA name has 1..255 characters, none below 0x20 or 0x7F and above, and none of
// " * + , / : ; < = > ? [ \ ] | (FsRtlIsEaNameValid's rules, as Samba applies them).
bool isValidEaName(std::string_view name);

// Parses a FILE_FULL_EA_INFORMATION chain (little-endian; each entry NextEntryOffset u32,
// Flags u8, EaNameLength u8, EaValueLength u16, EaName + NUL, EaValue; NextEntryOffset 0 ends the
// chain, otherwise it is a multiple of 4 and stays inside the buffer). STATUS_EA_LIST_INCONSISTENT
// for a malformed chain (also an empty buffer, a missing NUL, lengths beyond the entry, flags
// other than FILE_NEED_EA), STATUS_INVALID_EA_NAME for an invalid name. At most 65536 entries.
NtStatus parseFullEaList(ByteSpan buf, std::vector<FullEa>* out);
// Parses a FILE_GET_EA_INFORMATION chain (NextEntryOffset u32, EaNameLength u8, EaName + NUL).
// STATUS_EA_LIST_INCONSISTENT when malformed, STATUS_INVALID_EA_NAME for an invalid name.
NtStatus parseGetEaList(ByteSpan buf, std::vector<std::string>* names);

// Bytes one FILE_FULL_EA_INFORMATION entry takes: 8 + name + 1 + value (unpadded).
size_t fullEaEntrySize(const FullEa& ea);
// Encodes entries until the next one would not fit in `limit` bytes (entries 4-byte aligned, the
// last without padding). Returns how many were encoded.
size_t encodeFullEaList(const std::vector<FullEa>& eas, size_t limit, Bytes* out);
// FileEaInformation.EaSize (MS-FSCC 2.4.13): the size of the whole list as encodeFullEaList
// writes it; 0 without EAs.
uint32_t eaListSize(const std::vector<FullEa>& eas);

// The xattr that holds EA `name`: "user." + name.
std::string eaXattrName(std::string_view name);
// The EA an xattr name holds, or nullopt for non-user xattrs and for the xattrs of other state
// (user.DosStream.*, user.DOSATTRIB, user.SAMBA_PAI, user.xsmb.*, ...).
std::optional<std::string> eaNameFromXattr(std::string_view xattr);

// The EAs of the file open as `fd` (O_PATH goes through /proc/self/fd), in xattr list order.
NtStatus readEas(int fd, std::vector<FullEa>* out);
// Sets (non-empty value) or removes (empty value; absent is no error) each EA. An EA whose xattr
// would be one of other state -> STATUS_ACCESS_DENIED; full filesystem -> STATUS_DISK_FULL.
NtStatus writeEas(int fd, const std::vector<FullEa>& eas);

}  // namespace xsmb::vfs
