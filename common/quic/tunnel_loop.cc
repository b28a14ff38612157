#include "common/quic/tunnel_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace xsmb::quic {
namespace {

// epoll tags: 0 the listener, 1 the wake-up eventfd; 2*id the tunnel's TCP socket, 2*id+1 its
// UDP socket (ids start at 1).
constexpr uint64_t kListenTag = 0, kWakeTag = 1;

}  // namespace

bool resolveHostPort(const std::string& hostport, int socktype, sockaddr_storage* out,
                     socklen_t* len) {
  const size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = hostport.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = socktype;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), hostport.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

TunnelLoop::TunnelLoop(const TunnelOptions& o, gnutls_certificate_credentials_t cred)
    : o_(o), cred_(cred) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  watch(wake_fd_, EPOLLIN, kWakeTag, true);
}

TunnelLoop::~TunnelLoop() {
  tunnels_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  close(wake_fd_);
  close(epfd_);
}

void TunnelLoop::watch(int fd, uint32_t events, uint64_t tag, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  epoll_ctl(epfd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

int TunnelLoop::timeoutMillis() const {
  ngtcp2_tstamp next = UINT64_MAX;
  for (const auto& [id, t] : tunnels_) next = std::min(next, t->expiry());
  if (next == UINT64_MAX) return 1000;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const ngtcp2_tstamp now = static_cast<ngtcp2_tstamp>(ts.tv_sec) * NGTCP2_SECONDS +
                            static_cast<ngtcp2_tstamp>(ts.tv_nsec);
  return next <= now ? 0
                     : static_cast<int>(std::min<ngtcp2_tstamp>((next - now) / 1000000 + 1, 1000));
}

int TunnelLoop::probe() {
  if (!resolveHostPort(o_.server, SOCK_DGRAM, &server_, &server_len_)) {
    std::printf("cannot resolve %s\n", o_.server.c_str());
    return 1;
  }
  Tunnel t(o_, cred_, -1, 0);
  if (t.start(server_, server_len_)) watch(t.udpFd(), EPOLLIN, 3, true);
  for (int rounds = 0; !t.done() && rounds < 100; ++rounds) {
    epoll_event ev[4];
    const int n = epoll_wait(epfd_, ev, 4, 100);
    if (n > 0) t.onUdpReadable();
    t.onTimer();
  }
  std::printf("%s\n", t.done() ? t.outcome().c_str() : "no answer");
  return t.done() && t.outcome() == "ok" ? 0 : 1;
}

bool TunnelLoop::listen(std::string* err) {
  sockaddr_storage local{};
  socklen_t local_len = 0;
  if (!resolveHostPort(o_.server, SOCK_DGRAM, &server_, &server_len_)) {
    *err = o_.server + ": does not resolve";
    return false;
  }
  if (!resolveHostPort(o_.listen, SOCK_STREAM, &local, &local_len)) {
    *err = o_.listen + ": does not resolve";
    return false;
  }
  listen_fd_ = socket(local.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&local), local_len) != 0 ||
      ::listen(listen_fd_, 1024) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    *err = o_.listen + ": " + std::strerror(errno);
    return false;
  }
  port_ = ntohs(local.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                    : reinterpret_cast<sockaddr_in&>(local).sin_port);
  watch(listen_fd_, EPOLLIN, kListenTag, true);
  return true;
}

void TunnelLoop::acceptOne() {
  const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  const int id = next_id_++;
  auto t = std::make_unique<Tunnel>(o_, cred_, fd, id);
  if (!t->start(server_, server_len_)) return;
  watch(t->udpFd(), EPOLLIN, 2 * static_cast<uint64_t>(id) + 1, true);
  watch(t->tcpFd(), 0, 2 * static_cast<uint64_t>(id), true);
  tunnels_[id] = std::move(t);
}

void TunnelLoop::service(int id, uint32_t events, bool udp) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return;
  Tunnel& t = *it->second;
  if (udp) {
    t.onUdpReadable();
  } else {
    if (events & EPOLLOUT) t.onTcpWritable();
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) t.onTcpReadable();
  }
}

void TunnelLoop::reap(int id) {
  Tunnel& t = *tunnels_[id];
  if (t.done()) {
    tunnels_.erase(id);  // closing the sockets takes them out of the epoll set
    return;
  }
  if (t.takeUdpChanged()) watch(t.udpFd(), EPOLLIN, 2 * static_cast<uint64_t>(id) + 1, true);
  if (t.tcpEnded() && !t.wantTcpWrite()) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, t.tcpFd(), nullptr);  // EPOLLHUP would repeat
    return;
  }
  const uint32_t events = (t.wantTcpRead() ? uint32_t{EPOLLIN} : 0u) |
                          (t.wantTcpWrite() ? uint32_t{EPOLLOUT} : 0u);
  watch(t.tcpFd(), events, 2 * static_cast<uint64_t>(id), false);
}

void TunnelLoop::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    epoll_event ev[64];
    const int n = epoll_wait(epfd_, ev, 64, timeoutMillis());
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = ev[i].data.u64;
      if (tag == kListenTag) {
        acceptOne();
      } else if (tag != kWakeTag) {
        service(static_cast<int>(tag / 2), ev[i].events, tag % 2 == 1);
      }
    }
    std::vector<int> ids;
    for (auto& [id, t] : tunnels_) ids.push_back(id);
    for (int id : ids) {
      tunnels_[id]->onTimer();
      reap(id);
    }
  }
  tunnels_.clear();
}

void TunnelLoop::stop() {
  stop_ = true;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

}  // namespace xsmb::quic
