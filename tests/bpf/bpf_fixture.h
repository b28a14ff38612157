// Shared helpers for the privileged BPF tests: privilege checks, a private network
// namespace, and a loaded (unpinned) skeleton whose maps are reset between tests.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "loader/objects.h"
#include "tests/bpf/packet_builder.h"

namespace xsmb::bpf::test {

// Reason a privileged test cannot run here, or "" when it can.
inline std::string privilegeProblem() {
  if (geteuid() != 0) return "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)";
  if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) != 1) return "BPF not permitted";
  return "";
}

// Moves the calling process into a fresh network namespace with lo up (once), so that
// sockets and interfaces made by tests never touch the host's network.
inline bool enterPrivateNetns(std::string* error) {
  static bool done = false;
  if (done) return true;
  if (unshare(CLONE_NEWNET) != 0) {
    *error = std::string("unshare(CLONE_NEWNET): ") + strerror(errno);
    return false;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr = {};
  std::strcpy(ifr.ifr_name, "lo");
  ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  int r = ioctl(s, SIOCSIFFLAGS, &ifr);
  close(s);
  if (r != 0) {
    *error = std::string("bringing lo up: ") + strerror(errno);
    return false;
  }
  done = true;
  return true;
}

// Deletes every key of a hash/LRU/LPM map.
inline void clearMap(int fd, size_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  while (bpf_map_get_next_key(fd, nullptr, next.data()) == 0) {
    if (bpf_map_delete_elem(fd, next.data()) != 0) break;
  }
}

// Zeroes every entry of an array (per-CPU arrays take ncpu values).
inline void zeroArray(int fd, uint32_t entries, size_t value_size, bool percpu) {
  size_t n = percpu ? static_cast<size_t>(libbpf_num_possible_cpus()) : 1;
  size_t stride = percpu ? (value_size + 7) / 8 * 8 : value_size;
  std::vector<uint8_t> zero(n * stride);
  for (uint32_t i = 0; i < entries; i++) bpf_map_update_elem(fd, &i, zero.data(), BPF_ANY);
}

// Runs a program once on a frame through BPF_PROG_TEST_RUN; returns its return value.
inline int testRun(int prog_fd, const Bytes& frame, Bytes* out = nullptr) {
  Bytes data_out(frame.size() + 256);
  DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                      .data_out = data_out.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                      .data_size_out = static_cast<uint32_t>(data_out.size()), .repeat = 1);
  int err = bpf_prog_test_run_opts(prog_fd, &opts);
  if (err != 0) {
    ADD_FAILURE() << "bpf_prog_test_run_opts: " << strerror(-err) << " (frame " << frame.size()
                  << " bytes)";
    return -1;
  }
  if (out != nullptr) {
    data_out.resize(opts.data_size_out);
    *out = data_out;
  }
  return static_cast<int>(opts.retval);
}

}  // namespace xsmb::bpf::test
