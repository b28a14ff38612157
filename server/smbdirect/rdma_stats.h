// What the SMB Direct transport reports to `xsmbctl status` (docs/smbdirect.md, "Is it really
// RDMA?"): whether it serves at all and why not, and counters of the rdma-core backend, so an
// operator can tell that a client's READs and WRITEs really move as RDMA Write and RDMA Read.
// All counters stay 0 where no RDMA device exists. MS-SMBD defines no counters of its own;
// the names follow its terms (3.1.1.1 credits, 3.1.4.x RDMA Read/Write).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace xsmb::smbdirect {

class RdmaCounters {
 public:
  // Connections: accepted (rdma_accept(3) done), refused (set-up failed or no one to take
  // them: rdma_reject(3)), and open now.
  std::atomic<uint64_t> connections_accepted{0}, connections_refused{0}, connections_open{0};
  // RDMA Read work requests completed (the data of SMB2 WRITEs with an RDMA channel, pulled
  // from the client) and RDMA Write ones (the data of SMB2 READs, placed into the client's
  // memory), with their bytes; only successful completions count.
  std::atomic<uint64_t> rdma_reads{0}, rdma_read_bytes{0};
  std::atomic<uint64_t> rdma_writes{0}, rdma_write_bytes{0};
  // Credits (MS-SMBD 3.1.1.1): every send spends one send credit the peer granted
  // (send_credits_used); every receive posted is one receive credit this side can grant
  // (receive_credits_granted); every message received used one of them (peer_credits_used).
  std::atomic<uint64_t> send_credits_used{0}, receive_credits_granted{0}, peer_credits_used{0};
  std::atomic<uint64_t> send_invalidates{0};   // sends with invalidate (IBV_WR_SEND_WITH_INV)
  std::atomic<uint64_t> completion_errors{0};  // work completions with a status but success
  std::atomic<uint64_t> cq_wakeups{0};         // completion channel events (ibv_get_cq_event(3))

  // The one-line state: "off (smb direct = no)", "no RDMA device found; serving TCP only",
  // "listening on 0.0.0.0:445 (mlx5_0)".
  void setState(std::string state);
  std::string state() const;

 private:
  mutable std::mutex mu_;
  std::string state_ = "off (smb direct = no)";
};

// The "smb direct" lines of the status report: the state, then the counters (all of them,
// zeros included, so a script can read them whatever the state).
std::string formatRdmaStatus(const RdmaCounters& c);

}  // namespace xsmb::smbdirect
