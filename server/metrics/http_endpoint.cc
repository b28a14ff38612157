#include "server/metrics/http_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string_view>

#include "server/metrics/exposition.h"

namespace xsmb::metrics {

struct EndpointAccess {
  static const EndpointHandlers& handlers(const HttpEndpoint* e) { return e->handlers_; }
};

namespace {

constexpr unsigned kMaxHttpConnections = 16;
constexpr unsigned kHttpTimeoutSecs = 10;

MHD_Result answer(MHD_Connection* conn, unsigned status, std::string_view body,
                  std::string_view content_type) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, std::string(content_type).c_str());
  MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

// libmicrohttpd's access handler: called once the request's headers are in. GET and HEAD carry
// no upload, so the first call answers.
MHD_Result onRequest(void* cls, MHD_Connection* conn, const char* url, const char* method,
                     const char* /*version*/, const char* /*upload_data*/, size_t* upload_data_size,
                     void** /*con_cls*/) {
  const EndpointHandlers& h = EndpointAccess::handlers(static_cast<const HttpEndpoint*>(cls));
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  const std::string_view m(method);
  if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
    *upload_data_size = 0;  // whatever was sent is ignored
    return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", kText);
  }
  const std::string_view path(url);
  if (path == "/metrics") return answer(conn, MHD_HTTP_OK, h.metrics(), kExpositionContentType);
  if (path == "/healthz") return answer(conn, MHD_HTTP_OK, "ok\n", kText);
  if (path == "/readyz") {
    return h.ready() ? answer(conn, MHD_HTTP_OK, "ready\n", kText)
                     : answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n", kText);
  }
  return answer(conn, MHD_HTTP_NOT_FOUND, "not found: /metrics, /healthz, /readyz\n", kText);
}

}  // namespace

HttpEndpoint::~HttpEndpoint() { stop(); }

void HttpEndpoint::stop() {
  if (daemon_) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

bool HttpEndpoint::start(const std::string& host, uint16_t port, EndpointHandlers handlers,
                         std::string* error, bool reuse_port) {
  handlers_ = std::move(handlers);
  sockaddr_storage ss{};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    flags |= MHD_USE_IPv6;
  } else {
    *error = "\"" + host + "\" is not an IPv4 or IPv6 address";
    return false;
  }
  daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &onRequest, this, MHD_OPTION_SOCK_ADDR,
                             reinterpret_cast<sockaddr*>(&ss), MHD_OPTION_CONNECTION_LIMIT,
                             kMaxHttpConnections, MHD_OPTION_CONNECTION_TIMEOUT, kHttpTimeoutSecs,
                             MHD_OPTION_LISTENING_ADDRESS_REUSE,
                             static_cast<unsigned int>(reuse_port ? 1 : 0), MHD_OPTION_END);
  if (!daemon_) {
    *error =
        "cannot listen on " + host + " port " + std::to_string(port) + ": " + std::strerror(errno);
    return false;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : port;
  return true;
}

}  // namespace xsmb::metrics
