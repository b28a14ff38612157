// Socket helpers of the TCP transport: listening sockets, peer names, "socket options".
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "server/config/smb_conf.h"

namespace xsmb::transport {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 (with %scope for link-local)
  uint16_t port;
};

// Creates a non-blocking SO_REUSEPORT listening socket; -1 with errno on failure.
int listenOn(const ListenAddress& a);

// "ip:port" of an IPv4 or IPv6 socket address ("?:0" for another family).
std::string peerName(const sockaddr_storage& ss);

// Samba's "socket options" on an accepted connection (IP_TOS becomes the traffic class on
// IPv6). A failure is logged once per option word (the kernel refuses the same value every time).
void applySocketOptions(int fd, int family, const std::vector<config::SocketOption>& opts);

}  // namespace xsmb::transport
