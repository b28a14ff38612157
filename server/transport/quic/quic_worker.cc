// The QUIC worker's loop: sockets, receiving, steering each datagram to its connection (or the
// worker its connection ID names), accepting Initial packets, timers. The SMB side of a
// connection is in quic_worker_smb.cc.
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netdb.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/quic/udp_gso.h"
#include "server/transport/quic/quic_cid.h"
#include "server/transport/quic/quic_conn.h"
#include "server/transport/quic/udp_receive_batch.h"

namespace xsmb::transport::quic {
namespace {

constexpr uint64_t kWakeTag = ~uint64_t{0};  // epoll tag of the eventfd; sockets use their index
constexpr uint64_t kSourceTag = uint64_t{1} << 40;  // | index: a DatagramSource
constexpr uint64_t kWatchTag = uint64_t{1} << 41;   // | index: a watch()ed descriptor
constexpr size_t kSourceBatch = 64;                 // datagrams per DatagramSource::receive
constexpr int kReceiveBurst = 8;                 // recvmmsg batches per socket per wakeup
constexpr size_t kFirstMaxMessage = 256 * 1024;  // until the acceptor says otherwise

std::string addressText(const sockaddr* sa) {
  char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
  getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in), host,
              sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
  return sa->sa_family == AF_INET6 ? absl::StrCat("[", host, "]:", port)
                                   : absl::StrCat(host, ":", port);
}

std::string cidKey(const uint8_t* data, size_t len) {
  return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace

QuicWorker::QuicWorker(Acceptor* acceptor, vfs::IoPool* pool, const QuicOptions* options,
                       const TlsServerContext* tls, uint8_t index, uint32_t loop_index,
                       const std::vector<QuicWorker*>* peers)
    : acceptor_(acceptor),
      pool_(pool),
      options_(options),
      tls_(tls),
      index_(index),
      loop_index_(loop_index),
      peers_(peers),
      epfd_(epoll_create1(EPOLL_CLOEXEC)),
      eventfd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, eventfd_.get(), &ev);
}

QuicWorker::~QuicWorker() { stop(); }

absl::Status QuicWorker::listen() {
  for (const std::string& host : options_->hosts) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(options_->port);
    if (int rv = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
        rv != 0) {
      return absl::InvalidArgumentError(absl::StrCat("quic: ", host, ": ", gai_strerror(rv)));
    }
    Socket s;
    s.fd.reset(socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    std::memcpy(&s.local, res->ai_addr, res->ai_addrlen);
    s.local_len = res->ai_addrlen;
    freeaddrinfo(res);
    const std::string where = addressText(reinterpret_cast<sockaddr*>(&s.local));
    if (!s.fd || setsockopt(s.fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(s.fd.get(), reinterpret_cast<sockaddr*>(&s.local), s.local_len) != 0) {
      return absl::UnavailableError(
          absl::StrCat("quic: cannot listen on UDP ", where, ": ", std::strerror(errno)));
    }
    (void)UdpReceiveBatch::enableGro(s.fd.get());  // without it: one datagram per message
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = sockets_.size();
    epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev);
    sockets_.push_back(std::move(s));
  }
  return absl::OkStatus();
}

void QuicWorker::addSource(std::unique_ptr<DatagramSource> source) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kSourceTag | sources_.size();
  epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, source->fd(), &ev);
  sources_.push_back(std::move(source));
}

void QuicWorker::watch(int fd, std::function<void()> on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWatchTag | watches_.size();
  epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev);
  watches_.push_back(std::move(on_readable));
}

std::vector<int> QuicWorker::socketFds() const {
  std::vector<int> fds;
  for (const Socket& s : sockets_) fds.push_back(s.fd.get());
  return fds;
}

uint16_t QuicWorker::boundPort() const {
  if (sockets_.empty()) return 0;
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  getsockname(sockets_[0].fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(a).sin6_port
                                       : reinterpret_cast<sockaddr_in&>(a).sin_port);
}

void QuicWorker::start(std::function<void()> on_start) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    if (on_start) on_start();
    run();
  });
}

void QuicWorker::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!write(eventfd_.get(), &one, sizeof(one));
  thread_.join();
}

void QuicWorker::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  (void)!write(eventfd_.get(), &one, sizeof(one));
}

void QuicWorker::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

void QuicWorker::run() {
  epoll_event events[16];
  while (!stop_) {
    const int n = epoll_wait(epfd_.get(), events, 16, waitMillis());
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        uint64_t v;
        (void)!read(eventfd_.get(), &v, sizeof(v));
      } else if (events[i].data.u64 & kWatchTag) {
        const uint64_t w = events[i].data.u64 & ~kWatchTag;
        if (w < watches_.size()) watches_[w]();
      } else if (events[i].data.u64 & kSourceTag) {
        receiveSource(events[i].data.u64 & ~kSourceTag);
      } else {
        receive(events[i].data.u64);
      }
    }
    runPosted();
    runTimers();
  }
  runPosted();
  std::vector<uint64_t> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    if (Conn* c = find(id)) c->session->close("server shutting down");
    closeConn(id, "worker stopped");
  }
}

int QuicWorker::waitMillis() const {
  ngtcp2_tstamp next = UINT64_MAX;
  auto held = std::chrono::steady_clock::time_point::max();
  for (const auto& [id, c] : conns_) {
    next = std::min(next, c->session->expiry());
    if (c->held) held = std::min(held, c->hold_until);
  }
  int64_t ms = 1000;
  if (next != UINT64_MAX) {
    const ngtcp2_tstamp now = quicNow();
    ms = next <= now ? 0 : static_cast<int64_t>((next - now + 999999) / 1000000);
  }
  if (held != std::chrono::steady_clock::time_point::max()) {
    ms = std::min<int64_t>(
        ms, std::chrono::ceil<std::chrono::milliseconds>(held - std::chrono::steady_clock::now())
                .count());
  }
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
}

void QuicWorker::runTimers() {
  const ngtcp2_tstamp now = quicNow();
  std::vector<uint64_t> due;
  for (const auto& [id, c] : conns_) {
    if (c->session->expiry() <= now) due.push_back(id);
  }
  for (uint64_t id : due) {
    if (Conn* c = find(id)) afterEvent(*c, c->session->onTimer());
  }
  releaseHeld(std::chrono::steady_clock::now());
  closeUnestablished(std::chrono::steady_clock::now());
}

// "session setup timeout" (docs/hardening.md), as on TCP: a handshake alone does not keep a
// connection; without an authenticated session in time it is closed.
void QuicWorker::closeUnestablished(std::chrono::steady_clock::time_point now) {
  if (options_->setup_timeout.count() == 0) return;
  std::vector<uint64_t> late;
  for (const auto& [id, c] : conns_) {
    if (c->cb && !c->established && now - c->accepted > options_->setup_timeout) {
      late.push_back(id);
    }
  }
  for (uint64_t id : late) {
    stats_.setup_timeouts++;
    if (Conn* c = find(id)) c->session->close("session setup timeout");
    closeConn(id, "no authenticated session within the session setup timeout");
  }
}

// Up to kReceiveBurst recvmmsg batches per wake-up (each up to 16 messages, a UDP GRO message
// several datagrams); each datagram is dispatched with its own source address. The batch's
// 1 MiB of buffers is the worker thread's own (one QuicWorker per thread).
void QuicWorker::receive(size_t socket) {
  if (socket >= sockets_.size()) return;
  thread_local UdpReceiveBatch batch;
  Datagram d;  // reused: its buffer keeps its capacity unless dispatch hands it over
  d.socket = socket;
  for (int i = 0; i < kReceiveBurst; ++i) {
    const int n = batch.receive(sockets_[socket].fd.get());
    if (n <= 0) return;  // drained (or an error the next wake-up sees again)
    batching_ = true;
    batch.forEach([&](ByteSpan data, const sockaddr_storage& from, socklen_t from_len) {
      d.data.assign(data.begin(), data.end());
      d.remote = from;
      d.remote_len = from_len;
      stats_.datagrams_in++;
      stats_.bytes_in += data.size();
      dispatch(d);
    });
    flushTouched();
    if (static_cast<size_t>(n) < UdpReceiveBatch::kMessages) return;
  }
}

// AF_XDP mode: as receive(), for the datagrams XDP redirected to this worker's XSK. Each is
// given to the UDP socket of the address it was sent to, so that ngtcp2 sees the same path as
// over the socket and replies leave from that socket.
void QuicWorker::receiveSource(size_t source) {
  if (source >= sources_.size()) return;
  Datagram d;
  for (int i = 0; i < kReceiveBurst; ++i) {
    batching_ = true;
    const size_t n = sources_[source]->receive(kSourceBatch, [&](const ExternalDatagram& x) {
      stats_.datagrams_in++;  // before xsk_in: status reads xsk_in first, in - xsk never < 0
      stats_.xsk_in++;
      stats_.bytes_in += x.payload.size();
      d.remote = x.from;
      d.remote_len = x.from_len;
      const std::optional<size_t> s = socketFor(x.to, &d.remote, &d.remote_len);
      if (!s) {
        stats_.xsk_no_address++;
        return;
      }
      d.socket = *s;
      d.data.assign(x.payload.begin(), x.payload.end());
      dispatch(d, /*from_source=*/true);
    });
    flushTouched();
    if (n < kSourceBatch) return;
  }
}

std::optional<size_t> QuicWorker::socketFor(const sockaddr_storage& to, sockaddr_storage* from,
                                            socklen_t* from_len) const {
  for (size_t i = 0; i < sockets_.size(); ++i) {
    const sockaddr_storage& l = sockets_[i].local;
    if (to.ss_family == AF_INET && l.ss_family == AF_INET) {
      const auto& t = reinterpret_cast<const sockaddr_in&>(to);
      const auto& a = reinterpret_cast<const sockaddr_in&>(l);
      if (t.sin_port == a.sin_port &&
          (a.sin_addr.s_addr == t.sin_addr.s_addr || a.sin_addr.s_addr == htonl(INADDR_ANY))) {
        return i;
      }
    } else if (l.ss_family == AF_INET6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(l);
      const bool any = IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr);
      if (to.ss_family == AF_INET6) {
        const auto& t = reinterpret_cast<const sockaddr_in6&>(to);
        if (t.sin6_port == a.sin6_port &&
            (any || std::memcmp(&t.sin6_addr, &a.sin6_addr, sizeof(in6_addr)) == 0)) {
          return i;
        }
      } else if (to.ss_family == AF_INET && any &&
                 reinterpret_cast<const sockaddr_in&>(to).sin_port == a.sin6_port &&
                 from->ss_family == AF_INET) {
        // A dual-stack wildcard socket: the client's IPv4 address as ::ffff:a.b.c.d.
        const sockaddr_in v4 = reinterpret_cast<const sockaddr_in&>(*from);
        sockaddr_in6 m{};
        m.sin6_family = AF_INET6;
        m.sin6_port = v4.sin_port;
        m.sin6_addr.s6_addr[10] = 0xff;
        m.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&m.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
        std::memcpy(from, &m, sizeof(m));
        *from_len = sizeof(m);
        return i;
      }
    }
  }
  return std::nullopt;
}

void QuicWorker::retireCids(const std::vector<std::string>& keys) {
  if (!cid_listener_) return;
  for (const std::string& k : keys) {
    const ByteSpan cid(reinterpret_cast<const uint8_t*>(k.data()), k.size());
    if (quicCidWorker(cid) == std::optional<uint8_t>(index_)) cid_listener_->cidRetired(cid);
  }
}

// The end of a receive batch: each connection its datagrams touched writes once (one ACK for
// the batch instead of one per two packets; RFC 9000 13.2.1 asks only for one within
// max_ack_delay, and Initial/Handshake packets are still acknowledged in the same wake-up).
void QuicWorker::flushTouched() {
  batching_ = false;
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (uint64_t id : touched_) {
    if (Conn* c = find(id)) flush(*c);
  }
  touched_.clear();
}

ngtcp2_path QuicWorker::pathOf(Datagram& d) {
  Socket& s = sockets_[d.socket];
  ngtcp2_path p{};
  p.local.addr = reinterpret_cast<sockaddr*>(&s.local);
  p.local.addrlen = s.local_len;
  p.remote.addr = reinterpret_cast<sockaddr*>(&d.remote);
  p.remote.addrlen = d.remote_len;
  p.user_data = reinterpret_cast<void*>(static_cast<uintptr_t>(d.socket));
  return p;
}

// RFC 9000 5.2: a datagram goes to the connection its Destination Connection ID names: one of
// ours here, one of another worker's (handed over), or none, where only an Initial may start
// a connection (RFC 9000 7.2, checked by ngtcp2_accept). Everything else is dropped, counted.
void QuicWorker::dispatch(Datagram& d, bool from_source) {
  if (d.data.empty()) {  // ngtcp2 asserts on an empty buffer; an empty datagram is no packet
    stats_.undecodable++;
    return;
  }
  ngtcp2_version_cid vc{};
  const int rv = ngtcp2_pkt_decode_version_cid(&vc, d.data.data(), d.data.size(), kCidLength);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) return sendVersionNegotiation(d, vc);
  if (rv != 0) {
    stats_.undecodable++;
    return;
  }
  const std::optional<uint8_t> owner = quicCidWorker(ByteSpan(vc.dcid, vc.dcidlen));
  // XDP placed it on this worker's XSK: it must name this worker (handed over below if not).
  if (from_source && owner != std::optional<uint8_t>(index_)) stats_.xsk_not_owner++;
  if (auto it = cids_.find(cidKey(vc.dcid, vc.dcidlen)); it != cids_.end()) {
    Conn* c = find(it->second);
    if (!c) return;
    const ngtcp2_path path = pathOf(d);
    return afterEvent(*c, c->session->read(path, d.data));
  }
  if (owner && *owner != index_ && *owner < peers_->size() && (*peers_)[*owner]) {
    stats_.forwarded++;
    QuicWorker* to = (*peers_)[*owner];
    to->post([to, d = std::move(d)]() mutable { to->dispatch(d); });
    return;
  }
  ngtcp2_pkt_hd hd{};
  if (ngtcp2_accept(&hd, d.data.data(), d.data.size()) != 0) {
    stats_.unknown_cid++;
    return;
  }
  acceptInitial(d, hd);
}

void QuicWorker::acceptInitial(Datagram& d, const ngtcp2_pkt_hd& hd) {
  const std::string peer = addressText(reinterpret_cast<sockaddr*>(&d.remote));
  if (options_->max_connections && conns_.size() >= options_->max_connections) {
    stats_.refused++;
    acceptor_->onRefused();
    XLOG(WARNING) << "quic " << peer << ": refused (max connections)";
    return;
  }
  const uint64_t id = next_id_++;
  auto conn = std::make_unique<Conn>(this, id, peer, kFirstMaxMessage);
  Conn& c = *conn;
  conns_.emplace(id, std::move(conn));
  const ngtcp2_path path = pathOf(d);
  std::string why;
  QuicSession::Params params = options_->session;
  params.worker = index_;
  c.session = QuicSession::accept(hd, path, *tls_, params, &c, &why);
  if (!c.session) {
    XLOG(WARNING) << "quic " << peer << ": " << why;
    stats_.handshake_failures++;
    retireCids(c.cids);
    for (const std::string& k : c.cids) cids_.erase(k);
    conns_.erase(id);
    return;
  }
  stats_.open++;
  // The client's Initial packets keep its first Destination Connection ID until our reply.
  const std::string first = cidKey(hd.dcid.data, hd.dcid.datalen);
  cids_[first] = id;
  c.cids.push_back(first);
  afterEvent(c, c.session->read(path, d.data));
}

void QuicWorker::sendVersionNegotiation(const Datagram& d, const ngtcp2_version_cid& vc) {
  stats_.version_negotiations++;
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  uint8_t unused = 0;
  (void)gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
  const ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(
      buf, sizeof(buf), unused, vc.scid, vc.scidlen, vc.dcid, vc.dcidlen, versions, 1);
  if (n > 0) {
    sendTo(d.socket, reinterpret_cast<const sockaddr*>(&d.remote), d.remote_len,
           ByteSpan(buf, static_cast<size_t>(n)));
  }
}

void QuicWorker::sendTo(size_t socket, const sockaddr* to, socklen_t to_len, ByteSpan data,
                        size_t segment) {
  if (socket >= sockets_.size() || data.empty()) return;
  const int fd = sockets_[socket].fd.get();
  if (segment && segment < data.size()) {
    if (gso_ && sendGso(fd, to, to_len, data, segment)) return;
    for (size_t at = 0; at < data.size(); at += segment) {
      sendTo(socket, to, to_len, data.subspan(at, std::min(segment, data.size() - at)), 0);
    }
    return;
  }
  ssize_t n;
  do {
    n = sendto(fd, data.data(), data.size(), 0, to, to_len);
  } while (n < 0 && errno == EINTR);
  // A full socket buffer drops the datagram: QUIC's loss recovery sends it again (RFC 9002).
  if (n > 0) {
    stats_.datagrams_out++;
    stats_.bytes_out += static_cast<uint64_t>(n);
  }
}

bool QuicWorker::sendGso(int fd, const sockaddr* to, socklen_t to_len, ByteSpan data,
                         size_t segment) {
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  ::xsmb::quic::UdpSegmentControl control;
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to);
  msg.msg_namelen = to_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ::xsmb::quic::setUdpSegment(msg, control, static_cast<uint16_t>(segment));
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
    gso_ = false;  // no GSO here (device or kernel): one sendto per datagram from now on
    XLOG(WARNING) << "quic: UDP GSO refused (" << std::strerror(errno) << "), sending singly";
    return false;
  }
  if (n > 0) {
    stats_.datagrams_out += (data.size() + segment - 1) / segment;
    stats_.bytes_out += static_cast<uint64_t>(n);
  }
  return true;  // sent, or dropped as a datagram would be (EAGAIN): loss recovery resends
}

QuicWorker::Conn* QuicWorker::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void QuicWorker::closeConn(uint64_t id, const std::string& why) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> c = std::move(it->second);
  conns_.erase(it);
  retireCids(c->cids);
  for (const std::string& k : c->cids) cids_.erase(k);
  stats_.open--;
  if (!why.empty()) {
    XLOG(INFO) << "quic " << c->peer << ": closed: " << why;
  }
  if (c->cb) c->cb->onClose();
}

}  // namespace xsmb::transport::quic
