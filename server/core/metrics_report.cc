#include "server/core/metrics_report.h"

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "common/base/log.h"
#include "server/metrics/exposition.h"
#include "server/session/state.h"

namespace xsmb::core {
namespace {

struct StateCounts {
  uint64_t connections = 0;
  uint64_t sessions = 0;  // sessions held by their home connection (bound channels not again)
  uint64_t trees = 0;
  uint64_t opens = 0;  // open handles, named pipes included
  uint64_t busy = 0;   // connections that did not answer in time
};

StateCounts countState(session::ServerContext& server) {
  struct One {
    uint64_t sessions = 0, trees = 0, opens = 0;
  };
  StateCounts total;
  std::vector<std::future<One>> asks;
  for (const auto& conn : server.liveConnections()) {
    ++total.connections;
    if (!conn->run_in_strand) continue;
    auto promise = std::make_shared<std::promise<One>>();
    asks.push_back(promise->get_future());
    conn->run_in_strand([promise](session::ConnState& c) {
      One one;
      for (const auto& [id, s] : c.sessions) {
        if (s->bound_channel) continue;
        ++one.sessions;
        one.trees += s->trees.size();
      }
      one.opens = c.opens.size();
      promise->set_value(one);
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (auto& f : asks) {
    if (f.wait_until(deadline) != std::future_status::ready) {
      ++total.busy;
      continue;
    }
    One one = f.get();
    total.sessions += one.sessions;
    total.trees += one.trees;
    total.opens += one.opens;
  }
  return total;
}

void writeState(session::ServerContext& server, metrics::Exposition& e) {
  const StateCounts n = countState(server);
  e.gauge("xsmbd_connections", "SMB connections open now (TCP)",
          static_cast<double>(n.connections));
  e.gauge("xsmbd_sessions", "authenticated SMB sessions now", static_cast<double>(n.sessions));
  e.gauge("xsmbd_tree_connects", "tree connects now", static_cast<double>(n.trees));
  e.gauge("xsmbd_opens", "open handles now (files, directories, named pipes)",
          static_cast<double>(n.opens));
  e.gauge("xsmbd_scrape_busy_connections",
          "connections left out of this scrape's session/tree/open gauges (busy > 1 s)",
          static_cast<double>(n.busy));
  e.gauge("xsmbd_shares", "shares new tree connects can reach (IPC$ included)",
          static_cast<double>(server.liveShares().size()));
}

void writeCounters(const session::Stats& st, metrics::Exposition& e) {
  e.counter("xsmbd_connections_accepted_total", "TCP connections accepted",
            st.connections_accepted.load());
  e.counter("xsmbd_connections_refused_total", "TCP connections refused (max connections)",
            st.connections_refused.load());
  e.counter("xsmbd_auth_failures_total", "SESSION_SETUP logons that failed",
            st.logon_failures.load());
  e.counter("xsmbd_signature_failures_total", "signed requests whose signature did not verify",
            st.bad_signatures.load());
  e.counter("xsmbd_decryption_failures_total", "encrypted messages that did not decrypt",
            st.decrypt_failures.load());
  e.counter("xsmbd_malformed_frames_total", "messages with a malformed SMB2 header",
            st.malformed_frames.load());
  e.counter("xsmbd_oversized_frames_total", "messages longer than the server accepts",
            st.oversized_frames.load());
}

void writeLifecycle(const session::ServerContext& server, metrics::Exposition& e) {
  const metrics::Lifecycle& l = server.metrics.lifecycle;
  e.gauge("xsmbd_bpf_active", "1 when the BPF data plane's maps are in use, 0 in plain socket mode",
          server.dataplane ? 1.0 : 0.0);
  e.gauge("xsmbd_rdma_active", "1 when SMB Direct (RDMA) serves", l.rdma_active ? 1.0 : 0.0);
  e.gauge("xsmbd_ready", "1 when /readyz answers 200", l.ready() ? 1.0 : 0.0);
  e.gauge("xsmbd_draining", "1 after SIGTERM, while connections finish", l.draining ? 1.0 : 0.0);
  e.family("xsmbd_config_reloads_total", "counter", "SIGHUP configuration reloads, by result");
  e.sample("xsmbd_config_reloads_total", {{"result", "applied"}}, l.reloads_ok.load());
  e.sample("xsmbd_config_reloads_total", {{"result", "refused"}}, l.reloads_failed.load());
  e.gauge("xsmbd_config_last_reload_success_timestamp_seconds",
          "Unix time of the last applied reload (0: none)",
          static_cast<double>(l.last_reload_ok_unix.load()));
}

}  // namespace

std::string buildMetrics(session::ServerContext& server, const MoreMetrics& more) {
  metrics::Exposition e;
  writeState(server, e);
  writeCounters(server.stats, e);
  metrics::writeRequestMetrics(server.metrics.requests.snapshot(), e);
  writeLifecycle(server, e);
  if (server.dataplane) metrics::writeBpfCounters(server.dataplane->counters(), e);
  if (more) more(e);
  return e.text();
}

bool startMetricsEndpoint(metrics::HttpEndpoint& endpoint, session::ServerContext& server,
                          MoreMetrics more) {
  const std::string& address = server.config.global.ops.metrics_address;
  if (address.empty()) return true;
  std::string host, error;
  uint16_t port = 0;
  if (!config::parseHostPort(address, &host, &port)) {
    XLOG(ERROR) << "metrics address " << address << ": not IPv4:PORT or [IPv6]:PORT";
    return false;
  }
  metrics::EndpointHandlers h;
  h.metrics = [&server, more = std::move(more)] { return buildMetrics(server, more); };
  h.ready = [&server] { return server.metrics.lifecycle.ready(); };
  // With generations (bpf = yes) a new xsmbd binds the address beside the old one
  // (docs/deploy.md "Rolling updates").
  const bool generations = server.dataplane && server.config.global.bpf;
  if (!endpoint.start(host, port, std::move(h), &error, generations)) {
    XLOG(ERROR) << "metrics address " << address << ": " << error;
    return false;
  }
  XLOG(INFO) << "metrics on http://"
             << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":"
             << endpoint.port() << "/metrics (/healthz, /readyz)";
  return true;
}

}  // namespace xsmb::core
