// Privileged: the AF_XDP mode end to end on a veth pair. The test's own network namespace holds
// xqs0 (10.77.0.1, fd77::1) with xsmb_quic_xdp attached in native mode, two workers' XSKs on
// its queue 0 (copy mode: veth has no zero-copy) and the plain UDP socket on port 4433; a
// second namespace holds the client end xqc0 (10.77.0.2, fd77::2). Datagrams whose DCID names
// worker w arrive only at w's XSK, Initial and unknown-ID ones at the UDP socket, the counters
// match what was sent, and a reply sent through an XSK reaches the client's socket (so the
// frame, its IPv4/IPv6 and UDP checksums are right).
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/quic/cid.h"
#include "server/transport/xsk/quic_steering.h"
#include "server/transport/xsk/xsk_interface.h"
#include "server/transport/xsk/xsk_socket.h"
#include "tests/bpf/bpf_fixture.h"
#include "tests/bpf/quic_frames.h"

namespace xsmb::bpf::test {
namespace {

using xsk::QuicSteering;
using xsk::XskQueue;

constexpr uint16_t kPort = 4433;
constexpr int kWorkers = 2;

bool run(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

// A UDP socket created inside network namespace `ns` (a socket stays in the namespace it was
// made in, whichever thread uses it later).
int socketIn(const std::string& ns, int family) {
  int fd = -1;
  std::thread t([&] {
    int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return;
    close(nsfd);
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  });
  t.join();
  return fd;
}

sockaddr_storage addr(int family, const char* ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    *len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    *len = sizeof(*a);
  }
  return ss;
}

class QuicXskVethTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = privilegeProblem();
    if (!why.empty()) GTEST_SKIP() << why;
    if (!run("ip -V")) GTEST_SKIP() << "needs iproute2 (ip)";
    ASSERT_TRUE(enterPrivateNetns(&why)) << why;
    ns_ = "xsmbq" + std::to_string(getpid());
    ASSERT_TRUE(run("ip netns add " + ns_));
    ns_made_ = true;
    std::string q = " numtxqueues " + std::to_string(nqueues_) + " numrxqueues " +
                    std::to_string(nqueues_);
    ASSERT_TRUE(run("ip link add xqs0" + q + " type veth peer name xqc0" + q + " netns " + ns_));
    for (const std::string& c : std::vector<std::string>{
             "ip addr add 10.77.0.1/24 dev xqs0", "ip addr add fd77::1/64 dev xqs0 nodad",
          "ip link set xqs0 up", "ip -n " + ns_ + " addr add 10.77.0.2/24 dev xqc0",
          "ip -n " + ns_ + " addr add fd77::2/64 dev xqc0 nodad",
          "ip -n " + ns_ + " link set xqc0 up", "ip -n " + ns_ + " link set lo up"}) {
      ASSERT_TRUE(run(c)) << c;
    }
    ifindex_ = static_cast<int>(if_nametoindex("xqs0"));
    ASSERT_GT(ifindex_, 0);
  }
  void TearDown() override {
    iface_.reset();     // before the steering it refers to
    steering_.reset();  // detaches XDP
    queues_.clear();
    for (int fd : fds_) close(fd);
    if (ns_made_) run("ip netns del " + ns_);  // removes xqc0 and with it xqs0
  }
  int track(int fd) {
    fds_.push_back(fd);
    return fd;
  }
  // The plain UDP socket of the socket path (dual-stack, port kPort).
  int udpSocket() {
    int fd = track(socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    socklen_t len;
    sockaddr_storage ss = addr(AF_INET6, "::", kPort, &len);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
    return fd;
  }
  void sendFrom(int fd, int family, const Bytes& payload) {
    socklen_t len;
    sockaddr_storage ss = addr(family, family == AF_INET ? "10.77.0.1" : "fd77::1", kPort, &len);
    EXPECT_EQ(sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len),
              static_cast<ssize_t>(payload.size()))
        << strerror(errno);
  }
  // A received datagram: its headers and a copy of its payload (the frame goes back to the
  // fill ring when receive() returns).
  struct Got {
    xsk::UdpFrameHeader header;
    Bytes payload;
  };
  // Takes datagrams from every worker's XSK until `want` arrived in total or 3 s passed.
  std::vector<std::vector<Got>> collect(size_t want) {
    std::vector<std::vector<Got>> got(kWorkers);
    size_t total = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (total < want && std::chrono::steady_clock::now() < deadline) {
      for (int w = 0; w < kWorkers; w++) {
        queue_->socket(w).waitReadable(10);
        queue_->socket(w).receive(64, [&](const xsk::UdpFrame& f) {
          got[w].push_back({f.header, Bytes(f.payload.begin(), f.payload.end())});
          total++;
        });
      }
    }
    return got;
  }

  void startXsks();

  std::string ns_;
  bool ns_made_ = false;
  int ifindex_ = 0;
  std::vector<int> fds_;
  std::unique_ptr<QuicSteering> steering_;
  int nqueues_ = 1;                              // receive queues of the veth
  std::vector<std::unique_ptr<XskQueue>> queues_;  // one per receive queue
  XskQueue* queue_ = nullptr;                      // queues_[0]
  std::unique_ptr<xsk::XskInterface> iface_;        // the two-queue test's
};

Bytes bytesOf(const quic::ConnectionId& c) { return Bytes(c.begin(), c.end()); }

// Loads the programs, attaches XDP natively to xqs0 and opens both workers' XSKs on queue 0.
void QuicXskVethTest::startXsks() {
  xsk::SteeringOptions o;
  o.port = kPort;
  o.nworkers = kWorkers;
  o.xsk = true;
  auto s = QuicSteering::load(o);
  ASSERT_TRUE(s.ok()) << s.status();
  steering_ = std::move(*s);
  absl::Status st = steering_->attachXdp(ifindex_, xsk::XdpMode::kNative);
  ASSERT_TRUE(st.ok()) << st;
  for (int qid = 0; qid < nqueues_; qid++) {
    xsk::XskOptions xo;
    xo.ifname = "xqs0";
    xo.queue = static_cast<uint32_t>(qid);
    xo.workers = kWorkers;
    xo.frames = 1024;
    xo.ring_size = 512;
    auto q = XskQueue::open(xo);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_FALSE((*q)->zeroCopy()) << "veth has no zero-copy AF_XDP";
    for (int w = 0; w < kWorkers; w++) {
      ASSERT_TRUE(steering_->setXsk(qid, w, (*q)->socket(w).fd()).ok());
    }
    queues_.push_back(std::move(*q));
  }
  queue_ = queues_[0].get();
}

TEST_F(QuicXskVethTest, EachWorkersDatagramsLandOnlyInItsXsk) {
  ASSERT_NO_FATAL_FAILURE(startXsks());
  absl::Status st;
  int udp = udpSocket();
  // Worker 0 owns two IDs (a connection's IDs all name its worker), worker 1 one.
  std::vector<quic::ConnectionId> ids = {*quic::makeCid(0), *quic::makeCid(0), *quic::makeCid(1)};
  for (const auto& id : ids) ASSERT_TRUE(steering_->registerCid(id).ok());
  int c4 = track(socketIn(ns_, AF_INET)), c6 = track(socketIn(ns_, AF_INET6));
  ASSERT_GE(c4, 0);
  ASSERT_GE(c6, 0);
  constexpr int kRounds = 10;
  for (int i = 0; i < kRounds; i++) {
    for (const auto& id : ids) {
      sendFrom(c4, AF_INET, ShortHeader(bytesOf(id)));
      sendFrom(c6, AF_INET6, LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, bytesOf(id)));
    }
  }
  sendFrom(c4, AF_INET, LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, Bytes(8, 0x17)));  // first Initial
  sendFrom(c6, AF_INET6, ShortHeader(bytesOf(*quic::makeCid(1))));              // never issued

  auto got = collect(2 * kRounds * ids.size());
  EXPECT_EQ(got[0].size(), 2u * kRounds * 2) << "worker 0";
  EXPECT_EQ(got[1].size(), 2u * kRounds * 1) << "worker 1";
  for (int w = 0; w < kWorkers; w++) {
    for (size_t i = 0; i < got[w].size(); i++) {
      auto h = quic::parseFirstHeader(got[w][i].payload);
      ASSERT_TRUE(h.ok()) << h.status();
      EXPECT_EQ(quic::cidWorker(h->dcid).value_or(255), w);
      EXPECT_EQ(got[w][i].header.destination.port, kPort);
      EXPECT_TRUE(got[w][i].header.source.family == AF_INET ||
                  got[w][i].header.source.family == AF_INET6);
    }
  }
  // The socket path: the Initial and the unknown ID, nothing else.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int at_socket = 0;
  Bytes buf(2048);
  while (recv(udp, buf.data(), buf.size(), 0) >= 0) at_socket++;
  EXPECT_EQ(at_socket, 2);

  auto c = steering_->counters();
  uint64_t verdicts = 0;
  for (int i = XSMB_QCNT_XQ_PASS_NOT_QUIC; i <= XSMB_QCNT_XQ_REDIRECT_XSK; i++) verdicts += c[i].second;
  EXPECT_EQ(c[XSMB_QCNT_XQ_PACKETS].second, verdicts);  // ARP/ND add NOT_QUIC
  EXPECT_EQ(c[XSMB_QCNT_XQ_REDIRECT_XSK].second, 2u * kRounds * ids.size());
  EXPECT_EQ(c[XSMB_QCNT_XQ_PASS_INITIAL].second, 1u);
  EXPECT_EQ(c[XSMB_QCNT_XQ_PASS_UNKNOWN_CID].second, 1u);
  EXPECT_EQ(c[XSMB_QCNT_XQ_PASS_NO_XSK].second, 0u);
  EXPECT_EQ(steering_->workerStat(0).xsk_packets, 2u * kRounds * 2);
  EXPECT_EQ(steering_->workerStat(1).xsk_packets, 2u * kRounds);
  for (const auto& id : ids) EXPECT_EQ(steering_->lookupCid(id)->xdp_packets, 2u * kRounds);
  for (int w = 0; w < kWorkers; w++) {
    xsk::XskStats xs = queue_->socket(w).stats();
    EXPECT_EQ(xs.rx_datagrams, got[w].size()) << w;
    EXPECT_EQ(xs.rx_dropped + xs.rx_ring_full + xs.rx_invalid_descs, 0u) << w;
    EXPECT_EQ(xs.rx_not_udp, 0u) << w;
  }

  // Worker 1 answers its IPv4 and IPv6 clients through its XSK: the client sockets get the
  // answers from the server's address and port, checksums verified by the client's kernel.
  for (int family : {AF_INET, AF_INET6}) {
    auto f = std::find_if(got[1].begin(), got[1].end(),
                          [&](const Got& g) { return g.header.source.family == family; });
    ASSERT_NE(f, got[1].end()) << family;
    Bytes pong = {'p', 'o', 'n', 'g'};
    st = queue_->socket(1).send(xsk::replyHeader(f->header), pong);
    ASSERT_TRUE(st.ok()) << st;
  }
  for (int fd : {c4, c6}) {
    pollfd p = {fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1) << "no reply through the XSK";
    sockaddr_storage from{};
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    ASSERT_EQ(n, 4);
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 4), (Bytes{'p', 'o', 'n', 'g'}));
    uint16_t port = from.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&from)->sin_port)
                                              : ntohs(reinterpret_cast<sockaddr_in6*>(&from)->sin6_port);
    EXPECT_EQ(port, kPort);
  }
  EXPECT_EQ(queue_->socket(1).stats().tx_datagrams, 2u);
}

// A burst as fast as the client can send: every datagram XDP redirected is either in the XSK's
// RX ring (received) or counted by the kernel as dropped (XDP_STATISTICS rx_dropped: no fill
// frame; rx_ring_full: RX ring full). Prints the rate for docs/bpf.md.
TEST_F(QuicXskVethTest, ABurstIsReceivedOrItsDropsCounted) {
  ASSERT_NO_FATAL_FAILURE(startXsks());
  auto id = *quic::makeCid(1);
  ASSERT_TRUE(steering_->registerCid(id).ok());
  int c4 = track(socketIn(ns_, AF_INET));
  ASSERT_GE(c4, 0);
  constexpr int kBurst = 20000;
  std::atomic<bool> sending{true};
  uint64_t received = 0;
  std::thread rx([&] {
    auto idle_since = std::chrono::steady_clock::now();
    while (sending || std::chrono::steady_clock::now() - idle_since < std::chrono::milliseconds(300)) {
      size_t n = queue_->socket(1).receive(64, [&](const xsk::UdpFrame&) { received++; });
      if (n > 0) idle_since = std::chrono::steady_clock::now();
      else queue_->socket(1).waitReadable(5);
    }
  });
  Bytes d = ShortHeader(bytesOf(id));
  d.resize(1200, 0x11);  // a typical 1-RTT packet size
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kBurst; i++) sendFrom(c4, AF_INET, d);
  auto t1 = std::chrono::steady_clock::now();
  sending = false;
  rx.join();
  xsk::XskStats xs = queue_->socket(1).stats();
  uint64_t redirected = steering_->counters()[XSMB_QCNT_XQ_REDIRECT_XSK].second;
  double secs = std::chrono::duration<double>(t1 - t0).count();
  std::printf("burst of %d x 1200 B in %.3f s (%.0f datagrams/s sent): %lu received, "
              "rx_dropped %lu, rx_ring_full %lu, fill ring empty %lu, redirected %lu\n",
              kBurst, secs, kBurst / secs, static_cast<unsigned long>(received),
              static_cast<unsigned long>(xs.rx_dropped), static_cast<unsigned long>(xs.rx_ring_full),
              static_cast<unsigned long>(xs.rx_fill_ring_empty),
              static_cast<unsigned long>(redirected));
  EXPECT_GT(received, 0u);
  EXPECT_EQ(received, xs.rx_datagrams);
  EXPECT_EQ(redirected, received + xs.rx_dropped + xs.rx_ring_full);
  EXPECT_EQ(queue_->socket(0).stats().rx_datagrams, 0u);  // nothing strayed to worker 0
}

// Both workers of one queue drain their XSKs from their own threads at once: they share the
// queue's fill ring (XDP_SHARED_UMEM), which XskQueue guards. Every redirected datagram is
// received by its worker or counted as a kernel drop, and none reaches the other worker.
TEST_F(QuicXskVethTest, TwoWorkersDrainOneQueueConcurrently) {
  ASSERT_NO_FATAL_FAILURE(startXsks());
  std::vector<quic::ConnectionId> ids = {*quic::makeCid(0), *quic::makeCid(1)};
  for (const auto& id : ids) ASSERT_TRUE(steering_->registerCid(id).ok());
  int c4 = track(socketIn(ns_, AF_INET));
  ASSERT_GE(c4, 0);
  constexpr int kBurst = 20000;
  std::atomic<bool> sending{true};
  std::atomic<uint64_t> wrong{0};
  uint64_t received[kWorkers] = {};
  std::vector<std::thread> rx;
  for (int w = 0; w < kWorkers; w++) {
    rx.emplace_back([&, w] {
      auto idle_since = std::chrono::steady_clock::now();
      while (sending ||
             std::chrono::steady_clock::now() - idle_since < std::chrono::milliseconds(300)) {
        size_t n = queue_->socket(w).receive(64, [&](const xsk::UdpFrame& f) {
          received[w]++;
          auto h = quic::parseFirstHeader(f.payload);
          if (!h.ok() || quic::cidWorker(h->dcid).value_or(255) != w) wrong++;
        });
        if (n > 0) {
          idle_since = std::chrono::steady_clock::now();
        } else {
          queue_->socket(w).waitReadable(5);
        }
      }
    });
  }
  std::vector<Bytes> d = {ShortHeader(bytesOf(ids[0])), ShortHeader(bytesOf(ids[1]))};
  for (Bytes& one : d) one.resize(600, 0x22);
  for (int i = 0; i < kBurst; i++) sendFrom(c4, AF_INET, d[i % 2]);
  sending = false;
  for (std::thread& t : rx) t.join();
  EXPECT_EQ(wrong.load(), 0u);
  uint64_t drops = 0;
  for (int w = 0; w < kWorkers; w++) {
    xsk::XskStats xs = queue_->socket(w).stats();
    EXPECT_EQ(received[w], xs.rx_datagrams) << w;
    EXPECT_GT(received[w], 0u) << w;
    drops += xs.rx_dropped + xs.rx_ring_full;
  }
  uint64_t redirected = steering_->counters()[XSMB_QCNT_XQ_REDIRECT_XSK].second;
  EXPECT_EQ(redirected, received[0] + received[1] + drops);
  std::printf("two workers, one queue: %lu + %lu received, %lu dropped (kernel), %lu redirected\n",
              static_cast<unsigned long>(received[0]), static_cast<unsigned long>(received[1]),
              static_cast<unsigned long>(drops), static_cast<unsigned long>(redirected));
}

// Two receive queues: each worker has an XSK on each (an XSK takes only its own queue's frames,
// so the XSKMAP slot is queue * 256 + worker). Flows from 16 client sockets spread over both
// queues; each datagram still lands at its worker, on the queue it came in on.
// (XskInterface: the whole interface's XSKs, queue count from ETHTOOL_GCHANNELS.)
class QuicXskVethTwoQueuesTest : public QuicXskVethTest {
 protected:
  QuicXskVethTwoQueuesTest() { nqueues_ = 2; }
};

TEST_F(QuicXskVethTwoQueuesTest, EveryQueueDeliversToTheOwningWorker) {
  auto n = xsk::rxQueueCount("xqs0");
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(xsk::rxQueueCount("nosuchif0").status().code(), absl::StatusCode::kNotFound);
  xsk::SteeringOptions o;
  o.port = kPort;
  o.nworkers = kWorkers;
  o.xsk = true;
  auto s = QuicSteering::load(o);
  ASSERT_TRUE(s.ok()) << s.status();
  steering_ = std::move(*s);
  xsk::XskOptions xo;
  xo.ifname = "xqs0";
  xo.workers = kWorkers;
  xo.frames = 1024;
  xo.ring_size = 512;
  auto x = xsk::XskInterface::open(*steering_, xo, xsk::XdpMode::kNative);
  ASSERT_TRUE(x.ok()) << x.status();
  iface_ = std::move(*x);
  ASSERT_EQ(iface_->queues(), 2u);
  std::vector<quic::ConnectionId> ids = {*quic::makeCid(0), *quic::makeCid(1)};
  for (const auto& id : ids) ASSERT_TRUE(steering_->registerCid(id).ok());
  constexpr int kClients = 16, kEach = 5;
  for (int c = 0; c < kClients; c++) {
    int fd = track(socketIn(ns_, AF_INET));
    ASSERT_GE(fd, 0);
    for (int i = 0; i < kEach; i++) sendFrom(fd, AF_INET, ShortHeader(bytesOf(ids[c % 2])));
  }
  size_t want = kClients * kEach, total = 0;
  size_t per[2][kWorkers] = {};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (total < want && std::chrono::steady_clock::now() < deadline) {
    for (int w = 0; w < kWorkers; w++) {
      std::vector<xsk::XskSocket*> mine = iface_->socketsOf(w);
      for (int q = 0; q < nqueues_; q++) {
        mine[q]->waitReadable(5);
        mine[q]->receive(64, [&](const xsk::UdpFrame& f) {
          auto h = quic::parseFirstHeader(f.payload);
          EXPECT_TRUE(h.ok());
          if (h.ok()) EXPECT_EQ(quic::cidWorker(h->dcid).value_or(255), w) << "queue " << q;
          per[q][w]++;
          total++;
        });
      }
    }
  }
  std::printf("queue 0: worker 0 %zu, worker 1 %zu; queue 1: worker 0 %zu, worker 1 %zu\n",
              per[0][0], per[0][1], per[1][0], per[1][1]);
  EXPECT_EQ(total, want);
  EXPECT_EQ(per[0][0] + per[1][0], want / 2);
  EXPECT_EQ(per[0][1] + per[1][1], want / 2);
  EXPECT_EQ(iface_->statsOf(0).rx_datagrams, want / 2);
  EXPECT_EQ(iface_->statsOf(1).rx_datagrams, want / 2);
  EXPECT_EQ(steering_->counters()[XSMB_QCNT_XQ_PASS_NO_XSK].second, 0u);
  // Both queues carried traffic (the veth picks the queue from the flow's hash); if the kernel
  // ever put all flows on one queue this says so, it does not fail the steering.
  if (per[0][0] + per[0][1] == 0 || per[1][0] + per[1][1] == 0) {
    std::printf("note: all %d flows arrived on one queue\n", kClients);
  }
  // The program is attached natively while the XskInterface lives, and gone after.
  uint32_t id = 0;
  ASSERT_EQ(bpf_xdp_query_id(ifindex_, XDP_FLAGS_DRV_MODE, &id), 0);
  EXPECT_NE(id, 0u);
  EXPECT_EQ(steering_->attachXdp(ifindex_).code(), absl::StatusCode::kAlreadyExists);
  iface_.reset();
  ASSERT_EQ(bpf_xdp_query_id(ifindex_, 0, &id), 0);
  EXPECT_EQ(id, 0u);
}

}  // namespace
}  // namespace xsmb::bpf::test
