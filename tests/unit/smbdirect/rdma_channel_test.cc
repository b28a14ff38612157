// SMB2 READ and WRITE through RDMA channels (MS-SMB2 3.3.5.12 / 3.3.5.13, MS-SMBD 3.1.4.3 /
// 3.1.4.4), end to end in one process: a test client (an MS-SMBD initiator engine on the
// loopback verbs provider, with memory it registered) sends SMB2 requests to the real
// SmbdWorker, whose callbacks run the real SMB2 dispatcher (dispatch::processMessage) on a
// connection with a guest session and a tree connect on a scratch share. 64 MiB is written
// with SMB2_CHANNEL_RDMA_V1 (the server pulls it with RDMA Read) and read back with
// SMB2_CHANNEL_RDMA_V1_INVALIDATE (RDMA Write into client memory, each response a Send with
// Invalidate), in 1 MiB requests; checksums of what was sent, what is on disk and what came
// back agree. On a connection without RDMA (TCP) the channels are refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "common/smb2/constants.h"
#include "common/smb2/header.h"
#include "common/smb2/security_constants.h"
#include "server/dispatch/dispatcher.h"
#include "server/handlers/read_write_rdma.h"
#include "server/session/server_context.h"
#include "server/session/state.h"
#include "tests/unit/session/test_state.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/transport/transport_factories.h"

namespace xsmb::smbdirect {
namespace {

using namespace smb2;
using handlers::SMB2_CHANNEL_RDMA_V1;
using handlers::SMB2_CHANNEL_RDMA_V1_INVALIDATE;
using testing::le32;
using testing::le64;
using testing::Smb2Msg;

constexpr uint64_t kSessionId = 0x0000400000000abcULL;  // what Smb2Msg puts in every header
constexpr uint32_t kTreeId = 0x11223344;
constexpr uint32_t kChunk = 1 << 20;  // MaxReadWriteSize
constexpr size_t kTotal = 64u << 20;
constexpr uint16_t kCharge = kChunk / 65536;  // CreditCharge of a 1 MiB request

uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

// The protocol side: each accepted SMB Direct connection gets a ConnState that has negotiated
// 3.1.1 with a guest session and a tree connect, and its RDMA channel; messages go through
// the real dispatcher.
class DispatchAcceptor : public transport::Acceptor {
 public:
  explicit DispatchAcceptor(session::ServerContext* server, session::Share* share)
      : server_(server), share_(share) {}
  class Callbacks : public transport::ConnectionCallbacks {
   public:
    explicit Callbacks(std::shared_ptr<session::ConnState> s) : state(std::move(s)) {}
    bool onMessageInline(const transport::Message&, transport::Reply*) override { return false; }
    transport::Reply onMessage(const transport::Message& msg) override {
      transport::Reply r;
      r.out.bytes = dispatch::processMessage(*state, msg.span());
      return r;
    }
    // The state stays until the worker drops these callbacks: a message of the connection may
    // still be on the pool when the connection closes (transport::ConnectionCallbacks), and
    // resetting it here freed it under that message (AddressSanitizer: heap-use-after-free in
    // finishResponse).
    void onClose() override {}
    std::shared_ptr<session::ConnState> state;
  };
  std::shared_ptr<transport::ConnectionCallbacks> onAccept(
      std::shared_ptr<transport::Connection> conn, int, size_t* max_message) override {
    auto s = session::testing::negotiatedConnection(server_, kChunk, 4096);
    s->rdma = conn->rdmaChannel();
    s->sessions[kSessionId] = session::testing::guestSessionWithTree(kSessionId, kTreeId, share_);
    *max_message = 1 << 20;
    return std::make_shared<Callbacks>(std::move(s));
  }
  uint64_t onRefused() override { return 0; }
  void onFramingError(bool) override {}
  void setShare(session::Share* share) { share_ = share; }

 private:
  session::ServerContext* server_;
  session::Share* share_;
};

class RdmaChannelTest : public ::testing::Test {
 protected:
  RdmaChannelTest() : acceptor_(&server_, nullptr) {
    char tmpl[] = "/tmp/xsmb-rdma-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    close(open((dir_ + "/big.bin").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    config::ShareConfig cfg;
    cfg.name = "share";
    cfg.path = dir_;
    cfg.read_only = false;
    cfg.guest_ok = true;
    server_.config.shares.push_back(cfg);
    auto share = std::make_unique<session::Share>();
    share->cfg = cfg;
    share->root.reset(open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    acceptor_.setShare(share.get());
    server_.shares.push_back(std::move(share));
    pool_ = std::make_unique<vfs::IoPool>(2);
    worker_ = std::make_unique<SmbdWorker>(&acceptor_, pool_.get(), &options_, 0);
    worker_->start();
    auto [s, c] = LoopbackVerbs::pair();
    worker_->adopt(std::move(s), "loopback");
    client_ = std::make_unique<transport::test::SmbdClient>(std::move(c));
  }
  ~RdmaChannelTest() override {
    client_.reset();
    worker_->stop();
    pool_.reset();
    worker_.reset();
    std::filesystem::remove_all(dir_);
  }

  Bytes roundTrip(const Bytes& request) {
    EXPECT_TRUE(client_->send(std::string(request.begin(), request.end())));
    std::optional<std::string> r = client_->read();
    if (!r) return {};
    return Bytes(r->begin(), r->end());
  }
  Smb2Msg msg(uint16_t command, uint16_t charge = 1) {
    Smb2Msg m(command, mid_);
    m.set16(6, charge);  // CreditCharge
    mid_ += charge;
    return m;
  }
  FileId create() {
    Smb2Msg m = msg(SMB2_CREATE);
    m.u16(57).u8(0).u8(0).u32(2).u64(0).u64(0);
    m.u32(FILE_READ_DATA | FILE_WRITE_DATA).u32(0).u32(FILE_SHARE_READ | FILE_SHARE_WRITE);
    m.u32(FILE_OPEN).u32(0).u16(0x78).u16(14).u32(0).u32(0).utf16("big.bin");
    Bytes r = roundTrip(m.bytes());
    EXPECT_EQ(le32(r, kHeaderStatusOffset), STATUS_SUCCESS);
    if (r.size() < 64 + 88) return {};
    return FileId{le64(r, 64 + 64), le64(r, 64 + 72)};
  }
  // MS-SMB2 2.2.21 WRITE with its data in client memory: Length 0, RemainingBytes `length`,
  // one descriptor at WriteChannelInfoOffset 0x70.
  Bytes write(const FileId& id, uint64_t offset, uint32_t length, uint32_t channel,
              const smbd::BufferDescriptorV1& d) {
    Smb2Msg m = msg(SMB2_WRITE, kCharge);
    m.u16(49).u16(0).u32(0).u64(offset).fileId(id.persistent, id.volatile_id);
    m.u32(channel).u32(length).u16(0x70).u16(16).u32(0);
    m.u64(d.offset).u32(d.token).u32(d.length);
    return m.bytes();
  }
  // MS-SMB2 2.2.19 READ into client memory: one descriptor at ReadChannelInfoOffset 0x70.
  Bytes read(const FileId& id, uint64_t offset, uint32_t length, uint32_t channel,
             const smbd::BufferDescriptorV1& d) {
    Smb2Msg m = msg(SMB2_READ, kCharge);
    m.u16(49).u8(0x50).u8(0).u32(length).u64(offset).fileId(id.persistent, id.volatile_id);
    m.u32(0).u32(channel).u32(0).u16(0x70).u16(16);
    m.u64(d.offset).u32(d.token).u32(d.length);
    return m.bytes();
  }

  std::string dir_;
  session::ServerContext server_;
  DispatchAcceptor acceptor_;
  SmbdOptions options_;
  std::unique_ptr<vfs::IoPool> pool_;
  std::unique_ptr<SmbdWorker> worker_;
  std::unique_ptr<transport::test::SmbdClient> client_;
  uint64_t mid_ = 0;
};

TEST_F(RdmaChannelTest, Write64MiBAndReadItBackThroughRdmaChannels) {
  const FileId id = create();
  LoopbackVerbs& cv = client_->verbs();
  // What the client writes: one registration of 64 MiB, reused by every WRITE (RDMA_V1).
  Bytes src(kTotal);
  for (size_t i = 0; i < kTotal; ++i) src[i] = static_cast<uint8_t>((i * 2654435761u) >> 11);
  const uint32_t src_token = cv.registerMemory(src);
  ASSERT_NE(src_token, 0u);
  // Where the READs land, allocated (and its pages faulted in) before the clock starts.
  Bytes dst(kTotal, 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t off = 0; off < kTotal; off += kChunk) {
    const smbd::BufferDescriptorV1 d{reinterpret_cast<uintptr_t>(src.data() + off), src_token,
                                     kChunk};
    Bytes r = roundTrip(write(id, off, kChunk, SMB2_CHANNEL_RDMA_V1, d));
    ASSERT_EQ(le32(r, kHeaderStatusOffset), STATUS_SUCCESS) << "WRITE at " << off;
    ASSERT_EQ(le32(r, 64 + 4), kChunk) << "Count";
  }
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(cv.registrations(), 1u) << "RDMA_V1 leaves the client's registration alone";

  // Read back into a second buffer, each 1 MiB slice registered for its READ alone and
  // invalidated by the server's Send with Invalidate (RDMA_V1_INVALIDATE).
  for (size_t off = 0; off < kTotal; off += kChunk) {
    const uint32_t token = cv.registerMemory(std::span<uint8_t>(dst).subspan(off, kChunk));
    ASSERT_NE(token, 0u);
    const smbd::BufferDescriptorV1 d{reinterpret_cast<uintptr_t>(dst.data() + off), token, kChunk};
    Bytes r = roundTrip(read(id, off, kChunk, SMB2_CHANNEL_RDMA_V1_INVALIDATE, d));
    ASSERT_EQ(le32(r, kHeaderStatusOffset), STATUS_SUCCESS) << "READ at " << off;
    ASSERT_GE(r.size(), 64u + 16u);
    EXPECT_EQ(le32(r, 64 + 4), 0u) << "DataLength: the data went by RDMA";
    EXPECT_EQ(le32(r, 64 + 8), kChunk) << "DataRemaining";
    ASSERT_EQ(cv.registrations(), 1u) << "the READ's registration was invalidated";
  }
  const auto t2 = std::chrono::steady_clock::now();

  // Checksums: what was sent, what is on disk, what came back.
  const uint64_t sent = fnv1a(src.data(), kTotal);
  Bytes disk(kTotal);
  const int fd = open((dir_ + "/big.bin").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(vfs::preadFull(fd, disk.data(), kTotal, 0, 0), static_cast<ssize_t>(kTotal));
  close(fd);
  EXPECT_EQ(fnv1a(disk.data(), kTotal), sent) << "the file";
  EXPECT_EQ(fnv1a(dst.data(), kTotal), sent) << "the data read back";
  EXPECT_TRUE(dst == src);
  // 64 RDMA Reads and 64 RDMA Writes of 1 MiB; the server registered one pool buffer.
  const SmbdStats& st = worker_->stats();
  EXPECT_EQ(st.rdma_reads.load(), 64u);
  EXPECT_EQ(st.rdma_read_bytes.load(), kTotal);
  EXPECT_EQ(st.rdma_writes.load(), 64u);
  EXPECT_EQ(st.rdma_write_bytes.load(), kTotal);
  EXPECT_EQ(st.send_invalidates.load(), 64u);
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("64 MiB over loopback verbs: WRITE %.0f ms (%.0f MiB/s), READ %.0f ms (%.0f MiB/s)\n",
              ms(t1 - t0).count(), 64 / std::chrono::duration<double>(t1 - t0).count(),
              ms(t2 - t1).count(), 64 / std::chrono::duration<double>(t2 - t1).count());
}

TEST_F(RdmaChannelTest, BadChannelRequestsAreRefused) {
  ASSERT_EQ(truncate((dir_ + "/big.bin").c_str(), kChunk), 0);  // data to read
  const FileId id = create();
  LoopbackVerbs& cv = client_->verbs();
  Bytes mem(2 * kChunk);
  const uint32_t token = cv.registerMemory(mem);
  const smbd::BufferDescriptorV1 whole{reinterpret_cast<uintptr_t>(mem.data()), token, kChunk};
  const smbd::BufferDescriptorV1 small{reinterpret_cast<uintptr_t>(mem.data()), token, 4096};
  struct Case {
    const char* what;
    Bytes request;
    NtStatus status;
  };
  const Case cases[] = {
      {"READ longer than the descriptors", read(id, 0, 8192, SMB2_CHANNEL_RDMA_V1, small),
       STATUS_INVALID_PARAMETER},
      {"READ above MaxReadWriteSize", read(id, 0, kChunk + 1, SMB2_CHANNEL_RDMA_V1, whole),
       STATUS_INVALID_PARAMETER},
      {"READ with channel 3 (RDMA_TRANSFORM, not offered)", read(id, 0, 4096, 3, whole),
       STATUS_INVALID_PARAMETER},
      {"WRITE longer than the descriptors", write(id, 0, 8192, SMB2_CHANNEL_RDMA_V1, small),
       STATUS_INVALID_PARAMETER},
      {"WRITE of 0 bytes by RDMA", write(id, 0, 0, SMB2_CHANNEL_RDMA_V1, whole),
       STATUS_INVALID_PARAMETER},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Bytes r = roundTrip(c.request);
    EXPECT_EQ(le32(r, kHeaderStatusOffset), c.status);
  }
  // A descriptor list cut short (ReadChannelInfoLength 15).
  Bytes cut = read(id, 0, 4096, SMB2_CHANNEL_RDMA_V1, whole);
  cut[64 + 46] = 15;
  EXPECT_EQ(le32(roundTrip(cut), kHeaderStatusOffset), STATUS_INVALID_PARAMETER);
  // A token the client never registered: the RDMA Write fails, and with it the connection
  // (a remote access error ends a reliable connection).
  const smbd::BufferDescriptorV1 bogus{reinterpret_cast<uintptr_t>(mem.data()), token + 77, 4096};
  ASSERT_TRUE(client_->send([&] {
    Bytes b = read(id, 0, 4096, SMB2_CHANNEL_RDMA_V1, bogus);
    return std::string(b.begin(), b.end());
  }()));
  EXPECT_TRUE(client_->closedByServer());
}

// On a connection without RDMA (TCP), a READ or WRITE with an RDMA channel is refused.
TEST(RdmaChannelOnTcp, ChannelsAreInvalidParameters) {
  char tmpl[] = "/tmp/xsmb-rdma-tcp-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  session::ServerContext server;
  auto share = std::make_unique<session::Share>();
  share->cfg.name = "share";
  share->cfg.path = dir;
  share->cfg.read_only = false;
  share->root.reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  close(open((dir + "/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  DispatchAcceptor acceptor(&server, share.get());
  server.shares.push_back(std::move(share));
  // A connection whose transport has no RDMA channel.
  class Tcp : public transport::Connection {
   public:
    transport::TransportKind kind() const override { return transport::TransportKind::kTcp; }
    const std::string& peer() const override { return peer_; }
    uint32_t loopIndex() const override { return 0; }
    void send(transport::OutMessage) override {}
    void runInStrand(std::function<transport::Reply()>) override {}
    void close() override {}
    bool sendsFileByReference() const override { return true; }
    std::string peer_ = "tcp";
  };
  size_t max = 0;
  auto cb = acceptor.onAccept(std::make_shared<Tcp>(), -1, &max);
  auto& state = *static_cast<DispatchAcceptor::Callbacks&>(*cb).state;
  ASSERT_EQ(state.rdma, nullptr);
  Smb2Msg c(SMB2_CREATE, 0);
  c.u16(57).u8(0).u8(0).u32(2).u64(0).u64(0);
  c.u32(FILE_READ_DATA | FILE_WRITE_DATA).u32(0).u32(FILE_SHARE_READ | FILE_SHARE_WRITE);
  c.u32(FILE_OPEN).u32(0).u16(0x78).u16(2).u32(0).u32(0).utf16("f");
  Bytes r = dispatch::processMessage(state, c.bytes());
  ASSERT_EQ(le32(r, kHeaderStatusOffset), STATUS_SUCCESS);
  const FileId id{le64(r, 64 + 64), le64(r, 64 + 72)};
  for (uint32_t channel : {SMB2_CHANNEL_RDMA_V1, SMB2_CHANNEL_RDMA_V1_INVALIDATE}) {
    Smb2Msg rd(SMB2_READ, 1 + channel * 2);
    rd.u16(49).u8(0x50).u8(0).u32(16).u64(0).fileId(id.persistent, id.volatile_id);
    rd.u32(0).u32(channel).u32(0).u16(0x70).u16(16).u64(0x1000).u32(1).u32(16);
    EXPECT_EQ(le32(dispatch::processMessage(state, rd.bytes()), kHeaderStatusOffset),
              STATUS_INVALID_PARAMETER);
    Smb2Msg wr(SMB2_WRITE, 2 + channel * 2);
    wr.u16(49).u16(0).u32(0).u64(0).fileId(id.persistent, id.volatile_id);
    wr.u32(channel).u32(16).u16(0x70).u16(16).u32(0).u64(0x1000).u32(1).u32(16);
    EXPECT_EQ(le32(dispatch::processMessage(state, wr.bytes()), kHeaderStatusOffset),
              STATUS_INVALID_PARAMETER);
  }
  cb.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xsmb::smbdirect
