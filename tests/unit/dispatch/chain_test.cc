// The dispatcher encodes the typed bodies that handlers return (server/dispatch/chain.cc): whole
// requests go through processMessage / processOnEventLoop on a connection with a guest session
// and a tree connect on a scratch share, and the response bytes are checked against the MS-SMB2
// layouts (2.2.1.2 header, 2.2.2 ERROR, 2.2.20 READ, 2.2.29 ECHO). A READ's data must arrive
// in the response where DataOffset says, whichever way it was read: into the response on the
// pool, with RWF_NOWAIT on the event loop, by the I/O engine (deferred), or as a file segment.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "common/smb2/security_constants.h"
#include "server/dispatch/dispatcher.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "tests/unit/session/test_state.h"
#include "tests/unit/smb2/packet_builder.h"

namespace xsmb::dispatch {
namespace {

using namespace smb2;
using testing::le16;
using testing::le32;
using testing::le64;
using testing::Smb2Msg;

// What Smb2Msg puts in every header.
constexpr uint64_t kSessionId = 0x0000400000000abcULL;
constexpr uint32_t kTreeId = 0x11223344;
constexpr size_t kFileSize = 128 * 1024;

uint8_t fileByte(size_t i) { return static_cast<uint8_t>(i * 7 + i / 251); }

Bytes fileBytes(size_t offset, size_t length) {
  Bytes b(length);
  for (size_t i = 0; i < length; ++i) b[i] = fileByte(offset + i);
  return b;
}

Bytes slice(const Bytes& b, size_t off, size_t len) {
  EXPECT_LE(off + len, b.size());
  if (off + len > b.size()) return {};
  return Bytes(b.begin() + static_cast<ptrdiff_t>(off),
               b.begin() + static_cast<ptrdiff_t>(off + len));
}

// Runs a deferred operation the way the I/O engine would and returns its result.
int64_t runIo(const vfs::FileIo& io) {
  ssize_t n = -1;
  switch (io.op) {
    case vfs::FileIo::Op::kRead:
      n = vfs::preadFull(io.fd, io.data, io.length, io.offset, 0);
      break;
    case vfs::FileIo::Op::kWrite:
      n = pwrite(io.fd, io.data, io.length, static_cast<off_t>(io.offset));
      break;
    default:
      n = fsync(io.fd);
  }
  return n < 0 ? -errno : n;
}

class ChainTest : public ::testing::Test {
 protected:
  ChainTest() {
    char tmpl[] = "/tmp/xsmb-chain-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Bytes data = fileBytes(0, kFileSize);
    int fd = open((dir_ + "/file.bin").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    close(fd);
    config::ShareConfig cfg;
    cfg.name = "share";
    cfg.path = dir_;
    cfg.read_only = false;
    cfg.guest_ok = true;
    server_.config.shares.push_back(cfg);
    auto share = std::make_unique<session::Share>();
    share->cfg = cfg;
    share->root.reset(open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    share_ = share.get();
    server_.shares.push_back(std::move(share));
    conn_ = connection();
  }
  ~ChainTest() override {
    conn_.reset();  // closes the opens first
    std::filesystem::remove_all(dir_);
  }

  // After NEGOTIATE (3.1.1), a guest SESSION_SETUP (no signing) and a TREE_CONNECT.
  std::shared_ptr<session::ConnState> connection() {
    auto conn = session::testing::negotiatedConnection(&server_, 1 << 20, 64);
    conn->sessions[kSessionId] = session::testing::guestSessionWithTree(kSessionId, kTreeId, share_);
    return conn;
  }

  // CREATE (MS-SMB2 2.2.13) of file.bin for `access`; returns the FileId of the response.
  FileId create(uint64_t mid, uint32_t access) {
    Smb2Msg m(SMB2_CREATE, mid);
    m.u16(57).u8(0).u8(0).u32(2).u64(0).u64(0);  // ..ImpersonationLevel, SmbCreateFlags, Reserved
    m.u32(access).u32(0).u32(FILE_SHARE_READ | FILE_SHARE_WRITE).u32(FILE_OPEN).u32(0);
    m.u16(0x78).u16(16).u32(0).u32(0).utf16("file.bin");
    Bytes r = dispatch::processMessage(*conn_, m.bytes());
    EXPECT_EQ(le32(r, kHeaderStatusOffset), STATUS_SUCCESS);
    if (r.size() < 64 + 88) return {};
    return FileId{le64(r, 64 + 64), le64(r, 64 + 72)};
  }

  // READ (MS-SMB2 2.2.19).
  static Bytes read(uint64_t mid, const FileId& id, uint32_t length, uint64_t offset,
                    uint32_t minimum_count = 0) {
    Smb2Msg m(SMB2_READ, mid);
    m.u16(49).u8(0x50).u8(0).u32(length).u64(offset).fileId(id.persistent, id.volatile_id);
    m.u32(minimum_count).u32(0).u32(0).u16(0).u16(0).u8(0);
    return m.bytes();
  }

  // processOnEventLoop, with a deferred operation run at once and its reply returned.
  Bytes onLoop(const Bytes& request, bool* deferred, vfs::FileSegment* segment = nullptr) {
    DeferredReply d;
    Bytes r = processOnEventLoop(*conn_, request, &d, segment);
    *deferred = static_cast<bool>(d.complete);
    if (!d.complete) return r;
    EXPECT_TRUE(r.empty()) << "a deferred request answers nothing at once";
    return d.complete(runIo(d.io));
  }

  std::string dir_;
  session::ServerContext server_;
  session::Share* share_ = nullptr;
  std::shared_ptr<session::ConnState> conn_;
};

// The response header as MS-SMB2 2.2.1.2 lays it out, for `command` and `mid`.
void expectHeader(const Bytes& r, uint16_t command, uint64_t mid, NtStatus status) {
  ASSERT_GE(r.size(), kHeaderSize);
  EXPECT_EQ(slice(r, 0, 4), Bytes({0xFE, 'S', 'M', 'B'}));
  EXPECT_EQ(le16(r, 4), 64);  // StructureSize
  EXPECT_EQ(le32(r, kHeaderStatusOffset), status);
  EXPECT_EQ(le16(r, 12), command);
  EXPECT_TRUE(le32(r, kHeaderFlagsOffset) & SMB2_FLAGS_SERVER_TO_REDIR);
  EXPECT_EQ(le32(r, kHeaderNextCommandOffset), 0u);
  EXPECT_EQ(le64(r, 24), mid);  // MessageId
}

// The READ response (MS-SMB2 2.2.20) of `length` bytes of file.bin at `offset`, data in place.
void expectReadResponse(const Bytes& r, uint64_t mid, size_t offset, uint32_t length) {
  expectHeader(r, SMB2_READ, mid, STATUS_SUCCESS);
  ASSERT_EQ(r.size(), 64 + 16 + length);
  EXPECT_EQ(slice(r, 64, 16),
            Bytes({17, 0, 0x50, 0, static_cast<uint8_t>(length), static_cast<uint8_t>(length >> 8),
                   static_cast<uint8_t>(length >> 16), 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(slice(r, 0x50, length) == fileBytes(offset, length)) << "the data at DataOffset";
}

TEST_F(ChainTest, EchoResponseIsEncoded) {
  Smb2Msg m(SMB2_ECHO, 3);
  m.u16(4).u16(0);
  Bytes r = processMessage(*conn_, m.bytes());
  expectHeader(r, SMB2_ECHO, 3, STATUS_SUCCESS);
  EXPECT_EQ(slice(r, 64, r.size() - 64), Bytes({4, 0, 0, 0}));  // MS-SMB2 2.2.29
  bool deferred = true;
  Smb2Msg again(SMB2_ECHO, 4);
  again.u16(4).u16(0);
  Bytes r2 = onLoop(again.bytes(), &deferred);
  EXPECT_FALSE(deferred);
  expectHeader(r2, SMB2_ECHO, 4, STATUS_SUCCESS);
  EXPECT_EQ(slice(r2, 64, r2.size() - 64), Bytes({4, 0, 0, 0}));
}

// The credits a response grants (MS-SMB2 2.2.1.2 CreditRequest/CreditResponse, offset 14).
uint16_t grantedFor(session::ConnState& conn, uint64_t mid, uint16_t request) {
  Smb2Msg m(SMB2_ECHO, mid);
  m.u16(4).u16(0);
  Bytes b = m.bytes();
  b[14] = static_cast<uint8_t>(request);
  b[15] = static_cast<uint8_t>(request >> 8);
  Bytes r = processMessage(conn, b);
  expectHeader(r, SMB2_ECHO, mid, STATUS_SUCCESS);
  return le16(r, 14);
}

TEST_F(ChainTest, APacedConnectionGetsNoWindowBeyondPacedCredits) {
  // Not paced: the 1,000 asked for (64 granted so far, well under kMaxCredits).
  EXPECT_EQ(grantedFor(*conn_, 0, 1000), 1000);
  // A live limit holds this connection's replies: no more credits while the client holds more
  // than kPacedCredits (1,064 outstanding now), whatever it asks.
  conn_->hold_until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (uint64_t mid = 1; mid < 20; ++mid) EXPECT_EQ(grantedFor(*conn_, mid, 1000), 0) << mid;
  EXPECT_EQ(conn_->credits.outstanding(), 1064u - 19u);
  // Once its window is below the cap, it is topped up to the cap and no further.
  conn_->credits = session::CreditWindow();  // MessageId 0, one credit
  EXPECT_EQ(grantedFor(*conn_, 0, 1000), kPacedCredits);
  EXPECT_EQ(conn_->credits.outstanding(), kPacedCredits);
  // The hold over: the client's request is granted again.
  conn_->hold_until = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  EXPECT_EQ(grantedFor(*conn_, 1, 1000), 1000);
}

TEST_F(ChainTest, ReadOnThePoolLandsAtDataOffset) {
  FileId id = create(1, FILE_READ_DATA);
  Bytes r = processMessage(*conn_, read(2, id, 100, 10));
  expectReadResponse(r, 2, 10, 100);
}

TEST_F(ChainTest, ReadOnTheEventLoopLandsAtDataOffset) {
  FileId id = create(1, FILE_READ_DATA);
  bool deferred = false;
  Bytes r = onLoop(read(2, id, 4096, 1000), &deferred);  // in the page cache: read at once
  expectReadResponse(r, 2, 1000, 4096);
}

// Past the end of the file RWF_NOWAIT falls short, so the I/O engine reads: into the deferred
// response itself, which is cut to what was read.
TEST_F(ChainTest, DeferredReadLandsAtDataOffset) {
  FileId id = create(1, FILE_READ_DATA);
  DeferredReply d;
  Bytes now = processOnEventLoop(*conn_, read(2, id, 300, kFileSize - 200), &d);
  EXPECT_TRUE(now.empty());
  ASSERT_TRUE(d.complete);
  EXPECT_EQ(d.io.op, vfs::FileIo::Op::kRead);
  EXPECT_EQ(d.io.offset, kFileSize - 200);
  EXPECT_EQ(d.io.length, 300u);
  Bytes r = d.complete(runIo(d.io));
  expectReadResponse(r, 2, kFileSize - 200, 200);

  // Nothing at all, or less than MinimumCount: an ERROR response with STATUS_END_OF_FILE.
  bool deferred = false;
  Bytes eof = onLoop(read(3, id, 10, kFileSize + 5), &deferred);
  EXPECT_TRUE(deferred);
  expectHeader(eof, SMB2_READ, 3, STATUS_END_OF_FILE);
  EXPECT_EQ(slice(eof, 64, eof.size() - 64), Bytes({9, 0, 0, 0, 0, 0, 0, 0, 0}));
  Bytes short_read = onLoop(read(4, id, 300, kFileSize - 200, 250), &deferred);
  expectHeader(short_read, SMB2_READ, 4, STATUS_END_OF_FILE);
  EXPECT_EQ(short_read.size(), 64 + 9u);
}

// A large lone READ leaves by reference (sendfile) or from a buffer of its own: the response is
// the fixed part only, DataLength counting the segment that follows it.
TEST_F(ChainTest, LargeReadOnTheEventLoopIsAFileSegment) {
  constexpr uint32_t kLength = 64 * 1024;
  FileId id = create(1, FILE_READ_DATA);
  for (bool use_sendfile : {true, false}) {
    SCOPED_TRACE(use_sendfile ? "use sendfile" : "own buffer");
    share_->cfg.use_sendfile = use_sendfile;
    const uint64_t mid = use_sendfile ? 2 : 3;
    vfs::FileSegment seg;
    bool deferred = false;
    Bytes r = onLoop(read(mid, id, kLength, 4096), &deferred, &seg);
    if (deferred) {  // not in the page cache after all: read by the I/O engine into the response
      expectReadResponse(r, mid, 4096, kLength);
      continue;
    }
    expectHeader(r, SMB2_READ, mid, STATUS_SUCCESS);
    ASSERT_EQ(r.size(), 64 + 16u);
    EXPECT_EQ(slice(r, 64, 16), Bytes({17, 0, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    ASSERT_EQ(seg.length, kLength);
    Bytes data(kLength);
    if (seg.data) {
      std::memcpy(data.data(), seg.data.get(), kLength);
    } else {
      EXPECT_TRUE(use_sendfile) << "without it the data is in a buffer of its own";
      ASSERT_TRUE(seg.fd);
      ASSERT_EQ(vfs::preadFull(seg.fd->get(), data.data(), kLength, seg.offset, 0), kLength);
    }
    EXPECT_TRUE(data == fileBytes(4096, kLength));
  }
}

TEST_F(ChainTest, ErrorStatusesGetAnErrorBody) {
  // MS-SMB2 2.2.2 without ErrorData: StructureSize 9, ByteCount 0, one pad byte.
  Bytes r = processMessage(*conn_, read(1, FileId{5, 5}, 10, 0));
  expectHeader(r, SMB2_READ, 1, STATUS_FILE_CLOSED);
  EXPECT_EQ(slice(r, 64, r.size() - 64), Bytes({9, 0, 0, 0, 0, 0, 0, 0, 0}));

  // With ErrorData: a security descriptor larger than OutputBufferLength answers the size it
  // needs (MS-SMB2 3.3.5.20.3, 2.2.2.2).
  FileId id = create(2, FILE_READ_DATA | READ_CONTROL);
  Smb2Msg q(SMB2_QUERY_INFO, 3);
  q.u16(41).u8(SMB2_0_INFO_SECURITY).u8(0).u32(4).u16(0).u16(0).u32(0);
  q.u32(OWNER_SECURITY_INFORMATION).u32(0).fileId(id.persistent, id.volatile_id);
  Bytes e = processMessage(*conn_, q.bytes());
  expectHeader(e, SMB2_QUERY_INFO, 3, STATUS_BUFFER_TOO_SMALL);
  ASSERT_EQ(e.size(), 64 + 12u);
  EXPECT_EQ(slice(e, 64, 8), Bytes({9, 0, 0, 0, 4, 0, 0, 0}));
  EXPECT_GT(le32(e, 72), 4u) << "the size of the descriptor";
}

}  // namespace
}  // namespace xsmb::dispatch
