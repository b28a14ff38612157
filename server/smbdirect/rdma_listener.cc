#include "server/smbdirect/rdma_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace xsmb::smbdirect {
namespace {

std::string hostPort(const std::string& host, uint16_t port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

absl::Status failed(const char* call, const std::string& where, int err) {
  return absl::UnavailableError(
      absl::StrCat(call, where.empty() ? "" : " ", where, ": ", std::strerror(err)));
}

}  // namespace

std::string peerName(rdma_cm_id* id) {
  sockaddr* sa = rdma_get_peer_addr(id);
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa && sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (sa && sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return hostPort(host, port);
}

RdmaListener::RdmaListener(const RdmaCmApi& api, const RdmaSettings& settings,
                           ConnectionHandler handler, RdmaCounters* counters)
    : api_(api), settings_(settings), handler_(std::move(handler)), counters_(counters) {}

absl::StatusOr<std::unique_ptr<RdmaListener>> RdmaListener::start(
    const RdmaCmApi& api, const RdmaSettings& settings, const std::vector<uint16_t>& ports,
    ConnectionHandler handler, RdmaCounters* counters) {
  std::unique_ptr<RdmaListener> l(new RdmaListener(api, settings, std::move(handler), counters));
  errno = 0;
  l->channel_ = api.create_event_channel();
  if (!l->channel_) return failed("rdma_create_event_channel", "", errno ? errno : ENODEV);
  int fl = fcntl(l->channel_->fd, F_GETFL);
  if (fl < 0 || fcntl(l->channel_->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return failed("fcntl", "(rdma event channel)", errno);
  }
  for (const std::string& host : settings.hosts) {
    for (uint16_t port : ports) {
      absl::Status s = l->listenOn(host, port);
      if (!s.ok()) return s;  // ~RdmaListener releases what was made
    }
  }
  l->stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!l->stop_fd_) return failed("eventfd", "", errno);
  RdmaListener* self = l.get();
  l->thread_ = std::thread([self] { self->run(); });
  return l;
}

absl::Status RdmaListener::listenOn(const std::string& host, uint16_t port) {
  std::string where = hostPort(host, port);
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &ai) != 0 || !ai) {
    return absl::InvalidArgumentError(
        absl::StrCat("SMB Direct address ", where, " is not numeric"));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(ai, freeaddrinfo);
  rdma_cm_id* id = nullptr;
  errno = 0;
  if (api_.create_id(channel_, &id, nullptr, RDMA_PS_TCP) != 0) {
    return failed("rdma_create_id", where, errno ? errno : ENODEV);
  }
  listen_ids_.push_back(id);
  if (ai->ai_family == AF_INET6) {
    int one = 1;  // IPv6 only, so that 0.0.0.0 on the same port is a listener of its own
    (void)api_.set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_AFONLY, &one, sizeof(one));
  }
  errno = 0;
  if (api_.bind_addr(id, ai->ai_addr) != 0) {
    return failed("rdma_bind_addr", where, errno ? errno : EADDRNOTAVAIL);
  }
  errno = 0;
  if (api_.listen(id, settings_.backlog) != 0) {
    return failed("rdma_listen", where, errno ? errno : EINVAL);
  }
  addresses_.push_back(where);
  return absl::OkStatus();
}

RdmaListener::~RdmaListener() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_.get(), &one, sizeof(one));
    thread_.join();
  }
  for (rdma_cm_id* id : listen_ids_) api_.destroy_id(id);
  if (channel_) api_.destroy_event_channel(channel_);
}

void RdmaListener::run() {
  pollfd fds[2] = {{channel_->fd, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    rdma_cm_event* ev = nullptr;
    while (rdma_get_cm_event(channel_, &ev) == 0) {
      // Acknowledge at once (rdma_ack_cm_event(3)), keeping what is needed: a connection's
      // rdma_destroy_id waits for its events' acknowledgements, and its owner may destroy it
      // on another thread (the link's mutex guards the id from here on).
      rdma_cm_event_type type = ev->event;
      rdma_cm_id* id = ev->id;
      rdma_conn_param request = ev->param.conn;
      int status = ev->status;
      rdma_ack_cm_event(ev);
      switch (type) {
        case RDMA_CM_EVENT_CONNECT_REQUEST:
          onConnectRequest(id, request);
          break;
        case RDMA_CM_EVENT_ESTABLISHED:
          XLOG(DEBUG) << "SMB Direct: connection from " << peerName(id) << " established";
          break;
        case RDMA_CM_EVENT_DISCONNECTED:
        case RDMA_CM_EVENT_CONNECT_ERROR:
        case RDMA_CM_EVENT_UNREACHABLE:
        case RDMA_CM_EVENT_REJECTED:
        case RDMA_CM_EVENT_DEVICE_REMOVAL:
          XLOG(INFO) << "SMB Direct: " << rdma_event_str(type) << " (status " << status << ")";
          disconnectLink(id);
          break;
        case RDMA_CM_EVENT_TIMEWAIT_EXIT:
          links_.erase(id);
          break;
        default:
          break;
      }
    }
  }
}

void RdmaListener::onConnectRequest(rdma_cm_id* id, const rdma_conn_param& request) {
  std::string peer = peerName(id);
  auto link = std::make_shared<RdmaLink>();
  link->id = id;
  auto verbs = RdmaVerbs::create(link, settings_.limits, counters_);
  if (!verbs.ok()) {
    XLOG(WARNING) << "SMB Direct: connection from " << peer
                  << " refused: " << verbs.status().message();
    counters_->connections_refused.fetch_add(1, std::memory_order_relaxed);
    rdma_reject(id, nullptr, 0);
    rdma_destroy_id(id);
    return;
  }
  rdma_conn_param param = (*verbs)->acceptParam(request);
  std::unique_ptr<Verbs> handed = std::move(*verbs);
  if (!handler_ || !handler_(handed, peer)) {
    XLOG(WARNING) << "SMB Direct: connection from " << peer << " refused: no transport takes it";
    counters_->connections_refused.fetch_add(1, std::memory_order_relaxed);
    rdma_reject(id, nullptr, 0);
    return;  // `handed` destroys the queue pair and the id
  }
  links_[id] = link;
  std::lock_guard<std::mutex> lock(link->mu);
  if (!link->alive) return;  // the transport already gave it up
  if (rdma_accept(id, &param) != 0) {
    XLOG(WARNING) << "SMB Direct: rdma_accept for " << peer << ": " << std::strerror(errno);
    counters_->connections_refused.fetch_add(1, std::memory_order_relaxed);
    rdma_disconnect(id);  // flushes the posted receives: the engine over it fails and closes
    return;
  }
  counters_->connections_accepted.fetch_add(1, std::memory_order_relaxed);
  XLOG(INFO) << "SMB Direct: connection from " << peer;
}

void RdmaListener::disconnectLink(rdma_cm_id* id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  std::shared_ptr<RdmaLink> link = it->second.lock();
  if (!link) {
    links_.erase(it);
    return;
  }
  std::lock_guard<std::mutex> lock(link->mu);
  if (link->alive) rdma_disconnect(id);
}

}  // namespace xsmb::smbdirect
