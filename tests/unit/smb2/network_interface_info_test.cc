// NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5): the encoder's layout byte for byte, round trips,
// and the decoder fed every truncation and a table of malformed chains.
#include "common/smb2/network_interface_info.h"

#include <gtest/gtest.h>

namespace xsmb::smb2 {
namespace {

NetworkInterfaceInfo v4() {
  NetworkInterfaceInfo n;
  n.if_index = 2;
  n.capability = RSS_CAPABLE;
  n.link_speed = 10000000000ULL;
  n.family = kInterNetwork;
  n.address = {192, 168, 1, 10};
  return n;
}

NetworkInterfaceInfo v6() {
  NetworkInterfaceInfo n;
  n.if_index = 3;
  n.capability = RSS_CAPABLE | RDMA_CAPABLE;
  n.link_speed = 1000000000;
  n.family = kInterNetworkV6;
  for (int i = 0; i < 16; ++i) n.address[i] = static_cast<uint8_t>(0x20 + i);
  return n;
}

TEST(NetworkInterfaceInfo, LayoutOfTwoEntries) {
  Bytes b = encodeNetworkInterfaceInfo({v4(), v6()});
  ASSERT_EQ(b.size(), 2 * kNetworkInterfaceInfoSize);
  // Next, IfIndex, Capability, Reserved, LinkSpeed (little-endian).
  EXPECT_EQ(loadU32(&b[0]), 152u);
  EXPECT_EQ(loadU32(&b[4]), 2u);
  EXPECT_EQ(loadU32(&b[8]), RSS_CAPABLE);
  EXPECT_EQ(loadU32(&b[12]), 0u);
  EXPECT_EQ(loadU64(&b[16]), 10000000000ULL);
  // SockAddr_Storage: Family, Port (0), IPv4Address in network order, zeros.
  EXPECT_EQ(loadU16(&b[24]), kInterNetwork);
  EXPECT_EQ(loadU16(&b[26]), 0);
  EXPECT_EQ(b[28], 192);
  EXPECT_EQ(b[31], 10);
  for (size_t i = 32; i < 152; ++i) EXPECT_EQ(b[i], 0) << i;
  // The second (last) entry: Next 0; IPv6 address after Port and FlowInfo.
  const uint8_t* e = &b[152];
  EXPECT_EQ(loadU32(e), 0u);
  EXPECT_EQ(loadU32(e + 8), RSS_CAPABLE | RDMA_CAPABLE);
  EXPECT_EQ(loadU16(e + 24), kInterNetworkV6);
  EXPECT_EQ(loadU32(e + 28), 0u);  // FlowInfo
  EXPECT_EQ(e[32], 0x20);
  EXPECT_EQ(e[47], 0x2F);
  EXPECT_EQ(loadU32(e + 48), 0u);  // ScopeId
}

TEST(NetworkInterfaceInfo, RoundTripAndEveryTruncation) {
  std::vector<NetworkInterfaceInfo> list = {v4(), v6(), v4()};
  Bytes b = encodeNetworkInterfaceInfo(list);
  std::vector<NetworkInterfaceInfo> out;
  ASSERT_EQ(decodeNetworkInterfaceInfo(b, &out), STATUS_SUCCESS);
  EXPECT_EQ(out, list);
  for (size_t n = 0; n < b.size(); ++n) {
    EXPECT_EQ(decodeNetworkInterfaceInfo(ByteSpan(b.data(), n), &out), STATUS_INVALID_PARAMETER)
        << "cut at " << n;
  }
  EXPECT_TRUE(encodeNetworkInterfaceInfo({}).empty());
}

TEST(NetworkInterfaceInfo, MalformedChains) {
  struct Case {
    const char* description;
    size_t offset;  // where the 32-bit value is stored in a two-entry buffer
    uint32_t value;
  };
  const Case cases[] = {
      {"Next into the entry itself", 0, 8},
      {"Next not a multiple of 8", 0, 156},
      {"Next past the end", 0, 304},
      {"unknown family", 24, 0x0005},
      {"the last entry chains to an entry past the end", 152, 152},
  };
  for (const Case& c : cases) {
    Bytes b = encodeNetworkInterfaceInfo({v4(), v6()});
    if (c.offset == 24) {
      storeU16(&b[c.offset], static_cast<uint16_t>(c.value));
    } else {
      storeU32(&b[c.offset], c.value);
    }
    std::vector<NetworkInterfaceInfo> out;
    EXPECT_EQ(decodeNetworkInterfaceInfo(b, &out), STATUS_INVALID_PARAMETER) << c.description;
  }
}

}  // namespace
}  // namespace xsmb::smb2
