// The command table (MS-SMB2 2.2.1.2 Command): which handler serves each command and what the
// dispatcher must resolve before calling it.
#pragma once

#include <cstdint>

#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/handlers/handler.h"

namespace xsmb::dispatch {

// Returns the status and sets the typed response body, which the dispatcher encodes.
using HandlerFn = NtStatus (*)(handlers::RequestContext&, smb2::ResponseBody&);

struct CommandInfo {
  HandlerFn fn;  // nullptr: never dispatched (CANCEL is handled before dispatch)
  bool needs_session;
  bool needs_tree;
  bool needs_identity;  // touches the filesystem by path: runs as the session's Unix user
};

// The entry of `command`, or nullptr for a command number outside MS-SMB2's list.
const CommandInfo* commandInfo(uint16_t command);

}  // namespace xsmb::dispatch
