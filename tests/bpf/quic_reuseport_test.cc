// Privileged: xsmb_quic_reuseport loaded for real on groups of UDP sockets bound with
// SO_REUSEPORT on loopback (IPv4 and IPv6) in a network namespace of the test's own. Datagrams
// whose Destination Connection ID names worker w arrive only at worker w's socket, whichever
// source port they come from; Initial, foreign and malformed ones take the kernel's hash; the
// counters say which was which, exactly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include <map>

#include "common/quic/cid.h"
#include "server/transport/xsk/quic_steering.h"
#include "tests/bpf/bpf_fixture.h"
#include "tests/bpf/quic_frames.h"

namespace xsmb::bpf::test {
namespace {

using xsk::QuicSteering;

constexpr int kWorkers = 4;
constexpr uint16_t kPort = 4433;

struct Group {
  int family;
  std::vector<int> fds;  // fds[w] = worker w's socket
};

sockaddr_storage loopback(int family, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    *len = sizeof(*a);
  }
  return ss;
}

class QuicReuseportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = privilegeProblem();
    if (!why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(enterPrivateNetns(&why)) << why;
    xsk::SteeringOptions o;
    o.port = kPort;
    o.nworkers = kWorkers;
    auto s = QuicSteering::load(o);
    ASSERT_TRUE(s.ok()) << s.status();
    steering_ = std::move(*s);
  }
  void TearDown() override {
    for (Group& g : groups_) {
      for (int fd : g.fds) {
        if (fd >= 0) close(fd);
      }
    }
  }
  // kWorkers sockets on the loopback address of `family`, port kPort, in reuseport group
  // `group` of the program.
  Group& bindGroup(int family, uint32_t group) {
    Group g{family, {}};
    for (int w = 0; w < kWorkers; w++) {
      int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
      socklen_t len;
      sockaddr_storage ss = loopback(family, kPort, &len);
      EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
      g.fds.push_back(fd);
    }
    absl::Status st = steering_->attachReuseport(g.fds, group);
    EXPECT_TRUE(st.ok()) << st;
    groups_.push_back(g);
    return groups_.back();
  }
  // Sends one datagram from a fresh socket (a new source port each time).
  void send(int family, const Bytes& payload) {
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len;
    sockaddr_storage ss = loopback(family, kPort, &len);
    EXPECT_EQ(sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len),
              static_cast<ssize_t>(payload.size()))
        << strerror(errno);
    close(fd);
  }
  // Every datagram waiting on worker w's socket.
  std::vector<Bytes> drain(const Group& g, int w) {
    std::vector<Bytes> got;
    while (g.fds[w] >= 0) {
      Bytes buf(2048);
      ssize_t n = recv(g.fds[w], buf.data(), buf.size(), 0);
      if (n < 0) break;
      buf.resize(static_cast<size_t>(n));
      got.push_back(buf);
    }
    return got;
  }
  uint64_t counter(xsmb_quic_counter c) { return steering_->counters().at(c).second; }

  std::unique_ptr<QuicSteering> steering_;
  std::vector<Group> groups_;
};

Bytes cidFor(int worker) {
  auto c = quic::makeCid(static_cast<uint8_t>(worker));
  return Bytes(c->begin(), c->end());
}

TEST_F(QuicReuseportTest, EachWorkersIdsReachOnlyItsSocket) {
  bindGroup(AF_INET, 0);
  bindGroup(AF_INET6, 1);
  constexpr int kPerWorker = 12;
  for (const Group& g : groups_) {
    for (int i = 0; i < kPerWorker; i++) {
      for (int w = 0; w < kWorkers; w++) {
        // Short headers and second-flight long headers alike.
        send(g.family, i % 3 == 0 ? LongHeader(XSMB_QUIC_TYPE_HANDSHAKE, 1, cidFor(w))
                                  : ShortHeader(cidFor(w)));
      }
    }
  }
  for (const Group& g : groups_) {
    for (int w = 0; w < kWorkers; w++) {
      std::vector<Bytes> got = drain(g, w);
      EXPECT_EQ(got.size(), static_cast<size_t>(kPerWorker)) << "family " << g.family << " worker " << w;
      for (const Bytes& d : got) {
        auto h = quic::parseFirstHeader(d);
        ASSERT_TRUE(h.ok()) << h.status();
        EXPECT_EQ(quic::cidWorker(h->dcid).value_or(255), w);
      }
    }
  }
  uint64_t total = 2 * kPerWorker * kWorkers;
  EXPECT_EQ(counter(XSMB_QCNT_RQ_DATAGRAMS), total);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_SELECT_CID), total);
  for (int w = 0; w < kWorkers; w++) {
    EXPECT_EQ(steering_->workerStat(w).socket_packets, 2u * kPerWorker) << w;
  }
}

TEST_F(QuicReuseportTest, UnplaceableDatagramsTakeTheKernelsHashCounted) {
  Group& g = bindGroup(AF_INET, 0);
  const int kEach = 6;
  for (int i = 0; i < kEach; i++) {
    send(AF_INET, LongHeader(XSMB_QUIC_TYPE_INITIAL, 1, Bytes(8, static_cast<uint8_t>(i))));
    send(AF_INET, ShortHeader(cidFor(kWorkers + i)));  // a worker beyond nworkers
    Bytes foreign = cidFor(0);
    foreign[0] = 0x02;
    send(AF_INET, ShortHeader(foreign));
    send(AF_INET, Bytes{0x40, 1, 2, 3});  // short header cut in the DCID
  }
  send(AF_INET, {});  // empty datagram
  size_t delivered = 0;
  for (int w = 0; w < kWorkers; w++) delivered += drain(g, w).size();
  EXPECT_EQ(delivered, 4u * kEach + 1);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_DATAGRAMS), 4u * kEach + 1);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_HASH_INITIAL), static_cast<uint64_t>(kEach));
  EXPECT_EQ(counter(XSMB_QCNT_RQ_HASH_UNKNOWN), 2u * kEach);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_HASH_MALFORMED), kEach + 1u);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_SELECT_CID), 0u);
}

TEST_F(QuicReuseportTest, AClosedWorkersIdsFallBackToTheHash) {
  Group& g = bindGroup(AF_INET, 0);
  close(g.fds[3]);  // the kernel removes it from the sockarray
  g.fds[3] = -1;
  for (int i = 0; i < 8; i++) send(AF_INET, ShortHeader(cidFor(3)));
  send(AF_INET, ShortHeader(cidFor(1)));
  size_t delivered = 0;
  for (int w = 0; w < 3; w++) delivered += drain(g, w).size();
  EXPECT_EQ(delivered, 9u);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_SELECT_FAILED), 8u);
  EXPECT_EQ(counter(XSMB_QCNT_RQ_SELECT_CID), 1u);
}

}  // namespace
}  // namespace xsmb::bpf::test
