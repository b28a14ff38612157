#include "server/smbdirect/rdma_stats.h"

#include <sstream>
#include <utility>

namespace xsmb::smbdirect {

void RdmaCounters::setState(std::string state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(state);
}

std::string RdmaCounters::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::string formatRdmaStatus(const RdmaCounters& c) {
  std::ostringstream o;
  o << "smb direct: " << c.state() << "\n"
    << "smb direct counters: connections " << c.connections_accepted << ", refused "
    << c.connections_refused << ", open " << c.connections_open << ", rdma reads " << c.rdma_reads
    << " (" << c.rdma_read_bytes << " bytes), rdma writes " << c.rdma_writes << " ("
    << c.rdma_write_bytes << " bytes), send credits used " << c.send_credits_used
    << ", receive credits granted " << c.receive_credits_granted << ", peer credits used "
    << c.peer_credits_used << ", send with invalidate " << c.send_invalidates
    << ", completion errors " << c.completion_errors << ", cq wakeups " << c.cq_wakeups << "\n";
  return o.str();
}

}  // namespace xsmb::smbdirect
