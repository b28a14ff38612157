// Direct-TCP framing (MS-SMB2 2.1, RFC 1002 4.3.1 session message, 4.3.7 keep-alive).
#include "common/smb2/netbios.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace xsmb::netbios {
namespace {

struct FrameCase {
  std::string description;
  Bytes input;
  size_t max_length;
  FrameStatus status;
  uint32_t length;  // checked when the header is complete
};

Bytes frame(uint8_t type, uint32_t length, size_t payload_present) {
  Bytes b = {type, static_cast<uint8_t>(length >> 16), static_cast<uint8_t>(length >> 8),
             static_cast<uint8_t>(length)};
  b.resize(4 + payload_present, 0xEE);
  return b;
}

TEST(NetBiosTest, ParseFrameTable) {
  const std::vector<FrameCase> cases = {
      {"empty", {}, 1024, FrameStatus::kIncomplete, 0},
      {"one header byte", {0x00}, 1024, FrameStatus::kIncomplete, 0},
      {"three header bytes", {0x00, 0x00, 0x00}, 1024, FrameStatus::kIncomplete, 0},
      {"header only", frame(0x00, 100, 0), 1024, FrameStatus::kIncomplete, 100},
      {"one byte short", frame(0x00, 100, 99), 1024, FrameStatus::kIncomplete, 100},
      {"complete", frame(0x00, 100, 100), 1024, FrameStatus::kMessage, 100},
      {"complete plus the next frame's start", frame(0x00, 100, 150), 1024, FrameStatus::kMessage,
       100},
      {"24-bit length, big-endian", frame(0x00, 0x012345, 0x012345), 0x012345,
       FrameStatus::kMessage, 0x012345},
      {"empty session message", frame(0x00, 0, 0), 1024, FrameStatus::kMessage, 0},
      {"length at the limit", frame(0x00, 1024, 1024), 1024, FrameStatus::kMessage, 1024},
      {"length one above the limit, header only", frame(0x00, 1025, 0), 1024,
       FrameStatus::kTooLarge, 1025},
      {"largest 24-bit length above the limit", frame(0x00, 0xFFFFFF, 0), 0x800000,
       FrameStatus::kTooLarge, 0xFFFFFF},
      {"keep-alive", frame(0x85, 0, 0), 1024, FrameStatus::kKeepAlive, 0},
      {"keep-alive followed by a message",
       {0x85, 0, 0, 0, 0x00, 0, 0, 4},
       1024,
       FrameStatus::kKeepAlive,
       0},
      {"keep-alive, header incomplete", {0x85, 0x00}, 1024, FrameStatus::kIncomplete, 0},
      {"session request 0x81", frame(0x81, 68, 68), 1024, FrameStatus::kBadType, 68},
      {"positive response 0x82", frame(0x82, 0, 0), 1024, FrameStatus::kBadType, 0},
      {"SMB2 without NetBIOS header",
       {0xFE, 'S', 'M', 'B', 0x40, 0},
       1024,
       FrameStatus::kBadType,
       0x534D42},
      {"type 0x01", frame(0x01, 4, 4), 1024, FrameStatus::kBadType, 4},
  };
  for (const FrameCase& c : cases) {
    SCOPED_TRACE(c.description);
    Bytes copy = c.input;  // exact-size allocation for ASan
    Frame f = parseFrame(copy, c.max_length);
    EXPECT_EQ(static_cast<int>(f.status), static_cast<int>(c.status));
    if (c.input.size() >= kNetBiosHeaderSize) EXPECT_EQ(f.length, c.length);
  }
}

TEST(NetBiosTest, HugeKeepAliveIsNotAwaited) {
  // A keep-alive carries no payload (RFC 1002 4.3.7); one announcing megabytes must not make
  // the connection buffer them.
  Bytes b = frame(0x85, 0x100000, 0);
  Frame f = parseFrame(b, 1 << 20);
  EXPECT_NE(static_cast<int>(f.status), static_cast<int>(FrameStatus::kIncomplete));
  EXPECT_NE(static_cast<int>(f.status), static_cast<int>(FrameStatus::kMessage));
}

TEST(NetBiosTest, OneByteAtATime) {
  const Bytes b = frame(0x00, 300, 300);
  for (size_t n = 0; n <= b.size(); ++n) {
    Bytes prefix(b.begin(), b.begin() + static_cast<ptrdiff_t>(n));
    Frame f = parseFrame(prefix, 1 << 17);
    if (n < b.size()) {
      ASSERT_EQ(static_cast<int>(f.status), static_cast<int>(FrameStatus::kIncomplete)) << n;
      if (n >= 4) ASSERT_EQ(f.length, 300u) << n;
    } else {
      ASSERT_EQ(static_cast<int>(f.status), static_cast<int>(FrameStatus::kMessage));
      ASSERT_EQ(f.length, 300u);
    }
  }
}

TEST(NetBiosTest, WriteFrameHeader) {
  struct Case {
    uint32_t length;
    std::array<uint8_t, 4> wire;
  };
  for (const Case& c : std::vector<Case>{{0, {0, 0, 0, 0}},
                                         {0x48, {0, 0, 0, 0x48}},
                                         {0x012345, {0, 0x01, 0x23, 0x45}},
                                         {0xFFFFFF, {0, 0xFF, 0xFF, 0xFF}}}) {
    uint8_t out[kNetBiosHeaderSize] = {0xAA, 0xAA, 0xAA, 0xAA};
    writeFrameHeader(c.length, out);
    EXPECT_EQ(std::vector<uint8_t>(out, out + 4),
              std::vector<uint8_t>(c.wire.begin(), c.wire.end()))
        << c.length;
    Bytes whole(out, out + 4);
    whole.resize(4 + c.length);
    Frame f = parseFrame(whole, 0xFFFFFF);
    EXPECT_EQ(static_cast<int>(f.status), static_cast<int>(FrameStatus::kMessage));
    EXPECT_EQ(f.length, c.length);
  }
}

}  // namespace
}  // namespace xsmb::netbios
