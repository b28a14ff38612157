// Privileged: the XDP and TC egress programs run with BPF_PROG_TEST_RUN on crafted frames;
// each case states the verdict, the one verdict counter it adds, and the events and
// per-command counts it leaves behind.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sched.h>

#include <map>
#include <random>

#include "tests/bpf/bpf_fixture.h"
#include "xsmb_tc.skel.h"
#include "xsmb_xdp.skel.h"

namespace xsmb::bpf::test {
namespace {

constexpr int kXdpDrop = 1, kXdpPass = 2, kXdpRedirect = 4;
constexpr char kCli4[] = "10.0.0.2", kSrv4[] = "10.0.0.1";
constexpr char kCli6[] = "fd00::2", kSrv6[] = "fd00::1";

struct Counts {
  std::vector<uint64_t> counters;
  std::vector<xsmb_cmd_stat> cmds;
};

class XdpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    problem_ = privilegeProblem();
    if (!problem_.empty()) return;
    std::string e;
    xdp_ = openXdp(&e).release();
    tc_ = openTc(&e).release();
    if (xdp_ == nullptr || tc_ == nullptr) {
      problem_ = e;
      return;
    }
    int err = loadXdp(xdp_);
    if (err) {
      // Privileged and still refused: the verifier rejected the program (a failure, not a skip).
      load_error_ = std::string("loading the XDP program: ") + strerror(-err);
      return;
    }
    // The TC object shares the XDP object's maps (what pinning does in production).
    bpf_map* m;
    bpf_object__for_each_map(m, objectOf(tc_)) {
      if (std::strchr(bpf_map__name(m), '.') != nullptr) continue;
      bpf_map* same = bpf_object__find_map_by_name(objectOf(xdp_), bpf_map__name(m));
      if (same != nullptr) bpf_map__reuse_fd(m, bpf_map__fd(same));
    }
    err = loadTc(tc_);
    if (err) load_error_ = std::string("loading the TC program: ") + strerror(-err);
  }
  static void TearDownTestSuite() {
    if (tc_ != nullptr) TcSkelDeleter()(tc_);
    if (xdp_ != nullptr) XdpSkelDeleter()(xdp_);
    tc_ = nullptr;
    xdp_ = nullptr;
  }

  void SetUp() override {
    if (!problem_.empty()) GTEST_SKIP() << problem_;
    ASSERT_TRUE(load_error_.empty()) << load_error_;
    auto fd = [](bpf_map* m) { return bpf_map__fd(m); };
    clearMap(fd(xdp_->maps.xsmb_streams), sizeof(xsmb_conn_key));
    clearMap(fd(xdp_->maps.xsmb_sessions), sizeof(uint64_t));
    clearMap(fd(xdp_->maps.xsmb_sources), sizeof(xsmb_addr));
    clearMap(fd(xdp_->maps.xsmb_blocklist), sizeof(xsmb_lpm_key));
    clearMap(fd(xdp_->maps.xsmb_inflight), sizeof(xsmb_inflight_key));
    zeroArray(fd(xdp_->maps.xsmb_counters), 1, sizeof(xsmb_counters), true);
    zeroArray(fd(xdp_->maps.xsmb_cmd_stats), XSMB_CMD_SLOTS, sizeof(xsmb_cmd_stat), true);
    zeroArray(fd(xdp_->maps.xsmb_wire_lat), XSMB_CMD_SLOTS, sizeof(xsmb_hist), true);
    xsmb_config cfg = {};
    cfg.ports[0] = 445;
    cfg.flags = XSMB_CFG_LATENCY;
    setConfig(cfg);
  }

  void setConfig(const xsmb_config& cfg) {
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(xdp_->maps.xsmb_config), &zero, &cfg, BPF_ANY), 0);
  }
  int xdp(const Bytes& f) { return testRun(bpf_program__fd(xdp_->progs.xsmb_xdp), f); }
  int tc(const Bytes& f) { return testRun(bpf_program__fd(tc_->progs.xsmb_tc_egress), f); }
  Counts counts() {
    return {readPercpuCounters(bpf_map__fd(xdp_->maps.xsmb_counters), XSMB_CNT_MAX),
            readCmdStats(bpf_map__fd(xdp_->maps.xsmb_cmd_stats))};
  }
  uint64_t counter(xsmb_counter c) { return counts().counters.at(c); }
  uint64_t cmdMsgs(uint32_t slot) { return counts().cmds.at(slot).msgs; }
  // The wire latency histogram of one slot, summed over CPUs (a per-CPU array).
  xsmb_hist wireLat(uint32_t slot) {
    std::vector<xsmb_hist> per_cpu(libbpf_num_possible_cpus());
    xsmb_hist h = {};
    if (bpf_map_lookup_elem(bpf_map__fd(xdp_->maps.xsmb_wire_lat), &slot, per_cpu.data()) != 0) {
      ADD_FAILURE() << "reading xsmb_wire_lat";
      return h;
    }
    for (const xsmb_hist& c : per_cpu) {
      h.count += c.count;
      h.sum_ns += c.sum_ns;
      for (int b = 0; b < XSMB_HIST_BUCKETS; b++) h.buckets[b] += c.buckets[b];
    }
    return h;
  }
  // The one verdict counter a frame added (index), or -1 if not exactly one.
  int verdictOf(const Counts& before, const Counts& after) {
    int found = -1;
    for (int c = XSMB_CNT_XDP_PASS_TRUNC_L2; c <= XSMB_CNT_XDP_DROP_SYN_RATE; c++) {
      uint64_t d = after.counters[c] - before.counters[c];
      if (d == 0) continue;
      if (d != 1 || found != -1) return -1;
      found = c;
    }
    return found;
  }
  // Runs one frame; checks retval and the single verdict counter.
  void expectVerdict(const Bytes& f, int retval, xsmb_counter verdict, const std::string& what) {
    Counts before = counts();
    EXPECT_EQ(xdp(f), retval) << what;
    Counts after = counts();
    EXPECT_EQ(after.counters[XSMB_CNT_XDP_PACKETS] - before.counters[XSMB_CNT_XDP_PACKETS], 1u)
        << what;
    int v = verdictOf(before, after);
    EXPECT_EQ(v, static_cast<int>(verdict))
        << what << ": got " << (v >= 0 ? counterNames()[v] : std::string("not one verdict"))
        << ", want " << counterNames()[verdict];
  }

  static inline std::string problem_;     // not privileged: the tests skip
  static inline std::string load_error_;  // privileged but refused: the tests fail
  static inline xsmb_xdp* xdp_ = nullptr;
  static inline xsmb_tc* tc_ = nullptr;
};

Smb2Header Req(uint16_t cmd, uint64_t mid, uint64_t sid = 0, uint32_t body = 40) {
  Smb2Header h;
  h.command = cmd;
  h.message_id = mid;
  h.session_id = sid;
  h.body_len = body;
  return h;
}

Bytes Negotiate4(uint16_t sport = 40000, uint32_t seq = 1000) {
  return Frame().Eth().IPv4(kCli4, kSrv4).Tcp(sport, 445, seq).Smb2Message(Req(0, 0)).Build();
}

// ---- the table: one frame each, on a connection of its own

struct Case {
  std::string name;
  Bytes frame;
  int retval;
  xsmb_counter verdict;
};

std::vector<Case> SingleFrameCases() {
  std::vector<Case> c;
  c.push_back({"ethernet only", Frame().Eth(0x0800).Build(), kXdpPass, XSMB_CNT_XDP_PASS_TRUNC_L3});
  c.push_back(
      {"ARP", Frame().Eth(0x0806).Payload(Bytes(28)).Build(), kXdpPass, XSMB_CNT_XDP_PASS_NOT_IP});
  {
    Bytes f = Frame().Eth().Vlan(10).Build();
    f.resize(16);  // the tag cut in half
    c.push_back({"VLAN tag cut", f, kXdpPass, XSMB_CNT_XDP_PASS_TRUNC_L2});
  }
  c.push_back({"IPv4 fragment", Frame().Eth().IPv4(kCli4, kSrv4, 6, 0x2000).Tcp(1, 445, 1).Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_IP_FRAGMENT});
  c.push_back({"IPv4 bad IHL", Frame().Eth().IPv4(kCli4, kSrv4, 6, 0, 4).Tcp(1, 445, 1).Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_TRUNC_L3});
  c.push_back({"UDP to 445", Frame().Eth().IPv4(kCli4, kSrv4, 17).Udp(1, 445).Build(), kXdpPass,
               XSMB_CNT_XDP_PASS_NOT_TCP});
  c.push_back({"IPv6 hop-by-hop", Frame().Eth().IPv6(kCli6, kSrv6, 0).Payload(Bytes(8)).Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_IPV6_EXT});
  c.push_back({"ICMPv6", Frame().Eth().IPv6(kCli6, kSrv6, 58).Payload(Bytes(8)).Build(), kXdpPass,
               XSMB_CNT_XDP_PASS_NOT_TCP});
  {
    Bytes f = Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 445, 1).Build();
    f[14 + 20 + 12] = 0x40;  // data offset 4 words
    c.push_back({"TCP doff < 5", f, kXdpPass, XSMB_CNT_XDP_PASS_TRUNC_L4});
  }
  c.push_back({"TCP to port 80", Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 80, 1).Build(), kXdpPass,
               XSMB_CNT_XDP_PASS_OTHER_PORT});
  c.push_back({"SYN", Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 445, 1, kSyn).Build(), kXdpPass,
               XSMB_CNT_XDP_PASS_SYN});
  c.push_back({"pure ACK", Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 445, 1, kAck).Build(), kXdpPass,
               XSMB_CNT_XDP_PASS_NO_PAYLOAD});
  c.push_back({"garbage payload",
               Frame().Eth().IPv4(kCli4, kSrv4).Tcp(2, 445, 1).Payload(Bytes(100, 0x41)).Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_NOT_SMB});
  c.push_back({"SMB1 negotiate (not tracked)",
               Frame()
                   .Eth()
                   .IPv4(kCli4, kSrv4)
                   .Tcp(3, 445, 1)
                   .NetBios(Bytes{0xff, 'S', 'M', 'B', 0x72, 0, 0, 0, 0, 0, 0, 0})
                   .Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_NOT_SMB});
  c.push_back({"IPv4 NEGOTIATE", Negotiate4(4), kXdpPass, XSMB_CNT_XDP_PASS_SMB});
  c.push_back({"IPv4 options + TCP timestamps",
               Frame()
                   .Eth()
                   .IPv4(kCli4, kSrv4, 6, 0x4000, 8)
                   .Tcp(5, 445, 1, kAck | kPsh, 3)
                   .Smb2Message(Req(0, 0))
                   .Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_SMB});
  c.push_back({"VLAN + IPv6 + TCP options",
               Frame()
                   .Eth()
                   .Vlan(7)
                   .IPv6(kCli6, kSrv6)
                   .Tcp(6, 445, 1, kAck | kPsh, 10)
                   .Smb2Message(Req(0, 0))
                   .Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_SMB});
  c.push_back({"QinQ + IPv4",
               Frame()
                   .Eth()
                   .Vlan(100, 0x88a8)
                   .Vlan(7)
                   .IPv4(kCli4, kSrv4)
                   .Tcp(7, 445, 1)
                   .Smb2Message(Req(0, 0))
                   .Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_SMB});
  c.push_back({"TRANSFORM",
               Frame().Eth().IPv4(kCli4, kSrv4).Tcp(8, 445, 1).NetBios(Transform(77, 100)).Build(),
               kXdpPass, XSMB_CNT_XDP_PASS_SMB});
  {
    Smb2Header bad = Req(5, 1);
    bad.structure_size = 65;
    c.push_back({"StructureSize 65: framed, counted as bad",
                 Frame().Eth().IPv4(kCli4, kSrv4).Tcp(9, 445, 1).Smb2Message(bad).Build(), kXdpPass,
                 XSMB_CNT_XDP_PASS_MID_MESSAGE});
  }
  {
    Bytes msg = NetBiosFrame(Smb2(Req(0, 0)));
    msg.resize(30);
    c.push_back({"header cut by the frame end",
                 Frame().Eth().IPv4(kCli4, kSrv4).Tcp(10, 445, 1).Payload(msg).Build(), kXdpPass,
                 XSMB_CNT_XDP_PASS_HDR_CUT});
  }
  return c;
}

TEST_F(XdpTest, TableOfSingleFrames) {
  for (const Case& c : SingleFrameCases()) {
    SCOPED_TRACE(c.name);
    expectVerdict(c.frame, c.retval, c.verdict, c.name);
  }
  // Every header case above was counted under its command slot.
  Counts k = counts();
  EXPECT_EQ(k.cmds[XSMB_CMD_NEGOTIATE].msgs, 4u);  // IPv4, options, VLAN+IPv6, QinQ
  EXPECT_EQ(k.cmds[XSMB_CMD_TRANSFORM].msgs, 1u);
  EXPECT_EQ(k.counters[XSMB_CNT_SMB2_HEADERS], 4u);
  EXPECT_EQ(k.counters[XSMB_CNT_TRANSFORM_HEADERS], 1u);
  EXPECT_EQ(k.counters[XSMB_CNT_BAD_SMB2_HEADER], 1u);
  EXPECT_EQ(k.counters[XSMB_CNT_XDP_PACKETS], SingleFrameCases().size());
}

// Every length of a valid frame, for three layouts: the verdict follows the layer cut.
TEST_F(XdpTest, EveryTruncation) {
  struct Layout {
    std::string name;
    Bytes frame;
    size_t l2, l3, l4;  // header ends
  };
  std::vector<Layout> layouts = {
      {"IPv4", Negotiate4(20000), 14, 34, 54},
      {"VLAN IPv6 options",
       Frame()
           .Eth()
           .Vlan(3)
           .IPv6(kCli6, kSrv6)
           .Tcp(20001, 445, 1, kAck | kPsh, 3)
           .Smb2Message(Req(0, 0))
           .Build(),
       18, 58, 90},
      {"QinQ IPv4 options",
       Frame()
           .Eth()
           .Vlan(1, 0x88a8)
           .Vlan(2)
           .IPv4(kCli4, kSrv4, 6, 0x4000, 6)
           .Tcp(20002, 445, 1)
           .Smb2Message(Req(0, 0))
           .Build(),
       22, 46, 66},
  };
  for (const Layout& l : layouts) {
    for (size_t len = 14; len <= l.frame.size(); len++) {
      SetUp();  // a clean stream table: each length is a new connection
      Bytes f(l.frame.begin(), l.frame.begin() + len);
      xsmb_counter want;
      if (len < l.l2) {
        want = XSMB_CNT_XDP_PASS_TRUNC_L2;
      } else if (len < l.l3) {
        want = XSMB_CNT_XDP_PASS_TRUNC_L3;
      } else if (len < l.l4) {
        want = XSMB_CNT_XDP_PASS_TRUNC_L4;
      } else if (len == l.l4) {
        want = XSMB_CNT_XDP_PASS_NO_PAYLOAD;
      } else if (len - l.l4 < 8) {
        want = XSMB_CNT_XDP_PASS_NOT_SMB;
      } else if (len - l.l4 < XSMB_HDR_NEED) {
        want = XSMB_CNT_XDP_PASS_HDR_CUT;
      } else {
        want = XSMB_CNT_XDP_PASS_SMB;
      }
      expectVerdict(f, kXdpPass, want, l.name + " cut at " + std::to_string(len));
    }
  }
}

TEST_F(XdpTest, GarbageFramesPassWithOneVerdictEach) {
  std::mt19937 rng(12345);
  const int kFrames = 2000;
  for (int i = 0; i < kFrames; i++) {
    Bytes f(14 + rng() % 300);
    for (auto& b : f) b = static_cast<uint8_t>(rng());
    // Half of them look like IPv4/TCP to 445 so the deeper parsers see garbage too.
    if (i % 2 == 0 && f.size() > 54) {
      f[12] = 0x08, f[13] = 0x00, f[14] = 0x45, f[23] = 6, f[20] = 0, f[21] = 0;
      f[36] = 0x01, f[37] = 0xbd;
      f[46] = static_cast<uint8_t>((5 + rng() % 11) << 4);
      f[47] &= ~(kSyn | kRst | kFin);
      if (f.size() > 62 && i % 4 == 0)
        f[54] = 0, f[58] = 0xfe, f[59] = 'S', f[60] = 'M', f[61] = 'B';
    }
    int r = xdp(f);
    ASSERT_EQ(r, kXdpPass) << "frame " << i;
  }
  Counts k = counts();
  uint64_t verdicts = 0;
  for (int c = XSMB_CNT_XDP_PASS_TRUNC_L2; c <= XSMB_CNT_XDP_DROP_SYN_RATE; c++) {
    verdicts += k.counters[c];
  }
  EXPECT_EQ(k.counters[XSMB_CNT_XDP_PACKETS], static_cast<uint64_t>(kFrames));
  EXPECT_EQ(verdicts, static_cast<uint64_t>(kFrames));
}

// ---- the byte stream across segments

TEST_F(XdpTest, TwoMessagesInOneSegmentAndACompound) {
  Bytes two = NetBiosFrame(Smb2(Req(5, 1)));
  Bytes second = NetBiosFrame(Smb2(Req(16, 2)));
  two.insert(two.end(), second.begin(), second.end());
  expectVerdict(Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30000, 445, 100).Payload(two).Build(),
                kXdpPass, XSMB_CNT_XDP_PASS_SMB, "two messages");
  Bytes compound = Compound({Req(5, 3), Req(16, 4), Req(6, 5)});
  expectVerdict(
      Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30000, 445, 100 + two.size()).NetBios(compound).Build(),
      kXdpPass, XSMB_CNT_XDP_PASS_SMB, "compound");
  Counts k = counts();
  EXPECT_EQ(k.cmds[XSMB_CMD_CREATE].msgs, 2u);
  EXPECT_EQ(k.cmds[XSMB_CMD_QUERY_INFO].msgs, 2u);
  EXPECT_EQ(k.cmds[XSMB_CMD_CLOSE].msgs, 1u);
  EXPECT_EQ(k.counters[XSMB_CNT_SMB2_HEADERS], 5u);
  EXPECT_EQ(k.counters[XSMB_CNT_COMPOUND_HEADERS], 2u);
  // Compound elements are accounted by their own size (8-aligned: 64 + 40 -> 104).
  EXPECT_EQ(k.cmds[XSMB_CMD_CLOSE].bytes, 104u);
}

// Pipelined small requests: an MTU segment packed with ECHOs (20 of 72 bytes), then a segment
// of 300 NetBIOS keep-alives (4 bytes each) and one ECHO; then a jumbo frame of 47 ECHOs. Every
// header is read: no cap on the number per segment, and the stream stays in step for the segment
// after each. (BPF_PROG_TEST_RUN gives an XDP program at most a page of linear data, so the large
// frame is a 3.4 KB one.)
TEST_F(XdpTest, EveryHeaderOfAPackedSegmentIsRead) {
  uint32_t seq = 70000;
  uint64_t mid = 1;
  auto echoes = [&](size_t n) {
    Bytes out;
    for (size_t i = 0; i < n; i++) {
      Bytes m = NetBiosFrame(Smb2(Req(13, mid++, 0, 4)));
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  };
  auto send = [&](const Bytes& payload, const std::string& what) {
    expectVerdict(Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30010, 445, seq).Payload(payload).Build(),
                  kXdpPass, XSMB_CNT_XDP_PASS_SMB, what);
    seq += payload.size();
  };
  Bytes first = echoes(20);
  ASSERT_EQ(first.size(), 20u * 72);
  send(first, "20 echoes");
  Bytes keepalives(300 * 4, 0);
  for (size_t i = 0; i < keepalives.size(); i += 4) keepalives[i] = 0x85;  // RFC 1002 4.3.7
  Bytes one = echoes(1);
  keepalives.insert(keepalives.end(), one.begin(), one.end());
  send(keepalives, "300 keep-alives and an echo");
  send(echoes(47), "47 echoes in one jumbo frame");
  send(echoes(1), "the next segment");
  EXPECT_EQ(cmdMsgs(XSMB_CMD_ECHO), 20u + 1 + 47 + 1);
  EXPECT_EQ(counter(XSMB_CNT_NETBIOS_OTHER), 300u);
  EXPECT_EQ(counter(XSMB_CNT_XDP_PASS_OUT_OF_WINDOW), 0u);
  EXPECT_EQ(counter(XSMB_CNT_STREAM_RESYNC), 0u);
}

TEST_F(XdpTest, HeaderCutAcrossSegmentsAndMidMessageSegments) {
  // Message 1: a WRITE with 3000 bytes of data, then message 2 (CLOSE). Segments of 1000
  // bytes cut message 2's header 20 bytes in.
  Bytes stream = NetBiosFrame(Smb2(Req(9, 1, 0, 48 + 3000)));
  Bytes close = NetBiosFrame(Smb2(Req(6, 2)));
  size_t cut_at = stream.size() + 20;
  stream.insert(stream.end(), close.begin(), close.end());
  uint32_t seq = 5000;
  std::vector<std::pair<size_t, size_t>> segs;  // [from, to)
  for (size_t from = 0; from < cut_at;) {
    size_t to = std::min(from + 1000, cut_at);
    segs.push_back({from, to});
    from = to;
  }
  segs.push_back({cut_at, stream.size()});
  std::vector<xsmb_counter> want = {XSMB_CNT_XDP_PASS_SMB, XSMB_CNT_XDP_PASS_MID_MESSAGE,
                                    XSMB_CNT_XDP_PASS_MID_MESSAGE, XSMB_CNT_XDP_PASS_HDR_CUT,
                                    XSMB_CNT_XDP_PASS_SMB};
  ASSERT_EQ(segs.size(), want.size());
  for (size_t i = 0; i < segs.size(); i++) {
    Bytes part(stream.begin() + segs[i].first, stream.begin() + segs[i].second);
    expectVerdict(
        Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30001, 445, seq + segs[i].first).Payload(part).Build(),
        kXdpPass, want[i], "segment " + std::to_string(i));
  }
  EXPECT_EQ(cmdMsgs(XSMB_CMD_WRITE), 1u);
  EXPECT_EQ(cmdMsgs(XSMB_CMD_CLOSE), 1u);
  EXPECT_EQ(counter(XSMB_CNT_HDR_CARRIED), 1u);
  // A retransmission of the first segment holds no header position still due: to the
  // program it is like a segment inside a message, and nothing is counted twice.
  Bytes first(stream.begin(), stream.begin() + 1000);
  expectVerdict(Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30001, 445, seq).Payload(first).Build(),
                kXdpPass, XSMB_CNT_XDP_PASS_MID_MESSAGE, "retransmission");
  // A segment after a gap (the header position was in a segment not seen yet) waits.
  expectVerdict(Frame()
                    .Eth()
                    .IPv4(kCli4, kSrv4)
                    .Tcp(30001, 445, seq + stream.size() + 500)
                    .Payload(Bytes(100))
                    .Build(),
                kXdpPass, XSMB_CNT_XDP_PASS_OUT_OF_WINDOW, "after a gap");
  EXPECT_EQ(cmdMsgs(XSMB_CMD_WRITE), 1u);
  // FIN ends the stream.
  expectVerdict(
      Frame().Eth().IPv4(kCli4, kSrv4).Tcp(30001, 445, seq + stream.size(), kAck | kFin).Build(),
      kXdpPass, XSMB_CNT_XDP_PASS_NO_PAYLOAD, "FIN");
  EXPECT_EQ(counter(XSMB_CNT_STREAMS_CLOSED), 1u);
}

// ---- policy

TEST_F(XdpTest, BlocklistDropsPrefix) {
  xsmb_lpm_key k = {};
  k.prefixlen = 96 + 24;
  k.addr.b[10] = k.addr.b[11] = 0xff;
  k.addr.b[12] = 10, k.addr.b[13] = 0, k.addr.b[14] = 0;
  xsmb_block v = {};
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(xdp_->maps.xsmb_blocklist), &k, &v, BPF_ANY), 0);
  expectVerdict(Negotiate4(), kXdpDrop, XSMB_CNT_XDP_DROP_BLOCKED, "blocked source");
  expectVerdict(Frame().Eth().IPv4("10.0.1.2", kSrv4).Tcp(1, 445, 1, kSyn).Build(), kXdpPass,
                XSMB_CNT_XDP_PASS_SYN, "other /24");
  ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(xdp_->maps.xsmb_blocklist), &k, &v), 0);
  EXPECT_EQ(v.drops, 1u);
}

TEST_F(XdpTest, SynTokenBucket) {
  xsmb_config cfg = {};
  cfg.ports[0] = 445;
  cfg.syn_rate = 1;  // one per second: nothing refills during the test
  cfg.syn_burst = 3;
  setConfig(cfg);
  Bytes syn = Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 445, 1, kSyn).Build();
  for (int i = 0; i < 3; i++) expectVerdict(syn, kXdpPass, XSMB_CNT_XDP_PASS_SYN, "in burst");
  expectVerdict(syn, kXdpDrop, XSMB_CNT_XDP_DROP_SYN_RATE, "over burst");
  // Another source has its own bucket; SYN-ACKs are not SYNs to limit.
  expectVerdict(Frame().Eth().IPv4("10.0.0.9", kSrv4).Tcp(1, 445, 1, kSyn).Build(), kXdpPass,
                XSMB_CNT_XDP_PASS_SYN, "other source");
  expectVerdict(Frame().Eth().IPv4(kCli4, kSrv4).Tcp(1, 445, 1, kSyn | kAck).Build(), kXdpPass,
                XSMB_CNT_XDP_PASS_NO_PAYLOAD, "SYN-ACK");
}

// ---- sessions, steering, wire latency

// The client -> server key of a connection (xsmb_streams, xsmb_conn_cpu), IPv4-mapped.
xsmb_conn_key ConnKey(const char* client, uint16_t client_port, const char* server,
                      uint16_t server_port) {
  xsmb_conn_key k = {};
  k.client.b[10] = k.client.b[11] = k.server.b[10] = k.server.b[11] = 0xff;
  inet_pton(AF_INET, client, &k.client.b[12]);
  inet_pton(AF_INET, server, &k.server.b[12]);
  k.client_port = htons(client_port);
  k.server_port = htons(server_port);
  k.dir = XSMB_DIR_IN;
  return k;
}

TEST_F(XdpTest, SessionCountersAndSteering) {
  uint64_t sid = 0x1122334455667788ULL;
  xsmb_session s = {};
  s.uid = 1000;
  s.dialect = 0x0311;
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(xdp_->maps.xsmb_sessions), &sid, &s, BPF_ANY), 0);
  // Steer to a CPU other than the one this test runs on: the home CPU the reuseport program
  // records for the connection when it picks its worker.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  uint32_t home = libbpf_num_possible_cpus() > 1 ? 1 : XSMB_CPU_NONE;
  xsmb_conn_key conn = ConnKey(kCli4, 31000, kSrv4, 445);
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(xdp_->maps.xsmb_conn_cpu), &conn, &home, BPF_ANY), 0);

  Bytes write = Frame()
                    .Eth()
                    .IPv4(kCli4, kSrv4)
                    .Tcp(31000, 445, 1)
                    .Smb2Message(Req(9, 7, sid, 48 + 100))
                    .Build();
  expectVerdict(write, kXdpPass, XSMB_CNT_XDP_PASS_SMB, "steering off");
  xsmb_session got = {};
  ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(xdp_->maps.xsmb_sessions), &sid, &got), 0);
  EXPECT_EQ(got.ops[XSMB_CMD_WRITE], 1u);
  EXPECT_EQ(got.bytes[XSMB_CMD_WRITE], 64u + 48 + 100);
  EXPECT_NE(got.last_seen_ns, 0u);
  EXPECT_EQ(got.uid, 1000u);
  if (home == XSMB_CPU_NONE) GTEST_SKIP() << "one CPU: no steering to test";

  xsmb_config cfg = {};
  cfg.ports[0] = 445;
  cfg.flags = XSMB_CFG_STEER;
  setConfig(cfg);
  // No cpumap entry yet: the redirect falls back to XDP_PASS and says so.
  Bytes next = Frame()
                   .Eth()
                   .IPv4(kCli4, kSrv4)
                   .Tcp(31000, 445, 1 + 4 + 64 + 148)
                   .Smb2Message(Req(9, 8, sid, 48))
                   .Build();
  expectVerdict(next, kXdpPass, XSMB_CNT_XDP_PASS_SMB, "empty cpumap slot");
  EXPECT_EQ(counter(XSMB_CNT_STEER_FAILED), 1u);
  uint32_t cpu = 1;
  bpf_cpumap_val v = {};
  v.qsize = 256;
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(xdp_->maps.xsmb_cpumap), &cpu, &v, BPF_ANY), 0);
  // A pure ACK of the steered connection follows it to the same CPU.
  expectVerdict(
      Frame().Eth().IPv4(kCli4, kSrv4).Tcp(31000, 445, 1 + 4 + 64 + 148 + 116, kAck).Build(),
      kXdpRedirect, XSMB_CNT_XDP_REDIRECT_CPU, "ACK steered");
  uint32_t key = 1;
  bpf_map_delete_elem(bpf_map__fd(xdp_->maps.xsmb_cpumap), &key);
}

TEST_F(XdpTest, WireLatencyMatchesResponsesAndWaitsForFinalAfterInterim) {
  // Request: CREATE MessageId 11, then its response leaves through TC egress.
  ASSERT_EQ(
      xdp(Frame().Eth().IPv4(kCli4, kSrv4).Tcp(32000, 445, 1).Smb2Message(Req(5, 11)).Build()),
      kXdpPass);
  auto resp = [](uint16_t cmd, uint64_t mid, uint32_t status, uint32_t flags) {
    Smb2Header h = Req(cmd, mid);
    h.flags = 1 | flags;  // SERVER_TO_REDIR
    h.status = status;
    return h;
  };
  uint32_t sseq = 9000;
  Bytes interim = NetBiosFrame(Smb2(resp(5, 11, 0x103, 2)));
  EXPECT_EQ(tc(Frame().Eth().IPv4(kSrv4, kCli4).Tcp(445, 32000, sseq).Payload(interim).Build()), 0);
  EXPECT_EQ(counter(XSMB_CNT_TC_INTERIM), 1u);
  EXPECT_EQ(wireLat(XSMB_CMD_CREATE).count, 0u);
  Bytes final_resp = NetBiosFrame(Smb2(resp(5, 11, 0, 2)));
  EXPECT_EQ(tc(Frame()
                   .Eth()
                   .IPv4(kSrv4, kCli4)
                   .Tcp(445, 32000, sseq + interim.size())
                   .Payload(final_resp)
                   .Build()),
            0);
  EXPECT_EQ(wireLat(XSMB_CMD_CREATE).count, 1u);
  EXPECT_EQ(counter(XSMB_CNT_LAT_SAMPLES), 1u);
  // A response without a recorded request is counted, not sampled.
  Bytes stray = NetBiosFrame(Smb2(resp(8, 99, 0, 0)));
  tc(Frame()
         .Eth()
         .IPv4(kSrv4, kCli4)
         .Tcp(445, 32000, sseq + interim.size() + final_resp.size())
         .Payload(stray)
         .Build());
  EXPECT_EQ(counter(XSMB_CNT_LAT_NO_REQUEST), 1u);
  EXPECT_EQ(counter(XSMB_CNT_TC_RESPONSES), 3u);
}

}  // namespace
}  // namespace xsmb::bpf::test
