#include "loader/loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>

#include "loader/objects.h"
#include "xsmb_sock.skel.h"
#include "xsmb_tc.skel.h"
#include "xsmb_xdp.skel.h"

namespace xsmb::bpf {
namespace {

// TC filter identity on clsact egress: handle 'XS', priority chosen to sit early.
constexpr uint32_t kTcHandle = 0x5853;
constexpr uint32_t kTcPriority = 0x5853;
constexpr char kXdpProgName[] = "xsmb_xdp";
constexpr uint32_t kCpumapQsize = 2048;

std::string errnoText(int err) { return strerror(err < 0 ? -err : err); }

bool fail(std::string* error, const std::string& text) {
  if (error != nullptr) *error = text;
  return false;
}

// Creates dir and its parents (bpffs allows mkdir); mounts bpffs at XSMB_BPFFS_ROOT
// (/sys/fs/bpf) if the pin directory lies there and nothing is mounted.
bool ensureDir(const std::string& dir, std::string* error) {
  if (dir.rfind(XSMB_BPFFS_ROOT, 0) == 0) {
    struct statfs st;
    if (statfs(XSMB_BPFFS_ROOT, &st) == 0 && st.f_type != BPF_FS_MAGIC) {
      if (mount("bpf", XSMB_BPFFS_ROOT, "bpf", 0, "mode=0700") != 0) {
        return fail(error, "mounting bpffs at " XSMB_BPFFS_ROOT ": " + errnoText(errno));
      }
    }
  }
  for (size_t pos = 1; pos <= dir.size(); pos++) {
    if (pos == dir.size() || dir[pos] == '/') {
      std::string part = dir.substr(0, pos);
      if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail(error, "creating " + part + ": " + errnoText(errno));
      }
    }
  }
  return true;
}

// Exclusive flock on the pin directory for the lifetime of the object.
class DirLock {
 public:
  bool acquire(const std::string& dir, bool create, std::string* error) {
    if (create && !ensureDir(dir, error)) return false;
    fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return fail(error, "opening " + dir + ": " + errnoText(errno));
    if (flock(fd_, LOCK_EX) != 0) return fail(error, "locking " + dir + ": " + errnoText(errno));
    return true;
  }
  ~DirLock() {
    if (fd_ >= 0) close(fd_);  // releases the flock
  }

 private:
  int fd_ = -1;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Removes every pin in dir and dir itself (pins are files of bpffs; unlink drops them).
void removePins(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    unlink((dir + "/" + e->d_name).c_str());
  }
  closedir(d);
}

int pinProgram(bpf_program* prog, const std::string& pin_dir) {
  std::string path = progPinPath(pin_dir, bpf_program__name(prog));
  unlink(path.c_str());  // a stale pin of an earlier, partial load
  return bpf_program__pin(prog, path.c_str());
}

bool fillCpumap(const std::string& pin_dir, std::string* error) {
  Fd map(bpf_obj_get(mapPinPath(pin_dir, "xsmb_cpumap").c_str()));
  if (map.get() < 0) return fail(error, "opening the cpumap: " + errnoText(errno));
  int ncpu = libbpf_num_possible_cpus();
  for (uint32_t cpu = 0; cpu < static_cast<uint32_t>(ncpu) && cpu < XSMB_MAX_CPUS; cpu++) {
    bpf_cpumap_val v = {};
    v.qsize = kCpumapQsize;
    // Offline CPUs refuse an entry; steering to them falls back to XDP_PASS.
    bpf_map_update_elem(map.get(), &cpu, &v, BPF_ANY);
  }
  return true;
}

// 1 = the kernel has it, 0 = it lacks it, < 0 = the probe failed.
int probeProg(bpf_prog_type t) { return libbpf_probe_bpf_prog_type(t, nullptr); }
int probeMap(bpf_map_type t) { return libbpf_probe_bpf_map_type(t, nullptr); }

// Feature probes instead of kernel version checks. What every program needs (bpf_loop, the
// hash and array maps) is required; each optional part is off when the kernel lacks one of
// its types or `without` names it, with one line in *notes saying which and why.
bool probeFeatures(const std::vector<std::string>& without, Features* f,
                   std::vector<std::string>* notes, std::string* error) {
  struct Required {
    bpf_map_type type;
    const char* what;
  };
  for (const Required& r : {Required{BPF_MAP_TYPE_LRU_HASH, "LRU hash maps"},
                            Required{BPF_MAP_TYPE_LPM_TRIE, "LPM tries"},
                            Required{BPF_MAP_TYPE_PERCPU_ARRAY, "per-CPU arrays"}}) {
    int got = probeMap(r.type);
    if (got == 0) return fail(error, std::string("the kernel lacks ") + r.what);
    if (got < 0) return fail(error, std::string("probing ") + r.what + ": " + errnoText(got));
  }
  // The header walks and the worker choice are bpf_loops (Linux 5.17).
  int loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, nullptr);
  if (loop == 0) return fail(error, "the kernel lacks the bpf_loop helper (Linux 5.17)");
  if (loop < 0) return fail(error, "probing bpf_loop: " + errnoText(loop));
  struct Optional {
    const char* name;
    bool* on;
    int have;
    const char* what;
  };
  const Optional parts[] = {
      {"xdp", &f->xdp, probeProg(BPF_PROG_TYPE_XDP) == 1 && probeMap(BPF_MAP_TYPE_CPUMAP) == 1,
       "no ingress policy, accounting or steering"},
      {"tc", &f->tc, probeProg(BPF_PROG_TYPE_SCHED_CLS) == 1, "no wire latency"},
      {"sockmap", &f->sockmap,
       probeProg(BPF_PROG_TYPE_SK_SKB) == 1 && probeMap(BPF_MAP_TYPE_SOCKHASH) == 1,
       "no socket verdict (bpf sockmap)"},
      {"reuseport", &f->reuseport,
       probeProg(BPF_PROG_TYPE_SK_REUSEPORT) == 1 &&
           probeMap(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY) == 1,
       "the kernel's hash places connections (no load balancing, steering or takeover)"},
  };
  for (const Optional& p : parts) {
    const bool asked_off = std::find(without.begin(), without.end(), p.name) != without.end();
    *p.on = p.have && !asked_off;
    if (!*p.on) {
      notes->push_back(std::string(p.name) + " off (" +
                       (asked_off ? "--without" : "the kernel lacks it") + "): " + p.what);
    }
  }
  for (const std::string& w : without) {
    if (w != "xdp" && w != "tc" && w != "sockmap" && w != "reuseport") {
      return fail(error, "--without " + w + ": not one of xdp, tc, sockmap, reuseport");
    }
  }
  return true;
}

bool readConfig(int fd, xsmb_config* cfg) {
  uint32_t zero = 0;
  return bpf_map_lookup_elem(fd, &zero, cfg) == 0;
}

// Finds the xsmb program in the XDP chain of ifindex; nullptr when absent. *mp owns it.
xdp_program* findXdp(int ifindex, xdp_multiprog** mp_out) {
  *mp_out = nullptr;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (mp == nullptr || libxdp_get_error(mp)) return nullptr;
  *mp_out = mp;
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    if (p != nullptr && std::strcmp(xdp_program__name(p), kXdpProgName) == 0) return p;
    return nullptr;
  }
  for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr;
       p = xdp_multiprog__next_prog(p, mp)) {
    if (std::strcmp(xdp_program__name(p), kXdpProgName) == 0) return p;
  }
  return nullptr;
}

uint32_t tcProgId(int ifindex) {
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
  DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

const char* modeName(xdp_attach_mode m) {
  switch (m) {
    case XDP_MODE_NATIVE:
      return "native";
    case XDP_MODE_SKB:
      return "generic";
    case XDP_MODE_HW:
      return "offload";
    default:
      return "";
  }
}

}  // namespace

bool parsePrefix(const std::string& text, xsmb_lpm_key* key) {
  std::string addr = text;
  int len = -1;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    addr = text.substr(0, slash);
    char* endp = nullptr;
    long v = strtol(text.c_str() + slash + 1, &endp, 10);
    if (endp == text.c_str() + slash + 1 || *endp != '\0' || v < 0 || v > 128) return false;
    len = static_cast<int>(v);
  }
  std::memset(key, 0, sizeof(*key));
  in_addr v4;
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
    if (len > 32) return false;
    key->addr.b[10] = 0xff;
    key->addr.b[11] = 0xff;
    std::memcpy(&key->addr.b[12], &v4, 4);
    key->prefixlen = 96 + (len < 0 ? 32 : len);
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), key->addr.b) == 1) {
    key->prefixlen = len < 0 ? 128 : len;
    return true;
  }
  return false;
}

Loader::Loader(std::string pin_dir) : pin_dir_(std::move(pin_dir)) { installLibbpfLogging(); }

bool Loader::isLoaded() const { return exists(mapPinPath(pin_dir_, "xsmb_config")); }

bool Loader::load(const LoadOptions& opts, std::string* error) {
  DirLock lock;
  if (!lock.acquire(pin_dir_, true, error)) return false;
  return loadLocked(opts, error);
}

// Loads, pins and attaches what `f` keeps: the socket object first (it creates and pins every
// map, like the others would), then TC egress, then a standalone XDP copy for bpftool and
// bpf_prog_test_run (attach loads its own copy into libxdp's dispatcher). Undoes its pins on
// failure.
bool Loader::loadObjects(const Features& f, std::string* error) {
  removePins(pin_dir_);  // leftovers of an interrupted load
  auto undo = [&](const std::string& what, int err) {
    removePins(pin_dir_);
    return fail(error, what + ": " + errnoText(err));
  };
  std::string e;
  SockSkel sock = openSock(&e);
  if (!sock) return fail(error, e);
  applyFeatures(objectOf(sock.get()), f);
  int err = setPinPaths(objectOf(sock.get()), pin_dir_);
  if (!err) err = loadSock(sock.get());
  if (err) return undo("loading the socket programs", err);
  bpf_program* prog;
  bpf_object__for_each_program(prog, objectOf(sock.get())) {
    if (!bpf_program__autoload(prog)) continue;
    if ((err = pinProgram(prog, pin_dir_))) return undo("pinning socket programs", err);
  }
  if (f.sockmap) {
    int sockhash = bpf_map__fd(sock->maps.xsmb_sockhash);
    // The verdict alone, no stream parser (docs/bpf.md, "Why no stream parser"); a parser
    // left attached by an older loader is detached.
    detachStreamParser(sockhash);
    if (bpf_prog_attach(bpf_program__fd(sock->progs.xsmb_sk_verdict), sockhash,
                        BPF_SK_SKB_STREAM_VERDICT, 0)) {
      return undo("attaching the stream verdict", errno);
    }
  }
  if (f.tc) {
    TcSkel tc = openTc(&e);
    if (!tc) return undo(e, EINVAL);
    applyFeatures(objectOf(tc.get()), f);
    err = setPinPaths(objectOf(tc.get()), pin_dir_);
    if (!err) err = loadTc(tc.get());
    if (!err) err = pinProgram(tc->progs.xsmb_tc_egress, pin_dir_);
    if (err) return undo("loading the TC program", err);
  }
  if (f.xdp) {
    XdpSkel xdp = openXdp(&e);
    if (!xdp) return undo(e, EINVAL);
    applyFeatures(objectOf(xdp.get()), f);
    err = setPinPaths(objectOf(xdp.get()), pin_dir_);
    if (!err) err = loadXdp(xdp.get());
    if (!err) err = pinProgram(xdp->progs.xsmb_xdp, pin_dir_);
    if (err) return undo("loading the XDP program", err);
    if (!fillCpumap(pin_dir_, error)) {
      removePins(pin_dir_);
      return false;
    }
  }
  return true;
}

bool Loader::loadLocked(const LoadOptions& opts, std::string* error) {
  bool fresh = !isLoaded();
  if (fresh) {
    Features f;
    notes_.clear();
    if (!probeFeatures(opts.without, &f, &notes_, error)) return false;
    if (!loadObjects(f, error)) return false;
  }
  return applyOptions(opts, fresh, error);
}

// Writes the config map entry: ports, SYN rate, message size, steering and latency flags.
bool Loader::applyOptions(const LoadOptions& opts, bool fresh, std::string* error) {
  Fd cfg_fd(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_config").c_str()));
  if (cfg_fd.get() < 0) return fail(error, "opening the config map: " + errnoText(errno));
  xsmb_config cfg = {};
  if (!readConfig(cfg_fd.get(), &cfg)) return fail(error, "reading config: " + errnoText(errno));
  if (fresh) {
    cfg.ports[0] = 445;
    cfg.flags = XSMB_CFG_LATENCY;
  }
  if (!opts.ports.empty()) {
    if (opts.ports.size() > XSMB_MAX_PORTS) return fail(error, "at most 4 ports");
    std::memset(cfg.ports, 0, sizeof(cfg.ports));
    for (size_t i = 0; i < opts.ports.size(); i++) cfg.ports[i] = opts.ports[i];
  }
  if (opts.syn_rate >= 0) {
    cfg.syn_rate = static_cast<uint32_t>(opts.syn_rate);
    if (opts.syn_burst < 0) cfg.syn_burst = cfg.syn_rate * 2;
  }
  if (opts.syn_burst >= 0) cfg.syn_burst = static_cast<uint32_t>(opts.syn_burst);
  if (opts.max_msg_size >= 0) cfg.max_msg_size = static_cast<uint32_t>(opts.max_msg_size);
  if (opts.steer >= 0) {
    cfg.flags = opts.steer ? (cfg.flags | XSMB_CFG_STEER) : (cfg.flags & ~XSMB_CFG_STEER);
  }
  if (opts.latency >= 0) {
    cfg.flags = opts.latency ? (cfg.flags | XSMB_CFG_LATENCY) : (cfg.flags & ~XSMB_CFG_LATENCY);
  }
  uint32_t zero = 0;
  if (bpf_map_update_elem(cfg_fd.get(), &zero, &cfg, BPF_ANY) != 0) {
    return fail(error, "writing config: " + errnoText(errno));
  }
  return true;
}

// Why libxdp's dispatcher cannot be used here (empty when nothing known prevents it).
static std::string dispatcherUnavailableReason() {
  struct statfs fs = {};
  if (statfs(XSMB_BPFFS_ROOT, &fs) != 0 || fs.f_type != BPF_FS_MAGIC) {
    return "no bpffs at " XSMB_BPFFS_ROOT ", where libxdp keeps the dispatcher's state";
  }
  if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, nullptr) <= 0) {
    return "the kernel refuses freplace (BPF_PROG_TYPE_EXT) programs, which the dispatcher "
           "needs to chain XDP programs";
  }
  return "";
}

bool Loader::attach(const std::string& iface, AttachMode mode, std::string* error,
                    std::string* note) {
  DirLock lock;
  if (!lock.acquire(pin_dir_, true, error)) return false;
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (ifindex == 0) return fail(error, "no interface " + iface);
  if (!loadLocked(LoadOptions{}, error)) return false;

  xdp_multiprog* mp = nullptr;
  bool xdp_there = findXdp(ifindex, &mp) != nullptr;
  std::string foreign;  // a program attached without the dispatcher, which libxdp cannot chain
  if (!xdp_there && mp != nullptr && xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    if (p == nullptr) p = xdp_multiprog__hw_prog(mp);
    if (p != nullptr) foreign = xdp_program__name(p);
  }
  if (mp != nullptr) xdp_multiprog__close(mp);
  if (!foreign.empty()) {
    return fail(error, iface + " already has XDP program " + foreign +
                           " attached without libxdp's dispatcher, which nothing can share; "
                           "detach it or attach it through libxdp (xdp-loader load)");
  }
  const Features f = pinnedFeatures();
  auto add_note = [note](const std::string& text) {
    if (note != nullptr) *note += (note->empty() ? "" : "; ") + text;
  };
  if (!f.xdp) add_note("XDP is off (see xsmb-loader load): nothing attached at ingress");
  if (!xdp_there && f.xdp) {
    std::string e;
    XdpSkel xdp = openXdp(&e);
    if (!xdp) return fail(error, e);
    applyFeatures(objectOf(xdp.get()), f);
    int err = setPinPaths(objectOf(xdp.get()), pin_dir_);
    if (err) return fail(error, "pin paths: " + errnoText(err));
    xdp_program* prog = xdp_program__from_bpf_obj(objectOf(xdp.get()), "xdp");
    if (prog == nullptr || libxdp_get_error(prog)) {
      return fail(error, "libxdp: cannot use the XDP object");
    }
    err = -EINVAL;
    if (mode == AttachMode::kAuto || mode == AttachMode::kNative) {
      err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
    }
    if (err && (mode == AttachMode::kAuto || mode == AttachMode::kGeneric)) {
      err = xdp_program__attach(prog, ifindex, XDP_MODE_SKB, 0);
    }
    xdp_program__close(prog);
    if (err) {
      char buf[256];
      libxdp_strerror(err, buf, sizeof(buf));
      return fail(error, "attaching XDP to " + iface + ": " + buf);
    }
    if (findXdp(ifindex, &mp) != nullptr && xdp_multiprog__is_legacy(mp)) {
      std::string why = dispatcherUnavailableReason();
      add_note("xsmb_xdp attached to " + iface + " alone, without libxdp's dispatcher (" +
               (why.empty() ? "libxdp declined it; -v shows why" : why) +
               "): no other XDP program can run on " + iface + " while it is attached");
    }
    if (mp != nullptr) xdp_multiprog__close(mp);
    mp = nullptr;
  }

  if (!f.tc) add_note("TC is off (see xsmb-loader load): no wire latency");
  if (f.tc && tcProgId(ifindex) == 0) {
    Fd prog(bpf_obj_get(progPinPath(pin_dir_, "xsmb_tc_egress").c_str()));
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog.get(), .handle = kTcHandle,
                        .priority = kTcPriority);
    int err = prog.get() < 0 ? -errno : bpf_tc_hook_create(&hook);
    if (err == -EEXIST) err = 0;  // clsact is there already (ours or someone's)
    if (!err) err = bpf_tc_attach(&hook, &opts);
    // A kernel without the clsact qdisc or cls_bpf (modules a host may not load): XDP stays,
    // the wire latency is what is lost.
    if (err)
      add_note("TC egress not attached to " + iface + " (" + errnoText(err) + "): no wire latency");
  }
  return true;
}

Features Loader::pinnedFeatures() const {
  Features f;
  f.xdp = exists(progPinPath(pin_dir_, "xsmb_xdp"));
  f.tc = exists(progPinPath(pin_dir_, "xsmb_tc_egress"));
  f.sockmap = exists(mapPinPath(pin_dir_, "xsmb_sockhash"));
  f.reuseport = exists(mapPinPath(pin_dir_, "xsmb_workers"));
  return f;
}

bool Loader::detach(const std::string& iface, std::string* error) {
  DirLock lock;
  if (!lock.acquire(pin_dir_, true, error)) return false;
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (ifindex == 0) return fail(error, "no interface " + iface);
  return detachLocked(iface, ifindex, error);
}

bool Loader::detachLocked(const std::string& iface, int ifindex, std::string* error) {
  bool ok = true;
  xdp_multiprog* mp = nullptr;
  if (xdp_program* p = findXdp(ifindex, &mp)) {
    int err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
    if (err) ok = fail(error, "detaching XDP from " + iface + ": " + errnoText(err));
  }
  if (mp != nullptr) xdp_multiprog__close(mp);
  if (tcProgId(ifindex) != 0) {
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    int err = bpf_tc_detach(&hook, &opts);
    if (err && err != -ENOENT) {
      ok = fail(error, "detaching TC from " + iface + ": " + errnoText(err));
    }
  }
  return ok;
}

std::vector<InterfaceStatus> Loader::interfaces() const {
  std::vector<InterfaceStatus> out;
  struct if_nameindex* names = if_nameindex();
  if (names == nullptr) return out;
  for (struct if_nameindex* n = names; n->if_index != 0; n++) {
    InterfaceStatus s;
    s.name = n->if_name;
    s.ifindex = static_cast<int>(n->if_index);
    xdp_multiprog* mp = nullptr;
    if (xdp_program* p = findXdp(s.ifindex, &mp)) {
      s.xdp_prog_id = xdp_program__id(p);
      s.xdp_mode = modeName(xdp_multiprog__attach_mode(mp));
      s.xdp_dispatcher = !xdp_multiprog__is_legacy(mp);
      for (xdp_program* o = s.xdp_dispatcher ? xdp_multiprog__next_prog(nullptr, mp) : nullptr;
           o != nullptr; o = xdp_multiprog__next_prog(o, mp)) {
        if (o != p) s.xdp_others.push_back(xdp_program__name(o));
      }
    }
    if (mp != nullptr) xdp_multiprog__close(mp);
    s.tc_prog_id = tcProgId(s.ifindex);
    if (s.xdp_prog_id != 0 || s.tc_prog_id != 0) out.push_back(s);
  }
  if_freenameindex(names);
  return out;
}

bool Loader::unload(std::string* error) {
  if (!exists(pin_dir_)) return true;
  DirLock lock;
  if (!lock.acquire(pin_dir_, false, error)) return false;
  bool ok = true;
  for (const auto& s : interfaces()) ok = detachLocked(s.name, s.ifindex, error) && ok;
  removePins(pin_dir_);
  if (rmdir(pin_dir_.c_str()) != 0 && errno != ENOENT) {
    ok = fail(error, "removing " + pin_dir_ + ": " + errnoText(errno));
  }
  return ok;
}

bool Loader::block(const std::string& prefix, bool add, std::string* error) {
  xsmb_lpm_key key;
  if (!parsePrefix(prefix, &key)) return fail(error, "not an address prefix: " + prefix);
  Fd map(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_blocklist").c_str()));
  if (map.get() < 0) return fail(error, "opening the blocklist (loaded?): " + errnoText(errno));
  if (add) {
    xsmb_block v = {};
    if (bpf_map_update_elem(map.get(), &key, &v, BPF_NOEXIST) != 0 && errno != EEXIST) {
      return fail(error, "adding " + prefix + ": " + errnoText(errno));
    }
  } else if (bpf_map_delete_elem(map.get(), &key) != 0 && errno != ENOENT) {
    return fail(error, "removing " + prefix + ": " + errnoText(errno));
  }
  return true;
}

bool Loader::status(std::ostream& out, std::string* error) {
  if (!isLoaded()) {
    out << "xsmb: not loaded (no pins under " << pin_dir_ << ")\n";
    return true;
  }
  out << "xsmb: loaded, pins under " << pin_dir_ << "\n";
  for (const char* p : {"xsmb_xdp", "xsmb_tc_egress", "xsmb_reuseport", "xsmb_sk_verdict"}) {
    Fd fd(bpf_obj_get(progPinPath(pin_dir_, p).c_str()));
    bpf_prog_info info = {};
    uint32_t len = sizeof(info);
    if (fd.get() >= 0 && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) {
      out << "  program " << std::left << std::setw(16) << p << " id " << info.id << "\n";
    } else {
      out << "  program " << std::left << std::setw(16) << p << " missing\n";
    }
  }
  auto ifs = interfaces();
  if (ifs.empty()) out << "  attached: nowhere\n";
  for (const auto& s : ifs) {
    std::string chain = "alone";
    if (s.xdp_dispatcher) {
      chain = "dispatcher";
      for (const auto& o : s.xdp_others) chain += (o == s.xdp_others.front() ? " with " : ", ") + o;
    }
    out << "  attached: " << s.name << " xdp "
        << (s.xdp_prog_id
                ? s.xdp_mode + " (prog " + std::to_string(s.xdp_prog_id) + ", " + chain + ")"
                : std::string("-"))
        << ", tc egress " << (s.tc_prog_id ? "prog " + std::to_string(s.tc_prog_id) : "-") << "\n";
  }
  Fd cfg_fd(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_config").c_str()));
  xsmb_config cfg = {};
  if (cfg_fd.get() >= 0 && readConfig(cfg_fd.get(), &cfg)) {
    out << "  config: ports";
    for (uint16_t p : cfg.ports)
      if (p) out << " " << p;
    out << ", syn rate " << cfg.syn_rate << "/s burst " << cfg.syn_burst << ", max message "
        << cfg.max_msg_size << ", steer " << ((cfg.flags & XSMB_CFG_STEER) ? "on" : "off")
        << ", latency " << ((cfg.flags & XSMB_CFG_LATENCY) ? "on" : "off") << ", workers "
        << cfg.nworkers << "\n";
  }
  Fd cnt_fd(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_counters").c_str()));
  auto counters = readPercpuCounters(cnt_fd.get(), XSMB_CNT_MAX);
  if (counters.empty()) return fail(error, "reading counters: " + errnoText(errno));
  out << "  counters:\n";
  for (size_t i = 0; i < counters.size(); i++) {
    if (counters[i] == 0) continue;
    out << "    " << std::left << std::setw(24) << counterNames()[i] << " " << counters[i] << "\n";
  }
  Fd cmd_fd(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_cmd_stats").c_str()));
  auto cmds = readCmdStats(cmd_fd.get());
  out << "  requests by command (messages, bytes):\n";
  for (size_t i = 0; i < cmds.size(); i++) {
    if (cmds[i].msgs == 0) continue;
    out << "    " << std::left << std::setw(16) << commandSlotNames()[i] << " " << cmds[i].msgs
        << " " << cmds[i].bytes << "\n";
  }
  Fd sess_fd(bpf_obj_get(mapPinPath(pin_dir_, "xsmb_sessions").c_str()));
  uint64_t key = 0, next = 0;
  size_t sessions = 0;
  bool first = true;
  while (sess_fd.get() >= 0 &&
         bpf_map_get_next_key(sess_fd.get(), first ? nullptr : &key, &next) == 0) {
    first = false;
    key = next;
    sessions++;
  }
  out << "  sessions: " << sessions << "\n";
  return true;
}

}  // namespace xsmb::bpf
