// What the RPC services report, as a snapshot the server core hands to xsmb-rpcd (which has
// no access to the configuration or the user database), and its wire form on the
// xsmbd <-> xsmb-rpcd socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"

namespace xsmb::rpc {

// MS-SRVS 2.2.2.4 share types.
constexpr uint32_t kStypeDisktree = 0x00000000;
constexpr uint32_t kStypeIpc = 0x00000003;
constexpr uint32_t kStypeSpecial = 0x80000000;  // administrative/hidden share ("IPC$")

struct ShareInfo {
  std::string name;     // as configured, e.g. "data"
  std::string comment;  // "comment =" (SHARE_INFO_1 shi1_remark)
  std::string path;     // reported at levels 2/502 as a Windows path "C:\srv\data"
  uint32_t type = kStypeDisktree;
  bool browseable = true;  // false: hidden from NetShareEnum, still reachable by name
};

struct UserInfo {
  std::string name;
  // Relative id within domain_sid. The core derives it from a stable per-user value (the
  // user database's record), so the SID S-...-rid is the same across restarts.
  uint32_t rid = 0;
  std::string full_name;
};

struct ServerInfo {
  std::string netbios_name;   // also the SAM/LSA account domain name (standalone server)
  std::string workgroup;      // primary domain name (LSA class 3, NetWkstaGetInfo langroup)
  std::string server_string;  // "server string =" (SERVER_INFO_101 comment)
  // "S-1-5-21-a-b-c": the core derives it from a value stored on disk, so it is stable for
  // a server across restarts; services use it as given.
  std::string domain_sid;
  std::vector<ShareInfo> shares;
  std::vector<UserInfo> users;
};

// Who opened the pipe (the SMB session's user), and the "restrict anonymous" level (smb.conf,
// Samba's values 0-2) in force when it was opened.
struct CallerInfo {
  std::string user;
  std::string domain;
  bool guest = false;  // a guest or anonymous (null) session
  uint8_t restrict_anonymous = 0;
};

// Samba's "restrict anonymous" above 0 for a guest or anonymous caller: share enumeration and
// server information (srvsvc) and every SAM connect (samr) are refused with access denied.
inline bool anonymousRestricted(const CallerInfo& c) { return c.guest && c.restrict_anonymous > 0; }

// Versioned compact encoding: "XSI" 1, then length-prefixed fields (little-endian).
Bytes serializeServerInfo(const ServerInfo& info);
// nullopt on a wrong magic/version, truncation, trailing bytes or counts beyond limits.
std::optional<ServerInfo> parseServerInfo(ByteSpan data);

// u16-length-prefixed user and domain, a u8 guest flag (0/1), a u8 restrict_anonymous (0-2).
Bytes serializeCallerInfo(const CallerInfo& caller);
std::optional<CallerInfo> parseCallerInfo(ByteReader& r);

}  // namespace xsmb::rpc
