// xsmb-loader: loads, attaches, inspects and unloads the xsmb BPF data plane.
//
//   xsmb-loader [--pin-dir DIR] [-v] load [--port N]... [--syn-rate N] [--syn-burst N]
//                                          [--max-msg BYTES] [--steer|--no-steer]
//                                          [--latency|--no-latency]
//                                          [--without xdp,tc,sockmap,reuseport]
//   xsmb-loader [--pin-dir DIR] attach IFACE [--mode native|generic]
//   xsmb-loader [--pin-dir DIR] detach IFACE
//   xsmb-loader [--pin-dir DIR] block PREFIX | unblock PREFIX
//   xsmb-loader [--pin-dir DIR] status
//   xsmb-loader [--pin-dir DIR] unload
//
// Exit status: 0 done (also when there was nothing to do), 1 failed, 2 usage.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/base/manual.h"
#include "loader/loader.h"
#include "loader/objects.h"

namespace {

int usage() {
  std::cerr << "usage: xsmb-loader [--pin-dir DIR] [-v] COMMAND\n"
               "  load [--port N]... [--syn-rate N] [--syn-burst N] [--max-msg BYTES]\n"
               "       [--steer|--no-steer] [--latency|--no-latency]\n"
               "       [--without xdp,tc,sockmap,reuseport]  (parts to leave out)\n"
               "  attach IFACE [--mode native|generic]\n"
               "  detach IFACE\n"
               "  block PREFIX | unblock PREFIX\n"
               "  status\n"
               "  unload\n";
  return 2;
}

bool number(const char* s, int64_t max, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 0 || v > max) return false;
  *out = v;
  return true;
}

// The options of `load`; false on a usage error.
bool parseLoadOptions(const std::vector<std::string>& rest, xsmb::bpf::LoadOptions* out) {
  xsmb::bpf::LoadOptions& o = *out;
  for (size_t k = 0; k < rest.size(); k++) {
    int64_t v = 0;
    const std::string& a = rest[k];
    bool has_value = k + 1 < rest.size();
    if (a == "--port" && has_value && number(rest[k + 1].c_str(), 65535, &v) && v > 0) {
      o.ports.push_back(static_cast<uint16_t>(v));
      k++;
    } else if (a == "--syn-rate" && has_value && number(rest[k + 1].c_str(), 1 << 30, &v)) {
      o.syn_rate = v;
      k++;
    } else if (a == "--syn-burst" && has_value && number(rest[k + 1].c_str(), 1 << 30, &v)) {
      o.syn_burst = v;
      k++;
    } else if (a == "--max-msg" && has_value && number(rest[k + 1].c_str(), 1 << 24, &v)) {
      o.max_msg_size = v;
      k++;
    } else if (a == "--steer" || a == "--no-steer") {
      o.steer = a == "--steer";
    } else if (a == "--latency" || a == "--no-latency") {
      o.latency = a == "--latency";
    } else if (a == "--without" && has_value) {
      std::string list = rest[++k];
      for (size_t at = 0; at <= list.size();) {
        size_t comma = std::min(list.find(',', at), list.size());
        if (comma > at) o.without.push_back(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

xsmb::Manual loaderManual() {
  xsmb::Manual m;
  m.name = "xsmb-loader - load, attach, inspect and unload the xsmb BPF data plane";
  m.synopsis = "xsmb-loader [--pin-dir DIR] [-v] COMMAND [ARGS]\nxsmb-loader --help";
  m.description =
      "xsmb-loader loads the BPF programs of xsmbd (XDP parser and filter, TC egress latency, "
      "sk_reuseport worker selection, sockhash verdict), pins them and their maps under the pin "
      "directory, and attaches the XDP and TC programs to interfaces. xsmbd, started with "
      "\"bpf = yes\", opens what is pinned. Every command takes an exclusive lock on the pin "
      "directory. It needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (root), and a bpffs at "
      "/sys/fs/bpf (mounted when missing).\n\n"
      "Options before the command: --pin-dir DIR (default " XSMB_PIN_DIR_DEFAULT
      "; xsmbd then needs \"bpf pin dir = DIR\"), -v (libbpf's and libxdp's messages).";
  m.entries_title = "COMMANDS";
  m.entries = {
      {"load [--port N]... [--syn-rate N] [--syn-burst N] [--max-msg BYTES] [--steer|--no-steer]"
       " [--latency|--no-latency] [--without xdp,tc,sockmap,reuseport]",
       "Loads and pins every program and map (idempotent: when loaded, only applies the "
       "options): the SMB ports to parse, new connections per second and burst per source, the "
       "largest message the verdict lets through, steering to the session's CPU, latency "
       "measurement, and parts to leave out."},
      {"attach IFACE [--mode native|generic]", "Attaches XDP (through libxdp's dispatcher "
                                               "where possible) and TC egress to IFACE."},
      {"detach IFACE", "Detaches both from IFACE."},
      {"block PREFIX, unblock PREFIX", "Drops (or stops dropping) SYNs and segments from an "
                                       "IPv4/IPv6 prefix in XDP."},
      {"status", "What is loaded and attached, the configuration and the counters."},
      {"unload", "Detaches everywhere and removes every pin."}};
  m.sections = {
      {"EXIT STATUS", "0 done (also when there was nothing to do), 1 failed, 2 usage error."},
      {"FILES", XSMB_PIN_DIR_DEFAULT " (pinned maps and programs; bpftool map dump pinned "
                                     "PATH shows them)."},
      {"SEE ALSO", "xsmbd(8), bpftool(8), xdp-loader(8); docs/bpf.md."}};
  return m;
}

int main(int argc, char** argv) {
  if (xsmb::wantsManual(argc, argv)) {
    std::cout << xsmb::renderManual(loaderManual());
    return 0;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string pin_dir = XSMB_PIN_DIR_DEFAULT;
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; i++) {
    if (args[i] == "--pin-dir" && i + 1 < args.size()) {
      pin_dir = args[++i];
    } else if (args[i] == "-v") {
      xsmb::bpf::setLibbpfVerbosity(3);
    } else {
      return usage();
    }
  }
  if (i >= args.size()) return usage();
  std::string cmd = args[i++];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i), args.end());
  xsmb::bpf::Loader loader(pin_dir);
  std::string error;
  bool ok = false;

  if (cmd == "load") {
    xsmb::bpf::LoadOptions o;
    if (!parseLoadOptions(rest, &o)) return usage();
    ok = loader.load(o, &error);
    for (const std::string& n : loader.notes()) std::cerr << "xsmb-loader: " << n << "\n";
  } else if (cmd == "attach") {
    if (rest.empty()) return usage();
    auto mode = xsmb::bpf::AttachMode::kAuto;
    if (rest.size() == 3 && rest[1] == "--mode") {
      if (rest[2] == "native") {
        mode = xsmb::bpf::AttachMode::kNative;
      } else if (rest[2] == "generic") {
        mode = xsmb::bpf::AttachMode::kGeneric;
      } else {
        return usage();
      }
    } else if (rest.size() != 1) {
      return usage();
    }
    std::string note;
    ok = loader.attach(rest[0], mode, &error, &note);
    if (!note.empty()) std::cerr << "xsmb-loader: " << note << "\n";
  } else if (cmd == "detach") {
    if (rest.size() != 1) return usage();
    ok = loader.detach(rest[0], &error);
  } else if (cmd == "block" || cmd == "unblock") {
    if (rest.size() != 1) return usage();
    ok = loader.block(rest[0], cmd == "block", &error);
  } else if (cmd == "status") {
    if (!rest.empty()) return usage();
    ok = loader.status(std::cout, &error);
  } else if (cmd == "unload") {
    if (!rest.empty()) return usage();
    ok = loader.unload(&error);
  } else {
    return usage();
  }
  if (!ok) {
    std::cerr << "xsmb-loader " << cmd << ": " << error << "\n";
    return 1;
  }
  return 0;
}
