"""Integration-test harness for xsmbd (Python 3 standard library only).

Starts a server on an ephemeral 127.0.0.1 port with a generated smb.conf, a temporary share
tree and a temporary user database, drives it with Samba's smbclient / smbtorture, and always
stops it again (by the pid it started, also from atexit when a test crashes).

Binaries come from the environment (ctest sets them):
  XSMBD        path of the xsmbd binary
  XSMBCTL      path of the xsmbctl binary
  XSMBD_TEST_BACKEND=smbd   run the same tests against Samba's smbd instead (only to validate
                            this harness; needs `apt-get install samba`; creates the Unix
                            accounts the test users map to)
  XSMBD_TEST_KEEP=1         keep temporary directories for inspection
  XSMBD_TEST_LOG_LEVEL=N    xsmbd --log-level (default 2)
  XSMBD_BUILD_DIR=DIR       take binaries from DIR (e.g. build-asan) instead of the newest
                            build*/ (XSMBD/XSMBCTL still win). A server whose log holds an
                            AddressSanitizer/UndefinedBehaviorSanitizer/LeakSanitizer report
                            fails the test class that started it.
"""

import atexit
import ctypes
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Dialect names as smbclient's -m takes them, in MS-SMB2 order.
DIALECTS = ("SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11")

_live_servers = set()
_temp_dirs = []


def _cleanup_at_exit():
    for server in list(_live_servers):
        server.stop()
    if not os.environ.get("XSMBD_TEST_KEEP"):
        for d in _temp_dirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_at_exit)


def _on_sigterm(signum, frame):
    # ctest kills a test that hits its TIMEOUT with SIGTERM on some platforms; turn that into
    # SystemExit so atexit stops the servers we started.
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


def _die_with_parent():
    # Runs in the child before exec: if this harness is SIGKILLed (e.g. a ctest TIMEOUT), the
    # kernel sends the server SIGTERM instead of leaving it listening (prctl PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def backend():
    """'xsmbd' (default) or 'smbd' (harness validation only)."""
    return os.environ.get("XSMBD_TEST_BACKEND", "xsmbd")


def make_temp_dir(prefix="xsmbd-it-"):
    """A fresh directory (mkdtemp) that others can traverse (0755), removed at exit."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _temp_dirs.append(d)
    return Path(d)


def find_binary(env_name, target):
    """Path of a built binary: $env_name, else $XSMBD_BUILD_DIR/**/target, else the newest
    REPO/build*/**/target."""
    value = os.environ.get(env_name)
    if value:
        return value
    candidates = []
    build_dir = os.environ.get("XSMBD_BUILD_DIR")
    builds = [Path(build_dir).resolve()] if build_dir else REPO_ROOT.glob("build*")
    for build in builds:
        for path in build.rglob(target):
            if path.is_file() and os.access(path, os.X_OK):
                candidates.append(path)
    if not candidates:
        return None
    return str(max(candidates, key=lambda p: p.stat().st_mtime))


# What a sanitizer runtime prints when it reports (ASan, LSan, UBSan, TSan).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error: ", "WARNING: ThreadSanitizer")


def sanitizer_reports(text):
    """The lines of text that start a sanitizer report (empty when there is none)."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current_unix_user():
    return pwd.getpwuid(os.getuid()).pw_name


_random_files = {}


def random_file(size=64 << 20):
    """(path, sha256 hex) of a file of `size` random bytes, made once per process."""
    if size not in _random_files:
        d = make_temp_dir("xsmbd-data-")
        path = d / f"random-{size}.bin"
        digest = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                digest.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        os.chmod(path, 0o644)
        _random_files[size] = (path, digest.hexdigest())
    return _random_files[size]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


class ServerError(Exception):
    pass


class Share:
    def __init__(self, name, path, options):
        self.name = name
        self.path = Path(path)
        self.options = options


class User:
    def __init__(self, name, password, unix_user):
        self.name = name
        self.password = password
        self.unix_user = unix_user


class Server:
    """One server process (xsmbd, or smbd for harness validation) and its temp tree.

    Use as a context manager or call start()/stop(); stop() is idempotent and also runs at exit.
    add_share()/add_user() must be called before start().
    """

    def __init__(self, global_options=None, kind=None, log_level=None):
        self.kind = kind or backend()
        self.global_options = dict(global_options or {})
        self.log_level = log_level or int(os.environ.get("XSMBD_TEST_LOG_LEVEL", "2"))
        self.root = make_temp_dir("xsmbd-srv-")
        self.shares = {}
        self.users = {}
        self.port = None
        self.proc = None
        self.killed = False   # stop() had to SIGKILL it (it did not exit on SIGTERM)
        self.returncode = None  # its exit status once stop() reaped it
        self.log_path = self.root / "server.log"
        self.conf_path = self.root / "smb.conf"
        self.client_conf = self.root / "client.conf"
        self.db_path = self.root / "users.db"
        self.client_conf.write_text("[global]\n  client min protocol = SMB2_02\n"
                                    "  workgroup = WORKGROUP\n")
        if self.kind == "xsmbd":
            self.xsmbd = find_binary("XSMBD", "xsmbd")
            self.xsmbctl = find_binary("XSMBCTL", "xsmbctl")
            if not self.xsmbd or not self.xsmbctl:
                raise unittest.SkipTest("xsmbd/xsmbctl not built (set XSMBD and XSMBCTL)")
        elif self.kind == "smbd":
            self.smbd = shutil.which("smbd") or "/usr/sbin/smbd"
            if not os.path.exists(self.smbd):
                raise unittest.SkipTest("smbd backend requested but samba is not installed")
        else:
            raise ValueError(f"unknown backend {self.kind}")

    # --- setup -----------------------------------------------------------------------------

    def add_share(self, name, options=None, mode=0o777):
        """A share backed by a fresh directory ROOT/shares/NAME (chmod `mode`)."""
        base = self.root / "shares"
        base.mkdir(exist_ok=True)
        os.chmod(base, 0o755)
        path = base / name
        path.mkdir()
        os.chmod(path, mode)
        share = Share(name, path, dict(options or {}))
        self.shares[name] = share
        return share

    def add_user(self, name, password, unix_user=None):
        """A user; its Unix identity defaults to the account running the tests."""
        user = User(name, password, unix_user or current_unix_user())
        self.users[name] = user
        return user

    def config_text(self):
        g = {
            "smb ports": str(self.port),
            "interfaces": "127.0.0.1",
            "bind interfaces only": "yes",
            "map to guest": "Bad User",
            "guest account": "nobody",
            "netbios name": "XSMBTEST",
            "workgroup": "WORKGROUP",
        }
        if self.kind == "xsmbd":
            g["smb passwd file"] = str(self.db_path)
        else:
            g.update(self._smbd_globals())
        g.update(self.global_options)
        lines = ["[global]"] + [f"  {k} = {v}" for k, v in g.items()]
        for share in self.shares.values():
            lines.append("")
            lines.append(f"[{share.name}]")
            lines.append(f"  path = {share.path}")
            for k, v in share.options.items():
                lines.append(f"  {k} = {v}")
        return "\n".join(lines) + "\n"

    def _smbd_globals(self):
        state = self.root / "samba"
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        return {
            "server role": "standalone server",
            "security": "user",
            "passdb backend": f"tdbsam:{state / 'private' / 'passdb.tdb'}",
            "private dir": str(state / "private"),
            "lock directory": str(state / "lock"),
            "state directory": str(state / "state"),
            "cache directory": str(state / "cache"),
            "pid directory": str(state / "pid"),
            "ncalrpc dir": str(state / "ncalrpc"),
            "disable netbios": "yes",
            "load printers": "no",
            "printing": "bsd",
            "printcap name": "/dev/null",
            "disable spoolss": "yes",
            "log file": str(self.log_path),
            "max log size": "0",
            "server min protocol": "SMB2_02",
            "kernel oplocks": "no",
            "kernel share modes": "no",
            "posix locking": "no",
            "rpc_server:default": "embedded",
        }

    def _create_users(self):
        for user in self.users.values():
            if self.kind == "xsmbd":
                # A restarted server keeps its user database (and so its users' SIDs).
                verb = "passwd" if self._has_user(user.name) else "add"
                cmd = [self.xsmbctl, "--db", str(self.db_path), "user", verb, user.name]
                if verb == "add":
                    cmd += ["--unix-user", user.unix_user]
                stdin = user.password + "\n"
            else:
                self._ensure_unix_account(user.name)
                cmd = ["pdbedit", "-s", str(self.conf_path), "-a", "-u", user.name, "-t"]
                stdin = f"{user.password}\n{user.password}\n"
            r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise ServerError(f"creating user {user.name} failed ({r.returncode}): "
                                  f"{' '.join(cmd)}\n{r.stdout}{r.stderr}")

    def _has_user(self, name):
        if not self.db_path.exists():
            return False
        r = subprocess.run([self.xsmbctl, "--db", str(self.db_path), "user", "list"],
                           capture_output=True, text=True, timeout=30)
        return any(line.split("\t")[0] == name for line in r.stdout.splitlines())

    @staticmethod
    def _ensure_unix_account(name):
        # smbd only authenticates users that exist as Unix accounts (validation backend only).
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name],
                           check=True, capture_output=True)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=10.0, extra_args=()):
        # XSMBD_TEST_PORT: a fixed port (in a network namespace of the test's own, e.g. 445
        # for smbtorture tests that hard-code it).
        self.port = int(os.environ.get("XSMBD_TEST_PORT") or 0) or free_port()
        self.conf_path.write_text(self.config_text())
        self._create_users()
        if self.kind == "xsmbd":
            cmd = [self.xsmbd, "--config", str(self.conf_path), "--foreground",
                   "--log-level", str(self.log_level), *extra_args]
        else:
            cmd = [self.smbd, "--foreground", "--no-process-group", "--debug-stdout",
                   "-s", str(self.conf_path), "-d", str(self.log_level)]
        self._log = open(self.log_path, "ab")
        # A session of its own so stop() can signal the whole group this harness started
        # (smbd forks per connection; xsmbd may start helpers).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.root,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        _live_servers.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise ServerError(f"{self.kind} exited with {rc} before listening on "
                                  f"{self.port}; its output:\n{self.log()}\n"
                                  f"config:\n{self.conf_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"{self.kind} did not listen on {self.port} within "
                                  f"{timeout}s; its output:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        _live_servers.discard(self)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.killed = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        else:
            # The leader is gone; children of its group (smbd workers) may remain.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.returncode = proc.returncode
        self._log.close()

    def sanitized(self):
        """Whether the server binary carries a sanitizer runtime (an ASan/UBSan build)."""
        import mmap
        with open(self.xsmbd, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b"__asan_init") >= 0 or m.find(b"__ubsan_handle_") >= 0

    def sanitizer_reports(self):
        """Sanitizer report lines in the server's whole log (see SANITIZER_MARKERS)."""
        try:
            return sanitizer_reports(self.log_path.read_text(errors="replace"))
        except OSError:
            return []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def xsmbctl_status(self, timeout=60):
        """`xsmbctl status` through this server's control socket; its output (AssertionError
        with xsmbctl's stderr when it fails)."""
        sock = self.db_path.parent / "xsmbd.sock"
        # start() returns once TCP accepts; xsmbd creates the control socket a moment later,
        # after the other transports (QUIC, its AF_XDP sockets) have started.
        deadline = time.monotonic() + 10
        while not sock.exists() and self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        r = subprocess.run([self.xsmbctl, "--socket", str(sock), "status"],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"xsmbctl status failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def log(self, tail=20000):
        """The server's stderr/stdout so far (last `tail` characters)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-tail:]

    # --- clients ---------------------------------------------------------------------------

    def unc(self, share):
        return f"//127.0.0.1/{share}"

    def smbclient(self, share, commands, user=None, password=None, guest=False, dialect=None,
                  protection=None, extra=(), timeout=300, cwd=None):
        """Runs `smbclient //127.0.0.1/SHARE -p PORT ... -c COMMANDS`; returns (rc, output).

        user/password: -U user%password; guest=True: -N (anonymous, mapped to the guest account).
        dialect: one of DIALECTS, used as both minimum and maximum so exactly it is negotiated.
        protection: None or 'sign' | 'encrypt' | 'off' (--client-protection).
        """
        cmd = ["smbclient", self.unc(share), "-p", str(self.port), "-s", str(self.client_conf),
               "--use-kerberos=off"]
        if guest:
            cmd.append("-N")
        else:
            cmd += ["-U", f"{user}%{password}"]
        if dialect:
            cmd += ["-m", dialect, f"--option=client min protocol={dialect}"]
        if protection:
            cmd.append(f"--client-protection={protection}")
        cmd += list(extra)
        cmd += ["-c", commands]
        return run(cmd, timeout=timeout, cwd=cwd)


def run(cmd, timeout=300, cwd=None, input=None):
    """Runs cmd; returns (rc, combined stdout+stderr). A timeout gives rc -9 and a note."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL if input is None else None, input=input,
                           timeout=timeout, cwd=cwd, text=True, errors="replace")
        return r.returncode, r.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return -9, out + f"\n[harness: timed out after {timeout}s: {' '.join(cmd)}]"


class ServerTestCase(unittest.TestCase):
    """A TestCase whose class shares one server (self.server), started in setUpClass.

    Subclasses implement configure(server) (add shares and users); they may set
    GLOBAL_OPTIONS. When any test of the class fails, the server's log is printed once.
    """

    GLOBAL_OPTIONS = {}
    server = None

    @classmethod
    def configure(cls, server):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls._failed = False
        server = Server(global_options=cls.GLOBAL_OPTIONS)
        cls.configure(server)
        server.start()
        cls.server = server
        cls.addClassCleanup(cls._stop_server)

    @classmethod
    def _stop_server(cls):
        server, cls.server = cls.server, None
        if server is None:
            return
        alive = server.alive()
        server.stop()
        reports = server.sanitizer_reports()
        if cls._failed or not alive or reports:
            sys.stderr.write(f"\n===== {server.kind} log ({cls.__name__}, "
                             f"{'alive' if alive else 'DIED'} at teardown) =====\n")
            sys.stderr.write(server.log())
            sys.stderr.write("\n===== end of log =====\n")
        if not alive:
            raise AssertionError(f"{server.kind} died during {cls.__name__}")
        if reports:
            raise AssertionError(f"{server.kind} sanitizer reports during {cls.__name__}: "
                                 + "; ".join(reports[:5]))

    def run(self, result=None):
        before = (len(result.failures), len(result.errors)) if result else None
        out = super().run(result)
        if result is not None and (len(result.failures), len(result.errors)) != before:
            type(self)._failed = True
        return out

    def assertServerAlive(self):
        self.assertTrue(self.server.alive(),
                        f"{self.server.kind} exited; log:\n{self.server.log()}")


def main():
    """unittest.main() that also accepts --xsmbd PATH --xsmbctl PATH --backend NAME."""
    argv = [sys.argv[0]]
    args = sys.argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--xsmbd", "--xsmbctl", "--backend") and i + 1 < len(args):
            env = {"--xsmbd": "XSMBD", "--xsmbctl": "XSMBCTL",
                   "--backend": "XSMBD_TEST_BACKEND"}[a]
            os.environ[env] = args[i + 1]
            i += 2
            continue
        argv.append(a)
        i += 1
    unittest.main(argv=argv, verbosity=2)
