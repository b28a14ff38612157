// The SMB-over-QUIC stream framer (server/transport/quic/stream_framer.h, MS-SMB2 2.1) and the
// server's connection-ID layout (quic_cid.h): table-driven cases, each also fed one byte at a
// time and cut at every length.
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/transport/quic/quic_cid.h"
#include "server/transport/quic/stream_framer.h"

namespace xsmb::transport::quic {
namespace {

using Error = StreamFramer::Error;

Bytes frame(const std::string& payload) {
  Bytes b = {0, static_cast<uint8_t>(payload.size() >> 16),
             static_cast<uint8_t>(payload.size() >> 8), static_cast<uint8_t>(payload.size())};
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<std::string> texts(const std::deque<Message>& m) {
  std::vector<std::string> out;
  for (const Message& x : m) out.emplace_back(reinterpret_cast<const char*>(x.data.get()), x.size);
  return out;
}

struct Case {
  const char* description;
  Bytes input;
  size_t limit;
  std::vector<std::string> messages;
  Error error;
};

std::vector<Case> cases() {
  return {
      {"one message", frame("hello"), 100, {"hello"}, Error::kNone},
      {"two messages back to back",
       concat({frame("ab"), frame("cde")}),
       100,
       {"ab", "cde"},
       Error::kNone},
      {"at the limit", frame(std::string(100, 'x')), 100, {std::string(100, 'x')}, Error::kNone},
      {"over the limit", frame(std::string(101, 'x')), 100, {}, Error::kTooLarge},
      {"keep-alive type is not Direct TCP", Bytes{0x85, 0, 0, 0}, 100, {}, Error::kBadHeader},
      {"zero length", Bytes{0, 0, 0, 0}, 100, {}, Error::kBadHeader},
      {"garbage after a message",
       concat({frame("ok"), Bytes{0xfe, 'S', 'M', 'B'}}),
       100,
       {"ok"},
       Error::kBadHeader},
      {"24-bit length read big-endian",
       concat({Bytes{0, 0, 1, 0}, Bytes(256, 'y')}),
       1000,
       {std::string(256, 'y')},
       Error::kNone},
  };
}

TEST(StreamFramer, WholeAndByteAtATime) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.description);
    StreamFramer whole(c.limit);
    std::deque<Message> out;
    EXPECT_EQ(whole.feed(c.input, &out), c.error);
    EXPECT_EQ(texts(out), c.messages);
    StreamFramer bytewise(c.limit);
    std::deque<Message> out2;
    Error e = Error::kNone;
    for (uint8_t b : c.input) e = bytewise.feed(ByteSpan(&b, 1), &out2);
    EXPECT_EQ(e, c.error);
    EXPECT_EQ(texts(out2), c.messages);
  }
}

TEST(StreamFramer, TruncatedAtEveryLengthWaitsForTheRest) {
  const Bytes in = concat({frame("first"), frame("second")});
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    StreamFramer f(100);
    std::deque<Message> out;
    ASSERT_EQ(f.feed(ByteSpan(in).first(cut), &out), Error::kNone);
    EXPECT_EQ(out.size(), cut >= 9 ? (cut == in.size() ? 2u : 1u) : 0u) << cut;
    ASSERT_EQ(f.feed(ByteSpan(in).subspan(cut), &out), Error::kNone);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"first", "second"})) << cut;
    EXPECT_EQ(f.buffered(), 0u);
  }
}

TEST(StreamFramer, ErrorIsSticky) {
  StreamFramer f(10);
  std::deque<Message> out;
  EXPECT_EQ(f.feed(frame(std::string(11, 'z')), &out), Error::kTooLarge);
  EXPECT_EQ(f.feed(frame("ok"), &out), Error::kTooLarge);
  EXPECT_TRUE(out.empty());
}

TEST(StreamFramer, LimitChangesForTheNextHeader) {
  StreamFramer f(4);
  std::deque<Message> out;
  EXPECT_EQ(f.feed(frame("abcd"), &out), Error::kNone);
  f.setMaxMessage(8);
  EXPECT_EQ(f.feed(frame("abcdefgh"), &out), Error::kNone);
  EXPECT_EQ(out.size(), 2u);
}

TEST(QuicCid, LayoutNamesTheWorker) {
  uint8_t fill = 0;
  auto rng = [&fill](uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = fill++;
  };
  for (int w : {0, 1, 7, 255}) {
    const Cid cid = quicCidForWorker(static_cast<uint8_t>(w), rng);
    EXPECT_EQ(cid.size(), 16u);
    EXPECT_EQ(cid[0], kCidLayoutVersion);
    EXPECT_EQ(cid[1], w);
    EXPECT_EQ(quicCidWorker(cid), static_cast<uint8_t>(w));
  }
  const Cid a = quicCidForWorker(3, rng), b = quicCidForWorker(3, rng);
  EXPECT_NE(a, b);  // the random part differs
  Cid other = a;
  other[0] = 0x02;  // another layout version
  EXPECT_EQ(quicCidWorker(other), std::nullopt);
  EXPECT_EQ(quicCidWorker(ByteSpan(a).first(8)), std::nullopt);  // a client-chosen length
}

}  // namespace
}  // namespace xsmb::transport::quic
