// Privileged: the loader (load/attach/detach/status/unload on a veth pair) and the DataPlane
// library xsmbd links (sessions, latency, config, sockhash verdict on real TCP
// connections, reuseport selection). Runs in a network namespace and a bpffs of its own.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "loader/loader.h"
#include "loader/xsmb_bpf.h"
#include "tests/bpf/bpf_fixture.h"

namespace xsmb::bpf::test {
namespace {

// A sessions map entry with the identity fields xsmbd fills (struct xsmb_session, host order).
SessionRecord sessionRecord(uint64_t session_id, uint32_t uid, uint16_t dialect, uint8_t signing,
                            uint8_t encryption, uint32_t home_cpu) {
  SessionRecord r{};
  r.session_id = session_id;
  r.uid = uid;
  r.dialect = dialect;
  r.signing = signing;
  r.encryption = encryption;
  r.home_cpu = home_cpu;
  return r;
}

class DataPlaneTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    problem_ = privilegeProblem();
    if (!problem_.empty()) return;
    std::string e;
    if (!enterPrivateNetns(&e)) {
      problem_ = e;
      return;
    }
    // A private mount namespace with a bpffs of our own: the test's pins are invisible to
    // (and cannot disturb) a production /sys/fs/bpf/xsmb.
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      problem_ = std::string("private mount namespace: ") + strerror(errno);
      return;
    }
    char tmpl[] = "/tmp/xsmb-bpffs-XXXXXX";
    if (mkdtemp(tmpl) == nullptr || mount("bpf", tmpl, "bpf", 0, "mode=0700") != 0) {
      problem_ = std::string("mounting a bpffs: ") + strerror(errno);
      return;
    }
    bpffs_ = tmpl;
  }
  static void TearDownTestSuite() {
    if (!bpffs_.empty()) {
      umount2(bpffs_.c_str(), MNT_DETACH);
      rmdir(bpffs_.c_str());
    }
  }
  void SetUp() override {
    if (!problem_.empty()) GTEST_SKIP() << problem_;
    pin_dir_ = bpffs_ + "/xsmb";
  }
  void TearDown() override {
    if (!problem_.empty()) return;
    std::string e;
    Loader(pin_dir_).unload(&e);
  }

  bool load(std::string* e) { return Loader(pin_dir_).load(LoadOptions{}, e); }

  xsmb_config config() {
    xsmb_config c = {};
    int fd = bpf_obj_get(mapPinPath(pin_dir_, "xsmb_config").c_str());
    uint32_t zero = 0;
    bpf_map_lookup_elem(fd, &zero, &c);
    close(fd);
    return c;
  }
  uint64_t counter(DataPlane& dp, xsmb_counter c) { return dp.counters().at(c).second; }

  static inline std::string problem_;
  static inline std::string bpffs_;
  std::string pin_dir_;
};

TEST_F(DataPlaneTest, OpenWithoutPinsSaysWhy) {
  std::string why;
  EXPECT_EQ(DataPlane::open(pin_dir_, &why), nullptr);
  EXPECT_NE(why.find("no BPF maps pinned"), std::string::npos) << why;
}

TEST_F(DataPlaneTest, LoadIsIdempotentAndUnloadRemovesEveryPin) {
  std::string e;
  Loader loader(pin_dir_);
  ASSERT_TRUE(loader.load(LoadOptions{}, &e)) << e;
  ASSERT_TRUE(loader.isLoaded());
  auto id = [&](const char* prog) {
    int fd = bpf_obj_get(progPinPath(pin_dir_, prog).c_str());
    bpf_prog_info info = {};
    uint32_t len = sizeof(info);
    bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    return info.id;
  };
  uint32_t tc_id = id("xsmb_tc_egress");
  ASSERT_NE(tc_id, 0u);
  LoadOptions o;
  o.ports = {445, 1445};
  o.syn_rate = 50;
  o.max_msg_size = 1 << 20;
  o.steer = 1;
  ASSERT_TRUE(loader.load(o, &e)) << e;
  EXPECT_EQ(id("xsmb_tc_egress"), tc_id) << "a second load must not reload";
  xsmb_config c = config();
  EXPECT_EQ(c.ports[0], 445);
  EXPECT_EQ(c.ports[1], 1445);
  EXPECT_EQ(c.syn_rate, 50u);
  EXPECT_EQ(c.syn_burst, 100u);
  EXPECT_EQ(c.max_msg_size, 1u << 20);
  EXPECT_EQ(c.flags, static_cast<uint32_t>(XSMB_CFG_STEER | XSMB_CFG_LATENCY));
  std::ostringstream status;
  ASSERT_TRUE(loader.status(status, &e)) << e;
  EXPECT_NE(status.str().find("ports 445 1445"), std::string::npos) << status.str();
  ASSERT_TRUE(loader.unload(&e)) << e;
  EXPECT_NE(access(pin_dir_.c_str(), F_OK), 0);
  ASSERT_TRUE(loader.unload(&e)) << "unloading twice is fine: " << e;
}

TEST_F(DataPlaneTest, AttachDetachOnVethIsIdempotent) {
  ASSERT_EQ(system("ip link add xsmbt0 type veth peer name xsmbt1 && ip link set xsmbt0 up "
                   "&& ip link set xsmbt1 up"),
            0);
  std::string e;
  Loader loader(pin_dir_);
  ASSERT_TRUE(loader.attach("xsmbt0", AttachMode::kNative, &e)) << e;
  auto ifs = loader.interfaces();
  ASSERT_EQ(ifs.size(), 1u);
  EXPECT_EQ(ifs[0].name, "xsmbt0");
  EXPECT_EQ(ifs[0].xdp_mode, "native");
  EXPECT_NE(ifs[0].xdp_prog_id, 0u);
  EXPECT_NE(ifs[0].tc_prog_id, 0u);
  ASSERT_TRUE(loader.attach("xsmbt0", AttachMode::kNative, &e)) << e;
  auto again = loader.interfaces();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].xdp_prog_id, ifs[0].xdp_prog_id);
  EXPECT_EQ(again[0].tc_prog_id, ifs[0].tc_prog_id);
  EXPECT_FALSE(loader.attach("nosuchif0", AttachMode::kAuto, &e));
  ASSERT_TRUE(loader.detach("xsmbt0", &e)) << e;
  EXPECT_TRUE(loader.interfaces().empty());
  ASSERT_TRUE(loader.detach("xsmbt0", &e)) << "detaching twice is fine: " << e;
  // Unload detaches what is still attached.
  ASSERT_TRUE(loader.attach("xsmbt1", AttachMode::kGeneric, &e)) << e;
  EXPECT_EQ(loader.interfaces().at(0).xdp_mode, "generic");
  ASSERT_TRUE(loader.unload(&e)) << e;
  EXPECT_TRUE(loader.interfaces().empty());
  system("ip link del xsmbt0");
}

// Sends `n` broadcast Ethernet frames out of ifname (its veth peer's XDP sees them).
void sendFrames(const char* ifname, int n) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return;
  sockaddr_ll to = {};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
  to.sll_halen = ETH_ALEN;
  uint8_t frame[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
  for (int i = 0; i < n; i++) {
    sendto(fd, frame, sizeof(frame), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  close(fd);
}

// Another program on the interface (xdp-tools' allow-all filter, attached through libxdp).
// With libxdp's dispatcher both run and detaching ours leaves the other. Where the kernel
// cannot run the dispatcher, ours is attached alone with a note saying why, and a program
// attached without the dispatcher is never replaced (nor is ours by it).
TEST_F(DataPlaneTest, XdpSharesAnInterfaceThroughLibxdpOrRefusesCleanly) {
  std::string other_obj;
  for (const char* p :
       {"/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o",
        "/usr/lib/aarch64-linux-gnu/bpf/xdpfilt_alw_all.o", "/usr/lib/bpf/xdpfilt_alw_all.o",
        "/usr/share/xdp-tools/xdpfilt_alw_all.o"}) {
    if (access(p, R_OK) == 0) other_obj = p;
  }
  if (other_obj.empty()) GTEST_SKIP() << "xdp-tools' xdpfilt_alw_all.o not installed";
  ASSERT_EQ(system("ip link add xsmbt2 type veth peer name xsmbt3 && ip link set xsmbt2 up "
                   "&& ip link set xsmbt3 up"),
            0);
  int ifindex = static_cast<int>(if_nametoindex("xsmbt2"));
  auto chain = [&] {  // program names on xsmbt2, dispatcher order; "legacy:" prefix if none
    std::vector<std::string> names;
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
    if (mp == nullptr || libxdp_get_error(mp)) return names;
    if (xdp_multiprog__is_legacy(mp)) {
      if (xdp_program* p = xdp_multiprog__main_prog(mp)) {
        names.push_back(std::string("legacy:") + xdp_program__name(p));
      }
    } else {
      for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr;
           p = xdp_multiprog__next_prog(p, mp)) {
        names.push_back(xdp_program__name(p));
      }
    }
    xdp_multiprog__close(mp);
    return names;
  };
  // Its maps are pinned by name: into the test's own bpffs, not the host's /sys/fs/bpf.
  DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = bpffs_.c_str());
  xdp_program* other = xdp_program__open_file(other_obj.c_str(), nullptr, &open_opts);
  ASSERT_EQ(libxdp_get_error(other), 0);
  ASSERT_EQ(xdp_program__attach(other, ifindex, XDP_MODE_NATIVE, 0), 0);
  const std::vector<std::string> before = chain();
  ASSERT_EQ(before.size(), 1u);
  const bool dispatcher = before[0].rfind("legacy:", 0) != 0;

  std::string e, note;
  Loader loader(pin_dir_);
  if (dispatcher) {
    ASSERT_TRUE(loader.attach("xsmbt2", AttachMode::kNative, &e, &note)) << e;
    EXPECT_EQ(note, "");
    auto names = chain();
    EXPECT_EQ(names.size(), 2u);
    EXPECT_NE(std::find(names.begin(), names.end(), "xsmb_xdp"), names.end());
    ASSERT_EQ(loader.interfaces().size(), 1u);
    EXPECT_TRUE(loader.interfaces()[0].xdp_dispatcher);
    EXPECT_EQ(loader.interfaces()[0].xdp_others, std::vector<std::string>{"xdpfilt_alw_all"});
    // Both run: ours counts the frames, and the allow-all filter passes them on to it.
    auto dp = DataPlane::open(pin_dir_, &e);
    ASSERT_NE(dp, nullptr) << e;
    sendFrames("xsmbt3", 5);
    usleep(100000);
    EXPECT_GE(counter(*dp, XSMB_CNT_XDP_PACKETS), 5u);
    ASSERT_TRUE(loader.detach("xsmbt2", &e)) << e;
    EXPECT_EQ(chain(), std::vector<std::string>{"xdpfilt_alw_all"});
  } else {
    // This kernel cannot run the dispatcher: nothing is replaced, in either order.
    EXPECT_FALSE(loader.attach("xsmbt2", AttachMode::kNative, &e, &note));
    EXPECT_NE(e.find("xdpfilt_alw_all attached without libxdp's dispatcher"), std::string::npos)
        << e;
    EXPECT_EQ(chain(), before);
    EXPECT_TRUE(loader.interfaces().empty()) << "a failed attach leaves nothing attached";
    ASSERT_TRUE(loader.detach("xsmbt2", &e)) << e;
    EXPECT_EQ(chain(), before) << "detach removes only xsmb programs";
    ASSERT_EQ(xdp_program__detach(other, ifindex, XDP_MODE_NATIVE, 0), 0);
    ASSERT_TRUE(loader.attach("xsmbt2", AttachMode::kNative, &e, &note)) << e;
    EXPECT_NE(note.find("alone, without libxdp's dispatcher ("), std::string::npos) << note;
    EXPECT_EQ(note.find("libxdp declined it"), std::string::npos) << "a reason is known: " << note;
    EXPECT_EQ(chain(), std::vector<std::string>{"legacy:xsmb_xdp"});
    EXPECT_NE(xdp_program__attach(other, ifindex, XDP_MODE_NATIVE, 0), 0);
    EXPECT_EQ(chain(), std::vector<std::string>{"legacy:xsmb_xdp"});
    std::ostringstream status;
    ASSERT_TRUE(loader.status(status, &e)) << e;
    EXPECT_NE(status.str().find("xsmbt2 xdp native"), std::string::npos) << status.str();
    EXPECT_NE(status.str().find(", alone)"), std::string::npos) << status.str();
    ASSERT_TRUE(loader.detach("xsmbt2", &e)) << e;
    EXPECT_TRUE(chain().empty());
  }
  xdp_program__close(other);
  ASSERT_TRUE(loader.unload(&e)) << e;
  system("ip link del xsmbt2");
}

TEST_F(DataPlaneTest, BlocklistPrefixes) {
  xsmb_lpm_key k;
  ASSERT_TRUE(parsePrefix("10.1.0.0/16", &k));
  EXPECT_EQ(k.prefixlen, 112u);
  EXPECT_EQ(k.addr.b[11], 0xff);
  EXPECT_EQ(k.addr.b[12], 10);
  ASSERT_TRUE(parsePrefix("fd00::1", &k));
  EXPECT_EQ(k.prefixlen, 128u);
  EXPECT_FALSE(parsePrefix("10.1.0.0/33", &k));
  EXPECT_FALSE(parsePrefix("nonsense", &k));
  std::string e;
  ASSERT_TRUE(load(&e)) << e;
  Loader loader(pin_dir_);
  ASSERT_TRUE(loader.block("10.1.0.0/16", true, &e)) << e;
  ASSERT_TRUE(loader.block("10.1.0.0/16", true, &e)) << e;
  int fd = bpf_obj_get(mapPinPath(pin_dir_, "xsmb_blocklist").c_str());
  ASSERT_TRUE(parsePrefix("10.1.0.0/16", &k));
  xsmb_block v;
  EXPECT_EQ(bpf_map_lookup_elem(fd, &k, &v), 0);
  ASSERT_TRUE(loader.block("10.1.0.0/16", false, &e)) << e;
  EXPECT_NE(bpf_map_lookup_elem(fd, &k, &v), 0);
  close(fd);
}

TEST_F(DataPlaneTest, SessionsLatencyAndConfig) {
  std::string e;
  ASSERT_TRUE(load(&e)) << e;
  auto dp = DataPlane::open(pin_dir_, &e);
  ASSERT_NE(dp, nullptr) << e;
  dp->sessionUp(sessionRecord(0xabcdef, 1000, 0x0311, 1, 0, 1));
  xsmb_session s;
  ASSERT_TRUE(dp->lookupSession(0xabcdef, &s));
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.dialect, 0x0311);
  EXPECT_EQ(s.signing, 1);
  EXPECT_EQ(s.encryption, 0);
  EXPECT_EQ(s.home_cpu, 1u);
  dp->sessionDown(0xabcdef);
  EXPECT_FALSE(dp->lookupSession(0xabcdef, &s));

  dp->recordLatency(8, 1500);  // READ, bucket floor(log2(1500)) = 10
  dp->recordLatency(8, 1024);
  dp->recordLatency(0x99, 5);  // beyond the commands: OTHER
  xsmb_hist h = dp->serverLatency(XSMB_CMD_READ);
  EXPECT_EQ(h.count, 2u);
  EXPECT_EQ(h.sum_ns, 2524u);
  EXPECT_EQ(h.buckets[10], 2u);
  EXPECT_EQ(dp->serverLatency(XSMB_CMD_OTHER).buckets[2], 1u);
  // The same histogram is visible through the map (what bpftool dumps): this thread's
  // stripe holds both samples.
  int fd = bpf_obj_get(mapPinPath(pin_dir_, "xsmb_srv_lat").c_str());
  uint64_t via_map = 0;
  for (uint32_t stripe = 0; stripe < XSMB_SRV_LAT_STRIPES; stripe++) {
    uint32_t key = stripe * XSMB_CMD_SLOTS + XSMB_CMD_READ;
    xsmb_hist one = {};
    ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &one), 0);
    EXPECT_TRUE(one.count == 0 || one.count == 2) << "stripe " << stripe << ": " << one.count;
    via_map += one.count;
  }
  close(fd);
  EXPECT_EQ(via_map, 2u);

  dp->setMaxMessageSize(8 << 20);
  EXPECT_EQ(config().max_msg_size, 8u << 20);
  // Many threads at once, more than there are stripes (so some share one): nothing lost.
  std::vector<std::thread> threads;
  for (int t = 0; t < XSMB_SRV_LAT_STRIPES + 4; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; i++) dp->recordLatency(9, 100);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(dp->serverLatency(XSMB_CMD_WRITE).count, (XSMB_SRV_LAT_STRIPES + 4) * 10000u);
}

int listenTcp(uint16_t* port, bool reuseport) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(*port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int connectTcp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads what arrives within timeout_ms of silence.
Bytes readAll(int fd, int timeout_ms) {
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

// One connection through the sockhash verdict: what the client sends (each piece one send(),
// with a pause after it so that it is its own skb), what the server must read, and the
// counters the verdict must leave.
struct SockCase {
  std::string description;
  std::vector<Bytes> pieces;
  Bytes want;  // what the server reads
  uint64_t messages, oversize, bad_header, carried, session_messages;
};

TEST_F(DataPlaneTest, SockhashVerdictFollowsTheFramingAndRefusesBadMessages) {
  const uint64_t sid = 0x42;
  Smb2Header h;
  h.command = 5;
  h.session_id = sid;
  h.body_len = 100;
  const Bytes good1 = NetBiosFrame(Smb2(h));
  h.body_len = 5000;
  const Bytes oversize = NetBiosFrame(Smb2(h));
  const Bytes bad = NetBiosFrame(Bytes(80, 0x41));
  h.command = 6;
  h.body_len = 24;
  const Bytes good2 = NetBiosFrame(Smb2(h));
  h.command = 9;
  h.body_len = 4000;  // a WRITE of 4000 bytes (maximum 4096)
  const Bytes write = NetBiosFrame(Smb2(h));
  auto cat = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto slice = [](const Bytes& b, size_t from, size_t to) {
    return Bytes(b.begin() + from, b.begin() + std::min(to, b.size()));
  };
  Bytes marked = oversize;  // the refused message reaches the server with its type marked
  marked[0] = 0xff;
  Bytes marked_bad = bad;
  marked_bad[0] = 0xff;
  // Many messages in one send (one skb), cut inside a header and inside a body.
  Bytes burst = cat({good2, write, good2, good1, write, good2});
  const std::vector<SockCase> cases = {
      {"whole messages, one per skb", {good1, good2}, cat({good1, good2}), 2, 0, 0, 0, 2},
      {"a header cut after 3 and 43 bytes is read once, from three skbs",
       {slice(good1, 0, 3), slice(good1, 3, 43), slice(good1, 43, good1.size()), good2},
       cat({good1, good2}),
       2,
       0,
       0,
       1,
       2},
      {"six messages in one skb", {burst}, burst, 6, 0, 0, 0, 6},
      {"a burst cut inside a header and inside a body",
       {slice(burst, 0, 60), slice(burst, 60, 200), slice(burst, 200, 4300),
        slice(burst, 4300, burst.size())},
       burst,
       6,
       0,
       0,
       1,
       6},
      {"oversize: marked, passed up to its skb end, the rest of the connection dropped",
       {good1, oversize, good2},
       cat({good1, marked}),
       1,
       1,
       0,
       0,
       1},
      {"no SMB header: marked, the rest dropped",
       {good2, bad, good1},
       cat({good2, marked_bad}),
       1,
       0,
       1,
       0,
       1},
      {"a bad message after good ones in the same skb: they pass, it is marked",
       {cat({good1, good2, bad, good1})},
       cat({good1, good2, marked_bad, good1}),
       2,
       0,
       1,
       0,
       2},
  };
  for (const SockCase& c : cases) {
    SCOPED_TRACE(c.description);
    std::string e;
    ASSERT_TRUE(load(&e)) << e;
    auto dp = DataPlane::open(pin_dir_, &e);
    ASSERT_NE(dp, nullptr) << e;
    dp->setMaxMessageSize(4096);
    dp->sessionUp(sessionRecord(sid, 0, 0x0311, 0, 0, XSMB_CPU_NONE));
    uint16_t port = 0;
    int lfd = listenTcp(&port, false);
    ASSERT_GE(lfd, 0);
    int cfd = connectTcp(port);
    ASSERT_GE(cfd, 0);
    int sfd = accept(lfd, nullptr, nullptr);
    ASSERT_GE(sfd, 0);
    ASSERT_TRUE(dp->addConnection(sfd));
    for (const Bytes& piece : c.pieces) {
      ASSERT_EQ(send(cfd, piece.data(), piece.size(), 0), static_cast<ssize_t>(piece.size()));
      usleep(20000);
    }
    EXPECT_EQ(readAll(sfd, 300), c.want);
    EXPECT_EQ(counter(*dp, XSMB_CNT_SK_MESSAGES), c.messages);
    EXPECT_EQ(counter(*dp, XSMB_CNT_SK_DROP_OVERSIZE), c.oversize);
    EXPECT_EQ(counter(*dp, XSMB_CNT_SK_DROP_BAD_HEADER), c.bad_header);
    EXPECT_EQ(counter(*dp, XSMB_CNT_SK_HDR_CARRIED), c.carried);
    EXPECT_EQ(counter(*dp, XSMB_CNT_SK_LOST), 0u);
    xsmb_session s;
    ASSERT_TRUE(dp->lookupSession(sid, &s));
    EXPECT_EQ(s.sk_messages, c.session_messages);
    // Responses flow normally in the other direction.
    ASSERT_EQ(send(sfd, good2.data(), good2.size(), 0), static_cast<ssize_t>(good2.size()));
    EXPECT_EQ(readAll(cfd, 200), good2);
    close(cfd);
    close(sfd);
    close(lfd);
    dp.reset();
    Loader l(pin_dir_);
    ASSERT_TRUE(l.unload(&e)) << e;
  }
}

// Large messages (the sizes SMB2 READ/WRITE use) through the verdict, several in flight
// while the reader is slow: every byte arrives in order and each header is read exactly once.
// With the kernel's stream parser this stalled (docs/bpf.md, "Why no stream parser").
TEST_F(DataPlaneTest, SockhashPassesLargePipelinedMessages) {
  std::string e;
  ASSERT_TRUE(load(&e)) << e;
  auto dp = DataPlane::open(pin_dir_, &e);
  ASSERT_NE(dp, nullptr) << e;
  dp->setMaxMessageSize(8454144);  // what xsmbd allows: 8 MiB READ/WRITE + headers
  uint16_t port = 0;
  int lfd = listenTcp(&port, false);
  ASSERT_GE(lfd, 0);
  int cfd = connectTcp(port);
  ASSERT_GE(cfd, 0);
  int sfd = accept(lfd, nullptr, nullptr);
  ASSERT_GE(sfd, 0);
  ASSERT_TRUE(dp->addConnection(sfd));
  Bytes stream;
  uint64_t n = 0;
  for (uint32_t size : {1u << 20, 64u, 4u << 20, 100u, 8u << 20, 1u << 20, 200u}) {
    Smb2Header h;
    h.command = 9;
    h.message_id = n++;
    h.body_len = size;
    Bytes m = NetBiosFrame(Smb2(h));
    for (size_t i = 68; i < m.size(); i++) m[i] = static_cast<uint8_t>(i * 7 + n);
    stream.insert(stream.end(), m.begin(), m.end());
  }
  std::thread sender([&] {
    size_t off = 0;
    while (off < stream.size()) {
      ssize_t w = send(cfd, stream.data() + off, std::min<size_t>(stream.size() - off, 300000), 0);
      if (w <= 0) return;
      off += static_cast<size_t>(w);
    }
  });
  Bytes got;
  got.reserve(stream.size());
  uint8_t buf[65536];
  while (got.size() < stream.size()) {
    pollfd p = {sfd, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) break;  // 3 s without data: stalled
    ssize_t r = recv(sfd, buf, sizeof(buf), 0);
    if (r <= 0) break;
    got.insert(got.end(), buf, buf + r);
    if (got.size() % (1 << 20) < sizeof(buf)) usleep(2000);  // a slow reader now and then
  }
  sender.join();
  ASSERT_EQ(got.size(), stream.size());
  EXPECT_TRUE(got == stream);
  EXPECT_EQ(counter(*dp, XSMB_CNT_SK_MESSAGES), n);
  EXPECT_EQ(counter(*dp, XSMB_CNT_SK_DROP_OVERSIZE) + counter(*dp, XSMB_CNT_SK_DROP_BAD_HEADER) +
                counter(*dp, XSMB_CNT_SK_LOST) + counter(*dp, XSMB_CNT_SK_CUT_SKBS),
            0u);
  close(cfd);
  close(sfd);
  close(lfd);
}

TEST_F(DataPlaneTest, ReuseportPrefersTheLeastLoadedWorker) {
  std::string e;
  ASSERT_TRUE(load(&e)) << e;
  auto dp = DataPlane::open(pin_dir_, &e);
  ASSERT_NE(dp, nullptr) << e;
  uint16_t port = 0;
  std::vector<int> fds;
  for (int i = 0; i < 4; i++) {
    int fd = listenTcp(&port, true);
    ASSERT_GE(fd, 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
  }
  dp->beginGeneration(false);
  ASSERT_TRUE(dp->attachReuseport(fds, &e)) << e;
  EXPECT_EQ(config().nworkers, 0u);  // not yet serving: the kernel's hash decides
  dp->activateGeneration(4);
  EXPECT_EQ(config().nworkers, 4u);
  for (uint32_t w = 0; w < 4; w++) dp->setWorkerLoad(w, w == 2 ? 1 : 5);
  std::vector<int> clients;
  for (int i = 0; i < 8; i++) clients.push_back(connectTcp(port));
  usleep(50000);
  std::vector<int> accepted(4);
  for (int w = 0; w < 4; w++) {
    int c;
    while ((c = accept(fds[w], nullptr, nullptr)) >= 0) {
      accepted[w]++;
      close(c);
    }
  }
  EXPECT_EQ(accepted, (std::vector<int>{0, 0, 8, 0}));
  EXPECT_EQ(counter(*dp, XSMB_CNT_RP_SELECT_LOAD), 8u);
  // No loads reported: the kernel's hash places connections.
  for (uint32_t w = 0; w < 4; w++) dp->setWorkerLoad(w, 0);
  int c = connectTcp(port);
  EXPECT_EQ(counter(*dp, XSMB_CNT_RP_SELECT_HASH), 1u);
  close(c);
  for (int fd : clients) close(fd);
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace xsmb::bpf::test
