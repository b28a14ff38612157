// The xsmbd side of the BPF data plane: opens the maps `xsmb-loader load` pinned, keeps the
// sessions map in step with the server's sessions, feeds the server-measured latency
// histogram, and optionally attaches the socket-level programs (sk_reuseport for the
// listening sockets, the sockhash stream verdict for accepted connections).
//
// Every method is cheap and thread-safe: map updates are single bpf() syscalls, and the
// histogram, config and worker-load maps are mmapped arrays updated with atomics.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "xsmb_abi.h"

namespace xsmb::bpf {

// One entry of the sessions map: the key, and the value as the ABI header defines it (struct
// xsmb_session, bpf/include/xsmb_abi.h; no copy of its fields here). The caller fills the
// identity fields (uid, dialect, signing, encryption, home_cpu, host order) of a
// value-initialized record; the traffic fields are the BPF programs' and start at zero.
struct SessionRecord : xsmb_session {
  uint64_t session_id = 0;  // the key: MS-SMB2 2.2.1 SessionId, host order
};

class DataPlane {
 public:
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Opens the maps pinned under pin_dir (default XSMB_PIN_DIR_DEFAULT). Returns nullptr (and a
  // reason) when nothing is pinned or BPF is not permitted; the server then logs one line
  // and runs in plain socket mode.
  static std::unique_ptr<DataPlane> open(const std::string& pin_dir, std::string* why_not);

  // Generations (zero-downtime upgrade, docs/bpf.md "Takeover"): which generation this process
  // is. Without takeover, the one the config map names (the serving one); with takeover, the
  // next. Clears what an earlier process of that slot registered. Call before
  // attachReuseport / setWorkerCpu.
  void beginGeneration(bool takeover);
  uint32_t generation() const { return generation_; }
  // Makes this process's generation the serving one: new connections go to its sockets
  // (nworkers = its workers per group). An older generation sees it and drains.
  void activateGeneration(uint32_t nworkers);
  // The generation the config map names now.
  uint32_t servingGeneration() const;

  // Attaches the sk_reuseport program to one reuseport group: listen_fds[i] is worker i's
  // listening socket for one address (at most XSMB_MAX_WORKERS workers, XSMB_MAX_RP_GROUPS
  // addresses): registers the address in rp_groups and the sockets in the group's slots.
  // Uses the pinned program, or loads the socket object itself (smb.conf "bpf = yes").
  // Also makes sure the sockhash has its verdict. false + *error on failure.
  bool attachReuseport(const std::vector<int>& listen_fds, std::string* error);
  // Puts an accepted TCP socket into the sockhash, whose verdict then reads every message
  // header (policy, accounting); false = not accelerated (no verdict attached). The socket
  // must not have been read from yet (the verdict follows the framing from byte 0). The
  // kernel removes it when the socket closes.
  bool addConnection(int fd);
  // Writes/removes the sessions map entry (MS-SMB2 3.3.5.5 completion / 3.3.5.6 logoff).
  void sessionUp(const SessionRecord& r);
  void sessionDown(uint64_t session_id);
  // Adds a server-measured request latency (command = MS-SMB2 2.2.1.2 Command, ns) to the
  // calling thread's stripe of the histogram.
  void recordLatency(uint16_t command, uint64_t nanoseconds);
  // Largest NetBIOS message payload (bytes) the verdict lets through; 0 = no limit.
  void setMaxMessageSize(uint32_t bytes);
  // Connections worker `worker` holds now; the reuseport program prefers the least loaded.
  void setWorkerLoad(uint32_t worker, uint32_t connections);
  // The CPU worker `worker`'s thread is pinned to (XSMB_CPU_NONE: not pinned): the home CPU
  // the reuseport program records for the worker's new connections, which XDP steers to.
  void setWorkerCpu(uint32_t worker, uint32_t cpu);

  // The limits map (XSMB_MAX_LIMITS entries, mmapped): session::Limits works on it.
  xsmb_limit* limits() const { return limits_; }
  // A session's measured rate and throttled time into its sessions map entry.
  void updateSessionRate(uint64_t session_id, uint64_t rate_bps, uint64_t throttled_ns);

  // Reading side (xsmbctl, metrics, tests).
  // Counters summed over CPUs, as (name from XSMB_COUNTERS, value).
  std::vector<std::pair<std::string, uint64_t>> counters() const;
  // The sessions map entry of session_id; false when absent.
  bool lookupSession(uint64_t session_id, xsmb_session* out) const;
  // The server-measured histogram of one command slot (its stripes summed).
  xsmb_hist serverLatency(uint32_t slot) const;
  const std::string& pinDir() const { return pin_dir_; }

 private:
  DataPlane() = default;
  bool ensureSockPrograms(std::string* error);

  std::string pin_dir_;
  int config_fd_ = -1, sessions_fd_ = -1, counters_fd_ = -1, srv_lat_fd_ = -1;
  int sockhash_fd_ = -1, workers_fd_ = -1, wload_fd_ = -1, rp_groups_fd_ = -1;
  uint32_t rp_groups_ = 0;   // reuseport groups registered so far (guarded by mu_)
  uint32_t generation_ = 0;  // set by beginGeneration
  int reuseport_prog_fd_ = -1;
  xsmb_config* config_ = nullptr;  // mmapped
  xsmb_hist* srv_lat_ = nullptr;   // mmapped, XSMB_SRV_LAT_STRIPES * XSMB_CMD_SLOTS entries
  size_t config_len_ = 0, srv_lat_len_ = 0;
  bool sockhash_ready_ = false;
  std::unique_ptr<struct SockObject> sock_;  // socket programs this process loaded
  xsmb_wload* wload_ = nullptr;              // mmapped, 2 x XSMB_MAX_WORKERS entries
  xsmb_limit* limits_ = nullptr;             // mmapped, XSMB_MAX_LIMITS entries
  size_t limits_len_ = 0;
  int limits_fd_ = -1;
  size_t wload_len_ = 0;
  std::mutex mu_;  // guards attachReuseport / sock_
};

}  // namespace xsmb::bpf
