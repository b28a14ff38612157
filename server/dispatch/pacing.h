// Live limits applied to the requests the pipeline serves (session/limits.h, docs/bpf.md "Live
// limits"): each request counts against its session's user and its tree's share; READ and
// WRITE also by their payload length.
#pragma once

#include "common/base/bytes.h"
#include "common/smb2/header.h"
#include "server/session/state.h"

namespace xsmb::dispatch {

// Charges one admitted request `msg` (header + body) of session `s` on tree `tree` (nullptr:
// none). Over a limit, moves conn.hold_until so its reply leaves later; updates the session's
// rate for its sessions map entry once a second. Requests before a session exists are free.
void chargeRequest(session::ConnState& conn, session::Session* s, const session::TreeConnect* tree,
                   const smb2::Header& h, ByteSpan msg);

}  // namespace xsmb::dispatch
