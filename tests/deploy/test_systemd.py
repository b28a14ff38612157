"""xsmbd.service for real: `cmake --install` of the build under test into a Debian 12 root
filesystem with systemd (rootfs.systemd_base()), `systemd-analyze verify` of the installed unit
there, then that system booted with systemd as its PID 1 (systemd-nspawn --boot: PID 1 of this
machine is not systemd, so `systemd-run --scope` has no manager to talk to) with xsmbd.service
enabled. The unit starts (xsmb-loader as ExecStartPre failing harmlessly: no BPF inside the
container), xsmbd serves a put and a get to smbclient from outside (the container shares the
host's network), and the running xsmbd has exactly the unit's capability bounding set and
no_new_privs. `systemctl reload` (SIGHUP) keeps it running; `systemctl stop` stops it cleanly.

Needs root, systemd-nspawn (apt-get install systemd-container) and a cached base (see
rootfs.py; XSMBD_ROOTFS_BUILD=1 builds it). Environment: XSMBD_BUILD (the build directory).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest
from pathlib import Path

import rootfs

# The capabilities the unit's CapabilityBoundingSet= names (deploy/systemd/xsmbd.service.in).
UNIT_CAPS = {"cap_bpf", "cap_perfmon", "cap_net_admin", "cap_net_bind_service", "cap_setuid",
             "cap_setgid", "cap_dac_override", "cap_dac_read_search", "cap_fowner",
             "cap_kill", "cap_sys_resource"}
CAP_BITS = {"cap_chown": 0, "cap_dac_override": 1, "cap_dac_read_search": 2, "cap_fowner": 3, "cap_kill": 5,
            "cap_setgid": 6, "cap_setuid": 7, "cap_net_bind_service": 10, "cap_net_admin": 12,
            "cap_sys_resource": 24, "cap_perfmon": 38, "cap_bpf": 39}


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class SystemdUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        build = os.environ.get("XSMBD_BUILD")
        if not build:
            raise unittest.SkipTest("XSMBD_BUILD not set")
        if not shutil.which("systemd-nspawn"):
            raise unittest.SkipTest("systemd-nspawn missing (apt-get install systemd-container)")
        tar = rootfs.systemd_base()
        cls.tmp, cls.root, out = rootfs.installed_root(tar, "xsmbd-systemd-", build)
        units = re.findall(r"Installing: \S*?(/\S*/xsmbd\.service)$", out, re.M)
        cls.unit_path = units[0][len(str(cls.root)):] if units[0].startswith(str(cls.root)) \
            else units[0]
        cls.unit = (cls.root / cls.unit_path.lstrip("/")).read_text()
        cls.conf = re.search(r"--config (\S+)", cls.unit).group(1)
        # ExecStart=PREFIX/sbin/xsmbd ...
        cls.prefix = str(Path(re.search(r"^ExecStart=(\S+)", cls.unit, re.M).group(1)).parents[1])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def chroot(self, *argv, **kw):
        return subprocess.run(["chroot", str(self.root), *argv], capture_output=True, text=True,
                              timeout=60, **kw)

    def test_1_verify(self):
        r = self.chroot("systemd-analyze", "verify", self.unit_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")
        # The check can fail: a misspelt directive and a missing binary are reported.
        broken = self.unit.replace("ProtectSystem=full", "ProtectSytem=full").replace(
            "xsmbd --foreground", "xsmbd-missing --foreground")
        (self.root / "etc/systemd/system/broken.service").write_text(broken)
        r = self.chroot("systemd-analyze", "verify", "/etc/systemd/system/broken.service")
        (self.root / "etc/systemd/system/broken.service").unlink()
        self.assertIn("ProtectSytem", r.stderr)
        self.assertIn("xsmbd-missing", r.stderr)

    def nspawn_pid1(self, nspawn):
        """The container's PID 1 (systemd) as seen from here. systemd-nspawn forks an outer child
        first, which then clones the container's init as nspawn's child and exits: the first child
        seen may be that short-lived helper, so only a child that is PID 1 of its own PID namespace
        (the last NSpid field is 1) and has become systemd counts."""
        deadline = time.time() + 30
        while time.time() < deadline:
            self.assertIsNone(nspawn.poll(), (self.tmp / "console.log").read_text())
            try:
                kids = Path(f"/proc/{nspawn.pid}/task/{nspawn.pid}/children").read_text().split()
            except OSError:
                kids = []
            for kid in kids:
                try:
                    status = Path(f"/proc/{kid}/status").read_text()
                    comm = Path(f"/proc/{kid}/comm").read_text().strip()
                except OSError:
                    continue
                nspid = re.search(r"^NSpid:\s*(.*)$", status, re.M)
                if nspid and nspid.group(1).split()[-1] == "1" and comm == "systemd":
                    return int(kid)
            time.sleep(0.1)
        self.fail("systemd-nspawn started no container:\n" +
                  (self.tmp / "console.log").read_text())

    def in_container(self, pid1, *argv):
        return subprocess.run(["nsenter", "-t", str(pid1), "-m", "-p", "-u", "-i", "--", *argv],
                              capture_output=True, text=True, timeout=60)

    def test_2_boots_and_serves(self):
        port = rootfs.free_port()
        share = self.root / "srv/share"
        share.mkdir(parents=True)
        os.chown(share, 65534, 65534)
        conf = self.root / self.conf.lstrip("/")
        conf.write_text(
            f"[global]\n  smb ports = {port}\n  interfaces = 127.0.0.1\n"
            "  bind interfaces only = yes\n  smb passwd file = /var/lib/xsmbd/users.db\n"
            "  bpf = yes\n  log level = " + os.environ.get("XSMBD_TEST_LOG_LEVEL", "1") + "\n[share]\n  path = /srv/share\n  read only = no\n")
        r = self.chroot(self.prefix + "/bin/xsmbctl", "--db", "/var/lib/xsmbd/users.db", "user",
                        "add", "alice", "--unix-user", "nobody", input="Secret-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        wants = self.root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "xsmbd.service").symlink_to(self.unit_path)
        console = open(self.tmp / "console.log", "w+")
        nspawn = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--boot",
             "-D", str(self.root),
             "--machine", f"xsmbd-test-{port}"],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            pid1 = self.nspawn_pid1(nspawn)
            state = ""
            deadline = time.time() + 90
            while time.time() < deadline:
                self.assertIsNone(nspawn.poll(), (self.tmp / "console.log").read_text())
                state = self.in_container(pid1, "systemctl", "show", "xsmbd", "-p",
                                          "ActiveState,SubState,MainPID").stdout
                if "ActiveState=active" in state and self.listening(port):
                    break
                time.sleep(0.5)
            if "SubState=running" not in state:
                show = self.in_container(pid1, "systemctl", "show", "xsmbd", "-p",
                                         "ActiveState,SubState,MainPID")
                self.fail(f"xsmbd.service not running: {show.stdout!r} {show.stderr!r}\n"
                          "journal:\n" +
                          self.in_container(pid1, "journalctl", "-u", "xsmbd", "--no-pager").stdout +
                          "\nconsole:\n" + (self.tmp / "console.log").read_text())
            main_pid = int(re.search(r"MainPID=(\d+)", state).group(1))
            self.check_hardening(pid1, main_pid)
            try:
                self.put_and_get(port)
            except AssertionError:
                print(self.in_container(pid1, "journalctl", "-u", "xsmbd", "--no-pager").stdout)
                raise
            r = self.in_container(pid1, "systemctl", "reload", "xsmbd")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.put_and_get(port)
            try:
                r = self.in_container(pid1, "systemctl", "stop", "xsmbd")
            except subprocess.TimeoutExpired:
                print(self.in_container(pid1, "journalctl", "-u", "xsmbd", "--no-pager").stdout)
                raise
            self.assertEqual(r.returncode, 0, r.stderr)
            state = self.in_container(pid1, "systemctl", "show", "xsmbd", "-p",
                                      "ActiveState,Result,ExecMainStatus").stdout
            self.assertIn("ActiveState=inactive", state)
            self.assertIn("Result=success", state)
            journal = self.in_container(pid1, "journalctl", "-u", "xsmbd", "--no-pager").stdout
            print(journal[-3000:])
            self.assertRegex(journal, r"I \d\d:\d\d:\d\d\.\d+ xsmbd listening on 127\.0\.0\.1")
        finally:
            # SIGTERM to systemd-nspawn: it powers the container off (SIGRTMIN+3 to its PID 1).
            if nspawn.poll() is None:
                nspawn.send_signal(signal.SIGTERM)
                try:
                    nspawn.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    nspawn.kill()
                    nspawn.wait()

    def listening(self, port):
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def check_hardening(self, pid1, main_pid):
        status = self.in_container(pid1, "cat", f"/proc/{main_pid}/status").stdout
        bnd = int(re.search(r"CapBnd:\s*([0-9a-f]+)", status).group(1), 16)
        held = {name for name, bit in CAP_BITS.items() if bnd & (1 << bit)}
        self.assertEqual(bnd & ~sum(1 << b for b in CAP_BITS.values()), 0,
                         f"capabilities outside the unit's set: {bnd:#x}")
        self.assertTrue(held <= UNIT_CAPS, held - UNIT_CAPS)
        self.assertIn("cap_net_bind_service", held)
        self.assertRegex(status, r"NoNewPrivs:\s*1")

    def put_and_get(self, port):
        payload = os.urandom(200_000)
        src = self.tmp / "payload.bin"
        src.write_bytes(payload)
        smb = ["smbclient", "//127.0.0.1/share", "-p", str(port), "-U", "alice%Secret-1"]
        r = subprocess.run(smb + ["-c", f"put {src} p.bin"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        back = self.tmp / "back.bin"
        r = subprocess.run(smb + ["-c", f"get p.bin {back}"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(back.read_bytes(), payload)


if __name__ == "__main__":
    unittest.main(verbosity=2)
