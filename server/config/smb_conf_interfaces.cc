// Interface lookup: the addresses xsmbd listens on, from "interfaces" (addresses, "a.b.c.d/n"
// prefixes, or interface names resolved with getifaddrs(3)) and "bind interfaces only".
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/config/smb_conf.h"

namespace xsmb::config {

absl::StatusOr<std::vector<std::string>> listenAddresses(const GlobalConfig& global) {
  if (!global.bind_interfaces_only) return std::vector<std::string>{"0.0.0.0", "::"};
  if (global.interfaces.empty()) {
    return absl::InvalidArgumentError(
        "\"bind interfaces only\" is set but \"interfaces\" is empty");
  }
  std::vector<std::string> out;
  auto addUnique = [&out](std::string a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(std::move(a));
  };
  struct ifaddrs* ifs = nullptr;
  bool have_ifs = false;
  for (const std::string& item : global.interfaces) {
    // Samba's per-interface options ("eth0;speed=...,capability=RSS") concern
    // FSCTL_QUERY_NETWORK_INTERFACE_INFO only (server/session/network_interfaces.h).
    const std::string entry = item.substr(0, item.find(';'));
    std::string addr = entry.substr(0, entry.find('/'));
    in_addr v4;
    in6_addr v6;
    if (inet_pton(AF_INET, addr.c_str(), &v4) == 1 || inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
      addUnique(addr);
      continue;
    }
    if (entry.find('/') != std::string::npos) {
      if (ifs) freeifaddrs(ifs);
      return absl::InvalidArgumentError(
          absl::StrCat("interfaces entry \"", entry, "\" is not a valid address/prefix"));
    }
    if (!have_ifs) {
      if (getifaddrs(&ifs) != 0) {
        int err = errno;
        return absl::ErrnoToStatus(err, "getifaddrs");
      }
      have_ifs = true;
    }
    bool found = false;
    for (struct ifaddrs* i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || !i->ifa_name || entry != i->ifa_name) continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (i->ifa_addr->sa_family == AF_INET) {
        auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        addUnique(text);
        found = true;
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        // A link-local address is only usable together with its interface.
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
          addUnique(absl::StrCat(text, "%", entry));
        } else {
          addUnique(text);
        }
        found = true;
      }
    }
    if (!found) {
      if (ifs) freeifaddrs(ifs);
      return absl::NotFoundError(
          absl::StrCat("interfaces entry \"", entry,
                       "\" is neither an IP address nor an interface with an "
                       "address"));
    }
  }
  if (ifs) freeifaddrs(ifs);
  return out;
}

}  // namespace xsmb::config
