// startSmbDirect on rdma-core (rdma_start.h): devices, ports, the listener; one line to log.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/smbdirect/rdma_cm.h"
#include "server/smbdirect/rdma_listener.h"

namespace xsmb::smbdirect {
namespace {

RdmaStart tcpOnly(const std::string& why, RdmaCounters* counters) {
  std::string state = absl::StrCat(why, "; serving TCP only");
  counters->setState(state);
  return RdmaStart{nullptr, absl::StrCat("SMB Direct: ", state)};
}

}  // namespace

RdmaStart startSmbDirect(const RdmaSettings& settings, ConnectionHandler handler,
                         RdmaCounters* counters, const RdmaCmApi& api) {
  if (settings.mode == RdmaSettings::Mode::kNo) {
    counters->setState("off (smb direct = no)");
    return {};
  }
  absl::StatusOr<std::vector<RdmaDevice>> devices = listRdmaDevices(api);
  if (!devices.ok()) return tcpOnly(std::string(devices.status().message()), counters);
  std::vector<uint16_t> ports = smbDirectPorts(*devices, settings.port);
  auto listener = RdmaListener::start(api, settings, ports, std::move(handler), counters);
  if (!listener.ok()) return tcpOnly(std::string(listener.status().message()), counters);
  std::vector<std::string> names;
  for (const RdmaDevice& d : *devices) {
    names.push_back(absl::StrCat(d.name, d.iwarp ? " (iWARP)" : " (InfiniBand/RoCE)"));
  }
  std::string state = absl::StrCat("listening on ", absl::StrJoin((*listener)->addresses(), ", "),
                                   "; devices ", absl::StrJoin(names, ", "));
  counters->setState(state);
  return RdmaStart{std::move(*listener), absl::StrCat("SMB Direct: ", state)};
}

RdmaStart startSmbDirect(const RdmaSettings& settings, ConnectionHandler handler,
                         RdmaCounters* counters) {
  return startSmbDirect(settings, std::move(handler), counters, realRdmaCmApi());
}

}  // namespace xsmb::smbdirect
