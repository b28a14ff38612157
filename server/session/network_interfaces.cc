#include "server/session/network_interfaces.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>

#include "common/base/unicode.h"

namespace xsmb::session {
namespace {

std::mutex rdma_mu;
std::vector<std::string>& rdmaNames() {
  static auto* names = new std::vector<std::string>();
  return *names;
}

bool rdmaServes(const std::string& ifname) {
  std::lock_guard<std::mutex> lock(rdma_mu);
  const auto& n = rdmaNames();
  return std::find(n.begin(), n.end(), ifname) != n.end();
}

template <typename T>
bool parseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

// The kernel's link speed in bits per second (0: unknown, as for loopback and virtual links).
uint64_t kernelLinkSpeed(const std::string& ifname) {
  std::ifstream f("/sys/class/net/" + ifname + "/speed");
  long long mbits = 0;
  if (!(f >> mbits) || mbits <= 0) return 0;
  return static_cast<uint64_t>(mbits) * 1000000;
}

// More than one receive queue: the NIC spreads flows over CPUs (receive side scaling).
bool kernelRss(const std::string& ifname) {
  DIR* d = opendir(("/sys/class/net/" + ifname + "/queues").c_str());
  if (!d) return false;
  int rx = 0;
  while (struct dirent* e = readdir(d)) {
    if (std::string_view(e->d_name).starts_with("rx-")) ++rx;
  }
  closedir(d);
  return rx > 1;
}

std::string addressText(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof(text));
  }
  return text;
}

// The options of the "interfaces" entry naming this interface or address, if any.
std::optional<InterfaceOptions> optionsFor(const config::GlobalConfig& g, const std::string& ifname,
                                           const std::string& addr) {
  for (const std::string& entry : g.interfaces) {
    auto o = parseInterfaceEntry(entry);
    if (!o.ok()) continue;
    if (o->name == ifname || o->name == addr || o->name.substr(0, o->name.find('/')) == addr) {
      return *o;
    }
  }
  return std::nullopt;
}

// Whether xsmbd listens on `addr` of interface `ifname` (see collectNetworkInterfaces).
bool listenedOn(const config::GlobalConfig& g, const std::string& ifname, const std::string& addr) {
  if (!g.bind_interfaces_only) return true;
  return optionsFor(g, ifname, addr).has_value();
}

smb2::NetworkInterfaceInfo describe(const config::GlobalConfig& g, const struct ifaddrs* i) {
  std::string ifname = i->ifa_name;
  std::string addr = addressText(i->ifa_addr);
  std::optional<InterfaceOptions> opt = optionsFor(g, ifname, addr);
  smb2::NetworkInterfaceInfo n;
  n.if_index = opt && opt->if_index ? *opt->if_index : if_nametoindex(i->ifa_name);
  n.link_speed = opt && opt->speed ? *opt->speed : kernelLinkSpeed(ifname);
  if (n.link_speed == 0) n.link_speed = kDefaultLinkSpeed;
  uint32_t caps = opt ? opt->capability : 0;
  if (kernelRss(ifname)) caps |= smb2::RSS_CAPABLE;
  n.capability = caps & smb2::RSS_CAPABLE;
  if (rdmaServes(ifname)) n.capability |= smb2::RDMA_CAPABLE;
  if (i->ifa_addr->sa_family == AF_INET) {
    n.family = smb2::kInterNetwork;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    std::memcpy(n.address.data(), &sin->sin_addr, 4);
  } else {
    n.family = smb2::kInterNetworkV6;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    std::memcpy(n.address.data(), &sin6->sin6_addr, 16);
  }
  return n;
}

}  // namespace

absl::StatusOr<InterfaceOptions> parseInterfaceEntry(std::string_view entry) {
  InterfaceOptions o;
  size_t semi = entry.find(';');
  o.name = std::string(entry.substr(0, semi));
  if (o.name.empty()) return absl::InvalidArgumentError("interfaces entry without a name");
  if (semi == std::string_view::npos) return o;
  std::string_view rest = entry.substr(semi + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view opt = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    std::string_view key = opt.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : opt.substr(eq + 1);
    bool ok = true;
    if (equalsIgnoreCase(key, "speed")) {
      uint64_t v = 0;
      ok = parseNumber(value, &v);
      o.speed = v;
    } else if (equalsIgnoreCase(key, "if_index")) {
      uint32_t v = 0;
      ok = parseNumber(value, &v);
      o.if_index = v;
    } else if (equalsIgnoreCase(key, "capability") && equalsIgnoreCase(value, "RSS")) {
      o.capability |= smb2::RSS_CAPABLE;
    } else if (equalsIgnoreCase(key, "capability") && equalsIgnoreCase(value, "RDMA")) {
      o.capability |= smb2::RDMA_CAPABLE;
    } else {
      ok = false;
    }
    if (!ok) {
      return absl::InvalidArgumentError("interfaces entry \"" + std::string(entry) +
                                        "\": bad option \"" + std::string(opt) + "\"");
    }
  }
  return o;
}

std::vector<smb2::NetworkInterfaceInfo> collectNetworkInterfaces(const config::GlobalConfig& g) {
  std::vector<smb2::NetworkInterfaceInfo> out, loopback;
  struct ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (struct ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || !i->ifa_name || !(i->ifa_flags & IFF_UP)) continue;
    int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (family == AF_INET6 &&
        IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr)) {
      continue;
    }
    if (!listenedOn(g, i->ifa_name, addressText(i->ifa_addr))) continue;
    bool lo = i->ifa_flags & IFF_LOOPBACK;
    (lo && !g.bind_interfaces_only ? loopback : out).push_back(describe(g, i));
  }
  freeifaddrs(ifs);
  return out.empty() ? loopback : out;
}

void setRdmaInterfaces(std::vector<std::string> names) {
  std::lock_guard<std::mutex> lock(rdma_mu);
  rdmaNames() = std::move(names);
}

}  // namespace xsmb::session
