// The librdmacm listener of SMB Direct: one event channel, one listening rdma_cm_id per
// address and port (rdma_create_id(3) in RDMA_PS_TCP, rdma_bind_addr(3), rdma_listen(3)), and
// a thread that takes the channel's events (rdma_get_cm_event(3)):
//   CONNECT_REQUEST  the queue pair and its memory are set up (RdmaVerbs), the connection is
//                    handed to the ConnectionHandler, which posts the receive for the client's
//                    negotiate request (MS-SMBD 3.1.5.2), and only then rdma_accept(3); a
//                    set-up failure, or a handler that does not take it, is rdma_reject(3)ed;
//   DISCONNECTED and the other ends of a connection  rdma_disconnect(3), which moves the
//                    queue pair to the error state: its posted work completes as flushed, and
//                    the engine over it sees the end on its next poll.
// Built only with rdma-core.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/unique_fd.h"
#include "server/smbdirect/rdma_cm.h"
#include "server/smbdirect/rdma_verbs.h"

namespace xsmb::smbdirect {

class RdmaListener : public SmbDirectService {
 public:
  // Listens on every address of settings.hosts on every port of `ports`; an IPv6 address
  // listens for IPv6 only (RDMA_OPTION_ID_AFONLY), so "0.0.0.0" and "::" can both be bound.
  // The error names the call that failed and the address ("rdma_bind_addr 0.0.0.0:445:
  // Address already in use"); nothing is left behind then.
  static absl::StatusOr<std::unique_ptr<RdmaListener>> start(const RdmaCmApi& api,
                                                             const RdmaSettings& settings,
                                                             const std::vector<uint16_t>& ports,
                                                             ConnectionHandler handler,
                                                             RdmaCounters* counters);
  // Stops the thread, destroys the listening ids and the channel. Connections handed over
  // must be gone first (their ids use the channel).
  ~RdmaListener() override;

  const std::vector<std::string>& addresses() const { return addresses_; }  // "0.0.0.0:445"

 private:
  RdmaListener(const RdmaCmApi& api, const RdmaSettings& settings, ConnectionHandler handler,
               RdmaCounters* counters);
  absl::Status listenOn(const std::string& host, uint16_t port);
  void run();
  void onConnectRequest(rdma_cm_id* id, const rdma_conn_param& request);
  void disconnectLink(rdma_cm_id* id);

  const RdmaCmApi& api_;
  RdmaSettings settings_;
  ConnectionHandler handler_;
  RdmaCounters* counters_;
  rdma_event_channel* channel_ = nullptr;
  std::vector<rdma_cm_id*> listen_ids_;
  std::vector<std::string> addresses_;
  UniqueFd stop_fd_;
  std::thread thread_;
  std::map<rdma_cm_id*, std::weak_ptr<RdmaLink>> links_;  // the thread's only
};

// "address:port" of a cm id's peer (rdma_get_peer_addr(3)), "?" when unknown.
std::string peerName(rdma_cm_id* id);

}  // namespace xsmb::smbdirect
