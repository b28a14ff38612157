// The user side of bpf/xsmb_quic.bpf.c: loads the QUIC steering programs and maps, attaches
// the sk_reuseport program to the workers' UDP sockets and the XDP program to an interface,
// and keeps the connection-ID map in step with the IDs the QUIC transport issues.
//
// Two receive modes (docs/bpf.md, "SMB over QUIC steering"):
//  - socket mode: each worker binds a UDP socket with SO_REUSEPORT; attachReuseport() puts
//    them in the REUSEPORT_SOCKARRAY, and the program gives each datagram to the socket of the
//    worker its Destination Connection ID names (byte 1), else the kernel's hash.
//  - AF_XDP mode: attachXdp() + setXsk() for each worker's XSK on each receive queue; packets
//    with a registered ID go to the worker's XSK, the rest (Initial...) to the UDP sockets.
// Every method is thread-safe (single bpf() syscalls on map fds owned by this object).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bpf/include/xsmb_quic.h"
#include "common/quic/cid.h"

struct xsmb_quic;

namespace xsmb::xsk {

enum class XdpMode {
  kNative,   // XDP_FLAGS_DRV_MODE: the driver runs it (veth has it); needed for zero-copy XSKs
  kGeneric,  // XDP_FLAGS_SKB_MODE: after the skb is built (any device; XSKs in copy mode)
  kAuto,     // native, else generic
};

struct SteeringOptions {
  // Where the maps are pinned (PIN_DIR/quic_cfg, quic_cids, ...), reused when compatible;
  // empty: unpinned (one process, tests).
  std::string pin_dir;
  uint16_t port = XSMB_QUIC_PORT_DEFAULT;  // UDP port QUIC is served on (host order)
  uint16_t nworkers = 1;                   // workers 0..nworkers-1 (at most 256)
  bool xsk = false;  // XDP redirects registered IDs to XSKs (else counts and passes them)
};

class QuicSteering {
 public:
  ~QuicSteering();
  QuicSteering(const QuicSteering&) = delete;
  QuicSteering& operator=(const QuicSteering&) = delete;

  // Opens and loads xsmb_quic (both programs, its six maps) and writes the configuration.
  // Errors: the kernel refused the object (not permitted, verifier) or a pinned map of
  // another shape is in the way.
  static absl::StatusOr<std::unique_ptr<QuicSteering>> load(const SteeringOptions& options);

  // Changes port, worker count or mode of the loaded programs.
  absl::Status configure(const SteeringOptions& options);

  // Socket mode. udp_fds[i] is worker i's UDP socket, bound with SO_REUSEPORT to one address
  // (one reuseport group; group < XSMB_QUIC_MAX_GROUPS numbers the addresses): puts them in
  // the sockarray and attaches the program to the group (SO_ATTACH_REUSEPORT_EBPF, socket(7)).
  absl::Status attachReuseport(const std::vector<int>& udp_fds, uint32_t group = 0);

  // AF_XDP mode: attaches the XDP program to an interface (bpf_xdp_attach; the interface must
  // have no other XDP program), and removes it again (only if it is still ours).
  absl::Status attachXdp(int ifindex, XdpMode mode = XdpMode::kAuto);
  absl::Status detachXdp(int ifindex);
  // Worker `worker`'s XSK bound to receive queue `queue` (XSMB_QUIC_XSK_SLOT), or its removal.
  absl::Status setXsk(uint32_t queue, uint32_t worker, int xsk_fd);
  absl::Status clearXsk(uint32_t queue, uint32_t worker);

  // Connection IDs (RFC 9000 5.1.1 issue, 5.1.2 retire): only registered IDs are placed by
  // XDP; flags = XSMB_QUIC_CIDF_*. The worker comes from the ID's byte 1 (InvalidArgument
  // when it is not of our layout). Unregistering an absent ID is NotFound.
  absl::Status registerCid(const quic::ConnectionId& cid, uint32_t flags = 0);
  absl::Status unregisterCid(const quic::ConnectionId& cid);
  // The map entry of an ID (its worker, flags and the packets XDP saw with it).
  absl::StatusOr<xsmb_quic_cid_info> lookupCid(const quic::ConnectionId& cid) const;

  // Counters summed over CPUs, (name from XSMB_QUIC_COUNTERS, value), in enum order.
  std::vector<std::pair<std::string, uint64_t>> counters() const;
  // What reached one worker, summed over CPUs.
  xsmb_quic_worker_stat workerStat(uint32_t worker) const;
  // Zeroes the counters and worker statistics (tests).
  void resetCounters();

  int xdpProgramFd() const;
  int reuseportProgramFd() const;
  int mapFd(const char* name) const;  // "xsmb_quic_cids", ...; -1 when unknown

  // The counter names of XSMB_QUIC_COUNTERS, in enum xsmb_quic_counter order.
  static const std::vector<std::string>& counterNames();

 private:
  QuicSteering() = default;
  struct SkelDeleter {
    void operator()(::xsmb_quic* s) const;
  };
  std::unique_ptr<::xsmb_quic, SkelDeleter> skel_;
  std::vector<int> attached_ifindexes_;
};

}  // namespace xsmb::xsk
