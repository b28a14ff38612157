// SMB Direct's start-up on rdma-core without a device: each way it can find nothing, or fail,
// through stand-ins for rdma-core's calls (RdmaCmApi), gives one "SMB Direct: ...; serving
// TCP only" line, no service and nothing left behind; a listener that starts says where it
// listens; and rdma-core's own calls on this machine find no device.
#include "server/smbdirect/rdma_start.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/smbdirect/rdma_cm.h"

namespace xsmb::smbdirect {
namespace {

// What the stand-ins return and what they saw. Plain functions (RdmaCmApi holds C function
// pointers), so the state is global and reset by each test.
struct Fake {
  std::vector<ibv_device> devices;
  bool list_null = false;
  int list_errno = 0;
  int fail_channel = 0, fail_create_id = 0, fail_bind = 0, fail_listen = 0;  // errno, 0 = ok
  int ids_created = 0, ids_destroyed = 0, channels_destroyed = 0, listens = 0;
  std::vector<std::string> bound;
  int pipe_fds[2] = {-1, -1};
  rdma_event_channel channel{};
  std::vector<rdma_cm_id> ids = std::vector<rdma_cm_id>(16);
  std::vector<ibv_device*> list;
};
Fake* g = nullptr;

ibv_device** fakeList(int* n) {
  if (g->list_null) {
    errno = g->list_errno;
    *n = 0;
    return nullptr;
  }
  g->list.clear();
  for (ibv_device& d : g->devices) g->list.push_back(&d);
  g->list.push_back(nullptr);
  *n = static_cast<int>(g->devices.size());
  return g->list.data();
}
void fakeFreeList(ibv_device**) {}
rdma_event_channel* fakeChannel() {
  if (g->fail_channel) {
    errno = g->fail_channel;
    return nullptr;
  }
  EXPECT_EQ(pipe2(g->pipe_fds, O_CLOEXEC), 0);
  g->channel.fd = g->pipe_fds[0];  // never readable: no event ever arrives
  return &g->channel;
}
void fakeDestroyChannel(rdma_event_channel*) {
  ++g->channels_destroyed;
  close(g->pipe_fds[0]);
  close(g->pipe_fds[1]);
}
int fakeCreateId(rdma_event_channel*, rdma_cm_id** id, void*, rdma_port_space) {
  if (g->fail_create_id) {
    errno = g->fail_create_id;
    return -1;
  }
  *id = &g->ids.at(static_cast<size_t>(g->ids_created++));
  return 0;
}
int fakeDestroyId(rdma_cm_id*) {
  ++g->ids_destroyed;
  return 0;
}
int fakeSetOption(rdma_cm_id*, int, int, void*, size_t) { return 0; }
int fakeBind(rdma_cm_id*, sockaddr* sa) {
  if (g->fail_bind) {
    errno = g->fail_bind;
    return -1;
  }
  g->bound.push_back(sa->sa_family == AF_INET6 ? "v6" : "v4");
  return 0;
}
int fakeListen(rdma_cm_id*, int) {
  if (g->fail_listen) {
    errno = g->fail_listen;
    return -1;
  }
  ++g->listens;
  return 0;
}

const RdmaCmApi kFakeApi = {fakeList,           fakeFreeList, fakeChannel,
                            fakeDestroyChannel, fakeCreateId, fakeDestroyId,
                            fakeSetOption,      fakeBind,     fakeListen};

ibv_device device(const char* name, ibv_transport_type transport) {
  ibv_device d{};
  std::strncpy(d.name, name, sizeof(d.name) - 1);
  d.transport_type = transport;
  d.node_type = transport == IBV_TRANSPORT_IWARP ? IBV_NODE_RNIC : IBV_NODE_CA;
  return d;
}

class RdmaStartTest : public ::testing::Test {
 protected:
  void SetUp() override { g = &fake_; }
  void TearDown() override { g = nullptr; }
  RdmaStart start(RdmaSettings::Mode mode = RdmaSettings::Mode::kAuto) {
    settings_.mode = mode;
    return startSmbDirect(settings_, nullptr, &counters_, kFakeApi);
  }
  // Whatever failed, nothing is left: every id made is destroyed, and the channel too.
  void expectNothingLeft() {
    EXPECT_EQ(fake_.ids_created, fake_.ids_destroyed);
    EXPECT_EQ(fake_.channels_destroyed,
              fake_.fail_channel || fake_.list_null || fake_.devices.empty() ? 0 : 1);
  }
  Fake fake_;
  RdmaSettings settings_;
  RdmaCounters counters_;
};

TEST_F(RdmaStartTest, OffTriesNothingAndSaysNothing) {
  fake_.devices = {device("mlx5_0", IBV_TRANSPORT_IB)};
  RdmaStart r = start(RdmaSettings::Mode::kNo);
  EXPECT_EQ(r.service, nullptr);
  EXPECT_EQ(r.log_line, "");
  EXPECT_EQ(fake_.ids_created, 0);
  EXPECT_EQ(counters_.state(), "off (smb direct = no)");
}

struct FailCase {
  const char* description;
  void (*arrange)(Fake*);
  const char* line;
};

class RdmaStartFailTest : public RdmaStartTest, public ::testing::WithParamInterface<FailCase> {};

TEST_P(RdmaStartFailTest, OneLineAndTcpOnly) {
  fake_.devices = {device("siw0", IBV_TRANSPORT_IWARP)};
  GetParam().arrange(&fake_);
  RdmaStart r = start();
  EXPECT_EQ(r.service, nullptr);
  EXPECT_EQ(r.log_line, GetParam().line);
  EXPECT_EQ(r.log_line.find('\n'), std::string::npos);
  EXPECT_EQ("SMB Direct: " + counters_.state(), r.log_line);
  expectNothingLeft();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RdmaStartFailTest,
    ::testing::Values(
        FailCase{"empty device list", [](Fake* f) { f->devices.clear(); },
                 "SMB Direct: no RDMA device found; serving TCP only"},
        FailCase{"no RDMA subsystem (NULL, ENOSYS)",
                 [](Fake* f) {
                   f->list_null = true;
                   f->list_errno = ENOSYS;
                 },
                 "SMB Direct: no RDMA device found; serving TCP only"},
        FailCase{"device list refused",
                 [](Fake* f) {
                   f->list_null = true;
                   f->list_errno = EACCES;
                 },
                 "SMB Direct: ibv_get_device_list: Permission denied; serving TCP only"},
        FailCase{"no rdma_cm device node", [](Fake* f) { f->fail_channel = ENODEV; },
                 "SMB Direct: rdma_create_event_channel: No such device; serving TCP only"},
        FailCase{"rdma_create_id fails", [](Fake* f) { f->fail_create_id = ENODEV; },
                 "SMB Direct: rdma_create_id 0.0.0.0:5445: No such device; serving TCP only"},
        FailCase{"rdma_bind_addr fails", [](Fake* f) { f->fail_bind = EADDRINUSE; },
                 "SMB Direct: rdma_bind_addr 0.0.0.0:5445: Address already in use; serving TCP "
                 "only"},
        FailCase{"rdma_listen fails", [](Fake* f) { f->fail_listen = ENOMEM; },
                 "SMB Direct: rdma_listen 0.0.0.0:5445: Cannot allocate memory; serving TCP "
                 "only"}),
    [](const ::testing::TestParamInfo<FailCase>& info) {
      std::string name;
      for (const char* p = info.param.description; *p; ++p) {
        if (std::isalnum(static_cast<unsigned char>(*p))) name += *p;
      }
      return name;
    });

TEST_F(RdmaStartTest, ListensOnEveryAddressAndPortOfTheDevicesKinds) {
  fake_.devices = {device("siw0", IBV_TRANSPORT_IWARP), device("mlx5_0", IBV_TRANSPORT_IB)};
  settings_.hosts = {"0.0.0.0", "::"};
  {
    RdmaStart r = start(RdmaSettings::Mode::kYes);
    ASSERT_NE(r.service, nullptr) << r.log_line;
    EXPECT_EQ(r.log_line,
              "SMB Direct: listening on 0.0.0.0:5445, 0.0.0.0:445, [::]:5445, [::]:445; devices "
              "siw0 (iWARP), mlx5_0 (InfiniBand/RoCE)");
    EXPECT_EQ(fake_.listens, 4);
    EXPECT_EQ(fake_.bound, (std::vector<std::string>{"v4", "v4", "v6", "v6"}));
    EXPECT_EQ(fake_.ids_destroyed, 0);
  }
  // Destroying the service stops its thread and releases the ids and the channel.
  EXPECT_EQ(fake_.ids_destroyed, 4);
  EXPECT_EQ(fake_.channels_destroyed, 1);
}

TEST_F(RdmaStartTest, ConfiguredPortReplacesTheDefaults) {
  fake_.devices = {device("mlx5_0", IBV_TRANSPORT_IB)};
  settings_.port = 5555;
  RdmaStart r = start();
  ASSERT_NE(r.service, nullptr);
  EXPECT_NE(r.log_line.find("0.0.0.0:5555;"), std::string::npos) << r.log_line;
}

TEST_F(RdmaStartTest, AnAddressThatIsNotNumericIsRefused) {
  fake_.devices = {device("mlx5_0", IBV_TRANSPORT_IB)};
  settings_.hosts = {"eth0"};
  RdmaStart r = start();
  EXPECT_EQ(r.service, nullptr);
  EXPECT_EQ(r.log_line, "SMB Direct: SMB Direct address eth0:445 is not numeric; serving TCP only");
  expectNothingLeft();
}

TEST(SmbDirectPorts, ByDeviceKindOrConfigured) {
  std::vector<RdmaDevice> iwarp = {{"siw0", true}}, ib = {{"mlx5_0", false}};
  EXPECT_EQ(smbDirectPorts(iwarp, 0), std::vector<uint16_t>{5445});
  EXPECT_EQ(smbDirectPorts(ib, 0), std::vector<uint16_t>{445});
  EXPECT_EQ(smbDirectPorts({{"a", false}, {"b", true}}, 0), (std::vector<uint16_t>{5445, 445}));
  EXPECT_EQ(smbDirectPorts(ib, 7445), std::vector<uint16_t>{7445});
}

// rdma-core itself, on this machine: there is no RDMA device (and no kernel module can add
// one), so the daemon's own start-up path must find none and serve TCP.
TEST(RealRdmaCore, NoDeviceHereMeansTcpOnly) {
  auto devices = listRdmaDevices(realRdmaCmApi());
  if (devices.ok()) GTEST_SKIP() << "this machine has an RDMA device: " << (*devices)[0].name;
  RdmaCounters counters;
  RdmaSettings settings;
  settings.mode = RdmaSettings::Mode::kAuto;
  RdmaStart r = startSmbDirect(settings, nullptr, &counters);
  EXPECT_EQ(r.service, nullptr);
  EXPECT_EQ(r.log_line, "SMB Direct: no RDMA device found; serving TCP only");
}

TEST(RdmaCounters, StatusListsEveryCounterAtZero) {
  RdmaCounters c;
  c.setState("no RDMA device found; serving TCP only");
  EXPECT_EQ(formatRdmaStatus(c),
            "smb direct: no RDMA device found; serving TCP only\n"
            "smb direct counters: connections 0, refused 0, open 0, rdma reads 0 (0 bytes), "
            "rdma writes 0 (0 bytes), send credits used 0, receive credits granted 0, peer "
            "credits used 0, send with invalidate 0, completion errors 0, cq wakeups 0\n");
}

}  // namespace
}  // namespace xsmb::smbdirect
