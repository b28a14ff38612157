// The BPF objects of xsmb (skeletons generated from bpf/*.bpf.c) and the pin layout they
// share, used by the loader CLI, the DataPlane library and the tests.
//
// Pin layout under PIN_DIR (default XSMB_PIN_DIR_DEFAULT, /sys/fs/bpf/xsmb):
//   <map name without "xsmb_">   every map, e.g. PIN_DIR/sessions for xsmb_sessions
//   prog_<name without "xsmb_">  programs loaded by `xsmb-loader load`, e.g. prog_tc_egress
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xsmb_abi.h"

struct bpf_object;
struct xsmb_xdp;
struct xsmb_tc;
struct xsmb_sock;

namespace xsmb::bpf {

// PIN_DIR/<map_name without the "xsmb_" prefix>.
std::string mapPinPath(const std::string& pin_dir, const std::string& map_name);
// PIN_DIR/prog_<prog_name without the "xsmb_" prefix>.
std::string progPinPath(const std::string& pin_dir, const std::string& prog_name);

// Points every map of an opened (not loaded) object at its pin path, so that loading reuses
// a compatible pinned map or creates and pins it. Returns 0 or -errno.
int setPinPaths(bpf_object* obj, const std::string& pin_dir);

// The optional parts of the data plane. Each needs program and map types a kernel may lack
// (or an operator may turn off: xsmb-loader load --without): without `xdp` nothing is read at
// ingress (no policy, accounting or steering), without `tc` no wire latency, without
// `sockmap` no socket verdict, without `reuseport` the kernel's hash places connections.
struct Features {
  bool xdp = true;        // XDP programs and the CPUMAP
  bool tc = true;         // sched_cls programs
  bool sockmap = true;    // sk_skb programs and the sockhash
  bool reuseport = true;  // sk_reuseport programs and the reuseport socket array
};
// Before loading an opened object: the programs and maps of what `f` turns off are neither
// loaded nor created (so none is pinned, and what depends on them sees them absent).
void applyFeatures(bpf_object* obj, const Features& f);

struct XdpSkelDeleter {
  void operator()(xsmb_xdp* s) const;
};
struct TcSkelDeleter {
  void operator()(xsmb_tc* s) const;
};
struct SockSkelDeleter {
  void operator()(xsmb_sock* s) const;
};
using XdpSkel = std::unique_ptr<xsmb_xdp, XdpSkelDeleter>;
using TcSkel = std::unique_ptr<xsmb_tc, TcSkelDeleter>;
using SockSkel = std::unique_ptr<xsmb_sock, SockSkelDeleter>;

// Opens a skeleton without loading it; nullptr with *error set on failure.
XdpSkel openXdp(std::string* error);
TcSkel openTc(std::string* error);
SockSkel openSock(std::string* error);
bpf_object* objectOf(xsmb_xdp* s);
bpf_object* objectOf(xsmb_tc* s);
bpf_object* objectOf(xsmb_sock* s);
// Loads an opened skeleton (maps first reuse their pins when setPinPaths was called).
int loadXdp(xsmb_xdp* s);
int loadTc(xsmb_tc* s);
int loadSock(xsmb_sock* s);

// Detaches every stream parser program from a sockhash/sockmap (map_fd), so that the verdict
// runs alone on each skb. Returns 0 or -errno.
int detachStreamParser(int map_fd);

// Names of enum xsmb_counter, in index order ("XDP_PACKETS", ...).
const std::vector<std::string>& counterNames();
// Names of the command slots ("NEGOTIATE", ..., "OTHER", "TRANSFORM").
const std::vector<std::string>& commandSlotNames();

// Sums the per-CPU record of xsmb_counters (entry 0: `fields` u64, struct xsmb_counters) into
// one value per field (enum xsmb_counter order); empty on error.
std::vector<uint64_t> readPercpuCounters(int map_fd, uint32_t fields);
// Sums the per-CPU xsmb_cmd_stats into one xsmb_cmd_stat per slot; empty on error.
std::vector<xsmb_cmd_stat> readCmdStats(int map_fd);

// Command slot of an SMB2 Command value (MS-SMB2 2.2.1.2): the value up to 0x12, else OTHER.
inline uint32_t commandSlot(uint16_t command) { return command <= 0x12 ? command : XSMB_CMD_OTHER; }

// "libbpf: ..." messages go to stderr only at this verbosity or above (0 = silent, the
// default once any function here ran; 1 warnings, 2 info, 3 debug).
void setLibbpfVerbosity(int level);
// Routes libbpf's messages through the verbosity filter without changing the level.
void installLibbpfLogging();

}  // namespace xsmb::bpf
