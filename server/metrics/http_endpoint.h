// The HTTP listener of the metrics endpoint ("metrics address", docs/operations.md), on
// libmicrohttpd's own thread: GET (or HEAD) /metrics answers the text a callback builds,
// /healthz 200 "ok" while the process serves, /readyz 200 "ready" or 503 "not ready". Any
// other path is 404, any other method 405. No TLS and no authentication: bind it to loopback
// or a node-local address.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

struct MHD_Daemon;

namespace xsmb::metrics {

struct EndpointHandlers {
  std::function<std::string()> metrics;  // the exposition text (exposition.h)
  std::function<bool()> ready;           // /readyz: 200 when true, else 503
};

class HttpEndpoint {
 public:
  HttpEndpoint() = default;
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Listens on `host` (an IPv4 or IPv6 literal) and `port` (0: one the kernel picks) and
  // starts answering. false and *error when the address is not a literal or cannot be bound.
  // `reuse_port`: SO_REUSEPORT on the socket, so that a new generation (xsmbd --takeover) can
  // listen on the same address while the old one still does (the old one stops its endpoint
  // when it is taken over).
  bool start(const std::string& host, uint16_t port, EndpointHandlers handlers, std::string* error,
             bool reuse_port = false);
  // The port actually bound (after start), 0 if unknown.
  uint16_t port() const { return port_; }
  // Stops answering and closes the socket (also done by the destructor).
  void stop();

 private:
  friend struct EndpointAccess;
  EndpointHandlers handlers_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace xsmb::metrics
