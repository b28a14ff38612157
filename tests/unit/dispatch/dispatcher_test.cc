// answerOnEventLoop (server/dispatch/dispatcher.h): which messages a connection answers on its
// event loop, and which go to the I/O pool.
#include "server/dispatch/dispatcher.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::dispatch {
namespace {

using namespace smb2;

struct Req {
  uint16_t command;
  bool related = false;
  uint64_t session_id = 1;
  uint32_t tree_id = 1;
};

// A message (or compound chain, 8-byte aligned) of header-only requests: the decision reads
// headers only.
Bytes chain(const std::vector<Req>& reqs) {
  Bytes out;
  for (size_t i = 0; i < reqs.size(); ++i) {
    Header h;
    h.command = reqs[i].command;
    h.flags = reqs[i].related ? SMB2_FLAGS_RELATED_OPERATIONS : 0;
    h.session_id = reqs[i].session_id;
    h.tree_id = reqs[i].tree_id;
    h.message_id = i;
    h.next_command = i + 1 < reqs.size() ? kHeaderSize : 0;
    ByteWriter w(&out);
    encodeHeader(h, w);
  }
  return out;
}

class AnswerOnEventLoopTest : public ::testing::Test {
 protected:
  AnswerOnEventLoopTest() : conn_(std::make_shared<session::ConnState>(&server_)) {
    for (uint64_t id : {1, 2}) {
      auto s = std::make_unique<session::Session>();
      s->id = id;
      s->state = session::Session::State::kValid;
      for (uint32_t t : {1, 2}) s->trees[t].id = t;
      conn_->sessions[id] = std::move(s);
    }
  }
  bool inline_(const std::vector<Req>& reqs) {
    Bytes m = chain(reqs);
    return answerOnEventLoop(m, *conn_);
  }
  session::ServerContext server_;
  std::shared_ptr<session::ConnState> conn_;
};

TEST_F(AnswerOnEventLoopTest, CheapRequestsAreAnsweredOnTheLoop) {
  const struct {
    const char* what;
    std::vector<Req> reqs;
    bool on_loop;
  } cases[] = {
      {"lone ECHO", {{SMB2_ECHO}}, true},
      {"lone READ", {{SMB2_READ}}, true},
      {"lone WRITE", {{SMB2_WRITE}}, true},
      {"lone FLUSH", {{SMB2_FLUSH}}, true},
      {"CREATE+QUERY_INFO+CLOSE",
       {{SMB2_CREATE}, {SMB2_QUERY_INFO, true}, {SMB2_CLOSE, true}},
       true},
      {"READ in a compound", {{SMB2_CREATE}, {SMB2_READ, true}}, false},
      {"QUERY_DIRECTORY", {{SMB2_QUERY_DIRECTORY}}, false},
      {"SESSION_SETUP", {{SMB2_SESSION_SETUP}}, false},
      {"CHANGE_NOTIFY", {{SMB2_CHANGE_NOTIFY}}, false},
  };
  for (const auto& c : cases) EXPECT_EQ(inline_(c.reqs), c.on_loop) << c.what;
}

TEST_F(AnswerOnEventLoopTest, NotSmb2OrCutShortGoesToThePool) {
  Bytes m = chain({{SMB2_READ}});
  m[0] = 0xFD;  // TRANSFORM: decrypted on the pool
  EXPECT_FALSE(answerOnEventLoop(m, *conn_));
  Bytes cut = chain({{SMB2_READ}});
  cut.resize(kHeaderSize - 1);
  EXPECT_FALSE(answerOnEventLoop(cut, *conn_));
  Bytes bad_next = chain({{SMB2_CREATE}, {SMB2_CLOSE, true}});
  storeU32(&bad_next[kHeaderNextCommandOffset], 4096);  // beyond the message
  EXPECT_FALSE(answerOnEventLoop(bad_next, *conn_));
}

// Sealed replies are built at once, so their file I/O could not wait on the I/O engine: such
// requests go to the pool, where blocking is allowed.
TEST_F(AnswerOnEventLoopTest, RequestsWhoseRepliesAreSealedGoToThePool) {
  conn_->sessions[2]->encrypt_data = true;
  EXPECT_FALSE(inline_({{SMB2_READ, false, 2}})) << "session encrypts";
  EXPECT_TRUE(inline_({{SMB2_READ, false, 1}})) << "another session";
  conn_->sessions[1]->trees[2].encrypt_data = true;
  EXPECT_FALSE(inline_({{SMB2_WRITE, false, 1, 2}})) << "share encrypts";
  EXPECT_TRUE(inline_({{SMB2_WRITE, false, 1, 1}})) << "another tree";
  // A related request works on the session of the one before it, whatever its header says.
  EXPECT_FALSE(inline_({{SMB2_CREATE, false, 2}, {SMB2_CLOSE, true, 1}}));
  EXPECT_TRUE(inline_({{SMB2_CREATE, false, 1}, {SMB2_CLOSE, true, 2}}));
}

// Named pipes on IPC$ wait for the RPC helper (up to its call timeout when it hangs), which must
// not hold the event loop and every other connection on it: such requests go to the pool.
TEST_F(AnswerOnEventLoopTest, RequestsOnIpcGoToThePool) {
  conn_->sessions[1]->trees[2].ipc = true;
  EXPECT_FALSE(inline_({{SMB2_CREATE, false, 1, 2}})) << "pipe open";
  EXPECT_FALSE(inline_({{SMB2_WRITE, false, 1, 2}})) << "pipe write";
  EXPECT_FALSE(inline_({{SMB2_READ, false, 1, 2}})) << "pipe read";
  EXPECT_TRUE(inline_({{SMB2_READ, false, 1, 1}})) << "a disk share";
  EXPECT_TRUE(inline_({{SMB2_READ, false, 2, 2}})) << "tree 2 of another session";
}

}  // namespace
}  // namespace xsmb::dispatch
