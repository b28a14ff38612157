#!/usr/bin/env python3
"""A throw-away MIT Kerberos realm on 127.0.0.1 for the Kerberos tests (Python 3 stdlib only).

Kdc(root) writes krb5.conf and kdc.conf under `root`, creates the database (kdb5_util create -s),
adds the principals, exports the service keys to a keytab and runs krb5kdc in the foreground
(-n) on a free loopback port (UDP and TCP, the same number). Every child gets KRB5_CONFIG and
KRB5_KDC_PROFILE pointing at those files, so the host's /etc/krb5.conf is never read or touched.
Clients must name the service by a host name, not an IP address: cifs/localhost for GSSAPI
clients, cifs/xsmbd.test.xsmb (SMB_HOST, with smbclient -I 127.0.0.1) for smbclient, which
refuses Kerberos towards "localhost".

Library use (tests/integration/test_kerberos.py):
    kdc = Kdc(make_temp_dir()); kdc.setup(); kdc.start()
    ccache = kdc.kinit("alice", ALICE_PASSWORD)      # a FILE: ccache of its own
    env = kdc.client_env(ccache)                     # KRB5_CONFIG + KRB5CCNAME for smbclient
    kdc.stop()

Command line (used by the C++ unit test tests/unit/auth/kerberos_test.cc):
    krb5_harness.py --setup DIR [--lifetime SECONDS]
        sets up the realm in DIR, starts the KDC (detached; it exits by itself after
        --lifetime seconds, default 600, should nobody tear it down), gets alice a ticket and
        writes DIR/env: KEY=VALUE lines (see Kdc.env_lines()).
    krb5_harness.py --teardown DIR
        stops the KDC whose pid DIR/env records and removes DIR.
"""

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REALM = "TEST.XSMB"
SERVICE = "cifs/localhost"
# smbclient refuses Kerberos towards "localhost" and IP addresses (Samba's
# cli_session_creds_prepare_krb5), so the end-to-end tests name the server SMB_HOST and connect
# with -I 127.0.0.1; the name never has to resolve. Its key is in the same keytab.
SMB_HOST = "xsmbd.test.xsmb"
SMB_SERVICE = f"cifs/{SMB_HOST}"
# In the KDC but never in the service keytab: a ticket for it cannot be accepted.
FOREIGN_SERVICE = "cifs/otherhost"
ALICE = "alice"
ALICE_PASSWORD = "Al1ce-krb5-pass"
# Has tickets, but no entry in xsmbd's user database.
MALLORY = "mallory"
MALLORY_PASSWORD = "Mall0ry-krb5-pass"

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def find_tool(name):
    """Absolute path of a Kerberos tool (the admin tools live in /usr/sbin), or None."""
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def available():
    """True when the MIT KDC, its admin tools and kinit are installed."""
    return all(find_tool(t) for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit"))


def _die_with_parent():
    # Runs in the child before exec: the KDC gets SIGTERM if this process dies (even SIGKILL).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_port():
    """A port number free on 127.0.0.1 for both TCP and UDP a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both TCP and UDP on 127.0.0.1")


class KdcError(Exception):
    pass


class Kdc:
    """One realm (TEST.XSMB) and its krb5kdc process, all files under `root`."""

    def __init__(self, root, realm=REALM):
        self.root = Path(root).resolve()
        self.realm = realm
        self.port = None
        self.proc = None
        self.pid = None
        self.krb5_conf = self.root / "krb5.conf"
        self.kdc_conf = self.root / "kdc.conf"
        self.database = self.root / "principal"
        self.stash = self.root / "stash"
        self.keytab = self.root / "service.keytab"
        # cifs/localhost's first key (kvno 1), superseded when service.keytab was written.
        self.stale_keytab = self.root / "stale.keytab"
        self.kdc_log = self.root / "kdc.log"
        self.master_password = secrets.token_urlsafe(24)

    # --- environment -----------------------------------------------------------------------

    def env(self, extra=None):
        """os.environ plus this realm's KRB5_CONFIG / KRB5_KDC_PROFILE (and `extra`)."""
        env = dict(os.environ)
        env["KRB5_CONFIG"] = str(self.krb5_conf)
        env["KRB5_KDC_PROFILE"] = str(self.kdc_conf)
        # Never fall back to the host's ccache or keytab.
        env["KRB5CCNAME"] = f"FILE:{self.root / 'default.ccache'}"
        env["KRB5_KTNAME"] = f"FILE:{self.keytab}"
        env.pop("KRB5_TRACE", None)
        if extra:
            env.update(extra)
        return env

    def client_env(self, ccache):
        """Environment for a Kerberos client (smbclient, a test binary) using `ccache`."""
        return self.env({"KRB5CCNAME": f"FILE:{ccache}"})

    def _run(self, cmd, input=None, env=None, timeout=60):
        r = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           env=env or self.env(), timeout=timeout, cwd=self.root)
        if r.returncode != 0:
            raise KdcError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n"
                           f"{r.stdout}{r.stderr}")
        return r.stdout

    # --- setup -----------------------------------------------------------------------------

    def write_config(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        addr = f"127.0.0.1:{self.port}"
        self.krb5_conf.write_text(f"""[libdefaults]
  default_realm = {self.realm}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  ignore_acceptor_hostname = false
  udp_preference_limit = 1
  forwardable = true
  default_ccache_name = FILE:{self.root / 'default.ccache'}
  default_keytab_name = FILE:{self.keytab}

[realms]
  {self.realm} = {{
    kdc = {addr}
  }}

[domain_realm]
  localhost = {self.realm}
  .test.xsmb = {self.realm}
  test.xsmb = {self.realm}
""")
        self.kdc_conf.write_text(f"""[kdcdefaults]
  kdc_listen = {addr}
  kdc_tcp_listen = {addr}

[realms]
  {self.realm} = {{
    database_name = {self.database}
    key_stash_file = {self.stash}
    acl_file = {self.root / 'kadm5.acl'}
    kdc_listen = {addr}
    kdc_tcp_listen = {addr}
    kadmind_listen = 127.0.0.1:{free_port()}
    max_life = 10h
    max_renewable_life = 1d
  }}

[logging]
  kdc = FILE:{self.kdc_log}
  admin_server = FILE:{self.root / 'kadmin.log'}
  default = FILE:{self.root / 'krb5lib.log'}
""")
        (self.root / "kadm5.acl").write_text("")

    def kadmin(self, query):
        """Runs one kadmin.local query against this realm's database; returns its output."""
        return self._run([find_tool("kadmin.local"), "-r", self.realm, "-q", query])

    def add_user(self, name, password):
        self.kadmin(f"addprinc -pw {password} {name}@{self.realm}")

    def add_service(self, name):
        self.kadmin(f"addprinc -randkey {name}@{self.realm}")

    def export_keys(self, name, keytab):
        """ktadd: gives `name` a new random key (kvno + 1) and appends it to `keytab`."""
        self.kadmin(f"ktadd -k {keytab} {name}@{self.realm}")

    def setup(self, users=((ALICE, ALICE_PASSWORD), (MALLORY, MALLORY_PASSWORD)), pac=True):
        """Config files, database, users, service principals and keytabs (KDC not running).

        pac=False: service tickets carry no PAC (+no_auth_data_required), which a standalone
        smbd requires; AD-issued tickets, and so the default here, carry one.
        """
        if not available():
            raise KdcError("MIT Kerberos KDC not installed (tools/install-deps.sh installs "
                           "krb5-kdc krb5-admin-server krb5-user)")
        self.write_config()
        self._run([find_tool("kdb5_util"), "-r", self.realm, "create", "-s", "-W", "-P",
                   self.master_password])
        for name, password in users:
            self.add_user(name, password)
        self.add_service(SERVICE)
        self.add_service(SMB_SERVICE)
        self.add_service(FOREIGN_SERVICE)
        if not pac:
            for name in (SERVICE, SMB_SERVICE):
                self.kadmin(f"modprinc +no_auth_data_required {name}@{self.realm}")
        self.export_keys(SERVICE, self.stale_keytab)
        self.export_keys(SERVICE, self.keytab)
        self.export_keys(SMB_SERVICE, self.keytab)
        os.chmod(self.keytab, 0o600)
        return self

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=15.0, lifetime=None, detach=False):
        """Starts krb5kdc -n and waits until it answers on TCP.

        detach=False: the KDC dies with this process (PR_SET_PDEATHSIG).
        detach=True: it outlives this process in a session of its own; with `lifetime` it is run
        under timeout(1), which ends it after that many seconds (pid is then timeout's, which
        passes SIGTERM on to the KDC).
        """
        cmd = [find_tool("krb5kdc"), "-n", "-r", self.realm]
        if lifetime:
            cmd = [find_tool("timeout"), "-s", "TERM", str(int(lifetime))] + cmd
        out = open(self.root / "krb5kdc.out", "ab")
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env(), cwd=self.root, start_new_session=True,
                preexec_fn=None if detach else _die_with_parent)
        finally:
            out.close()
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise KdcError(f"krb5kdc exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise KdcError(f"krb5kdc did not listen on {self.port}:\n{self.logs()}")
            time.sleep(0.05)

    def stop(self):
        """Stops the KDC this object started (by its pid); idempotent."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        elif self.pid:
            stop_pid(self.pid)
        self.pid = None

    def logs(self):
        text = ""
        for name in ("krb5kdc.out", "kdc.log"):
            try:
                text += (self.root / name).read_text(errors="replace")[-4000:]
            except OSError:
                pass
        return text

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- clients ---------------------------------------------------------------------------

    def kinit(self, user, password, ccache=None):
        """Gets `user`@REALM a TGT with kinit (password on stdin) into a FILE ccache of its own.

        Returns the ccache path (a file under root unless given).
        """
        ccache = Path(ccache or (self.root / f"{user}.ccache"))
        self._run([find_tool("kinit"), f"{user}@{self.realm}"], input=password + "\n",
                  env=self.client_env(ccache))
        return ccache

    def env_lines(self, alice_ccache):
        """The DIR/env file written by --setup."""
        values = {
            "KRB5_CONFIG": self.krb5_conf,
            "KRB5_KDC_PROFILE": self.kdc_conf,
            "KRB5_REALM": self.realm,
            "KDC_PORT": self.port,
            "KDC_PID": self.pid,
            "KEYTAB": self.keytab,
            "STALE_KEYTAB": self.stale_keytab,
            "SERVICE": f"{SERVICE}@{self.realm}",
            "SMB_SERVICE": f"{SMB_SERVICE}@{self.realm}",
            "FOREIGN_SERVICE": f"{FOREIGN_SERVICE}@{self.realm}",
            "ALICE": f"{ALICE}@{self.realm}",
            "ALICE_CCACHE": alice_ccache,
        }
        return "".join(f"{k}={v}\n" for k, v in values.items())


def stop_pid(pid, timeout=5.0):
    """SIGTERM to `pid`, SIGKILL if it is still there after `timeout` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reaps it when it is our child; harmless otherwise.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def read_env_file(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def cli_setup(directory, lifetime):
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    kdc = Kdc(root)
    kdc.setup()
    kdc.start(lifetime=lifetime, detach=True)
    try:
        ccache = kdc.kinit(ALICE, ALICE_PASSWORD)
        tmp = root / "env.tmp"
        tmp.write_text(kdc.env_lines(ccache))
        tmp.rename(root / "env")  # readers never see a half-written file
    except Exception:
        kdc.stop()
        raise
    # Detached: the KDC keeps running after we exit; --teardown stops it.
    kdc.proc = None
    return 0


def cli_teardown(directory):
    root = Path(directory)
    env_file = root / "env"
    if env_file.exists():
        pid = read_env_file(env_file).get("KDC_PID")
        if pid and pid.isdigit():
            stop_pid(int(pid))
    shutil.rmtree(root, ignore_errors=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--setup", metavar="DIR", help="create the realm in DIR, start the KDC")
    group.add_argument("--teardown", metavar="DIR", help="stop DIR's KDC and remove DIR")
    group.add_argument("--check", action="store_true", help="exit 0 when the KDC is installed")
    parser.add_argument("--lifetime", type=int, default=600,
                        help="seconds after which a --setup KDC exits by itself")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if available() else 1
    if args.setup:
        try:
            return cli_setup(args.setup, args.lifetime)
        except KdcError as e:
            sys.stderr.write(f"krb5_harness: {e}\n")
            return 1
    return cli_teardown(args.teardown)


if __name__ == "__main__":
    sys.exit(main())
