// SIGHUP: configuration and user database reload without dropping a connection
// (docs/operations.md "Reload").
#pragma once

#include <string>

#include "server/session/server_context.h"

namespace xsmb::core {

// Re-reads `path` (smb.conf; empty: the embedded configuration, whose shares stay) and the user
// database. A file that cannot be read or has errors is logged, counted as refused, and changes
// nothing. Otherwise the shares change for new TREE_CONNECTs (ServerContext::reloadShares),
// "log level" applies at once when `apply_log_level` (no --log-level), and every other changed
// [global] parameter is logged as needing a restart. Returns true when applied.
bool reloadConfiguration(session::ServerContext& server, const std::string& path,
                         const session::ServerContext::ShareOpener& open_share,
                         bool apply_log_level);

}  // namespace xsmb::core
