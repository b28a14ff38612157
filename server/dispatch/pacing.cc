#include "server/dispatch/pacing.h"

#include <algorithm>

#include "common/smb2/constants.h"
#include "common/smb2/messages.h"
#include "server/session/server_context.h"

namespace xsmb::dispatch {
namespace {

// The payload a READ asks for or a WRITE carries (MS-SMB2 2.2.19 / 2.2.21); 0 otherwise.
uint64_t payloadOf(const smb2::Header& h, ByteSpan msg) {
  if (h.command == smb2::SMB2_READ) {
    smb2::ReadRequest r;
    return smb2::decodeReadRequest(msg, &r) == STATUS_SUCCESS ? r.length : 0;
  }
  if (h.command == smb2::SMB2_WRITE) {
    smb2::WriteRequest w;
    return smb2::decodeWriteRequest(msg, &w) == STATUS_SUCCESS ? w.data.size() : 0;
  }
  return 0;
}

// The session user's entry, made on first use with the smb.conf defaults.
int userSlot(session::ServerContext& server, session::Session& s) {
  if (s.limit_slot == session::Session::kLimitUnset) {
    const auto& g = server.config.global;
    // (Not one conditional expression: its common type is std::string, a temporary.)
    std::string_view name = s.user;
    if (name.empty()) name = s.anonymous ? "anonymous" : "guest";
    s.limit_slot = server.limits->slot(XSMB_LIMIT_USER, name, s.identity.uid,
                                       g.user_bandwidth_limit, g.user_request_rate_limit);
  }
  return s.limit_slot;
}

}  // namespace

void chargeRequest(session::ConnState& conn, session::Session* s, const session::TreeConnect* tree,
                   const smb2::Header& h, ByteSpan msg) {
  if (s == nullptr || s->state != session::Session::State::kValid) return;
  session::ServerContext& server = *conn.server;
  const uint64_t bytes = payloadOf(h, msg);
  const int share = tree && tree->share ? tree->share->limit_slot : -1;
  const auto held = server.limits->charge(userSlot(server, *s), share, bytes, 1);
  if (held.count() > 0) {
    conn.hold_until = std::max(conn.hold_until, std::chrono::steady_clock::now() + held);
  }
  if (s->meter.add(bytes, held) && server.dataplane && server.config.global.bpf) {
    server.dataplane->updateSessionRate(s->id, s->meter.rate_bps, s->meter.throttled_ns);
  }
}

}  // namespace xsmb::dispatch
