// Real client requests, extracted from /work/shared/captures (Samba 4.17 smbclient, rpcclient
// and smbtorture smb2.compound.*) by testdata/extract.py: each file is one NetBIOS frame, 4-byte
// header + one SMB2 message or a compound chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/smb2/netbios.h"
#include "common/smb2/header.h"
#include "common/smb2/messages.h"
#include "tests/unit/smb2/test_util.h"

namespace xsmb::smb2 {
namespace {

struct Capture {
  std::string name;
  Bytes frame;
};

std::vector<Capture> loadCaptures() {
  std::vector<Capture> out;
  for (const auto& entry : std::filesystem::directory_iterator(XSMB_SMB2_TESTDATA)) {
    if (entry.path().extension() != ".bin") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    out.push_back({entry.path().filename().string(),
                   Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>())});
  }
  std::sort(out.begin(), out.end(),
            [](const Capture& a, const Capture& b) { return a.name < b.name; });
  return out;
}

// Runs the decoder matching `command` on one message.
NtStatus decodeByCommand(uint16_t command, ByteSpan msg) {
  switch (command) {
    case SMB2_NEGOTIATE: {
      NegotiateRequest r;
      return decodeNegotiateRequest(msg, &r);
    }
    case SMB2_SESSION_SETUP: {
      SessionSetupRequest r;
      return decodeSessionSetupRequest(msg, &r);
    }
    case SMB2_TREE_CONNECT: {
      TreeConnectRequest r;
      return decodeTreeConnectRequest(msg, &r);
    }
    case SMB2_CREATE: {
      CreateRequest r;
      return decodeCreateRequest(msg, &r);
    }
    case SMB2_CLOSE: {
      CloseRequest r;
      return decodeCloseRequest(msg, &r);
    }
    case SMB2_FLUSH: {
      FileId f;
      return decodeFlushRequest(msg, &f);
    }
    case SMB2_READ: {
      ReadRequest r;
      return decodeReadRequest(msg, &r);
    }
    case SMB2_WRITE: {
      WriteRequest r;
      return decodeWriteRequest(msg, &r);
    }
    case SMB2_LOCK: {
      LockRequest r;
      return decodeLockRequest(msg, &r);
    }
    case SMB2_IOCTL: {
      IoctlRequest r;
      return decodeIoctlRequest(msg, &r);
    }
    case SMB2_QUERY_DIRECTORY: {
      QueryDirectoryRequest r;
      return decodeQueryDirectoryRequest(msg, &r);
    }
    case SMB2_CHANGE_NOTIFY: {
      ChangeNotifyRequest r;
      return decodeChangeNotifyRequest(msg, &r);
    }
    case SMB2_QUERY_INFO: {
      QueryInfoRequest r;
      return decodeQueryInfoRequest(msg, &r);
    }
    case SMB2_SET_INFO: {
      SetInfoRequest r;
      return decodeSetInfoRequest(msg, &r);
    }
    case SMB2_LOGOFF:
    case SMB2_TREE_DISCONNECT:
    case SMB2_ECHO:
    case SMB2_CANCEL:
      return decodeEmptyRequest(msg, 4);
    case SMB2_OPLOCK_BREAK: {
      uint8_t level;
      FileId f;
      return decodeOplockBreakAck(msg, &level, &f);
    }
  }
  return STATUS_NOT_IMPLEMENTED;
}

// The messages of a frame's payload, split by NextCommand (MS-SMB2 3.3.5.2.7).
std::vector<ByteSpan> splitCompound(ByteSpan payload) {
  std::vector<ByteSpan> out;
  size_t off = 0;
  while (off < payload.size()) {
    ByteSpan rest = payload.subspan(off);
    Header h;
    EXPECT_TRUE(decodeHeader(rest, &h)) << "at offset " << off;
    if (!h.next_command) {
      out.push_back(rest);
      break;
    }
    EXPECT_EQ(h.next_command % 8, 0u);
    EXPECT_GE(h.next_command, kHeaderSize);
    EXPECT_LE(h.next_command, rest.size());
    if (h.next_command < kHeaderSize || h.next_command > rest.size()) break;
    out.push_back(rest.first(h.next_command));
    off += h.next_command;
  }
  return out;
}

TEST(CaptureTest, EveryRequestDecodes) {
  std::vector<Capture> captures = loadCaptures();
  ASSERT_GE(captures.size(), 20u) << "testdata missing from " << XSMB_SMB2_TESTDATA;
  std::set<uint16_t> commands;
  size_t compounds = 0;
  for (const Capture& c : captures) {
    SCOPED_TRACE(c.name);
    ASSERT_GE(c.frame.size(), 4u + kHeaderSize);
    ByteSpan payload = ByteSpan(c.frame).subspan(4);
    std::vector<ByteSpan> msgs = splitCompound(payload);
    ASSERT_FALSE(msgs.empty());
    if (msgs.size() > 1) ++compounds;
    for (size_t i = 0; i < msgs.size(); ++i) {
      Header h;
      ASSERT_TRUE(decodeHeader(msgs[i], &h));
      EXPECT_EQ(h.flags & SMB2_FLAGS_SERVER_TO_REDIR, 0u) << "requests only";
      commands.insert(h.command);
      EXPECT_EQ(decodeByCommand(h.command, msgs[i]), STATUS_SUCCESS)
          << "message " << i << ", command " << h.command;
    }
  }
  EXPECT_GE(compounds, 3u);
  for (uint16_t cmd : {SMB2_NEGOTIATE, SMB2_SESSION_SETUP, SMB2_TREE_CONNECT, SMB2_TREE_DISCONNECT,
                       SMB2_CREATE, SMB2_CLOSE, SMB2_READ, SMB2_WRITE, SMB2_IOCTL,
                       SMB2_QUERY_DIRECTORY, SMB2_QUERY_INFO, SMB2_SET_INFO}) {
    EXPECT_TRUE(commands.count(cmd)) << "no capture of command " << cmd;
  }
}

Bytes load(const std::string& name) {
  std::ifstream f(std::string(XSMB_SMB2_TESTDATA) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Field values read off the same frames with `tshark -V`.
TEST(CaptureTest, NegotiateFromSmbclient311) {
  Bytes frame = load("smb311_0_00_negotiate.bin");
  ASSERT_FALSE(frame.empty());
  NegotiateRequest r;
  ASSERT_EQ(decodeNegotiateRequest(ByteSpan(frame).subspan(4), &r), STATUS_SUCCESS);
  EXPECT_EQ(r.dialects, (std::vector<uint16_t>{0x0202, 0x0210, 0x0300, 0x0302, 0x0311}));
  EXPECT_EQ(r.security_mode, SMB2_NEGOTIATE_SIGNING_ENABLED);
  std::vector<uint16_t> types;
  for (const NegotiateContext& c : r.contexts) types.push_back(c.type);
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types[0], SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
  EXPECT_EQ(r.contexts[0].data.size(), 38u);  // one SHA-512 id and a 32-byte salt
  EXPECT_NE(std::find(types.begin(), types.end(), SMB2_ENCRYPTION_CAPABILITIES), types.end());
}

TEST(CaptureTest, TreeConnectAndWriteFromSmbclient311) {
  Bytes tc = load("smb311_0_03_treeconnect.bin");
  TreeConnectRequest t;
  ASSERT_EQ(decodeTreeConnectRequest(ByteSpan(tc).subspan(4), &t), STATUS_SUCCESS);
  EXPECT_TRUE(t.path.size() > 6 && t.path.substr(t.path.size() - 5) == "\\IPC$") << t.path;

  Bytes wr = load("smb311_0_08_write.bin");
  WriteRequest w;
  ASSERT_EQ(decodeWriteRequest(ByteSpan(wr).subspan(4), &w), STATUS_SUCCESS);
  EXPECT_EQ(w.data.size(), 100000u);  // the 100,000-byte test file in one WRITE
  EXPECT_EQ(w.offset, 0u);
  EXPECT_EQ(w.data.data(), wr.data() + 4 + 0x70);
}

// smb2.compound.related1: CREATE + CLOSE, the CLOSE related and naming the CREATE's FileId
// with the all-ones placeholder (MS-SMB2 3.2.4.1.4).
TEST(CaptureTest, CompoundRelated) {
  Bytes frame = load("compound_0_05_create+close.bin");
  std::vector<ByteSpan> msgs = splitCompound(ByteSpan(frame).subspan(4));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].size(), 168u);
  Header h;
  ASSERT_TRUE(decodeHeader(msgs[0], &h));
  EXPECT_EQ(h.command, SMB2_CREATE);
  EXPECT_FALSE(h.isRelated());
  CreateRequest cr;
  ASSERT_EQ(decodeCreateRequest(msgs[0], &cr), STATUS_SUCCESS);
  ASSERT_TRUE(decodeHeader(msgs[1], &h));
  EXPECT_EQ(h.command, SMB2_CLOSE);
  EXPECT_TRUE(h.isRelated());
  CloseRequest c;
  ASSERT_EQ(decodeCloseRequest(msgs[1], &c), STATUS_SUCCESS);
  EXPECT_TRUE(c.file_id.isRelatedPlaceholder());
}

// smb2.compound.unrelated1: CREATE + four unrelated CLOSEs with the placeholder FileId (which
// the server must answer with STATUS_FILE_CLOSED, not treat as related).
TEST(CaptureTest, CompoundUnrelated) {
  Bytes frame = load("compound_1_05_create+close+close+close+close.bin");
  std::vector<ByteSpan> msgs = splitCompound(ByteSpan(frame).subspan(4));
  ASSERT_EQ(msgs.size(), 5u);
  Header h;
  ASSERT_TRUE(decodeHeader(msgs[0], &h));
  EXPECT_EQ(h.command, SMB2_CREATE);
  for (size_t i = 1; i < 5; ++i) {
    ASSERT_TRUE(decodeHeader(msgs[i], &h));
    EXPECT_EQ(h.command, SMB2_CLOSE);
    EXPECT_FALSE(h.isRelated()) << i;
    EXPECT_EQ(h.message_id, 5 + i);
    CloseRequest c;
    ASSERT_EQ(decodeCloseRequest(msgs[i], &c), STATUS_SUCCESS);
    EXPECT_TRUE(c.file_id.isRelatedPlaceholder()) << i;
  }
  ASSERT_TRUE(decodeHeader(msgs[4], &h));
  EXPECT_EQ(h.next_command, 0u);
  EXPECT_EQ(msgs[4].size(), 88u);  // the last message carries no padding
}

// The framer fed each capture one byte at a time, as a slow TCP peer would deliver it.
TEST(CaptureTest, FramerOneByteAtATime) {
  for (const Capture& c : loadCaptures()) {
    SCOPED_TRACE(c.name);
    const uint32_t length = static_cast<uint32_t>(c.frame.size() - 4);
    for (size_t n = 0; n <= c.frame.size(); ++n) {
      Bytes prefix(c.frame.begin(), c.frame.begin() + static_cast<ptrdiff_t>(n));
      netbios::Frame f = netbios::parseFrame(prefix, 1 << 24);
      if (n < c.frame.size()) {
        ASSERT_EQ(static_cast<int>(f.status), static_cast<int>(netbios::FrameStatus::kIncomplete)) << n;
        if (n >= 4) ASSERT_EQ(f.length, length) << n;
      } else {
        ASSERT_EQ(static_cast<int>(f.status), static_cast<int>(netbios::FrameStatus::kMessage));
        ASSERT_EQ(f.length, length);
      }
    }
    // Above the limit the frame is refused from its header alone.
    Bytes header(c.frame.begin(), c.frame.begin() + 4);
    netbios::Frame big = netbios::parseFrame(header, length - 1);
    EXPECT_EQ(static_cast<int>(big.status), static_cast<int>(netbios::FrameStatus::kTooLarge));
    netbios::Frame exact = netbios::parseFrame(c.frame, length);
    EXPECT_EQ(static_cast<int>(exact.status), static_cast<int>(netbios::FrameStatus::kMessage));
    // Any other first byte is not a session message.
    for (uint8_t type : {0x81, 0x82, 0x83, 0x84, 0xFE, 0xFF}) {
      Bytes other = c.frame;
      other[0] = type;
      EXPECT_EQ(static_cast<int>(netbios::parseFrame(other, 1 << 24).status),
                static_cast<int>(netbios::FrameStatus::kBadType))
          << int{type};
    }
  }
}

// Back-to-back frames with keep-alives between them, as one receive buffer.
TEST(CaptureTest, FramerStreamWithKeepAlives) {
  std::vector<Capture> captures = loadCaptures();
  Bytes stream;
  std::vector<uint32_t> lengths;
  for (const Capture& c : captures) {
    if (c.frame.size() > 4096) continue;
    stream.insert(stream.end(), {0x85, 0, 0, 0});
    stream.insert(stream.end(), c.frame.begin(), c.frame.end());
    lengths.push_back(static_cast<uint32_t>(c.frame.size() - 4));
  }
  ASSERT_GE(lengths.size(), 10u);
  size_t pos = 0;
  size_t messages = 0;
  while (pos < stream.size()) {
    netbios::Frame f = netbios::parseFrame(ByteSpan(stream).subspan(pos), 1 << 20);
    if (f.status == netbios::FrameStatus::kKeepAlive) {
      pos += 4 + f.length;
      continue;
    }
    ASSERT_EQ(static_cast<int>(f.status), static_cast<int>(netbios::FrameStatus::kMessage)) << pos;
    ASSERT_LT(messages, lengths.size());
    EXPECT_EQ(f.length, lengths[messages]);
    Header h;
    EXPECT_TRUE(decodeHeader(ByteSpan(stream).subspan(pos + 4, f.length), &h));
    pos += 4 + f.length;
    ++messages;
  }
  EXPECT_EQ(messages, lengths.size());
}

}  // namespace
}  // namespace xsmb::smb2
