// Limits that hold under abuse, and what an anonymous session may see: smb.conf [global]
// parameters kept apart from the main table so that they are read and rendered in one place
// (smb_conf_hardening.cc). docs/hardening.md says what each bounds and why its default.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xsmb::config {

struct HardeningConfig {
  // "max open files" (Samba's name; per connection, as Samba's is per smbd process, which
  // serves one connection): opens of one connection, past which CREATE answers
  // STATUS_INSUFFICIENT_RESOURCES. 1..1048576.
  uint32_t max_open_files = 16384;
  // "max open files per session": the same bound for the opens of one session. 1..1048576.
  uint32_t max_open_files_per_session = 16384;
  // "max sessions per connection": sessions (authenticated or in progress) on one connection,
  // past which a SESSION_SETUP starting a new one answers STATUS_INSUFFICIENT_RESOURCES.
  uint32_t max_sessions_per_connection = 256;
  // "max async requests per connection": requests answered STATUS_PENDING and not completed
  // (CHANGE_NOTIFY, waiting locks; MS-SMB2 3.3.4.2), past which the next answers
  // STATUS_INSUFFICIENT_RESOURCES. 1..65536.
  uint32_t max_async_requests = 512;
  // "session setup timeout": seconds from accept until the connection has an authenticated
  // session (NEGOTIATE and SESSION_SETUP done); a connection still without one is closed.
  // 0 = never; 0..3600.
  uint32_t session_setup_timeout_secs = 30;
  // "max pending request bytes": received messages of one connection waiting to be processed;
  // at this many bytes the connection is not read until they drain (one message is always
  // taken). Bytes, K/M/G suffixes; 1 MiB..1 GiB.
  uint64_t max_pending_request_bytes = 32u << 20;
  // "max unsent reply bytes": replies of one connection held in memory, not yet written to
  // its socket (a client that sends without reading); at this many bytes the connection is not
  // read until the client takes them. Bytes, K/M/G suffixes; 1 MiB..1 GiB.
  uint64_t max_unsent_reply_bytes = 16u << 20;
  // "restrict anonymous" (Samba's name and values): 0 = anonymous sessions may list shares
  // (srvsvc) and users (samr) through IPC$; 1 or 2 = guest and anonymous sessions may not
  // (access denied); 2 = IPC$ itself refuses them (tree connect: access denied).
  uint32_t restrict_anonymous = 0;
  bool operator==(const HardeningConfig&) const = default;
};

namespace internal {
// The parameter names, as the table lists them.
const std::vector<const char*>& hardeningParamNames();
// Sets the parameter `name` (one of hardeningParamNames) from `value`; an error message when
// the value is not a number in the parameter's range.
bool applyHardening(std::string_view name, std::string_view value, HardeningConfig* c,
                    std::string* error);
// Each parameter as "name", "value".
void renderHardening(const HardeningConfig& c,
                     const std::function<void(const char*, const std::string&)>& line);
}  // namespace internal

}  // namespace xsmb::config
