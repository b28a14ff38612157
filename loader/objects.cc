#include "loader/objects.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "xsmb_sock.skel.h"
#include "xsmb_tc.skel.h"
#include "xsmb_xdp.skel.h"

namespace xsmb::bpf {
namespace {

std::string stripPrefix(const std::string& name) {
  constexpr char kPrefix[] = "xsmb_";
  if (name.rfind(kPrefix, 0) == 0) return name.substr(sizeof(kPrefix) - 1);
  return name;
}

std::atomic<int> g_verbosity{0};

int printLibbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  int want = level == LIBBPF_WARN ? 1 : level == LIBBPF_INFO ? 2 : 3;
  if (g_verbosity.load(std::memory_order_relaxed) < want) return 0;
  return vfprintf(stderr, fmt, args);
}

int printLibxdp(enum libxdp_print_level level, const char* fmt, va_list args) {
  int want = level == LIBXDP_WARN ? 1 : level == LIBXDP_INFO ? 2 : 3;
  if (g_verbosity.load(std::memory_order_relaxed) < want) return 0;
  return vfprintf(stderr, fmt, args);
}

// libxdp's warnings (e.g. its dispatcher fallback) are said once, in the loader's own words
// (Loader::attach notes); with -v they show as well.
struct PrintInstaller {
  PrintInstaller() {
    libbpf_set_print(printLibbpf);
    libxdp_set_print(printLibxdp);
  }
};

void installPrint() { static PrintInstaller installer; }

template <typename Skel>
Skel* openChecked(Skel* (*open)(), std::string* error, const char* what) {
  installPrint();
  errno = 0;
  Skel* s = open();
  if (s == nullptr && error != nullptr) {
    *error =
        std::string("opening the ") + what + " BPF object: " + strerror(errno ? errno : EINVAL);
  }
  return s;
}

}  // namespace

std::string mapPinPath(const std::string& pin_dir, const std::string& map_name) {
  return pin_dir + "/" + stripPrefix(map_name);
}

std::string progPinPath(const std::string& pin_dir, const std::string& prog_name) {
  return pin_dir + "/prog_" + stripPrefix(prog_name);
}

int setPinPaths(bpf_object* obj, const std::string& pin_dir) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const char* name = bpf_map__name(map);
    // Internal maps (.rodata, .bss) belong to one object and are never shared.
    if (name == nullptr || std::strncmp(name, "xsmb_", 5) != 0 || std::strchr(name, '.')) {
      continue;
    }
    int err = bpf_map__set_pin_path(map, mapPinPath(pin_dir, name).c_str());
    if (err) return err;
  }
  return 0;
}

void applyFeatures(bpf_object* obj, const Features& f) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const bpf_map_type t = bpf_map__type(map);
    if ((t == BPF_MAP_TYPE_SOCKHASH && !f.sockmap) ||
        (t == BPF_MAP_TYPE_REUSEPORT_SOCKARRAY && !f.reuseport) ||
        (t == BPF_MAP_TYPE_CPUMAP && !f.xdp)) {
      bpf_map__set_autocreate(map, false);
    }
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    const bpf_prog_type t = bpf_program__type(prog);
    if ((t == BPF_PROG_TYPE_SK_SKB && !f.sockmap) ||
        (t == BPF_PROG_TYPE_SK_REUSEPORT && !f.reuseport) || (t == BPF_PROG_TYPE_XDP && !f.xdp) ||
        (t == BPF_PROG_TYPE_SCHED_CLS && !f.tc)) {
      bpf_program__set_autoload(prog, false);
    }
  }
}

void XdpSkelDeleter::operator()(xsmb_xdp* s) const { xsmb_xdp__destroy(s); }
void TcSkelDeleter::operator()(xsmb_tc* s) const { xsmb_tc__destroy(s); }
void SockSkelDeleter::operator()(xsmb_sock* s) const { xsmb_sock__destroy(s); }

XdpSkel openXdp(std::string* error) { return XdpSkel(openChecked(&xsmb_xdp__open, error, "XDP")); }
TcSkel openTc(std::string* error) { return TcSkel(openChecked(&xsmb_tc__open, error, "TC")); }
SockSkel openSock(std::string* error) {
  return SockSkel(openChecked(&xsmb_sock__open, error, "socket"));
}
bpf_object* objectOf(xsmb_xdp* s) { return s->obj; }
bpf_object* objectOf(xsmb_tc* s) { return s->obj; }
bpf_object* objectOf(xsmb_sock* s) { return s->obj; }
int loadXdp(xsmb_xdp* s) { return xsmb_xdp__load(s); }
int loadTc(xsmb_tc* s) { return xsmb_tc__load(s); }
int loadSock(xsmb_sock* s) { return xsmb_sock__load(s); }

const std::vector<std::string>& counterNames() {
  static const std::vector<std::string> names = {
#define XSMB_X_NAME(name, doc) #name,
      XSMB_COUNTERS(XSMB_X_NAME)
#undef XSMB_X_NAME
  };
  return names;
}

const std::vector<std::string>& commandSlotNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v(XSMB_CMD_SLOTS);
#define XSMB_X_CMD_NAME(name, value) v[value] = #name;
    XSMB_COMMANDS(XSMB_X_CMD_NAME)
#undef XSMB_X_CMD_NAME
    return v;
  }();
  return names;
}

std::vector<uint64_t> readPercpuCounters(int map_fd, uint32_t fields) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return {};
  // One record of `fields` u64 per CPU (a multiple of 8 bytes: no padding between CPUs).
  std::vector<uint64_t> out(fields), per(static_cast<size_t>(ncpu) * fields);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(map_fd, &zero, per.data()) != 0) return {};
  for (int cpu = 0; cpu < ncpu; cpu++) {
    for (uint32_t i = 0; i < fields; i++) out[i] += per[static_cast<size_t>(cpu) * fields + i];
  }
  return out;
}

std::vector<xsmb_cmd_stat> readCmdStats(int map_fd) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return {};
  std::vector<xsmb_cmd_stat> out(XSMB_CMD_SLOTS), per(ncpu);
  for (uint32_t i = 0; i < XSMB_CMD_SLOTS; i++) {
    if (bpf_map_lookup_elem(map_fd, &i, per.data()) != 0) return {};
    for (const auto& v : per) {
      out[i].msgs += v.msgs;
      out[i].bytes += v.bytes;
    }
  }
  return out;
}

void installLibbpfLogging() { installPrint(); }

void setLibbpfVerbosity(int level) {
  installPrint();
  g_verbosity.store(level, std::memory_order_relaxed);
}

int detachStreamParser(int map_fd) {
  uint32_t ids[8] = {};
  uint32_t count = 8;
  if (bpf_prog_query(map_fd, BPF_SK_SKB_STREAM_PARSER, 0, nullptr, ids, &count) != 0) {
    return -errno;
  }
  for (uint32_t i = 0; i < count && i < 8; i++) {
    int prog = bpf_prog_get_fd_by_id(ids[i]);
    if (prog < 0) return -errno;
    int err = bpf_prog_detach2(prog, map_fd, BPF_SK_SKB_STREAM_PARSER);
    int saved = errno;
    close(prog);
    if (err != 0) return -saved;
  }
  return 0;
}

}  // namespace xsmb::bpf
