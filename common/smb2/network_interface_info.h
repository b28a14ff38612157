// NETWORK_INTERFACE_INFO, the output of FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5,
// 3.3.5.15.11): one 152-byte entry per interface address, chained by Next. All fields
// little-endian except the address and port inside SockAddr_Storage, which are in network byte
// order as in a sockaddr.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::smb2 {

// Capability flags (MS-SMB2 2.2.32.5).
constexpr uint32_t RSS_CAPABLE = 0x00000001;
constexpr uint32_t RDMA_CAPABLE = 0x00000002;

// SockAddr_Storage families (MS-SMB2 2.2.32.5.1): InterNetwork (IPv4), InterNetworkV6.
constexpr uint16_t kInterNetwork = 0x0002;
constexpr uint16_t kInterNetworkV6 = 0x0017;

// Size of one entry: Next (4), IfIndex (4), Capability (4), Reserved (4), LinkSpeed (8),
// SockAddr_Storage (128).
constexpr size_t kNetworkInterfaceInfoSize = 152;

struct NetworkInterfaceInfo {
  uint32_t if_index = 0;
  uint32_t capability = 0;  // RSS_CAPABLE | RDMA_CAPABLE
  uint64_t link_speed = 0;  // bits per second
  uint16_t family = kInterNetwork;
  // IPv4: the first 4 bytes (MS-SMB2 2.2.32.5.1.1 IPv4Address); IPv6: all 16 (2.2.32.5.1.2).
  std::array<uint8_t, 16> address{};
  bool operator==(const NetworkInterfaceInfo&) const = default;
};

// The FSCTL's output: the entries back to back, Next the offset of the following entry (0 in
// the last), Port, FlowInfo, ScopeId and the reserved bytes zero. Empty list: empty output.
Bytes encodeNetworkInterfaceInfo(const std::vector<NetworkInterfaceInfo>& list);

// The client side (tests, tools): decodes an output buffer (untrusted bytes). Entries are
// followed by Next from offset 0; STATUS_INVALID_PARAMETER when an entry does not fit, Next is
// not a multiple of 8 or points backwards or into the entry, a family is neither IPv4 nor IPv6,
// or more than kMaxNetworkInterfaceDecode entries are chained.
constexpr size_t kMaxNetworkInterfaceDecode = 4096;
NtStatus decodeNetworkInterfaceInfo(ByteSpan data, std::vector<NetworkInterfaceInfo>* out);

}  // namespace xsmb::smb2
