// SMB over QUIC as xsmbd runs it (MS-SMB2 2.1; smb.conf "server smb transports = tcp, quic"):
// loads the certificate, starts one QuicWorker per worker index on "quic port" of every
// listening address, and reports their counters. The composition root (server/main.cc)
// starts it with one call and adds status() to xsmbctl status.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/config/smb_conf.h"
#include "server/transport/connection.h"
#include "server/transport/quic/quic_steering_link.h"
#include "server/transport/quic/quic_tls.h"
#include "server/transport/quic/quic_worker.h"
#include "server/vfs/io_pool.h"

namespace xsmb::transport::quic {

class QuicService {
 public:
  // What the composition root adds to a worker's loop: descriptors it also watches, with what
  // runs on its thread when one is readable (the acceptor's file-I/O completions), and what
  // runs first on its thread (vfs::setOnEventLoopThread: it answers messages inline).
  struct LoopHooks {
    std::vector<std::pair<int, std::function<void()>>> watches;
    std::function<void()> on_start;
  };
  // Creates the protocol side (the Acceptor) of QUIC worker `index`, whose connections report
  // `loop_index` as their loop, and may fill `hooks` for that worker.
  using AcceptorFactory =
      std::function<std::unique_ptr<Acceptor>(uint32_t loop_index, LoopHooks* hooks)>;

  ~QuicService() { stop(); }
  // Starts the transport when smb.conf enables it; with "bpf = yes" it also steers datagrams
  // to their worker in the kernel (quic_steering_link.h) when it can, and with "quic xdp
  // interface" it reads them from AF_XDP sockets there (falling back to socket mode); `first_loop_index` is the loop index of
  // worker 0 (the next ones follow). One log line says what was started or why not (a missing
  // or unreadable certificate or key, a port in use): xsmbd then serves TCP alone.
  void start(const config::GlobalConfig& g, const std::vector<std::string>& hosts, int workers,
             vfs::IoPool* pool, uint32_t first_loop_index, const AcceptorFactory& make_acceptor);
  // Stops the workers (their connections close); idempotent.
  void stop();
  // The "quic" line of xsmbctl status ("" when QUIC is not served), the "quic steering"
  // line when the BPF steering is attached and the "quic xdp" line in AF_XDP mode.
  std::string status() const;

  // What /metrics shows of QUIC (server/main.cc writes it): per worker its counters and, in
  // AF_XDP mode, its XSK counters; the XDP program's verdicts. Empty when QUIC is not served.
  struct WorkerMetrics {
    const QuicStats* stats;
    std::optional<QuicXdpWorkerCounters> xdp;
  };
  struct Metrics {
    std::vector<WorkerMetrics> workers;
    std::vector<std::pair<std::string, uint64_t>> xdp_verdicts;  // AF_XDP mode only
  };
  Metrics metrics() const;

 private:
  // groups[a][w]: worker w's UDP socket on listening address a.
  std::vector<std::vector<int>> socketGroups() const;
  std::string steeringStatus() const;

  QuicOptions options_;
  std::unique_ptr<TlsServerContext> tls_;
  // Declared before the workers: destroyed after them (their loops read its XSKs).
  std::shared_ptr<QuicXdp> xdp_;                 // null: no AF_XDP mode
  std::shared_ptr<xsk::QuicSteering> steering_;  // null: userspace hand-over only
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::unique_ptr<QuicWorker>> workers_;
  std::vector<QuicWorker*> peers_;
  std::vector<std::function<void()>> on_start_;  // per worker, LoopHooks::on_start
};

}  // namespace xsmb::transport::quic
