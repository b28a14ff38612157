// Acceptance tests of the SMB Direct engine (issue 16) over the loopback verbs provider: the
// listener's answer to a negotiate request at each parameter edge (credits 0 and 1, sizes at
// their limits, version mismatch), engines at the smallest sizes moving a message cut into the
// most pieces MS-SMBD allows (1 MiB in 104-byte pieces), and the idle timer's keep-alive
// (MS-SMBD 3.1.6.2 / 3.1.6.3): answered by a live peer, fatal when unanswered.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "server/smbdirect/engine.h"
#include "server/smbdirect/loopback_verbs.h"
#include "tests/unit/smbd/data_message.h"

namespace xsmb::smbdirect {
namespace {

using namespace std::chrono_literals;

Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 2654435761u + seed) >> 13);
  return b;
}

// Runs two engines until nothing moves; false when either failed.
bool runBoth(Engine& a, LoopbackVerbs& va, Engine& b, LoopbackVerbs& vb) {
  for (int i = 0; i < 1000000; ++i) {
    const uint64_t before = va.sends() + vb.sends();
    if (!a.process() || !b.process()) return false;
    if (va.sends() + vb.sends() == before) return true;
  }
  return true;
}

struct NegotiateEdge {
  std::string what;
  uint16_t min_version = smbd::kVersion1, max_version = smbd::kVersion1;  // V = 1.0
  uint16_t credits = 10;
  uint32_t preferred_send = 1364, max_receive = 1364, max_fragmented = 1 << 20;
  enum { kAccept, kRefuse, kSilentClose } outcome;
  uint16_t granted = 0;         // kAccept: CreditsGranted of the response
  uint32_t our_receive = 1364;  // kAccept: MaxReceiveSize of the response
  uint32_t our_send = 1364;     // kAccept: PreferredSendSize of the response
};

TEST(SmbdEngineEdges, NegotiateRequestAtEachEdge) {
  constexpr uint16_t V = smbd::kVersion1;
  const NegotiateEdge cases[] = {
      {"defaults", V, V, 10, 1364, 1364, 1 << 20, NegotiateEdge::kAccept, 10},
      {"CreditsRequested 0", V, V, 0, 1364, 1364, 1 << 20, NegotiateEdge::kSilentClose},
      {"CreditsRequested 1", V, V, 1, 1364, 1364, 1 << 20, NegotiateEdge::kAccept, 1},
      {"CreditsRequested 65535 (capped at ours)", V, V, 65535, 1364, 1364, 1 << 20,
       NegotiateEdge::kAccept, 255},
      {"MaxReceiveSize 127", V, V, 10, 1364, 127, 1 << 20, NegotiateEdge::kSilentClose},
      {"MaxReceiveSize 128", V, V, 10, 1364, 128, 1 << 20, NegotiateEdge::kAccept, 10, 1364, 128},
      {"MaxFragmentedSize 131071", V, V, 10, 1364, 1364, 131071, NegotiateEdge::kSilentClose},
      {"MaxFragmentedSize 131072", V, V, 10, 1364, 1364, 131072, NegotiateEdge::kAccept, 10},
      {"PreferredSendSize 1 (our receives stay 128)", V, V, 10, 1, 1364, 1 << 20,
       NegotiateEdge::kAccept, 10, 128},
      {"PreferredSendSize above ours", V, V, 10, 1 << 20, 1364, 1 << 20, NegotiateEdge::kAccept,
       10},
      {"versions 2.0 only", 0x0200, 0x0200, 10, 1364, 1364, 1 << 20, NegotiateEdge::kRefuse},
      {"versions 0.1-0.9", 0x0001, 0x0009, 10, 1364, 1364, 1 << 20, NegotiateEdge::kRefuse},
      {"versions 0.1-2.0 (1.0 inside)", 0x0001, 0x0200, 10, 1364, 1364, 1 << 20,
       NegotiateEdge::kAccept, 10},
  };
  for (const NegotiateEdge& c : cases) {
    SCOPED_TRACE(c.what);
    auto [s, raw] = LoopbackVerbs::pair();
    Engine server(s.get(), {}, Engine::Role::kListener);
    ASSERT_TRUE(server.start());
    Bytes in(64);
    ASSERT_TRUE(raw->postRecv(1, in));
    smbd::NegotiateRequest q;
    q.min_version = c.min_version;
    q.max_version = c.max_version;
    q.credits_requested = c.credits;
    q.preferred_send_size = c.preferred_send;
    q.max_receive_size = c.max_receive;
    q.max_fragmented_size = c.max_fragmented;
    ASSERT_TRUE(raw->postSend(2, smbd::encodeNegotiateRequest(q)));
    const bool alive = server.process();
    EXPECT_EQ(alive, c.outcome == NegotiateEdge::kAccept) << server.failure();
    Verbs::Completion done[8];
    std::optional<smbd::NegotiateResponse> resp;
    for (size_t i = 0, n = raw->poll(done); i < n; ++i) {
      if (done[i].kind == Verbs::Completion::Kind::kRecv && done[i].ok) {
        resp = smbd::decodeNegotiateResponse(ByteSpan(in).first(done[i].byte_len));
      }
    }
    if (c.outcome == NegotiateEdge::kSilentClose) {
      EXPECT_FALSE(resp.has_value()) << "answered a request it must drop";
      continue;
    }
    ASSERT_TRUE(resp.has_value());
    if (c.outcome == NegotiateEdge::kRefuse) {
      EXPECT_EQ(resp->status, 0xC00000BBu);  // STATUS_NOT_SUPPORTED
      EXPECT_EQ(resp->negotiated_version, 0);
      continue;
    }
    EXPECT_EQ(resp->status, 0u);
    EXPECT_EQ(resp->negotiated_version, smbd::kVersion1);
    EXPECT_EQ(resp->credits_granted, c.granted);
    EXPECT_EQ(resp->max_receive_size, c.our_receive);
    EXPECT_EQ(resp->preferred_send_size, c.our_send);
    EXPECT_EQ(resp->max_read_write_size, 1u << 20);
    // Exactly the granted receives are posted (plus none): credits match buffers.
    EXPECT_EQ(s->postedReceives(), c.granted);
  }
}

// An initiator refuses a listener's response that breaks MS-SMBD 3.1.5.7.
TEST(SmbdEngineEdges, NegotiateResponseAtEachEdge) {
  struct Case {
    std::string what;
    std::function<void(smbd::NegotiateResponse&)> change;
    bool ok;
  } cases[] = {
      {"valid", [](smbd::NegotiateResponse&) {}, true},
      {"CreditsGranted 0", [](smbd::NegotiateResponse& r) { r.credits_granted = 0; }, false},
      {"CreditsGranted 1", [](smbd::NegotiateResponse& r) { r.credits_granted = 1; }, true},
      {"CreditsRequested 0", [](smbd::NegotiateResponse& r) { r.credits_requested = 0; }, false},
      {"status STATUS_NOT_SUPPORTED", [](smbd::NegotiateResponse& r) { r.status = 0xC00000BB; },
       false},
      {"NegotiatedVersion 2.0", [](smbd::NegotiateResponse& r) { r.negotiated_version = 0x0200; },
       false},
      {"MaxReceiveSize 127", [](smbd::NegotiateResponse& r) { r.max_receive_size = 127; }, false},
      {"MaxReceiveSize 128", [](smbd::NegotiateResponse& r) { r.max_receive_size = 128; }, true},
      {"MaxFragmentedSize 131071",
       [](smbd::NegotiateResponse& r) { r.max_fragmented_size = 131071; }, false},
      {"PreferredSendSize above our MaxReceiveSize",
       [](smbd::NegotiateResponse& r) { r.preferred_send_size = 1365; }, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto [cv, raw] = LoopbackVerbs::pair();
    Engine client(cv.get(), {}, Engine::Role::kInitiator);
    Bytes req(64);
    ASSERT_TRUE(raw->postRecv(1, req));
    ASSERT_TRUE(client.start());
    smbd::NegotiateResponse r;
    r.credits_requested = r.credits_granted = 10;
    r.max_read_write_size = 1 << 20;
    r.preferred_send_size = r.max_receive_size = 1364;
    r.max_fragmented_size = 1 << 20;
    c.change(r);
    for (uint64_t i = 0; i < 4; ++i) raw->postRecv(10 + i, req);
    ASSERT_TRUE(raw->postSend(2, smbd::encodeNegotiateResponse(r)));
    EXPECT_EQ(client.process(), c.ok) << client.failure();
    EXPECT_EQ(client.state() == Engine::State::kConnected, c.ok);
  }
}

// The smallest sizes MS-SMBD allows (128-byte sends and receives) and the largest message
// (MaxFragmentedSize 1 MiB): 10,083 pieces of at most 104 bytes each way, bytes compared.
TEST(SmbdEngineEdges, AMessageInTheMostPiecesBothWays) {
  smbd::Limits small;
  small.max_send_size = small.max_receive_size = 128;
  auto [sv, cv] = LoopbackVerbs::pair();
  Engine server(sv.get(), small, Engine::Role::kListener);
  Engine client(cv.get(), small, Engine::Role::kInitiator);
  ASSERT_TRUE(server.start() && client.start());
  ASSERT_TRUE(runBoth(server, *sv, client, *cv));
  EXPECT_EQ(server.negotiated().max_send_size, 128u);
  EXPECT_EQ(client.negotiated().max_send_size, 128u);
  const Bytes up = pattern(1 << 20, 11), down = pattern(1 << 20, 12);
  const uint64_t sent_before = client.messagesSent();
  ASSERT_TRUE(client.send(up));
  ASSERT_TRUE(server.send(down));
  ASSERT_TRUE(runBoth(server, *sv, client, *cv)) << server.failure() << client.failure();
  ASSERT_EQ(server.received().size(), 1u);
  ASSERT_EQ(client.received().size(), 1u);
  EXPECT_TRUE(server.received().front() == up);
  EXPECT_TRUE(client.received().front() == down);
  const uint64_t pieces = ((1u << 20) + 103) / 104;  // 10,083
  EXPECT_GE(client.messagesSent() - sent_before, pieces);
  // One byte more than the peer reassembles is refused before anything is sent.
  EXPECT_FALSE(client.send(pattern((1 << 20) + 1, 13)));
}

Timeouts fast() {
  Timeouts t;
  t.idle = 30ms;
  t.keepalive = 60ms;
  return t;
}

// Idle past the timer: a keep-alive goes out with SMB_DIRECT_RESPONSE_REQUESTED; a live peer
// answers and the connection stays up, over several rounds.
TEST(SmbdEngineEdges, KeepAliveIsSentWhenIdleAndAnswered) {
  auto [sv, cv] = LoopbackVerbs::pair();
  Engine server(sv.get(), {}, Engine::Role::kListener, fast());
  Engine client(cv.get(), {}, Engine::Role::kInitiator);
  ASSERT_TRUE(server.start() && client.start());
  ASSERT_TRUE(runBoth(server, *sv, client, *cv));
  const auto end = Engine::Clock::now() + 300ms;
  while (Engine::Clock::now() < end) {
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(server.onTimer(Engine::Clock::now())) << server.failure();
    ASSERT_TRUE(runBoth(server, *sv, client, *cv)) << server.failure();
  }
  EXPECT_GE(server.keepalivesSent(), 3u);
  EXPECT_EQ(server.state(), Engine::State::kConnected);
}

// A peer that stays silent after the keep-alive is dropped once the keep-alive time passes.
TEST(SmbdEngineEdges, AnUnansweredKeepAliveEndsTheConnection) {
  auto [sv, cv] = LoopbackVerbs::pair();
  Engine server(sv.get(), {}, Engine::Role::kListener, fast());
  Engine client(cv.get(), {}, Engine::Role::kInitiator);
  ASSERT_TRUE(server.start() && client.start());
  ASSERT_TRUE(runBoth(server, *sv, client, *cv));
  const auto start = Engine::Clock::now();
  while (server.onTimer(Engine::Clock::now()) && server.process()) {
    ASSERT_LT(Engine::Clock::now() - start, 2s) << "never timed out";
    std::this_thread::sleep_for(5ms);  // the client never runs: it cannot answer
  }
  EXPECT_EQ(server.keepalivesSent(), 1u);
  EXPECT_GE(Engine::Clock::now() - start, 90ms);  // idle 30 + keep-alive 60
  EXPECT_NE(server.failure().find("keep-alive"), std::string::npos) << server.failure();
}

// A peer that never sends its negotiate request is dropped after the negotiate time.
TEST(SmbdEngineEdges, ASilentPeerIsDroppedAfterTheNegotiateTime) {
  auto [sv, cv] = LoopbackVerbs::pair();
  Timeouts t;
  t.negotiate = 40ms;
  Engine server(sv.get(), {}, Engine::Role::kListener, t);
  ASSERT_TRUE(server.start());
  EXPECT_TRUE(server.onTimer(Engine::Clock::now()));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(server.onTimer(Engine::Clock::now()));
  EXPECT_NE(server.failure().find("negotiation"), std::string::npos);
}

}  // namespace
}  // namespace xsmb::smbdirect
