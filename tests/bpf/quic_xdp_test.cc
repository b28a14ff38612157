// Privileged: xsmb_quic_xdp (bpf/xsmb_quic.bpf.c) runs with BPF_PROG_TEST_RUN on crafted
// frames; each case states the verdict and the one XQ_* verdict counter it adds (every frame
// adds one XQ_PACKETS). Redirects to a real XSK are in quic_xsk_veth_test; here a registered
// ID finds no XSK (XQ_PASS_NO_XSK), which proves it was placed.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <map>
#include <random>

#include "common/quic/cid.h"
#include "server/transport/xsk/quic_steering.h"
#include "tests/bpf/bpf_fixture.h"
#include "tests/bpf/quic_frames.h"

namespace xsmb::bpf::test {
namespace {

using quic::ConnectionId;
using xsk::QuicSteering;

constexpr int kXdpPass = 2;

class QuicXdpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    problem_ = privilegeProblem();
    if (!problem_.empty()) return;
    xsk::SteeringOptions o;
    o.nworkers = 4;
    o.xsk = true;
    auto s = QuicSteering::load(o);
    if (!s.ok()) {
      load_error_ = s.status().ToString();
      return;
    }
    steering_ = s->release();
  }
  static void TearDownTestSuite() {
    delete steering_;
    steering_ = nullptr;
  }
  void SetUp() override {
    if (!problem_.empty()) GTEST_SKIP() << problem_;
    ASSERT_TRUE(load_error_.empty()) << load_error_;
    clearMap(steering_->mapFd("xsmb_quic_cids"), sizeof(xsmb_quic_cid));
    steering_->resetCounters();
    configure(XSMB_QUIC_PORT_DEFAULT, true);
    ASSERT_TRUE(steering_->registerCid(known_).ok());
    ASSERT_TRUE(steering_->registerCid(kept_, XSMB_QUIC_CIDF_SOCKET).ok());
  }
  void configure(uint16_t port, bool xsk) {
    xsk::SteeringOptions o;
    o.port = port;
    o.nworkers = 4;
    o.xsk = xsk;
    ASSERT_TRUE(steering_->configure(o).ok());
  }
  std::vector<uint64_t> counts() {
    std::vector<uint64_t> v;
    for (auto& [name, value] : steering_->counters()) v.push_back(value);
    return v;
  }
  // Runs one frame: XDP_PASS always (no XSK here), XQ_PACKETS + 1 and exactly `verdict` + 1.
  void expectVerdict(const Bytes& f, xsmb_quic_counter verdict, const std::string& what) {
    std::vector<uint64_t> before = counts();
    EXPECT_EQ(testRun(steering_->xdpProgramFd(), f), kXdpPass) << what;
    std::vector<uint64_t> after = counts();
    ASSERT_EQ(after.size(), static_cast<size_t>(XSMB_QCNT_MAX));
    EXPECT_EQ(after[XSMB_QCNT_XQ_PACKETS] - before[XSMB_QCNT_XQ_PACKETS], 1u) << what;
    for (int c = XSMB_QCNT_XQ_PASS_NOT_QUIC; c <= XSMB_QCNT_XQ_REDIRECT_XSK; c++) {
      EXPECT_EQ(after[c] - before[c], c == verdict ? 1u : 0u)
          << what << ": counter " << QuicSteering::counterNames()[c] << ", want "
          << QuicSteering::counterNames()[verdict];
    }
  }

  static inline std::string problem_, load_error_;
  static inline QuicSteering* steering_ = nullptr;
  const ConnectionId known_ = quic::makeCid(2, {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1});
  const ConnectionId kept_ = quic::makeCid(3, {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 2});
  const ConnectionId unknown_ = quic::makeCid(2, {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 3});
};

struct Case {
  std::string name;
  Bytes frame;
  xsmb_quic_counter verdict;
};

std::vector<Case> cases(const ConnectionId& known, const ConnectionId& kept,
                        const ConnectionId& unknown) {
  Bytes k(known.begin(), known.end()), u(unknown.begin(), unknown.end());
  Bytes other = k;
  other[0] = 0x02;  // layout version 2
  Bytes client8 = {1, 1, 1, 1, 1, 1, 1, 1};
  Bytes greased = LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, k);
  greased[0] &= static_cast<uint8_t>(~XSMB_QUIC_FIXED_BIT);
  using enum xsmb_quic_counter;
  return {
      {"IPv4 short header, known ID", Udp4(ShortHeader(k)), XSMB_QCNT_XQ_PASS_NO_XSK},
      {"IPv6 short header, known ID", Udp6(ShortHeader(k)), XSMB_QCNT_XQ_PASS_NO_XSK},
      {"VLAN + IPv4, known ID", Udp4(ShortHeader(k), 1), XSMB_QCNT_XQ_PASS_NO_XSK},
      {"QinQ + IPv6, known ID", Udp6(ShortHeader(k), 2), XSMB_QCNT_XQ_PASS_NO_XSK},
      {"IPv4 options, known ID", Udp4(ShortHeader(k), 0, 443, 3), XSMB_QCNT_XQ_PASS_NO_XSK},
      {"Handshake, known ID", Udp4(LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, k)),
       XSMB_QCNT_XQ_PASS_NO_XSK},
      {"second-flight Initial, known ID", Udp6(LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, k)),
       XSMB_QCNT_XQ_PASS_NO_XSK},
      {"known ID kept on the socket path", Udp4(ShortHeader(Bytes(kept.begin(), kept.end()))),
       XSMB_QCNT_XQ_PASS_SOCKET},
      {"first Initial, client 8-byte DCID", Udp4(LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, client8)),
       XSMB_QCNT_XQ_PASS_INITIAL},
      {"first Initial, client DCID shaped like ours", Udp4(LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, u)),
       XSMB_QCNT_XQ_PASS_INITIAL},
      {"0-RTT, client 20-byte DCID",
       Udp6(LongHeader(XSMB_QUIC_TYPE_0RTT, 1, Bytes(20, 7))), XSMB_QCNT_XQ_PASS_INITIAL},
      {"other version (needs Version Negotiation)",
       Udp4(LongHeader(XSMB_QUIC_TYPE_INITIAL, 0x6b3343cf, k)), XSMB_QCNT_XQ_PASS_INITIAL},
      {"short header, unknown ID", Udp4(ShortHeader(u)), XSMB_QCNT_XQ_PASS_UNKNOWN_CID},
      {"Handshake, unknown ID", Udp6(LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, u)),
       XSMB_QCNT_XQ_PASS_UNKNOWN_CID},
      {"short header, layout version 2", Udp4(ShortHeader(other)), XSMB_QCNT_XQ_PASS_BAD_LAYOUT},
      {"Handshake, 8-byte DCID", Udp4(LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, client8)),
       XSMB_QCNT_XQ_PASS_BAD_LAYOUT},
      {"v1 DCID Length 21", Udp4(LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, Bytes(21, 1))),
       XSMB_QCNT_XQ_PASS_MALFORMED},
      {"Handshake, Fixed Bit greased (RFC 9287), known ID", Udp4(greased),
       XSMB_QCNT_XQ_PASS_NO_XSK},
      {"empty UDP payload", Udp4({}), XSMB_QCNT_XQ_PASS_MALFORMED},
      {"UDP length shorter than the header it carries", WithUdpLength(Udp4(ShortHeader(k)), 8 + 10),
       XSMB_QCNT_XQ_PASS_MALFORMED},
      {"UDP length below 8", WithUdpLength(Udp4(ShortHeader(k)), 7), XSMB_QCNT_XQ_PASS_TRUNC},
      {"UDP to another port (53)", Udp4(ShortHeader(k), 0, 53), XSMB_QCNT_XQ_PASS_NOT_QUIC},
      {"TCP to 443",
       Frame().Eth().IPv4("10.0.0.2", "10.0.0.1").Tcp(1, 443, 1).Payload(ShortHeader(k)).Build(),
       XSMB_QCNT_XQ_PASS_NOT_QUIC},
      {"IPv4 fragment",
       Frame().Eth().IPv4("10.0.0.2", "10.0.0.1", 17, 0x2001).Udp(1, 443).Build(),
       XSMB_QCNT_XQ_PASS_NOT_QUIC},
      {"IPv6 with a hop-by-hop header",
       Frame().Eth().IPv6("fd00::2", "fd00::1", 0).Payload(Bytes(8)).Build(),
       XSMB_QCNT_XQ_PASS_NOT_QUIC},
      {"ARP", Frame().Eth(0x0806).Payload(Bytes(28)).Build(), XSMB_QCNT_XQ_PASS_NOT_QUIC},
      {"IPv4 IHL 4", Frame().Eth().IPv4("10.0.0.2", "10.0.0.1", 17, 0, 4).Udp(1, 443).Build(),
       XSMB_QCNT_XQ_PASS_TRUNC},
  };
}

TEST_F(QuicXdpTest, TableOfFrames) {
  for (const Case& c : cases(known_, kept_, unknown_)) expectVerdict(c.frame, c.verdict, c.name);
}

// Cut at every length: the verdict follows the layer the cut falls in, never a crash, and the
// known ID is placed only once its 16 bytes are all there.
TEST_F(QuicXdpTest, EveryTruncation) {
  Bytes k(known_.begin(), known_.end());
  struct Shape {
    std::string name;
    Bytes frame;
    size_t l4, cid_end;  // offsets: UDP header, end of the DCID
  };
  std::vector<Shape> shapes = {
      {"IPv4 short", Udp4(ShortHeader(k)), 34, 42 + 17},
      {"VLAN IPv6 long", Udp6(LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, k), 1), 58, 66 + 22},
  };
  for (const Shape& s : shapes) {
    for (size_t n = 14; n <= s.frame.size(); n++) {  // BPF_PROG_TEST_RUN wants an Ethernet header
      Bytes f(s.frame.begin(), s.frame.begin() + n);
      xsmb_quic_counter want = n < s.l4 + 8    ? XSMB_QCNT_XQ_PASS_TRUNC
                               : n < s.cid_end ? XSMB_QCNT_XQ_PASS_MALFORMED
                                               : XSMB_QCNT_XQ_PASS_NO_XSK;
      expectVerdict(f, want, s.name + " cut at " + std::to_string(n));
    }
  }
}

TEST_F(QuicXdpTest, ModesPortsAndPerIdCounts) {
  Bytes k(known_.begin(), known_.end());
  configure(XSMB_QUIC_PORT_DEFAULT, false);  // socket mode: placed IDs are counted and passed
  expectVerdict(Udp4(ShortHeader(k)), XSMB_QCNT_XQ_PASS_SOCKET, "XSK mode off");
  configure(4433, true);
  expectVerdict(Udp4(ShortHeader(k)), XSMB_QCNT_XQ_PASS_NOT_QUIC, "443 when 4433 is configured");
  expectVerdict(Udp4(ShortHeader(k), 0, 4433), XSMB_QCNT_XQ_PASS_NO_XSK, "4433 configured");
  auto info = steering_->lookupCid(known_);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->worker, 2u);
  EXPECT_EQ(info->xdp_packets, 2u);  // XSK mode off, then 4433
  EXPECT_EQ(steering_->workerStat(2).xsk_missing, 1u);
  ASSERT_TRUE(steering_->unregisterCid(known_).ok());
  expectVerdict(Udp4(ShortHeader(k), 0, 4433), XSMB_QCNT_XQ_PASS_UNKNOWN_CID, "after retiring");
  EXPECT_EQ(steering_->unregisterCid(known_).code(), absl::StatusCode::kNotFound);
}

TEST_F(QuicXdpTest, AnEntryWhoseWorkerDisagreesWithTheIdIsNotPlaced) {
  xsmb_quic_cid key = quic::cidKey(unknown_);
  xsmb_quic_cid_info info{};
  info.worker = 1;  // the ID says 2
  ASSERT_EQ(bpf_map_update_elem(steering_->mapFd("xsmb_quic_cids"), &key, &info, BPF_ANY), 0);
  expectVerdict(Udp4(ShortHeader(Bytes(unknown_.begin(), unknown_.end()))),
                XSMB_QCNT_XQ_PASS_UNKNOWN_CID, "worker mismatch");
  EXPECT_FALSE(steering_->registerCid(quic::ConnectionId{}).ok());  // layout 0: refused
}

// The verdict the C++ reader (common/quic/cid.h) predicts for a UDP payload, given the IDs
// registered in SetUp: the model the BPF classification must agree with.
xsmb_quic_counter modelVerdict(const Bytes& payload, const quic::ConnectionId& known,
                               const quic::ConnectionId& kept) {
  auto h = quic::parseFirstHeader(payload);
  if (!h.ok()) return XSMB_QCNT_XQ_PASS_MALFORMED;
  bool initial = h->form == quic::HeaderForm::kLong &&
                 (h->type == quic::LongType::kInitial || h->type == quic::LongType::kZeroRtt);
  if (h->form == quic::HeaderForm::kLong && h->version != XSMB_QUIC_VERSION_1) {
    return XSMB_QCNT_XQ_PASS_INITIAL;
  }
  if (!quic::cidWorker(h->dcid).ok()) {
    return initial ? XSMB_QCNT_XQ_PASS_INITIAL : XSMB_QCNT_XQ_PASS_BAD_LAYOUT;
  }
  Bytes dcid(h->dcid.begin(), h->dcid.end());
  if (dcid == Bytes(known.begin(), known.end())) return XSMB_QCNT_XQ_PASS_NO_XSK;
  if (dcid == Bytes(kept.begin(), kept.end())) return XSMB_QCNT_XQ_PASS_SOCKET;
  return initial ? XSMB_QCNT_XQ_PASS_INITIAL : XSMB_QCNT_XQ_PASS_UNKNOWN_CID;
}

// Differential fuzzing through BPF_PROG_TEST_RUN: 20,000 UDP payloads mutated from valid QUIC
// headers (bytes of the first 24 changed, lengths cut), in IPv4 and IPv6 frames whose lower
// layers are valid; the program's verdict must be the one the C++ reader predicts.
TEST_F(QuicXdpTest, RandomPayloadsAgreeWithTheCppReader) {
  Bytes k(known_.begin(), known_.end()), kp(kept_.begin(), kept_.end());
  std::vector<Bytes> seeds = {ShortHeader(k), ShortHeader(kp),
                              LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, k),
                              LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, k),
                              LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, Bytes(8, 1)),
                              LongHeader(XSMB_QUIC_TYPE_0RTT, 1, Bytes(20, 1)),
                              LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 0xff00001d, Bytes(30, 1))};
  std::mt19937 rng(18);
  std::map<int, int> seen;
  for (int i = 0; i < 20000; i++) {
    Bytes p = seeds[rng() % seeds.size()];
    int flips = rng() % 4;
    for (int f = 0; f < flips; f++) {
      size_t at = rng() % std::min<size_t>(p.size(), 24);
      p[at] = (rng() % 2) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(p[at] ^ (1u << (rng() % 8)));
    }
    if (rng() % 4 == 0) p.resize(rng() % (p.size() + 1));
    xsmb_quic_counter want = modelVerdict(p, known_, kept_);
    seen[want]++;
    Bytes frame = (i % 2) ? Udp6(p) : Udp4(p);
    std::vector<uint64_t> before = counts();
    ASSERT_EQ(testRun(steering_->xdpProgramFd(), frame), kXdpPass);
    std::vector<uint64_t> after = counts();
    ASSERT_EQ(after[want] - before[want], 1u)
        << "payload #" << i << " of " << p.size() << " bytes: want "
        << QuicSteering::counterNames()[want];
  }
  // Every verdict the classification has was reached.
  for (int v : {XSMB_QCNT_XQ_PASS_MALFORMED, XSMB_QCNT_XQ_PASS_INITIAL, XSMB_QCNT_XQ_PASS_BAD_LAYOUT,
                XSMB_QCNT_XQ_PASS_UNKNOWN_CID, XSMB_QCNT_XQ_PASS_SOCKET, XSMB_QCNT_XQ_PASS_NO_XSK}) {
    EXPECT_GT(seen[v], 0) << QuicSteering::counterNames()[v];
  }
}

// What an operator sees: bpftool prints the ID map's key and value and the counters with their
// field names (from the object's BTF), and a pinned load shares its maps with the next one
// (xsmbd restarted, or bpftool on PIN_DIR/quic_cids).
TEST_F(QuicXdpTest, BpftoolShowsNamedFieldsAndPinnedMapsAreShared) {
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  if (run("bpftool version").find("bpftool") == std::string::npos) GTEST_SKIP() << "no bpftool";
  expectVerdict(Udp4(ShortHeader(Bytes(known_.begin(), known_.end()))), XSMB_QCNT_XQ_PASS_NO_XSK,
                "one placed packet");
  // A bpffs of the test's own (a fresh machine need not have /sys/fs/bpf mounted).
  char fs[] = "/tmp/xsmb-quic-bpffs-XXXXXX";
  ASSERT_NE(mkdtemp(fs), nullptr) << strerror(errno);
  ASSERT_EQ(mount("bpf", fs, "bpf", 0, "mode=0700"), 0) << strerror(errno);
  struct Unmount {
    const char* at;
    ~Unmount() {
      umount2(at, MNT_DETACH);
      rmdir(at);
    }
  } unmount{fs};
  std::string dir = std::string(fs) + "/pins";
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << strerror(errno);
  {
    xsk::SteeringOptions o;
    o.pin_dir = dir;
    auto first = QuicSteering::load(o);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*first)->registerCid(known_).ok());
    auto second = QuicSteering::load(o);  // reuses the pins
    ASSERT_TRUE(second.ok()) << second.status();
    auto info = (*second)->lookupCid(known_);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->worker, 2u);
    std::string cids = run("bpftool -j map dump pinned " + dir + "/quic_cids");
    EXPECT_NE(cids.find("\"layout\":1"), std::string::npos) << cids;
    EXPECT_NE(cids.find("\"worker\":2"), std::string::npos) << cids;
    EXPECT_NE(cids.find("\"xdp_packets\":0"), std::string::npos) << cids;
  }
  // The test suite's own (unpinned) counters, by map id.
  bpf_map_info mi{};
  uint32_t len = sizeof(mi);
  ASSERT_EQ(bpf_obj_get_info_by_fd(steering_->mapFd("xsmb_quic_stats"), &mi, &len), 0);
  std::string stats = run("bpftool -j map dump id " + std::to_string(mi.id));
  EXPECT_NE(stats.find("\"XQ_PACKETS\":1"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"XQ_PASS_NO_XSK\":1"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"RQ_SELECT_CID\":0"), std::string::npos) << stats;
}

// The program's cost per frame as BPF_PROG_TEST_RUN measures it (repeat 100,000; the kernel
// reports the mean run time in ns): printed for docs/bpf.md, bounded only loosely (a shared
// 2-CPU machine). A placed short header does a hash lookup and the redirect attempt; an
// Initial stops before the lookup.
TEST_F(QuicXdpTest, CostPerFrame) {
  Bytes k(known_.begin(), known_.end());
  struct M {
    const char* what;
    Bytes frame;
  } ms[] = {{"short header, registered ID", Udp4(ShortHeader(k))},
            {"first Initial", Udp4(LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, Bytes(8, 1)))},
            {"UDP to another port", Udp4(ShortHeader(k), 0, 53)}};
  for (const M& m : ms) {
    Bytes out(m.frame.size() + 256);
    DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = m.frame.data(),
                        .data_out = out.data(),
                        .data_size_in = static_cast<uint32_t>(m.frame.size()),
                        .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 100000);
    ASSERT_EQ(bpf_prog_test_run_opts(steering_->xdpProgramFd(), &opts), 0);
    std::printf("xsmb_quic_xdp %-30s %u ns/frame\n", m.what, opts.duration);
    EXPECT_LT(opts.duration, 20000u) << m.what;
  }
  EXPECT_EQ(steering_->counters().at(XSMB_QCNT_XQ_PACKETS).second, 300000u);
}

}  // namespace
}  // namespace xsmb::bpf::test
