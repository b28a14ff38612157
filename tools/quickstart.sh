#!/usr/bin/env bash
# Command 1: install dependencies, build xsmbd and xsmbctl into ./build, create the demo share
# and the demo user if they are missing, print the smbclient command line and run xsmbd in the
# foreground on its embedded default configuration (127.0.0.1 only). Ctrl-C stops it.
#   XSMBD_PORT       port to listen on (default 4455)
#   XSMBD_DEMO_DIR   demo directory (default ./.demo): share in DIR/share, users in DIR/users.db
#   JOBS=N           parallel build jobs (default 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${JOBS:-2}"
export XSMBD_PORT="${XSMBD_PORT:-4455}"
export XSMBD_DEMO_DIR="${XSMBD_DEMO_DIR:-$PWD/.demo}"

bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ninja -C build -j"${JOBS}" xsmbd xsmbctl

find_bin() {
  find build -type f -name "$1" -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1
}
XSMBD="$(find_bin xsmbd)"
XSMBCTL="$(find_bin xsmbctl)"
if [ -z "${XSMBD}" ] || [ -z "${XSMBCTL}" ]; then
  echo "quickstart: xsmbd or xsmbctl was not built" >&2
  exit 1
fi
XSMBD="$(realpath "${XSMBD}")"
XSMBCTL="$(realpath "${XSMBCTL}")"

# The demo share is writable by everyone: guests are served as `nobody` when xsmbd runs as
# root, and the directory must be reachable by that account.
mkdir -p "${XSMBD_DEMO_DIR}/share"
chmod 0755 "${XSMBD_DEMO_DIR}"
chmod 0777 "${XSMBD_DEMO_DIR}/share"

# Demo user `demo` / password `demo`. Served as `nobody` when run as root (least privilege),
# otherwise as the account running this script.
DB="${XSMBD_DEMO_DIR}/users.db"
if [ "$(id -u)" -eq 0 ]; then UNIX_USER=nobody; else UNIX_USER="$(id -un)"; fi
if ! "${XSMBCTL}" --db "${DB}" user list 2>/dev/null | grep -q '^demo[[:space:]]'; then
  echo demo | "${XSMBCTL}" --db "${DB}" user add demo --unix-user "${UNIX_USER}"
fi

cat <<MSG

xsmbd: serving ${XSMBD_DEMO_DIR}/share as [demo] on 127.0.0.1:${XSMBD_PORT}. Try:

  smbclient //127.0.0.1/demo -p ${XSMBD_PORT} -U demo%demo -c ls
  smbclient //127.0.0.1/demo -p ${XSMBD_PORT} -N -c ls        # as guest

MSG
# Without --config xsmbd uses its embedded default, which reads XSMBD_PORT and XSMBD_DEMO_DIR.
exec "${XSMBD}" --foreground --log-level "${XSMBD_LOG_LEVEL:-2}"
