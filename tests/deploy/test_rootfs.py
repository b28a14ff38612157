"""The container image's root filesystem, built the way deploy/Containerfile builds it but without
a container engine: Debian 12 minbase from Debian's archive (mmdebstrap, the equivalent of
debian:12-slim) plus deploy/runtime-packages.txt, then `cmake --install --prefix /usr` of the
build under test into it (the Containerfile's build stage does the same into /staging). xsmbd is
started inside it (its own mount, PID, UTS and IPC namespaces, chroot; the host's network) and
serves a file to smbclient from outside.

Checks on the way: no installed binary has an unresolved library inside the root filesystem,
no compiler is in it, the default /etc/xsmbd/smb.conf passes xsmbd --check-config there.

The base (rootfs.py: mmdebstrap, about 4 minutes here) is cached as a tarball in
XSMBD_TEST_CACHE (default ~/.cache/xsmbd-tests), keyed by runtime-packages.txt; each run unpacks
it afresh (seconds). Without a cached base the test skips unless XSMBD_ROOTFS_BUILD=1 (too slow
to build on every CI run: on demand). Needs root (chroot, namespaces). Environment: XSMBD_BUILD
(the build directory).
"""

import os
import shutil
import signal
import subprocess
import time
import unittest
from pathlib import Path

import rootfs


@unittest.skipUnless(os.geteuid() == 0, "needs root (chroot and namespaces)")
class ImageRootfs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        build = os.environ.get("XSMBD_BUILD")
        if not build:
            raise unittest.SkipTest("XSMBD_BUILD not set")
        t0 = time.time()
        tar = rootfs.image_base()
        cls.base_seconds = time.time() - t0
        cls.tmp, cls.root, _ = rootfs.installed_root(tar, "xsmbd-rootfs-", build,
                                                     "--prefix", "/usr", "--strip")
        (cls.root / "var/lib/xsmbd").mkdir(mode=0o700, parents=True, exist_ok=True)
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def chroot(self, *argv, **kw):
        return subprocess.run(["chroot", str(self.root), *argv], capture_output=True, text=True,
                              timeout=60, **kw)

    def test_1_layout_and_libraries(self):
        print(f"base root filesystem ready in {self.base_seconds:.1f} s")
        for f in ("usr/sbin/xsmbd", "usr/sbin/xsmb-loader", "usr/bin/xsmbctl",
                  "usr/bin/xsmb-bench", "usr/libexec/xsmbd/xsmb-rpcd", "etc/xsmbd/smb.conf",
                  "usr/lib/systemd/system/xsmbd.service", "usr/lib/xsmbd/bpf/xsmb_xdp.bpf.o"):
            self.assertTrue((self.root / f).exists(), f)
        for b in ("/usr/sbin/xsmbd", "/usr/sbin/xsmb-loader", "/usr/bin/xsmbctl",
                  "/usr/bin/xsmb-bench", "/usr/libexec/xsmbd/xsmb-rpcd"):
            r = self.chroot("ldd", b)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("not found", r.stdout, f"{b} inside the image:\n{r.stdout}")
        for cc in ("usr/bin/gcc", "usr/bin/g++", "usr/bin/cc", "usr/bin/clang", "usr/bin/c++"):
            self.assertFalse((self.root / cc).exists(), f"a compiler in the runtime image: {cc}")
        r = self.chroot("/usr/sbin/xsmbd", "--check-config", "--config", "/etc/xsmbd/smb.conf")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_2_serves_a_file(self):
        port = rootfs.free_port()
        share = self.root / "srv/xsmbd/share"
        share.mkdir(parents=True, exist_ok=True)
        os.chown(share, 65534, 65534)
        (self.root / "etc/xsmbd/test.conf").write_text(
            f"[global]\n  smb ports = {port}\n  interfaces = 127.0.0.1\n"
            "  bind interfaces only = yes\n  smb passwd file = /var/lib/xsmbd/users.db\n"
            "  log level = 1\n[share]\n  path = /srv/xsmbd/share\n  read only = no\n")
        r = self.chroot("/usr/bin/xsmbctl", "--db", "/var/lib/xsmbd/users.db", "user", "add",
                        "alice", "--unix-user", "nobody", input="Secret-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        log = open(self.tmp / "xsmbd.log", "w+")
        # proc for /proc/self/exe (finding xsmb-rpcd) and the descriptor limits.
        script = (f"mount -t proc proc {self.root}/proc && exec chroot {self.root} "
                  "/usr/sbin/xsmbd --foreground --config /etc/xsmbd/test.conf")
        p = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc",
                              "--kill-child", "--propagation", "private", "sh", "-c", script],
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while "listening on" not in (self.tmp / "xsmbd.log").read_text():
                self.assertIsNone(p.poll(), (self.tmp / "xsmbd.log").read_text())
                self.assertLess(time.time(), deadline, "xsmbd did not start")
                time.sleep(0.1)
            payload = os.urandom(300_000)
            src = self.tmp / "payload.bin"
            src.write_bytes(payload)
            smb = ["smbclient", f"//127.0.0.1/share", "-p", str(port), "-U", "alice%Secret-1",
                   "-m", "SMB3"]
            r = subprocess.run(smb + ["-c", f"put {src} payload.bin"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual((share / "payload.bin").read_bytes(), payload)
            back = self.tmp / "back.bin"
            r = subprocess.run(smb + ["-c", f"get payload.bin {back}"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(back.read_bytes(), payload)
            # The share list comes from srvsvc in xsmb-rpcd: the helper runs in the image too.
            r = subprocess.run(["smbclient", "-L", "//127.0.0.1", "-p", str(port), "-U",
                                "alice%Secret-1", "-m", "SMB3"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"\n\s+share\s+Disk")
        finally:
            # SIGTERM to unshare's child, the namespace's init (xsmbd's parent shell exec'ed it).
            children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            for pid in pids:
                os.kill(int(pid), signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, (self.tmp / "xsmbd.log").read_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
