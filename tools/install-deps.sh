#!/usr/bin/env bash
# Installs every Debian 12 package xsmbd needs to build, run and test.
# Idempotent: only missing packages are installed. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  clang llvm libclang-rt-14-dev
  # libraries
  libabsl-dev libssl-dev liburing-dev libbpf-dev
  libxdp-dev bpftool xdp-tools  # BPF data plane: libxdp dispatcher, skeletons, inspection
  libkrb5-dev  # MIT GSSAPI (pkg-config krb5-gssapi) for the Kerberos acceptor
  libseccomp-dev  # xsmb-rpcd's syscall filter
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev  # SMB over QUIC (ngtcp2 + GnuTLS)
  # SMB Direct's rdma-core backend (librdmacm, libibverbs) and the user-space device drivers
  # it loads at run time; without a device xsmbd serves TCP only (docs/smbdirect.md)
  libibverbs-dev librdmacm-dev libibverbs1 librdmacm1 ibverbs-providers
  libmicrohttpd-dev  # the Prometheus endpoint (metrics address, docs/operations.md)
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev python3 attr
  iproute2  # ip (BPF tests' network namespaces), ss (socket options test), tc (benchmark)
  # real SMB clients used by the integration tests
  smbclient samba-testsuite libfaketime
  samba-common-bin  # rpcclient (tests/integration/test_rpc.py)
  iptables  # smbtorture cutting channels off, in a namespace of its own (test_smbtorture_netns.py)
  # throw-away MIT KDC and kinit for the Kerberos tests (tests/integration/krb5_harness.py)
  krb5-kdc krb5-admin-server krb5-user
  python3-yaml mmdebstrap systemd-container  # tests/deploy: manifests, root filesystems, nspawn
  python3-matplotlib  # tools/bench/plot.py and its test (tests/deploy/test_plots.py)
)
# tests/deploy also needs kubectl (kustomize) and npm (schemas): Debian's unless some are present.
command -v kubectl >/dev/null || PACKAGES+=(kubernetes-client); command -v npm >/dev/null || PACKAGES+=(npm)

# BENCH=1: also what tools/bench/run.sh needs (Samba's smbd to compare against, iperf3 for the
# raw loopback TCP ceiling). CI does not run benchmarks, so they are opt-in.
if [ "${BENCH:-0}" = 1 ]; then
  PACKAGES+=(samba iperf3 linux-perf)  # linux-perf: tools/bench/profile.sh
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
