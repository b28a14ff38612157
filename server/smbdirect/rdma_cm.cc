#include "server/smbdirect/rdma_cm.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace xsmb::smbdirect {

const RdmaCmApi& realRdmaCmApi() {
  static const RdmaCmApi api = {
      ibv_get_device_list,
      ibv_free_device_list,
      rdma_create_event_channel,
      rdma_destroy_event_channel,
      rdma_create_id,
      rdma_destroy_id,
      rdma_set_option,
      rdma_bind_addr,
      rdma_listen,
  };
  return api;
}

absl::StatusOr<std::vector<RdmaDevice>> listRdmaDevices(const RdmaCmApi& api) {
  int n = 0;
  errno = 0;
  ibv_device** list = api.get_device_list(&n);
  if (!list) {
    // ENOSYS: no RDMA subsystem in the kernel (no /sys/class/infiniband_verbs).
    if (errno == ENOSYS || errno == 0) return absl::NotFoundError("no RDMA device found");
    return absl::UnavailableError(absl::StrCat("ibv_get_device_list: ", std::strerror(errno)));
  }
  std::vector<RdmaDevice> out;
  for (int i = 0; i < n && list[i]; ++i) {
    out.push_back({list[i]->name, list[i]->transport_type == IBV_TRANSPORT_IWARP});
  }
  api.free_device_list(list);
  if (out.empty()) return absl::NotFoundError("no RDMA device found");
  return out;
}

std::vector<uint16_t> smbDirectPorts(const std::vector<RdmaDevice>& devices, uint16_t configured) {
  if (configured != 0) return {configured};
  bool iwarp = false, ib = false;
  for (const RdmaDevice& d : devices) (d.iwarp ? iwarp : ib) = true;
  std::vector<uint16_t> ports;
  if (iwarp) ports.push_back(5445);
  if (ib) ports.push_back(445);
  return ports;
}

}  // namespace xsmb::smbdirect
