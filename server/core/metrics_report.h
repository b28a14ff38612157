// The Prometheus endpoint's content (docs/operations.md has every metric): what a scrape of
// /metrics reads from the server context, the request counters, the BPF data plane's counters
// and the lifecycle flags, and the start of the endpoint at "metrics address".
#pragma once

#include <functional>
#include <string>

#include "server/metrics/exposition.h"
#include "server/metrics/http_endpoint.h"
#include "server/session/server_context.h"

namespace xsmb::core {

// The exposition text (format 0.0.4). The session, tree connect and open gauges are counted by
// each connection on its own serialized request path (as buildStatusReport does); connections
// that do not answer within a second in all are left out of them (xsmbd_scrape_busy_connections
// says how many).
// `more` (may be empty) appends the families of what the server context does not hold (the
// QUIC transport's, written by server/main.cc).
using MoreMetrics = std::function<void(metrics::Exposition&)>;
std::string buildMetrics(session::ServerContext& server, const MoreMetrics& more = nullptr);

// Starts `endpoint` at the server's "metrics address"; true (nothing done) when it is empty.
// false, logged, when the address cannot be bound. `more` must outlive the endpoint.
bool startMetricsEndpoint(metrics::HttpEndpoint& endpoint, session::ServerContext& server,
                          MoreMetrics more = nullptr);

}  // namespace xsmb::core
