// xsmb-quic-bridge: lets an SMB client that speaks TCP (smbclient, the integration tests'
// Python client) reach an SMB-over-QUIC server (MS-SMB2 2.1). It listens on a local TCP port
// and carries each accepted connection over a QUIC connection of its own (tunnel.h).
//
//   xsmb-quic-bridge --server HOST:PORT [--listen HOST:PORT] [--alpn smb] [--ca FILE |
//                    --insecure] [--sni NAME] [--migrate-after-bytes N]
//   xsmb-quic-bridge --server HOST:PORT --probe [--alpn ...]   one handshake; exit 0 if it
//                    completed, 1 (and the reason, e.g. the TLS alert) if not
//
// On start it prints "listening on HOST:PORT" (the port the kernel chose for :0) on stdout.
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "tools/xsmb-quic-bridge/tunnel.h"

namespace xsmb::quicbridge {
namespace {

bool resolve(const std::string& hostport, int socktype, sockaddr_storage* out, socklen_t* len) {
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

int usage() {
  std::fprintf(
      stderr,
      "usage: xsmb-quic-bridge --server HOST:PORT [--listen HOST:PORT] [--alpn NAME]\n"
      "       [--ca FILE | --insecure] [--sni NAME] [--migrate-after-bytes N] [--probe]\n");
  return 2;
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string n;
    if (a == "--insecure") {
      o->insecure = true;
    } else if (a == "--probe") {
      o->probe = true;
    } else if (a == "--server"                ? !value(&o->server)
               : a == "--listen"              ? !value(&o->listen)
               : a == "--alpn"                ? !value(&o->alpn)
               : a == "--ca"                  ? !value(&o->ca)
               : a == "--sni"                 ? !value(&o->sni)
               : a == "--migrate-after-bytes" ? !value(&n)
                                              : true) {
      return false;
    }
    if (!n.empty()) o->migrate_after_bytes = std::strtoull(n.c_str(), nullptr, 10);
  }
  return !o->server.empty() && (o->insecure || !o->ca.empty());
}

class Bridge {
 public:
  Bridge(const Options& o, gnutls_certificate_credentials_t cred) : o_(o), cred_(cred) {}
  int probe();
  int serve();

 private:
  void watch(int fd, uint32_t events, uint64_t tag, bool add);
  void acceptOne();
  void service(int id, uint32_t events, bool udp);
  void reap(int id);
  int timeoutMillis() const;

  const Options& o_;
  gnutls_certificate_credentials_t cred_;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
  int epfd_ = epoll_create1(EPOLL_CLOEXEC);
  int listen_fd_ = -1;
  int next_id_ = 1;
  std::map<int, std::unique_ptr<Tunnel>> tunnels_;
};

// epoll tags: 0 the listener; 2*id the tunnel's TCP socket, 2*id+1 its UDP socket.
void Bridge::watch(int fd, uint32_t events, uint64_t tag, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  epoll_ctl(epfd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

int Bridge::timeoutMillis() const {
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

int Bridge::probe() {
  if (!resolve(o_.server, SOCK_DGRAM, &server_, &server_len_)) return usage();
  Tunnel t(o_, cred_, -1, 0);
  if (t.start(server_, server_len_)) watch(t.udpFd(), EPOLLIN, 1, true);
  for (int rounds = 0; !t.done() && rounds < 100; ++rounds) {
    epoll_event ev[4];
    const int n = epoll_wait(epfd_, ev, 4, 100);
    if (n > 0) t.onUdpReadable();
    t.onTimer();
  }
  std::printf("%s\n", t.done() ? t.outcome().c_str() : "no answer");
  return t.done() && t.outcome() == "ok" ? 0 : 1;
}

void Bridge::acceptOne() {
  const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  const int id = next_id_++;
  auto t = std::make_unique<Tunnel>(o_, cred_, fd, id);
  if (!t->start(server_, server_len_)) return;
  watch(t->udpFd(), EPOLLIN, 2 * static_cast<uint64_t>(id) + 1, true);
  watch(t->tcpFd(), 0, 2 * static_cast<uint64_t>(id), true);
  tunnels_[id] = std::move(t);
}

void Bridge::service(int id, uint32_t events, bool udp) {
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

void Bridge::reap(int id) {
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
  watch(t.tcpFd(), (t.wantTcpRead() ? EPOLLIN : 0) | (t.wantTcpWrite() ? EPOLLOUT : 0),
        2 * static_cast<uint64_t>(id), false);
}

int Bridge::serve() {
  sockaddr_storage listen{};
  socklen_t listen_len = 0;
  if (!resolve(o_.server, SOCK_DGRAM, &server_, &server_len_) ||
      !resolve(o_.listen, SOCK_STREAM, &listen, &listen_len)) {
    return usage();
  }
  listen_fd_ = socket(listen.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&listen), listen_len) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&listen), &listen_len) != 0) {
    std::fprintf(stderr, "xsmb-quic-bridge: %s: %s\n", o_.listen.c_str(), std::strerror(errno));
    return 1;
  }
  char host[64] = "";
  inet_ntop(listen.ss_family, &reinterpret_cast<sockaddr_in&>(listen).sin_addr, host, sizeof(host));
  std::printf("listening on %s:%u\n", host, ntohs(reinterpret_cast<sockaddr_in&>(listen).sin_port));
  std::fflush(stdout);
  watch(listen_fd_, EPOLLIN, 0, true);
  for (;;) {
    epoll_event ev[64];
    const int n = epoll_wait(epfd_, ev, 64, timeoutMillis());
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = ev[i].data.u64;
      if (tag == 0) {
        acceptOne();
      } else {
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
}

}  // namespace
}  // namespace xsmb::quicbridge

int main(int argc, char** argv) {
  using namespace xsmb::quicbridge;
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stderr, nullptr, _IOLBF, 0);
  Options o;
  if (!parse(argc, argv, &o)) return usage();
  gnutls_certificate_credentials_t cred = nullptr;
  gnutls_certificate_allocate_credentials(&cred);
  if (!o.ca.empty() &&
      gnutls_certificate_set_x509_trust_file(cred, o.ca.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
    std::fprintf(stderr, "xsmb-quic-bridge: no certificate in %s\n", o.ca.c_str());
    return 1;
  }
  Bridge b(o, cred);
  return o.probe ? b.probe() : b.serve();
}
