// The TCP transport (server/transport/tcp_worker.*) through its interface only: a test Acceptor
// and ConnectionCallbacks (no SMB2 at all) behind a real Worker on 127.0.0.1, and plain
// blocking clients that write NetBIOS frames and read the replies. Every client read has a
// deadline (poll), so a hang fails the test instead of blocking it; the few short pauses only
// make a split across reads likely, no result depends on them. The harness (client, test
// Acceptor and callbacks, fixture) is in tcp_test_harness.h.
#include "server/transport/tcp_worker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/transport/tcp_test_harness.h"

namespace xsmb::transport {
namespace {

using namespace std::chrono_literals;
using namespace test;  // NOLINT(build/namespaces): the harness is this file's vocabulary

// ---------------------------------------------------------------------------------------------
// Framing

struct FramingCase {
  const char* name;
  std::vector<std::string> frames;     // written back to back (keep-alives and empty ones too)
  std::vector<std::string> delivered;  // the messages the callbacks must receive, in order
  std::vector<size_t> pieces;          // how the stream is cut into writes ({}: one write)
};

std::vector<FramingCase> framingCases() {
  const std::string big1 = pattern(300 * 1024, 1);  // more than the worker's scratch buffer
  const std::string big2 = pattern(1 << 20, 2);
  const std::string max = pattern((1 << 24) - 1, 3);  // the largest NetBIOS length
  const std::string small200 = pattern(200, 4);       // more than a header's worth (116 bytes)
  const std::string mid = pattern(40 * 1024, 5);      // below the SO_RCVLOWAT threshold
  std::vector<size_t> bytewise(64, 1);
  std::vector<size_t> big_pieces((1 << 24) / 65536 + 2, 65536);
  return {
      {"several frames in one write",
       {frame("one"), frame("two"), frame("three")},
       {"one", "two", "three"},
       {}},
      {"keep-alives and an empty message are skipped",
       {frame("a"), keepAlive(), frame(""), keepAlive("ping"), frame("b")},
       {"a", "b"},
       {}},
      {"one frame byte by byte", {frame("split byte by byte")}, {"split byte by byte"}, bytewise},
      {"header cut 1+3, then the payload in pieces",
       {frame("header cut"), frame("next")},
       {"header cut", "next"},
       {1, 3, 2, 5, 4}},
      {"second frame's header cut across writes",
       {frame("first"), frame("second")},
       {"first", "second"},
       {4 + 5 + 2}},
      {"a frame larger than the scratch buffer, then a small one",
       {frame(big1), frame("small")},
       {big1, "small"},
       {}},
      {"two 1 MB frames and a small one in one write",
       {frame(big2), frame(big2), frame("s")},
       {big2, big2, "s"},
       {}},
      {"the largest frame (2^24-1) in 64 KB writes, then a small one",
       {frame(max), frame("after")},
       {max, "after"},
       big_pieces},
      // The rest of a large message and the start of the next one arrive in one receive (a
      // header's worth after it, 116 bytes): whatever that start holds must be framed alike.
      {"large frames, each followed by small ones and a keep-alive, in one write",
       {frame(big2), frame("a"), frame(big1), frame("b"), keepAlive("k"), frame(big2),
        frame(small200), frame(big1), frame("c")},
       {big2, "a", big1, "b", big2, small200, big1, "c"},
       {}},
      {"after a large frame, many small ones that the header's worth cuts anywhere",
       {frame(big1), frame("0123456789"), frame("0123456789"), frame("0123456789"),
        frame("0123456789"), frame("0123456789"), frame("0123456789"), frame("0123456789"),
        frame("0123456789"), frame("0123456789"), frame("last")},
       {big1, "0123456789", "0123456789", "0123456789", "0123456789", "0123456789", "0123456789",
        "0123456789", "0123456789", "0123456789", "last"},
       {}},
      {"a large frame whose successor's header is cut after 2 bytes",
       {frame(big2), frame("next"), frame(big1)},
       {big2, "next", big1},
       {100, 4 + (1 << 20) - 100 + 2, 1}},
      {"a large frame ending exactly at a write boundary, then the next frame",
       {frame(big2), frame(big1), frame("end")},
       {big2, big1, "end"},
       {100, 4 + (1 << 20) - 100, 4 + 116, 1000}},
      {"a 40 KB frame read in two parts, then small frames behind it",
       {frame(mid), frame("x"), frame("y"), frame(big1), frame("z")},
       {mid, "x", "y", big1, "z"},
       {100}},
  };
}

TEST_F(TcpWorkerTest, FramingDeliversExactlyThePayloadsInOrder) {
  startWorker();
  const auto cases = framingCases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const FramingCase& t = cases[i];
    SCOPED_TRACE(t.name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    std::string stream;
    for (const auto& f : t.frames) stream += f;
    ASSERT_TRUE(t.pieces.empty() ? client->send(stream) : client->sendInPieces(stream, t.pieces));
    // One reply per delivered message (onMessage's default), each with a correct header.
    for (const auto& d : t.delivered) {
      std::string want = d.size() <= 64 ? "re:" + d : "re:" + std::to_string(d.size());
      EXPECT_EQ(client->frameText(), want);
    }
    auto got = conn->processed();
    ASSERT_EQ(got.size(), t.delivered.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(sameBytes(t.delivered[k], got[k])) << k;
  }
}

// SO_RCVLOWAT (Worker::setReadMark): raised to the rest of a large message when the socket runs
// dry inside it, moved on to the next large message's rest, and back to 1 whenever the loop
// waits for a new message. A mark left too high once a message is complete would leave the loop
// asleep while the client waits for its reply: the last small message would never be answered.
TEST_F(TcpWorkerTest, ReadMarkFollowsTheMessageBeingRead) {
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  auto mark = [&] {
    int v = -1;
    socklen_t len = sizeof(v);
    getsockopt(conn->socket_fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len);
    return v;
  };
  // Waits (bounded) until the server socket's mark satisfies `ok`; returns the last value.
  auto waitMark = [&](const std::function<bool(int)>& ok) {
    const auto deadline = Clock::now() + kTimeout;
    int v = mark();
    while (!ok(v) && Clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
      v = mark();
    }
    return v;
  };
  const std::string big1 = pattern(1 << 20, 7);
  const std::string big2 = pattern(600 * 1024, 8);
  const std::string stream = frame(big1) + frame(big2);
  const size_t part = 100 * 1024;
  const size_t end1 = 4 + big1.size();
  const int big1_size = static_cast<int>(big1.size());
  const int big2_size = static_cast<int>(big2.size());
  // big1's header and 100 KB: the loop waits for the rest of big1 with the mark raised to what
  // is left of big1 when the socket ran dry. How much of the 100 KB it had read by then depends
  // on how the kernel delivered the segments (once 65,478 bytes under load): the mark lies
  // between the rest after all 100 KB and the rest after the first byte.
  ASSERT_TRUE(client->send(stream.substr(0, 4 + part)));
  int v = waitMark([&](int m) { return m > 64 * 1024; });
  EXPECT_GE(v, big1_size - static_cast<int>(part));
  EXPECT_LT(v, big1_size);
  // The rest of big1, then big2's header and 100 KB: the mark moves on to big2's rest.
  const size_t cut2 = end1 + 4 + part;
  ASSERT_TRUE(client->send(stream.substr(4 + part, cut2 - (4 + part))));
  EXPECT_EQ(client->frameText(), "re:" + std::to_string(big1.size()));
  v = waitMark([&](int m) { return m > 64 * 1024 && m <= big2_size - 64 * 1024; });
  EXPECT_GT(v, 64 * 1024);
  EXPECT_LE(v, big2_size - 64 * 1024);
  // The rest of big2 and nothing after it: the loop waits for a new message, mark 1.
  ASSERT_TRUE(client->send(stream.substr(cut2)));
  EXPECT_EQ(client->frameText(), "re:" + std::to_string(big2.size()));
  EXPECT_EQ(waitMark([](int m) { return m == 1; }), 1);
  // A small message sent only now is answered.
  ASSERT_TRUE(client->send(frame("small")));
  EXPECT_EQ(client->frameText(), "re:small");
  auto got = conn->processed();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(sameBytes(big1, got[0]));
  EXPECT_TRUE(sameBytes(big2, got[1]));
}

// A keep-alive may carry a payload (parseFrame accepts up to 64 bytes). When the payload is not
// yet there as the header is read, the worker reads it like a message's and then drops it; it
// must never reach the callbacks (it once did: consume() did not look at the frame's type).
TEST_F(TcpWorkerTest, KeepAliveWithPayloadCutAcrossReadsIsSkipped) {
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  const std::string stream = keepAlive("ping") + frame("real");
  // The keep-alive's header alone, then (later) its payload and a real message.
  ASSERT_TRUE(client->send(stream.substr(0, 4)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(client->send(stream.substr(4)));
  EXPECT_EQ(client->frameText(), "re:real");
  EXPECT_EQ(conn->processed(), std::vector<std::string>{"real"});
}

// ---------------------------------------------------------------------------------------------
// Inline and pool

// 'I' messages are answered on the loop when offered there, 'P' ones go to the pool; each
// reply says where it was made and the message's sequence number.
void answerInlineOrPool(TestAcceptor& a) {
  a.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s[0] != 'I') return false;
    *r = reply("inline:" + s.substr(1));
    return true;
  };
  a.on_pool = [](TestConn&, const std::string& s) { return reply("pool:" + s.substr(1)); };
}

struct OrderCase {
  const char* pattern;  // 'I' or 'P' per message
  bool one_write;       // all in one write, or each after the previous reply
};

TEST_F(TcpWorkerTest, InlineAndPoolRepliesKeepTheMessageOrder) {
  answerInlineOrPool(acceptor_);
  startWorker();
  const OrderCase cases[] = {
      {"IIIIII", true},  {"PPPPPP", true},  {"IPIPPI", true},  {"PIIIPP", true},
      {"IIIIII", false}, {"PPPPPP", false}, {"IPIPPI", false}, {"PIIIPP", false},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    const OrderCase& t = cases[i];
    SCOPED_TRACE(std::string(t.pattern) + (t.one_write ? " in one write" : " one at a time"));
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    const std::string kinds = t.pattern;
    std::vector<std::string> sent;
    for (size_t k = 0; k < kinds.size(); ++k) sent.push_back(kinds[k] + std::to_string(k));
    if (t.one_write) {
      std::string stream;
      for (const auto& s : sent) stream += frame(s);
      ASSERT_TRUE(client->send(stream));
    }
    for (size_t k = 0; k < sent.size(); ++k) {
      if (!t.one_write) ASSERT_TRUE(client->send(frame(sent[k])));
      std::string got = client->frameText();
      EXPECT_EQ(got.substr(got.find(':') + 1), std::to_string(k)) << got;
      // With nothing in flight every message is offered on the loop first, so an 'I' is
      // answered there; in one write, one behind a pool message waits for the pool instead.
      if (!t.one_write) EXPECT_EQ(got[0] == 'i', kinds[k] == 'I') << got;
      if (kinds[k] == 'P') EXPECT_EQ(got.rfind("pool:", 0), 0u) << got;
    }
    EXPECT_EQ(conn->processed(), sent);  // each exactly once, in order
    // The first message always is offered inline (nothing is in flight then).
    auto offered = conn->offeredInline();
    ASSERT_FALSE(offered.empty());
    EXPECT_EQ(offered[0], sent[0]);
    if (!t.one_write) EXPECT_EQ(offered, sent);
  }
}

// Pacing (Reply::not_before): a reply held back 1 s leaves no earlier, the reply after it
// (not held) waits behind it, and another connection is answered meanwhile.
TEST_F(TcpWorkerTest, HeldReplyWaitsAndKeepsTheOrder) {
  acceptor_.on_pool = [](TestConn&, const std::string& p) {
    Reply r = reply("re:" + p);
    if (p == "slow") r.not_before = Clock::now() + std::chrono::seconds(1);
    return r;
  };
  startWorker();
  auto paced = connect();
  auto other = connect();
  const auto start = Clock::now();
  ASSERT_TRUE(paced->send(frame("slow") + frame("next")));
  ASSERT_TRUE(other->send(frame("free")));
  EXPECT_EQ(other->frameText(), "re:free");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));  // not held behind it
  EXPECT_EQ(paced->frameText(), "re:slow");
  EXPECT_GE(Clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(paced->frameText(), "re:next");
}

// Several connections at once, each a long mixed stream in one write (more than the worker's
// limit of complete messages waiting per connection, so its reading pauses and resumes): each
// connection's replies come back in its own order.
TEST_F(TcpWorkerTest, ManyConnectionsEachKeepTheirOrder) {
  answerInlineOrPool(acceptor_);
  startWorker();
  constexpr size_t kClients = 4;
  constexpr size_t kMessages = 500;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::vector<std::string>> sent(kClients);
  for (size_t c = 0; c < kClients; ++c) {
    clients.push_back(connect());
    ASSERT_NE(acceptor_.conn(c), nullptr);
    std::string stream;
    for (size_t k = 0; k < kMessages; ++k) {
      sent[c].push_back(((k * 7 + c) % 3 == 0 ? "I" : "P") + std::to_string(k));
      stream += frame(sent[c].back());
    }
    ASSERT_TRUE(clients[c]->send(stream));
  }
  for (size_t c = 0; c < kClients; ++c) {
    SCOPED_TRACE("client " + std::to_string(c));
    for (size_t k = 0; k < kMessages; ++k) {
      std::string got = clients[c]->frameText();
      ASSERT_EQ(got.substr(got.find(':') + 1), std::to_string(k)) << got;
    }
    EXPECT_EQ(acceptor_.conn(c)->processed(), sent[c]);
  }
}

// ---------------------------------------------------------------------------------------------
// Connection: properties, send, runInStrand, close

TEST_F(TcpWorkerTest, ConnectionPropertiesAndUnsolicitedSend) {
  // A pool message may send before its reply (an interim response): both arrive, in order.
  acceptor_.on_pool = [](TestConn& c, const std::string& s) {
    c.conn->send(OutMessage{bytes("interim:" + s), {}});
    return reply("final:" + s);
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->conn->kind(), TransportKind::kTcp);
  EXPECT_EQ(conn->conn->peer(), "127.0.0.1:" + std::to_string(client->localPort()));
  EXPECT_EQ(conn->conn->loopIndex(), kLoopIndex);
  EXPECT_TRUE(conn->conn->sendsFileByReference());
  EXPECT_GE(conn->socket_fd, 0);

  // From a thread that is neither the loop nor the pool, while the connection is idle.
  std::thread([&] { conn->conn->send(OutMessage{bytes("unsolicited"), {}}); }).join();
  EXPECT_EQ(client->frameText(), "unsolicited");
  // An empty message sends nothing: the next frame is the one after it.
  conn->conn->send(OutMessage{});
  conn->conn->send(OutMessage{bytes("second"), {}});
  EXPECT_EQ(client->frameText(), "second");

  ASSERT_TRUE(client->send(frame("x")));
  EXPECT_EQ(client->frameText(), "interim:x");
  EXPECT_EQ(client->frameText(), "final:x");

  // After the connection closed, its methods do nothing (and do not fail).
  client->closeNow();
  ASSERT_TRUE(acceptor_.waitClosed(*conn));
  conn->conn->send(OutMessage{bytes("late"), {}});
  conn->conn->runInStrand([] { return reply("late"); });
  conn->conn->close();
}

// A strand task posted while a message is on the pool runs after that message and before the
// next one, never beside a message, on a pool thread; its reply leaves in order.
TEST_F(TcpWorkerTest, RunInStrandRunsBetweenMessages) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = holdOnPool("A", started, release);
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);

  // Idle: the task runs and its reply is sent.
  std::atomic<int> inflight_seen{-1};
  std::atomic<bool> on_loop{true};
  conn->conn->runInStrand([&] {
    on_loop = std::this_thread::get_id() == acceptor_.loop_thread.load();
    return reply("idle task");
  });
  EXPECT_EQ(client->frameText(), "idle task");
  EXPECT_FALSE(on_loop.load());

  ASSERT_TRUE(client->send(frame("A")));
  ASSERT_TRUE(started->wait());
  conn->conn->runInStrand([&] {
    inflight_seen = conn->inflight();
    return reply("task");
  });
  release->open();
  EXPECT_EQ(client->frameText(), "re:A");
  EXPECT_EQ(client->frameText(), "task");
  EXPECT_EQ(inflight_seen.load(), 0) << "the task ran beside a message";
  ASSERT_TRUE(client->send(frame("B")));
  EXPECT_EQ(client->frameText(), "re:B");
  EXPECT_EQ(conn->processed(), (std::vector<std::string>{"A", "B"}));

  // A task's Reply is handled as a message's: close after sending.
  conn->conn->runInStrand([] { return reply("closing task", /*close=*/true); });
  EXPECT_EQ(client->frameText(), "closing task");
  EXPECT_TRUE(client->closedByServer());
}

// connection.h: a strand task runs "after the message being processed, before the next one",
// also when the next one was already received (B read while A is on the pool: A, task, B).
TEST_F(TcpWorkerTest, RunInStrandRunsBeforeAMessageAlreadyReceived) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = holdOnPool("A", started, release);
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(client->send(frame("A") + frame("B")));  // one read: B waits behind A
  ASSERT_TRUE(started->wait());
  conn->conn->runInStrand([] { return reply("task"); });
  release->open();
  EXPECT_EQ(client->frameText(), "re:A");
  EXPECT_EQ(client->frameText(), "task");
  EXPECT_EQ(client->frameText(), "re:B");
}

// Connection::close(): what is queued is sent first (4 MB, more than the socket buffers take
// at once, so the close waits for the socket to drain), then the end of the stream.
TEST_F(TcpWorkerTest, CloseSendsWhatIsQueuedThenCloses) {
  startWorker();
  struct Case {
    const char* name;
    size_t queued;  // bytes sent before close() (0: nothing queued)
  };
  const Case cases[] = {
      {"nothing queued", 0}, {"a small message queued", 10}, {"4 MB queued", 4 << 20}};
  for (size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(cases[i].name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    const std::string data = pattern(cases[i].queued, i);
    std::thread([&] {
      if (!data.empty()) conn->conn->send(OutMessage{bytes(data), {}});
      conn->conn->close();
    }).join();
    if (!data.empty()) {
      auto got = client->readFrame();
      ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(sameBytes(data, *got));
    }
    EXPECT_TRUE(client->closedByServer());
    EXPECT_TRUE(acceptor_.waitClosed(*conn));
  }
}

// ---------------------------------------------------------------------------------------------
// Reply.close, Reply.max_message, framing errors

// Reply.close: the reply is sent, then the connection closes; a message behind it in the same
// write is never processed.
TEST_F(TcpWorkerTest, ReplyCloseSendsThenCloses) {
  acceptor_.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s != "bye-inline") return false;
    *r = reply("bye", /*close=*/true);
    return true;
  };
  acceptor_.on_pool = [](TestConn&, const std::string& s) {
    return s == "bye-pool" ? reply("bye", /*close=*/true) : reply("re:" + s);
  };
  startWorker();
  const char* closers[] = {"bye-inline", "bye-pool"};
  for (size_t i = 0; i < std::size(closers); ++i) {
    SCOPED_TRACE(closers[i]);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("before")));
    EXPECT_EQ(client->frameText(), "re:before");
    ASSERT_TRUE(client->send(frame(closers[i]) + frame("after")));
    EXPECT_EQ(client->frameText(), "bye");
    EXPECT_TRUE(client->closedByServer());
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    // onClose is the last callback: nothing processed "after" before it, nothing after it.
    EXPECT_EQ(conn->processed(), (std::vector<std::string>{"before", closers[i]}));
    EXPECT_TRUE(conn->closedOnLoop());
  }
  EXPECT_TRUE(acceptor_.framingErrors().empty());
}

struct LimitCase {
  const char* name;
  size_t initial_max;                 // what onAccept sets
  std::string limit_message;          // a message answered with Reply.max_message ("" for none)
  size_t accepted;                    // a message this large then is still accepted
  std::string bad_header;             // then this arrives: the connection closes
  std::optional<bool> framing_error;  // onFramingError(oversized), or none
};

// The first frame over the limit from onAccept, or over the one a later Reply set, closes the
// connection (onFramingError(true)); so does a frame that is not a session message
// (onFramingError(false)). The limit is checked on the header: the payload never comes.
TEST_F(TcpWorkerTest, FrameLimitsAndBadTypesCloseTheConnection) {
  // "limit:N" sets the limit to N, inline for "limit:..." and on the pool for "plimit:...".
  acceptor_.on_inline = [](TestConn&, const std::string& s, Reply* r) {
    if (s.rfind("limit:", 0) != 0) return false;
    *r = reply("ok", false, std::stoul(s.substr(6)));
    return true;
  };
  acceptor_.on_pool = [](TestConn&, const std::string& s) {
    if (s.rfind("plimit:", 0) == 0) return reply("ok", false, std::stoul(s.substr(7)));
    return reply("re:" + std::to_string(s.size()));
  };
  acceptor_.initial_max = 1000;
  startWorker();
  const LimitCase cases[] = {
      {"over the first limit", 1000, "", 1000, header(0x00, 1001), true},
      {"over a limit lowered inline", 1000, "limit:64", 64, header(0x00, 65), true},
      {"over a limit lowered on the pool", 1000, "plimit:64", 64, header(0x00, 65), true},
      {"over a raised limit", 1000, "limit:5000", 5000, header(0x00, 5001), true},
      {"far over the limit", 1000, "", 10, header(0x00, 0xffffff), true},
      {"session request type 0x81", 1000, "", 10, header(0x81, 10), false},
      {"type 0xff", 1000, "", 10, header(0xff, 0), false},
      {"keep-alive with more than 64 bytes", 1000, "", 10, header(0x85, 65), false},
  };
  size_t errors = 0;
  for (size_t i = 0; i < std::size(cases); ++i) {
    const LimitCase& t = cases[i];
    SCOPED_TRACE(t.name);
    auto client = connect();
    auto conn = acceptor_.conn(i);
    ASSERT_NE(conn, nullptr);
    std::vector<std::string> want_processed;
    if (!t.limit_message.empty()) {
      ASSERT_TRUE(client->send(frame(t.limit_message)));
      EXPECT_EQ(client->frameText(), "ok");
      want_processed.push_back(t.limit_message);
    }
    const std::string fits = pattern(t.accepted, i);
    ASSERT_TRUE(client->send(frame(fits)));
    EXPECT_EQ(client->frameText(), "re:" + std::to_string(t.accepted));
    want_processed.push_back(fits);
    ASSERT_TRUE(client->send(t.bad_header));
    EXPECT_TRUE(client->closedByServer());
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    EXPECT_EQ(conn->processed().size(), want_processed.size());
    auto got = acceptor_.framingErrors();
    ASSERT_EQ(got.size(), errors + 1);
    EXPECT_EQ(got.back(), *t.framing_error);
    errors = got.size();
  }
}

// ---------------------------------------------------------------------------------------------
// File data after a message: by reference (sendfile) and from memory

// A temporary file of known content, unlinked at once (only the descriptor remains).
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    const char* dir = getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/xsmb-transport-XXXXXX";
    int fd = mkostemp(tmpl.data(), O_CLOEXEC);
    EXPECT_GE(fd, 0) << tmpl << ": " << std::strerror(errno);
    unlink(tmpl.c_str());
    size_t done = 0;
    while (fd >= 0 && done < content.size()) {
      ssize_t n = pwrite(fd, content.data() + done, content.size() - done, done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    EXPECT_EQ(done, content.size());
    fd_ = std::make_shared<vfs::UniqueFd>(fd);
  }
  const std::shared_ptr<vfs::UniqueFd>& fd() const { return fd_; }

 private:
  std::shared_ptr<vfs::UniqueFd> fd_;
};

struct FileCase {
  const char* name;
  size_t head;       // bytes of the message before the file data
  size_t file_size;  // the file's size (by reference)
  uint64_t offset;
  uint32_t length;
  bool in_memory;  // FileSegment::data instead of the file
};

const FileCase kFileCases[] = {
    {"small, by reference", 24, 100, 0, 100, false},
    {"4 MB at an odd offset, by reference", 64, 5 << 20, 4097, 4 << 20, false},
    {"3 MB in memory", 64, 0, 0, 3 << 20, true},
    {"small, in memory", 7, 0, 0, 33, true},
    {"the file is shorter than promised: zeros follow", 16, 1000, 500, 2000, false},
    {"no file data", 10, 0, 0, 0, false},
};

// The message a FileCase makes, and what the client must receive as its payload.
struct FileReply {
  OutMessage out;
  std::string expected;
};

FileReply makeFileReply(const FileCase& t, size_t seed, std::vector<TempFile>* files) {
  FileReply r;
  const std::string head = pattern(t.head, seed);
  r.out.bytes = bytes(head);
  r.expected = head;
  if (t.in_memory) {
    const std::string data = pattern(t.length, seed + 1);
    r.out.file.data = std::make_shared_for_overwrite<uint8_t[]>(t.length);
    std::memcpy(r.out.file.data.get(), data.data(), data.size());
    r.out.file.length = t.length;
    r.expected += data;
  } else if (t.length > 0) {
    const std::string content = pattern(t.file_size, seed + 2);
    files->emplace_back(content);
    r.out.file.fd = files->back().fd();
    r.out.file.offset = t.offset;
    r.out.file.length = t.length;
    std::string data = t.offset < content.size() ? content.substr(t.offset, t.length) : "";
    data.resize(t.length, '\0');
    r.expected += data;
  }
  return r;
}

// Each case answered inline, on the pool, and with Connection::send: the header's length
// counts the message and its file data, and the bytes are the message's, then the file's.
TEST_F(TcpWorkerTest, FileSegmentsFollowTheirMessage) {
  std::mutex mu;
  std::vector<TempFile> files;
  std::vector<FileReply> replies;
  for (size_t i = 0; i < std::size(kFileCases); ++i) {
    replies.push_back(makeFileReply(kFileCases[i], i * 10, &files));
  }
  // "i<n>" answers case n inline, "p<n>" on the pool.
  acceptor_.on_inline = [&](TestConn&, const std::string& s, Reply* r) {
    if (s[0] != 'i') return false;
    std::lock_guard<std::mutex> lock(mu);
    r->out = replies[std::stoul(s.substr(1))].out;
    return true;
  };
  acceptor_.on_pool = [&](TestConn&, const std::string& s) {
    std::lock_guard<std::mutex> lock(mu);
    return Reply{replies[std::stoul(s.substr(1))].out};
  };
  startWorker();
  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  for (const char* how : {"i", "p"}) {
    for (size_t i = 0; i < std::size(kFileCases); ++i) {
      SCOPED_TRACE(std::string(how == std::string("i") ? "inline: " : "pool: ") +
                   kFileCases[i].name);
      ASSERT_TRUE(client->send(frame(how + std::to_string(i))));
      auto got = client->readFrame();
      ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(sameBytes(replies[i].expected, *got));
    }
  }
  // All of them queued at once from another thread: memory and file frames interleave in one
  // batch of writes.
  std::thread([&] {
    for (const auto& r : replies) conn->conn->send(r.out);
  }).join();
  for (size_t i = 0; i < std::size(kFileCases); ++i) {
    SCOPED_TRACE(std::string("send: ") + kFileCases[i].name);
    auto got = client->readFrame();
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(sameBytes(replies[i].expected, *got));
  }
}

// ---------------------------------------------------------------------------------------------
// Connections coming and going

TEST_F(TcpWorkerTest, OnCloseWhenTheClientDisconnects) {
  auto started = std::make_shared<Gate>();
  auto release = std::make_shared<Gate>();
  acceptor_.on_pool = holdOnPool("slow", started, release);
  startWorker();
  {
    SCOPED_TRACE("idle");
    auto client = connect();
    auto conn = acceptor_.conn(0);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("x")));
    EXPECT_EQ(client->frameText(), "re:x");
    EXPECT_EQ(connections_.load(), 1);
    client->closeNow();
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    EXPECT_TRUE(conn->closedOnLoop());
    EXPECT_EQ(connections_.load(), 0);
  }
  {
    SCOPED_TRACE("a message on the pool");
    auto client = connect();
    auto conn = acceptor_.conn(1);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(client->send(frame("slow")));
    ASSERT_TRUE(started->wait());
    client->closeNow();
    ASSERT_TRUE(acceptor_.waitClosed(*conn));
    release->open();  // its reply finds the connection gone
    // The worker still serves others afterwards.
    auto next = connect();
    ASSERT_TRUE(next->send(frame("y")));
    EXPECT_EQ(next->frameText(), "re:y");
    EXPECT_EQ(conn->closes(), 1);
  }
}

TEST_F(TcpWorkerTest, MaxConnectionsRefusesTheSecond) {
  options_.max_connections = 1;
  startWorker();
  auto first = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);

  auto second = connect();  // the kernel completes the handshake; the worker then refuses
  EXPECT_TRUE(second->closedByServer());
  EXPECT_TRUE(acceptor_.waitRefused(1));
  EXPECT_EQ(acceptor_.refused(), 1u);
  EXPECT_EQ(acceptor_.accepted(), 1u);
  EXPECT_EQ(connections_.load(), 1);

  ASSERT_TRUE(first->send(frame("still served")));
  EXPECT_EQ(first->frameText(), "re:still served");

  // Once the first is gone, a new one is admitted.
  first->closeNow();
  ASSERT_TRUE(acceptor_.waitClosed(*conn));
  auto third = connect();
  auto conn3 = acceptor_.conn(1);
  ASSERT_NE(conn3, nullptr);
  ASSERT_TRUE(third->send(frame("third")));
  EXPECT_EQ(third->frameText(), "re:third");
  EXPECT_EQ(acceptor_.refused(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Worker::watch

// An eventfd watched before start(): its callback runs on the loop whenever it is written, and
// may send on a connection from there (as the I/O engine's completions do).
TEST_F(TcpWorkerTest, WatchedEventFdRunsOnTheLoop) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  std::mutex mu;
  std::condition_variable cv;
  uint64_t total = 0;
  int calls = 0;
  bool off_loop = false;
  std::shared_ptr<Connection> target;
  startWorker([&](Worker& w) {
    w.watch(efd, [&] {
      uint64_t v = 0;
      if (read(efd, &v, sizeof(v)) != sizeof(v)) return;  // level-triggered: must drain
      std::shared_ptr<Connection> to;
      {
        std::lock_guard<std::mutex> lock(mu);
        total += v;
        ++calls;
        off_loop |= std::this_thread::get_id() != acceptor_.loop_thread.load();
        to = target;
        cv.notify_all();
      }
      if (to) to->send(OutMessage{bytes("from watch " + std::to_string(v)), {}});
    });
  });
  auto waitTotal = [&](uint64_t want) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kTimeout, [&] { return total == want; });
  };
  uint64_t one = 1;
  ASSERT_EQ(write(efd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
  EXPECT_TRUE(waitTotal(1));
  uint64_t three = 3;
  ASSERT_EQ(write(efd, &three, sizeof(three)), static_cast<ssize_t>(sizeof(three)));
  EXPECT_TRUE(waitTotal(4));

  auto client = connect();
  auto conn = acceptor_.conn(0);
  ASSERT_NE(conn, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu);
    target = conn->conn;
  }
  uint64_t five = 5;
  ASSERT_EQ(write(efd, &five, sizeof(five)), static_cast<ssize_t>(sizeof(five)));
  EXPECT_EQ(client->frameText(), "from watch 5");
  stopWorker();  // before efd closes and the callback's captures go
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(total, 9u);
  EXPECT_GE(calls, 3);
  EXPECT_FALSE(off_loop);
  close(efd);
}

}  // namespace
}  // namespace xsmb::transport
