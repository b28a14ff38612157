// Test-only connection and session state for driving the dispatcher without a handshake: a
// connection past NEGOTIATE and a guest session with one tree connect, as the unit tests of
// the dispatch, SMB Direct and core layers build them.
#pragma once

#include <cstdint>
#include <memory>

#include "common/smb2/constants.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::session::testing {

// A connection of `server` after NEGOTIATE of SMB 3.1.1 with MaxTransactSize, MaxReadSize and
// MaxWriteSize `max_io` bytes, and `credits` credits granted (MessageIds 0..credits).
inline std::shared_ptr<ConnState> negotiatedConnection(ServerContext* server, uint32_t max_io,
                                                       int credits) {
  auto conn = std::make_shared<ConnState>(server);
  conn->negotiated = true;
  conn->dialect = smb2::SMB2_DIALECT_311;
  conn->max_transact_size = conn->max_read_size = conn->max_write_size = max_io;
  for (int i = 0; i < credits; ++i) conn->credits.grant(1);
  return conn;
}

// A valid guest session `id` (no signing) with tree connect `tree_id` on `share`, writable and
// with FILE_ALL_ACCESS as its maximal access.
inline std::unique_ptr<Session> guestSessionWithTree(uint64_t id, uint32_t tree_id,
                                                     Share* share) {
  auto s = std::make_unique<Session>();
  s->id = id;
  s->state = Session::State::kValid;
  s->guest = true;
  TreeConnect t;
  t.id = tree_id;
  t.share = share;
  t.read_only = false;
  t.maximal_access = smb2::FILE_ALL_ACCESS;
  s->trees[tree_id] = t;
  return s;
}

}  // namespace xsmb::session::testing
