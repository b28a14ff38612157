// What `xsmb-loader` does: load and pin the xsmb maps and programs, attach the XDP program
// (through libxdp's dispatcher, so it coexists with other XDP programs) and the TC egress
// program to an interface, detach, report and unload. Every operation holds an exclusive
// flock on the pin directory, is idempotent, and undoes its own partial work on failure.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "xsmb_abi.h"

namespace xsmb::bpf {

struct Features;  // loader/objects.h

struct LoadOptions {
  std::vector<uint16_t> ports;  // SMB ports (host order); empty = keep (445 on first load)
  int64_t syn_rate = -1;        // SYNs/s per source, 0 = no limit, -1 = keep
  int64_t syn_burst = -1;       // token bucket depth, -1 = keep (default 2 x rate)
  int64_t max_msg_size = -1;    // bytes, 0 = no limit, -1 = keep
  int steer = -1;               // 1/0 = XSMB_CFG_STEER on/off, -1 = keep
  int latency = -1;             // 1/0 = XSMB_CFG_LATENCY on/off, -1 = keep (on at first load)
  // Parts to leave out at the first load, as if the kernel lacked them: "xdp", "tc",
  // "sockmap", "reuseport" (see Features in loader/objects.h).
  std::vector<std::string> without;
};

enum class AttachMode { kAuto, kNative, kGeneric };

struct InterfaceStatus {
  std::string name;
  int ifindex = 0;
  std::string xdp_mode;  // "native", "generic" or "" (not attached)
  uint32_t xdp_prog_id = 0;
  bool xdp_dispatcher = false;          // attached through libxdp's multi-program dispatcher
  std::vector<std::string> xdp_others;  // the other programs in that dispatcher
  uint32_t tc_prog_id = 0;              // 0 = not attached
};

class Loader {
 public:
  explicit Loader(std::string pin_dir = XSMB_PIN_DIR_DEFAULT);

  // Creates/pins every map and the TC and socket programs, attaches the stream verdict
  // (alone) to the sockhash, fills the cpumap, then applies opts. Already loaded: only opts.
  bool load(const LoadOptions& opts, std::string* error);
  // Attaches XDP (mode kAuto: native, else generic) and TC egress to iface; loads first if
  // needed. XDP goes through libxdp's dispatcher, so other programs attached through libxdp
  // keep running; where the dispatcher is unusable (the kernel refuses the freplace programs
  // it needs, or no bpffs at /sys/fs/bpf) xsmb_xdp is attached alone, and *note (if given)
  // says so and why. A program already attached without the dispatcher is never replaced:
  // that is an error. Attached already: nothing changes. On failure nothing stays attached.
  bool attach(const std::string& iface, AttachMode mode, std::string* error,
              std::string* note = nullptr);
  // Removes the xsmb XDP and TC programs from iface (others' programs stay).
  bool detach(const std::string& iface, std::string* error);
  // Detaches from every interface, then removes every pin and the pin directory.
  bool unload(std::string* error);
  // Adds/removes a source prefix ("10.0.0.3", "10.1.0.0/16", "fd00::/64") in the blocklist.
  bool block(const std::string& prefix, bool add, std::string* error);
  // One line per optional part the last load left out, and why.
  const std::vector<std::string>& notes() const { return notes_; }
  // Human-readable report: pins, attachments, config, counters, per-command traffic.
  bool status(std::ostream& out, std::string* error);

  bool isLoaded() const;
  std::vector<InterfaceStatus> interfaces() const;
  const std::string& pinDir() const { return pin_dir_; }

 private:
  bool loadLocked(const LoadOptions& opts, std::string* error);
  bool loadObjects(const Features& f, std::string* error);
  bool applyOptions(const LoadOptions& opts, bool fresh, std::string* error);
  Features pinnedFeatures() const;  // what the load kept, read from the pins
  bool detachLocked(const std::string& iface, int ifindex, std::string* error);
  std::string pin_dir_;
  std::vector<std::string> notes_;
};

// Parses "a.b.c.d[/len]" or "v6[/len]" into an LPM key (IPv4 as ::ffff:a.b.c.d, len + 96).
bool parsePrefix(const std::string& text, xsmb_lpm_key* key);

}  // namespace xsmb::bpf
