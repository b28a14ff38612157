#include "server/transport/quic/quic_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace xsmb::transport::quic {
namespace {

constexpr int kMaxWorkers = 256;  // the worker index is one byte of the connection ID

}  // namespace

void QuicService::start(const config::GlobalConfig& g, const std::vector<std::string>& hosts,
                        int workers, vfs::IoPool* pool, uint32_t first_loop_index,
                        const AcceptorFactory& make_acceptor) {
  if (!g.quic.quic) return;
  if (std::string problem = config::internal::checkQuic(g.quic); !problem.empty()) {
    XLOG(ERROR) << "quic: not started: " << problem;
    return;
  }
  auto tls = TlsServerContext::load(g.quic.tls_certfile, g.quic.tls_keyfile);
  if (!tls.ok()) {
    XLOG(ERROR) << "quic: not started: " << tls.status().message();
    return;
  }
  tls_ = std::move(*tls);
  options_.hosts = hosts;
  options_.port = static_cast<uint16_t>(g.quic.quic_port);
  options_.session.idle_timeout = std::chrono::seconds(g.quic.quic_idle_timeout_secs);
  options_.max_pending_bytes = g.hardening.max_pending_request_bytes;
  options_.max_connections = g.max_connections;
  options_.setup_timeout = std::chrono::seconds(g.hardening.session_setup_timeout_secs);
  const int n = std::clamp(workers, 1, kMaxWorkers);
  peers_.assign(static_cast<size_t>(n), nullptr);
  for (int i = 0; i < n; ++i) {
    const uint32_t loop = first_loop_index + static_cast<uint32_t>(i);
    LoopHooks hooks;
    acceptors_.push_back(make_acceptor(loop, &hooks));
    workers_.push_back(std::make_unique<QuicWorker>(acceptors_.back().get(), pool, &options_,
                                                    tls_.get(), static_cast<uint8_t>(i), loop,
                                                    &peers_));
    for (auto& [fd, fn] : hooks.watches) workers_.back()->watch(fd, std::move(fn));
    on_start_.push_back(std::move(hooks.on_start));
    peers_[static_cast<size_t>(i)] = workers_.back().get();
    if (absl::Status st = workers_.back()->listen(); !st.ok()) {
      XLOG(ERROR) << "quic: not started: " << st.message();
      workers_.clear();
      acceptors_.clear();
      peers_.clear();
      on_start_.clear();
      return;
    }
  }
  if (!g.quic.quic_xdp_interface.empty()) {
    std::vector<QuicWorker*> ws;
    for (auto& w : workers_) ws.push_back(w.get());
    xdp_ = attachQuicXdp(g.quic.quic_xdp_interface, g.quic.quic_xdp_mode, options_.port,
                         socketGroups(), ws);
    if (xdp_) steering_ = quicXdpSteering(*xdp_);
  }
  if (!steering_ && g.bpf) steering_ = attachQuicSteering(options_.port, socketGroups());
  for (size_t i = 0; i < workers_.size(); ++i) workers_[i]->start(on_start_[i]);
  XLOG(WARNING) << "quic: SMB over QUIC on UDP port " << options_.port << " (" << n
                << " workers, ALPN \"smb\", TLS 1.3, certificate " << g.quic.tls_certfile << ")";
}

std::vector<std::vector<int>> QuicService::socketGroups() const {
  std::vector<std::vector<int>> groups;
  for (const auto& w : workers_) {
    const std::vector<int> fds = w->socketFds();
    groups.resize(std::max(groups.size(), fds.size()));
    for (size_t a = 0; a < fds.size(); ++a) groups[a].push_back(fds[a]);
  }
  return groups;
}

void QuicService::stop() {
  for (auto& w : workers_) w->stop();
}

std::string QuicService::status() const {
  if (workers_.empty()) return "";
  uint64_t open = 0, handshakes = 0, failures = 0, alpn = 0, migrations = 0, in = 0, out = 0;
  uint64_t undecodable = 0, unknown = 0, forwarded = 0, framing = 0, setup = 0;
  for (const auto& w : workers_) {
    const QuicStats& s = w->stats();
    open += s.open;
    handshakes += s.handshakes;
    failures += s.handshake_failures;
    alpn += s.alpn_refusals;
    migrations += s.migrations;
    in += s.datagrams_in;
    out += s.datagrams_out;
    undecodable += s.undecodable;
    unknown += s.unknown_cid;
    forwarded += s.forwarded;
    framing += s.framing_errors;
    setup += s.setup_timeouts;
  }
  return absl::StrCat("quic: port ", options_.port, ", workers ", workers_.size(), ", open ", open,
                      ", handshakes ", handshakes, ", handshake failures ", failures, " (alpn ",
                      alpn, "), migrations ", migrations, ", datagrams in ", in, ", out ", out,
                      ", undecodable ", undecodable, ", unknown cid ", unknown,
                      ", handed to owner ", forwarded, ", framing errors ", framing,
                      ", session setup timeouts ", setup, "\n", steeringStatus());
}

QuicService::Metrics QuicService::metrics() const {
  Metrics m;
  for (size_t w = 0; w < workers_.size(); ++w) {
    WorkerMetrics one{&workers_[w]->stats(), std::nullopt};
    if (xdp_) one.xdp = quicXdpWorkerCounters(*xdp_, static_cast<uint32_t>(w), *one.stats);
    m.workers.push_back(one);
  }
  if (xdp_) m.xdp_verdicts = quicXdpVerdicts(*xdp_);
  return m;
}

std::string QuicService::steeringStatus() const {
  if (!steering_) return "";
  std::vector<const QuicStats*> stats;
  for (const auto& w : workers_) stats.push_back(&w->stats());
  return quicSteeringStatus(*steering_, stats) + (xdp_ ? quicXdpStatus(*xdp_, stats) : "");
}

}  // namespace xsmb::transport::quic
