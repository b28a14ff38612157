// "interfaces" entries with Samba's per-interface options, and the interface list of
// FSCTL_QUERY_NETWORK_INTERFACE_INFO (server/session/network_interfaces.h).
#include "server/session/network_interfaces.h"

#include <gtest/gtest.h>

namespace xsmb::session {
namespace {

TEST(InterfaceEntry, Table) {
  struct Case {
    const char* entry;
    bool ok;
    const char* name;
    uint64_t speed;  // 0: none
    uint32_t capability;
    uint32_t if_index;  // 0: none
  };
  const Case cases[] = {
      {"eth0", true, "eth0", 0, 0, 0},
      {"10.0.0.1;speed=10000000000,capability=RSS", true, "10.0.0.1", 10000000000ULL,
       smb2::RSS_CAPABLE, 0},
      {"eth1;capability=RSS,capability=RDMA,if_index=7", true, "eth1", 0,
       smb2::RSS_CAPABLE | smb2::RDMA_CAPABLE, 7},
      {"eth0;", true, "eth0", 0, 0, 0},
      {"eth0;speed=0", false, "", 0, 0, 0},
      {"eth0;speed=12x", false, "", 0, 0, 0},
      {"eth0;speed=99999999999999999999999", false, "", 0, 0, 0},
      {"eth0;if_index=-1", false, "", 0, 0, 0},
      {"eth0;capability=FOO", false, "", 0, 0, 0},
      {"eth0;mtu=9000", false, "", 0, 0, 0},
      {";speed=1", false, "", 0, 0, 0},
  };
  for (const Case& c : cases) {
    auto o = parseInterfaceEntry(c.entry);
    ASSERT_EQ(o.ok(), c.ok) << c.entry;
    if (!c.ok) continue;
    EXPECT_EQ(o->name, c.name) << c.entry;
    EXPECT_EQ(o->speed.value_or(0), c.speed) << c.entry;
    EXPECT_EQ(o->capability, c.capability) << c.entry;
    EXPECT_EQ(o->if_index.value_or(0), c.if_index) << c.entry;
  }
}

// Loopback is always up: listed with bind interfaces only, with the configured speed; RDMA only
// while a backend serves the interface.
TEST(InterfaceList, LoopbackWithOptionsAndRdma) {
  config::GlobalConfig g;
  g.bind_interfaces_only = true;
  g.interfaces = {"127.0.0.1;speed=2500000000,capability=RSS,capability=RDMA,if_index=9"};
  auto list = collectNetworkInterfaces(g);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].family, smb2::kInterNetwork);
  EXPECT_EQ(list[0].address[0], 127);
  EXPECT_EQ(list[0].address[3], 1);
  EXPECT_EQ(list[0].link_speed, 2500000000ULL);
  EXPECT_EQ(list[0].if_index, 9u);
  EXPECT_EQ(list[0].capability, smb2::RSS_CAPABLE);  // no RDMA backend
  setRdmaInterfaces({"lo"});
  list = collectNetworkInterfaces(g);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].capability, smb2::RSS_CAPABLE | smb2::RDMA_CAPABLE);
  setRdmaInterfaces({});
  g.interfaces = {"lo"};
  list = collectNetworkInterfaces(g);
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list[0].link_speed, kDefaultLinkSpeed);  // the kernel knows no speed for lo
  EXPECT_EQ(list[0].capability, 0u);
}

}  // namespace
}  // namespace xsmb::session
