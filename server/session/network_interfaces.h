// The server's network interfaces as FSCTL_QUERY_NETWORK_INTERFACE_INFO reports them
// (MS-SMB2 3.3.5.15.11, 2.2.32.5): the addresses xsmbd listens on, each with its interface's
// index, link speed and RSS/RDMA capability.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/smb2/network_interface_info.h"
#include "server/config/smb_conf.h"

namespace xsmb::session {

// The options of one "interfaces" entry in Samba's syntax: "NAME[;OPTION[,OPTION...]]" with
// NAME an interface name or address and OPTION one of speed=N (bits per second, > 0),
// capability=RSS, capability=RDMA, if_index=N (> 0). InvalidArgument for an unknown option or
// a malformed number.
struct InterfaceOptions {
  std::string name;
  std::optional<uint64_t> speed;
  uint32_t capability = 0;  // smb2::RSS_CAPABLE | smb2::RDMA_CAPABLE
  std::optional<uint32_t> if_index;
};
absl::StatusOr<InterfaceOptions> parseInterfaceEntry(std::string_view entry);

// Link speed reported where neither "interfaces" nor the kernel (/sys/class/net/NAME/speed)
// gives one: 1 Gbit/s, as Samba.
constexpr uint64_t kDefaultLinkSpeed = 1000000000;

// Every address of an interface that is up and that xsmbd listens on ("bind interfaces only":
// the listed ones; else every interface but loopback, which is listed only when nothing else
// is), IPv6 link-local addresses left out. Per address: the interface index (if_nametoindex,
// or if_index=), LinkSpeed (speed=, else the kernel's Mbit/s * 10^6, else kDefaultLinkSpeed),
// RSS_CAPABLE (capability=RSS, or more than one receive queue in /sys/class/net/NAME/queues),
// RDMA_CAPABLE only while an RDMA backend serves the interface (setRdmaInterfaces). Entries with
// malformed options are reported without them.
std::vector<smb2::NetworkInterfaceInfo> collectNetworkInterfaces(const config::GlobalConfig& g);

// For the RDMA backend (issue 16's rdma-core listener): the interface names whose addresses it
// accepts SMB Direct connections on; they are reported RDMA_CAPABLE from now on (an empty list:
// no RDMA). Callable from any thread.
void setRdmaInterfaces(std::vector<std::string> names);

}  // namespace xsmb::session
