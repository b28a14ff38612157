#include "tools/xsmbctl/limit.h"

#include <bpf/bpf.h>
#include <strings.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "loader/objects.h"
#include "server/config/smb_conf.h"
#include "xsmb_abi.h"

namespace xsmb::xsmbctl {
namespace {

int error(const std::string& text) {
  fprintf(stderr, "xsmbctl limit: %s\n", text.c_str());
  return 1;
}

std::string rateText(uint64_t v) {
  if (v == 0) return "none";
  if (v % (1ULL << 30) == 0) return std::to_string(v >> 30) + "G";
  if (v % (1ULL << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v % (1ULL << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

int list(int fd) {
  printf("%-6s %-20s %10s %10s %14s %14s\n", "kind", "name", "bytes/s", "requests/s", "rate (B/s)",
         "throttled (s)");
  for (uint32_t i = 0; i < XSMB_MAX_LIMITS; ++i) {
    xsmb_limit e = {};
    if (bpf_map_lookup_elem(fd, &i, &e) != 0)
      return error("reading: " + std::string(strerror(errno)));
    if (e.kind == XSMB_LIMIT_FREE) continue;
    printf("%-6s %-20s %10s %10s %14llu %14.3f\n", e.kind == XSMB_LIMIT_USER ? "user" : "share",
           e.name, rateText(e.bytes_per_sec).c_str(), rateText(e.requests_per_sec).c_str(),
           static_cast<unsigned long long>(e.rate_bps), static_cast<double>(e.throttled_ns) / 1e9);
  }
  return 0;
}

// The entry of (kind, name), or a free one made into it; -1 when the table is full.
int findOrCreate(int fd, uint32_t kind, const std::string& name, xsmb_limit* out) {
  int free_slot = -1;
  for (uint32_t i = 0; i < XSMB_MAX_LIMITS; ++i) {
    xsmb_limit e = {};
    if (bpf_map_lookup_elem(fd, &i, &e) != 0) return -1;
    if (e.kind == XSMB_LIMIT_FREE) {
      if (free_slot < 0) free_slot = static_cast<int>(i);
    } else if (e.kind == kind && strcasecmp(e.name, name.c_str()) == 0) {
      *out = e;
      return static_cast<int>(i);
    }
  }
  if (free_slot < 0) return -1;
  *out = {};
  out->kind = kind;
  for (size_t i = 0; i < name.size() && i + 1 < XSMB_LIMIT_NAME; ++i) {
    out->name[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  return free_slot;
}

}  // namespace

int limitCommand(const std::string& pin_dir, const std::vector<std::string>& args) {
  const bool is_list = args.size() == 1 && args[0] == "list";
  const bool is_set =
      (args.size() == 3 || args.size() == 4) && (args[0] == "user" || args[0] == "share");
  if (!is_list && !is_set) {
    fprintf(stderr,
            "usage: xsmbctl [--pin-dir DIR | --config FILE] limit list\n"
            "       xsmbctl [--pin-dir DIR | --config FILE] limit user|share NAME BYTES_PER_SEC "
            "[REQUESTS_PER_SEC]\n"
            "Rates as in smb.conf: 50M = 50 MiB/s, 0 = no limit.\n");
    return 2;
  }
  const std::string path = bpf::mapPinPath(pin_dir, "xsmb_limits");
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    return error("opening " + path + ": " + strerror(errno) +
                 " (is the data plane loaded: xsmb-loader load, and xsmbd run with bpf = yes?)");
  }
  int rc = 0;
  if (is_list) {
    rc = list(fd);
  } else {
    std::optional<uint64_t> bps = config::parseRate(args[2]);
    std::optional<uint64_t> rps = args.size() == 4 ? config::parseRate(args[3]) : 0;
    xsmb_limit e = {};
    const uint32_t kind = args[0] == "user" ? XSMB_LIMIT_USER : XSMB_LIMIT_SHARE;
    int slot = -1;
    if (!bps || !rps) {
      rc = error("not a rate: use a number with an optional K/M/G suffix");
    } else if ((slot = findOrCreate(fd, kind, args[1], &e)) < 0) {
      rc = error("the limits table is full or unreadable");
    } else {
      e.bytes_per_sec = *bps;
      if (args.size() == 4) e.requests_per_sec = *rps;
      uint32_t key = static_cast<uint32_t>(slot);
      if (bpf_map_update_elem(fd, &key, &e, BPF_ANY) != 0) {
        rc = error("writing: " + std::string(strerror(errno)));
      } else {
        printf("%s %s: %s bytes/s, %s requests/s\n", args[0].c_str(), e.name,
               rateText(e.bytes_per_sec).c_str(), rateText(e.requests_per_sec).c_str());
      }
    }
  }
  close(fd);
  return rc;
}

}  // namespace xsmb::xsmbctl
