// The start-up path of the rdma-core backend: device enumeration and the librdmacm listener
// calls, reached through a table of function pointers (RdmaCmApi) so that tests stand in for
// a machine without a device, or one where rdma_create_id(3) or rdma_bind_addr(3) fails, and
// drive the same code the daemon runs. Only built with rdma-core (XSMB_HAVE_RDMA).
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/smbdirect/rdma_start.h"

namespace xsmb::smbdirect {

// rdma-core's calls as the start-up path uses them (each as its man page in section 3 says:
// NULL or -1 with errno set on failure).
struct RdmaCmApi {
  ibv_device** (*get_device_list)(int* num_devices);           // ibv_get_device_list
  void (*free_device_list)(ibv_device** list);                 // ibv_free_device_list
  rdma_event_channel* (*create_event_channel)();               // rdma_create_event_channel
  void (*destroy_event_channel)(rdma_event_channel* channel);  // rdma_destroy_event_channel
  int (*create_id)(rdma_event_channel* channel, rdma_cm_id** id, void* context,
                   rdma_port_space ps);  // rdma_create_id
  int (*destroy_id)(rdma_cm_id* id);     // rdma_destroy_id
  int (*set_option)(rdma_cm_id* id, int level, int optname, void* optval,
                    size_t optlen);                  // rdma_set_option
  int (*bind_addr)(rdma_cm_id* id, sockaddr* addr);  // rdma_bind_addr
  int (*listen)(rdma_cm_id* id, int backlog);        // rdma_listen
};

// The table of rdma-core's own functions.
const RdmaCmApi& realRdmaCmApi();

// One RDMA device as ibv_get_device_list(3) names it.
struct RdmaDevice {
  std::string name;    // ibv_device::name, e.g. "mlx5_0", "siw0"
  bool iwarp = false;  // transport_type IBV_TRANSPORT_IWARP (else InfiniBand or RoCE)
};

// The devices present. NotFound("no RDMA device found") when the list is empty, or when
// libibverbs finds no RDMA subsystem at all (NULL with ENOSYS, as on a host without the
// kernel's ib_uverbs); other failures carry strerror(errno).
absl::StatusOr<std::vector<RdmaDevice>> listRdmaDevices(const RdmaCmApi& api);

// The ports to listen on: `configured` when not 0; else 5445 if any device is iWARP and 445
// if any is InfiniBand/RoCE (MS-SMBD 2.1), in that order.
std::vector<uint16_t> smbDirectPorts(const std::vector<RdmaDevice>& devices, uint16_t configured);

// startSmbDirect over `api` (rdma_start.h has the contract); the daemon's startSmbDirect is
// this with realRdmaCmApi().
RdmaStart startSmbDirect(const RdmaSettings& settings, ConnectionHandler handler,
                         RdmaCounters* counters, const RdmaCmApi& api);

}  // namespace xsmb::smbdirect
