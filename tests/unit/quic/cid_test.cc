// The connection-ID layout (bpf/include/xsmb_quic.h) and the first-header reader: a table of
// datagrams with the header each yields or the field its error names, each also cut at every
// length (never a crash; a cut inside the header is an error).
#include "common/quic/cid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace xsmb::quic {
namespace {

const std::array<uint8_t, kCidRandomLength> kRandom = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes cidBytes(uint8_t worker) {
  ConnectionId c = makeCid(worker, kRandom);
  return Bytes(c.begin(), c.end());
}

// RFC 9000 17.2: byte 0 = 1 (form) 1 (fixed) TT (type) 0000, Version, DCID Length, DCID,
// SCID Length, SCID, then type-specific fields (here filler).
Bytes longHeader(uint8_t type, uint32_t version, const Bytes& dcid, size_t filler = 24) {
  Bytes b = {static_cast<uint8_t>(0xc0 | (type << 4)), static_cast<uint8_t>(version >> 24),
             static_cast<uint8_t>(version >> 16), static_cast<uint8_t>(version >> 8),
             static_cast<uint8_t>(version), static_cast<uint8_t>(dcid.size())};
  b.insert(b.end(), dcid.begin(), dcid.end());
  b.push_back(8);
  b.resize(b.size() + 8 + filler, 0x33);
  return b;
}

// RFC 9000 17.3.1: byte 0 = 0 (form) 1 (fixed) S R R K PP, DCID, packet number, payload.
Bytes shortHeader(const Bytes& dcid, size_t filler = 24) {
  Bytes b = concat({{0x41}, dcid});
  b.resize(b.size() + filler, 0x44);
  return b;
}

TEST(QuicCid, LayoutPutsVersionWorkerAndRandomBytes) {
  ConnectionId c = makeCid(7, kRandom);
  EXPECT_EQ(c[0], 0x01);
  EXPECT_EQ(c[1], 7);
  EXPECT_EQ(0, std::memcmp(c.data() + 2, kRandom.data(), 14));
  auto w = cidWorker(c);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(*w, 7);
  xsmb_quic_cid key = cidKey(c);
  EXPECT_EQ(key.layout, 1);
  EXPECT_EQ(key.worker, 7);
  EXPECT_EQ(key.random[13], 14);
}

TEST(QuicCid, EveryWorkerRoundTripsAndRandomPartsDiffer) {
  std::set<ConnectionId> seen;
  for (int w = 0; w < 256; w++) {
    auto c = makeCid(static_cast<uint8_t>(w));
    ASSERT_TRUE(c.ok()) << c.status();
    auto back = cidWorker(*c);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, w);
    seen.insert(*c);
  }
  EXPECT_EQ(seen.size(), 256u);  // 112 random bits each: a repeat means no randomness
}

TEST(QuicCid, WorkerOfAForeignIdIsAnError) {
  Bytes other_layout = cidBytes(3);
  other_layout[0] = 0x02;
  EXPECT_FALSE(cidWorker(other_layout).ok());
  EXPECT_NE(cidWorker(other_layout).status().message().find("layout 2"), std::string::npos);
  Bytes short_id(8, 0x01);
  EXPECT_FALSE(cidWorker(short_id).ok());
  Bytes long_id = concat({cidBytes(3), {0}});
  EXPECT_FALSE(cidWorker(long_id).ok());
  EXPECT_FALSE(cidWorker({}).ok());
}

struct HeaderCase {
  std::string what;
  Bytes datagram;
  bool ok;
  HeaderForm form;
  uint32_t version;
  LongType type;
  Bytes dcid;
  bool placeable;
  std::string error;  // a word the error names
};

std::vector<HeaderCase> headerCases() {
  Bytes ours = cidBytes(5);
  Bytes client8 = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11};
  Bytes other = ours;
  other[0] = 0x7f;
  using F = HeaderForm;
  using T = LongType;
  return {
      {"short header, our ID", shortHeader(ours), true, F::kShort, 0, T::kInitial, ours, true, ""},
      {"short header, other layout", shortHeader(other), true, F::kShort, 0, T::kInitial, other,
       false, ""},
      {"first Initial, client-chosen 8-byte DCID", longHeader(0, 1, client8), true, F::kLong, 1,
       T::kInitial, client8, false, ""},
      {"later Initial, our ID", longHeader(0, 1, ours), true, F::kLong, 1, T::kInitial, ours, true,
       ""},
      {"0-RTT, 20-byte client DCID", longHeader(1, 1, Bytes(20, 0x01)), true, F::kLong, 1,
       T::kZeroRtt, Bytes(20, 0x01), false, ""},
      {"Handshake, our ID", longHeader(2, 1, ours), true, F::kLong, 1, T::kHandshake, ours, true,
       ""},
      {"Handshake, no DCID", longHeader(2, 1, {}), true, F::kLong, 1, T::kHandshake, {}, false, ""},
      {"v1 DCID Length 21", longHeader(2, 1, Bytes(21, 0x01)), false, F::kLong, 0, T::kInitial, {},
       false, "above 20"},
      {"unknown version, 40-byte DCID (RFC 8999 allows it)", longHeader(0, 0xff00001d, Bytes(40, 9)),
       true, F::kLong, 0xff00001d, T::kInitial, Bytes(40, 9), false, ""},
      // RFC 9287: after grease_quic_bit (ngtcp2 always advertises it) the bit may be 0.
      {"Handshake with the Fixed Bit greased", concat({{0xa0, 0, 0, 0, 1, 16}, ours}), true,
       F::kLong, 1, T::kHandshake, ours, true, ""},
      {"long header cut in the DCID", concat({{0xe0, 0, 0, 0, 1, 16}, Bytes(15, 1)}), false,
       F::kLong, 0, T::kInitial, {}, false, "Destination Connection ID"},
      {"long header cut in Version", {0xc0, 0, 0}, false, F::kLong, 0, T::kInitial, {}, false,
       "Version"},
      {"short header cut in the DCID", concat({{0x40}, Bytes(15, 1)}), false, F::kShort, 0,
       T::kInitial, {}, false, "Destination Connection ID"},
      {"empty datagram", {}, false, F::kShort, 0, T::kInitial, {}, false, "empty"},
  };
}

TEST(QuicHeader, TableOfDatagrams) {
  for (const HeaderCase& c : headerCases()) {
    SCOPED_TRACE(c.what);
    auto h = parseFirstHeader(c.datagram);
    ASSERT_EQ(h.ok(), c.ok) << (h.ok() ? "parsed" : h.status().ToString());
    if (!c.ok) {
      EXPECT_NE(h.status().message().find(c.error), std::string::npos) << h.status();
      EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    EXPECT_EQ(h->form, c.form);
    EXPECT_EQ(h->version, c.version);
    if (c.form == HeaderForm::kLong && c.version == 1) EXPECT_EQ(h->type, c.type);
    EXPECT_EQ(Bytes(h->dcid.begin(), h->dcid.end()), c.dcid);
    EXPECT_EQ(isPlaceable(*h), c.placeable);
  }
}

// Cut at every length: a result only when the whole header is there, and then the same one.
TEST(QuicHeader, EveryTruncationIsAnErrorOrTheSameHeader) {
  for (const HeaderCase& c : headerCases()) {
    if (!c.ok) continue;
    SCOPED_TRACE(c.what);
    size_t header_end = c.form == HeaderForm::kShort ? 1 + kCidLength : 6 + c.dcid.size();
    for (size_t n = 0; n < c.datagram.size(); n++) {
      auto h = parseFirstHeader(ByteSpan(c.datagram.data(), n));
      ASSERT_EQ(h.ok(), n >= header_end) << "cut at " << n;
      if (h.ok()) EXPECT_EQ(Bytes(h->dcid.begin(), h->dcid.end()), c.dcid);
    }
  }
}

TEST(QuicHeader, ShortHeaderDcidLengthIsTheCallers) {
  Bytes d = shortHeader(Bytes(8, 0x2a));
  auto h = parseFirstHeader(d, 8);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->dcid.size(), 8u);
  EXPECT_FALSE(isPlaceable(*h));
}

}  // namespace
}  // namespace xsmb::quic
