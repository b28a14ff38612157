// Fuzzes the whole request pipeline past authentication: processMessage() on arbitrary bytes
// for a connection that has negotiated SMB 3.1.1 and holds a guest session with a tree connect
// on a scratch share. Every command handler's own parsing (CREATE contexts, SET_INFO rename
// and basic buffers, IOCTL inputs, LOCK arrays, security descriptors, ...) is reached. The
// input is split on the 4-byte marker "XSMB" into successive messages of one connection.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "server/dispatch/dispatcher.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "common/smb2/constants.h"

namespace {

using namespace xsmb;

session::ServerContext* server() {
  static session::ServerContext* s = [] {
    char tmpl[] = "/tmp/xsmb-dispatcher-fuzz-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    auto* ctx = new session::ServerContext();
    config::ShareConfig share;
    share.name = "share";
    share.path = dir;
    share.read_only = false;
    share.guest_ok = true;
    ctx->config.shares.push_back(share);
    ctx->config.global.smb_passwd_file = dir + "/users.db";
    auto sh = std::make_unique<session::Share>();
    sh->cfg = share;
    sh->root.reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ctx->shares.push_back(std::move(sh));
    return ctx;
  }();
  return s;
}

// A connection as it is after NEGOTIATE (3.1.1), a guest SESSION_SETUP and a TREE_CONNECT.
std::shared_ptr<session::ConnState> connection() {
  auto conn = std::make_shared<session::ConnState>(server());
  conn->negotiated = true;
  conn->dialect = smb2::SMB2_DIALECT_311;
  conn->max_transact_size = conn->max_read_size = conn->max_write_size = 1 << 20;
  for (int i = 0; i < 64; ++i) conn->credits.grant(1);  // MessageIds 0..64 usable
  auto s = std::make_unique<session::Session>();
  s->id = 1;
  s->state = session::Session::State::kValid;
  s->guest = true;
  session::TreeConnect t;
  t.id = 1;
  t.share = server()->shares[0].get();
  t.read_only = false;
  t.maximal_access = smb2::FILE_ALL_ACCESS;
  s->trees[1] = t;
  conn->sessions[1] = std::move(s);
  return conn;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto conn = connection();
  const uint8_t kMarker[4] = {'X', 'S', 'M', 'B'};
  size_t start = 0;
  for (size_t i = 0; i <= size; ++i) {
    bool cut = i == size || (i + 4 <= size && std::memcmp(data + i, kMarker, 4) == 0);
    if (!cut) continue;
    if (i > start) {
      dispatch::processMessage(*conn, ByteSpan(data + start, i - start));
      if (conn->disconnect) break;
    }
    start = i + 4;
    i += 3;
  }
  return 0;
}
