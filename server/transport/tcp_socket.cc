#include "server/transport/tcp_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "common/base/log.h"

namespace xsmb::transport {

std::string peerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

void applySocketOptions(int fd, int family, const std::vector<config::SocketOption>& opts) {
  static std::mutex logged_mu;
  static std::set<std::string> logged;
  for (const config::SocketOption& o : opts) {
    int level = o.level, name = o.name;
    if (family == AF_INET6 && level == IPPROTO_IP && name == IP_TOS) {
      level = IPPROTO_IPV6;
      name = IPV6_TCLASS;
    }
    if (setsockopt(fd, level, name, &o.value, sizeof(o.value)) == 0) continue;
    int err = errno;
    std::lock_guard<std::mutex> lock(logged_mu);
    if (logged.insert(o.text).second) {
      XLOG(WARNING) << "socket options: " << o.text << ": " << std::strerror(err);
    }
  }
}

int listenOn(const ListenAddress& a) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family;
  if (inet_pton(AF_INET, a.host.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    family = AF_INET;
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(a.port);
    len = sizeof(sockaddr_in);
  } else {
    std::string host = a.host;
    unsigned scope = 0;
    if (auto pct = host.find('%'); pct != std::string::npos) {
      scope = if_nametoindex(host.substr(pct + 1).c_str());
      host.resize(pct);
    }
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1) {
      errno = EINVAL;
      return -1;
    }
    family = AF_INET6;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(a.port);
    sa->sin6_scope_id = scope;
    len = sizeof(sockaddr_in6);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 512) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace xsmb::transport
