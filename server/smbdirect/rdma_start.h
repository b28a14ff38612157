// Starting SMB Direct on rdma-core at server start (docs/smbdirect.md): listen with librdmacm
// where an RDMA device exists, otherwise say so in one log line and serve TCP only. Built with
// or without rdma-core: without it (pkg-config found no libibverbs/librdmacm) every start
// answers "built without rdma-core" (rdma_absent.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/smbd/smbd.h"
#include "server/smbdirect/rdma_stats.h"
#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

// smb.conf "smb direct" and friends, as the daemon hands them over (server/config has the
// parameters; this layer does not read the configuration itself).
struct RdmaSettings {
  // "smb direct": no = never tried; auto / yes = listen when a device exists (yes: the
  // operator asked for it, so its absence is logged as a warning rather than a notice).
  enum class Mode { kNo, kAuto, kYes };
  Mode mode = Mode::kNo;
  // Addresses to listen on, as for TCP ("0.0.0.0", "::", or the interfaces' addresses).
  std::vector<std::string> hosts = {"0.0.0.0"};
  // "smb direct port": 0 = by the devices' kind, MS-SMBD 2.1: 5445 for iWARP (whose
  // connections are TCP connections and would collide with SMB over TCP on 445), 445 for
  // InfiniBand and RoCE (RDMA CM's own port space); both when both kinds are present.
  uint16_t port = 0;
  // Queue sizes follow the credits and sizes this side offers (MS-SMBD 3.1.1.1).
  smbd::Limits limits;
  int backlog = 64;  // rdma_listen(3) backlog
};

// Takes a connected queue pair whose peer (the SMB client) sends the MS-SMBD negotiate
// request; it must post the receive for that request before it returns (the backend then
// accepts the connection, rdma_accept(3)). `peer` is "address:port" for logs. False (with
// `verbs` left in place): no one takes it, and the request is rejected (rdma_reject(3)).
// The handler takes the connection by moving `verbs` out.
using ConnectionHandler =
    std::function<bool(std::unique_ptr<Verbs>& verbs, const std::string& peer)>;

// A running SMB Direct listener; destroying it stops listening (connections already handed
// over live on with their handler).
class SmbDirectService {
 public:
  virtual ~SmbDirectService() = default;
};

struct RdmaStart {
  std::unique_ptr<SmbDirectService> service;  // nullptr: serving TCP only
  // The one line the daemon logs, "SMB Direct: ..."; empty when mode is kNo.
  std::string log_line;
};

// Enumerates devices (ibv_get_device_list(3)), and listens on each host and port
// (rdma_create_event_channel(3), rdma_create_id(3), rdma_bind_addr(3), rdma_listen(3)).
// Failures never stop the server: they come back as the log line, with no service.
// `counters` (kept alive by the caller beyond the service) gets the state and the counts.
RdmaStart startSmbDirect(const RdmaSettings& settings, ConnectionHandler handler,
                         RdmaCounters* counters);

}  // namespace xsmb::smbdirect
