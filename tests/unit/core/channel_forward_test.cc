// Multichannel forwarding (server/core/channel_forward.h) while a session changes homes
// (session::handOverSessions): a request that a bound channel routes to the session's home must
// be processed where the session's trees and opens are, whatever the order in which the strands
// run. Each connection's strand is a queue the test drains by hand, so that the interleavings a
// loaded server produces now and then (integration_multichannel's four channels when the first
// one is cut) happen here every time:
// - a channel routes its request while the session is on its way to the new home's strand: the
//   request must not be queued there ahead of the session's installation;
// - a channel routes its request to the old home just before that connection closes and hands
//   the session on: the request runs on the old home's strand after the session left.
// Either way the request must come back to its channel, be routed again and succeed (CREATE
// finds its tree), not be answered STATUS_NETWORK_NAME_DELETED or STATUS_USER_SESSION_DELETED.
#include "server/core/channel_forward.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "server/session/channels.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "tests/unit/session/test_state.h"
#include "tests/unit/smb2/packet_builder.h"

namespace xsmb::core {
namespace {

using namespace smb2;
using smb2::testing::le32;
using smb2::testing::Smb2Msg;

// What Smb2Msg puts in every header.
constexpr uint64_t kSessionId = 0x0000400000000abcULL;
constexpr uint32_t kTreeId = 0x11223344;

// A transport connection that keeps what is sent on it.
class RecordingConnection : public transport::Connection {
 public:
  transport::TransportKind kind() const override { return transport::TransportKind::kTcp; }
  const std::string& peer() const override { return peer_; }
  uint32_t loopIndex() const override { return 0; }
  void send(transport::OutMessage m) override { sent.push_back(std::move(m.bytes)); }
  void runInStrand(std::function<transport::Reply()>) override {}
  void close() override { closed = true; }
  bool sendsFileByReference() const override { return false; }
  std::vector<Bytes> sent;
  bool closed = false;

 private:
  std::string peer_ = "test";
};

// One connection: its state, its transport and its strand (a queue run by drain()).
struct Peer {
  std::shared_ptr<session::ConnState> state;
  std::shared_ptr<RecordingConnection> conn = std::make_shared<RecordingConnection>();
  std::deque<std::function<void(session::ConnState&)>> strand;
  // Runs before a task is queued on this strand (the test's way to interleave another thread).
  std::function<void()> before_queue;
};

class ChannelForwardTest : public ::testing::Test {
 protected:
  ChannelForwardTest() {
    char tmpl[] = "/tmp/xsmb-forward-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    close(open((dir_ + "/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    auto share = std::make_unique<session::Share>();
    share->cfg.name = "share";
    share->cfg.path = dir_;
    share->cfg.read_only = false;
    share->cfg.guest_ok = true;
    share->root.reset(open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    share_ = share.get();
    server_.shares.push_back(std::move(share));
    for (Peer* p : {&home_, &next_, &other_}) {
      p->state = session::testing::negotiatedConnection(&server_, 1 << 20, 64);
      p->state->run_in_strand = [p](std::function<void(session::ConnState&)> task) {
        if (auto hook = std::exchange(p->before_queue, nullptr)) hook();
        p->strand.push_back(std::move(task));
      };
    }
    // The session lives on `home_` (guest, one tree connect); `next_` and `other_` are bound
    // channels of it, `next_` first (the one handOverSessions picks).
    home_.state->sessions[kSessionId] =
        session::testing::guestSessionWithTree(kSessionId, kTreeId, share_);
    server_.registerSession(kSessionId, home_.state, "guest");
    for (Peer* p : {&next_, &other_}) {
      auto entry = std::make_unique<session::Session>();
      entry->id = kSessionId;
      entry->state = session::Session::State::kValid;
      entry->bound_channel = true;
      p->state->sessions[kSessionId] = std::move(entry);
      EXPECT_TRUE(server_.addChannel(kSessionId, p->state));
    }
  }
  ~ChannelForwardTest() override {
    for (Peer* p : {&home_, &next_, &other_}) {
      p->strand.clear();
      p->state.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // CREATE (MS-SMB2 2.2.13) of "f" on the session's tree, as `other_` receives it.
  static transport::Message createRequest(uint64_t mid) {
    Smb2Msg m(SMB2_CREATE, mid);
    m.u16(57).u8(0).u8(0).u32(2).u64(0).u64(0);
    m.u32(FILE_READ_ATTRIBUTES).u32(0).u32(FILE_SHARE_READ | FILE_SHARE_WRITE).u32(FILE_OPEN);
    m.u32(0).u16(0x78).u16(2).u32(0).u32(0).utf16("f");
    Bytes b = m.bytes();
    auto msg = transport::Message::make(b.size());
    std::copy(b.begin(), b.end(), msg.data.get());
    return msg;
  }

  // Runs queued strand tasks (each strand in turn, one task at a time) until none is left.
  void drain() {
    for (int round = 0; round < 10000; ++round) {
      bool ran = false;
      for (Peer* p : {&home_, &next_, &other_}) {
        if (p->strand.empty()) continue;
        auto task = std::move(p->strand.front());
        p->strand.pop_front();
        task(*p->state);
        task = nullptr;  // what a task holds goes before the next one runs, as on a strand
        ran = true;
      }
      if (!ran) return;
    }
    ADD_FAILURE() << "strands never emptied";
  }

  // The one response `other_` sent: its Status (MS-SMB2 2.2.1.2).
  void expectOneResponse(NtStatus status) {
    ASSERT_EQ(other_.conn->sent.size(), 1u);
    const Bytes& r = other_.conn->sent[0];
    ASSERT_GE(r.size(), kHeaderSize);
    EXPECT_EQ(le32(r, kHeaderStatusOffset), status)
        << "status 0x" << std::hex << le32(r, kHeaderStatusOffset);
  }

  std::string dir_;
  session::ServerContext server_;
  session::Share* share_ = nullptr;
  Peer home_, next_, other_;
};

// The request is routed just before the session's installation is queued on `next_`'s strand:
// there is no home to send it to yet, so it waits on its own channel.
TEST_F(ChannelForwardTest, RequestWhileTheSessionMoves) {
  next_.before_queue = [this] {
    EXPECT_TRUE(forwardToHome(other_.state, other_.conn, createRequest(5)));
  };
  home_.state->transport_closed = true;
  session::handOverSessions(*home_.state);
  ASSERT_EQ(next_.strand.size(), 1u) << "the session's installation, no request ahead of it";
  ASSERT_EQ(other_.strand.size(), 1u) << "the request, to be routed again";
  drain();
  expectOneResponse(STATUS_SUCCESS);
  EXPECT_TRUE(session::holdsSession(*next_.state, kSessionId));
  EXPECT_EQ(next_.state->opens.size(), 1u) << "the open lives with the session";
}

// The request is queued on the old home's strand, which then hands the session on before it
// runs the request.
TEST_F(ChannelForwardTest, RequestOnTheOldHomeAfterTheSessionLeft) {
  EXPECT_TRUE(forwardToHome(other_.state, other_.conn, createRequest(5)));
  ASSERT_EQ(home_.strand.size(), 1u);
  home_.state->transport_closed = true;
  session::handOverSessions(*home_.state);
  EXPECT_FALSE(session::holdsSession(*home_.state, kSessionId));
  drain();
  expectOneResponse(STATUS_SUCCESS);
  EXPECT_EQ(next_.state->opens.size(), 1u);
}

// With no handover, the request runs on the home at once.
TEST_F(ChannelForwardTest, RequestOnTheHome) {
  EXPECT_TRUE(forwardToHome(other_.state, other_.conn, createRequest(5)));
  drain();
  expectOneResponse(STATUS_SUCCESS);
  EXPECT_EQ(home_.state->opens.size(), 1u);
  EXPECT_FALSE(session::holdsSession(*other_.state, kSessionId)) << "a channel's entry only";
}

}  // namespace
}  // namespace xsmb::core
