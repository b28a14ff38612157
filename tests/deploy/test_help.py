"""Every installed binary answers --help (and -h) with a man-page-like text on stdout and exit
status 0; xsmbd logs its start-up facts ("listening", the open-file limit) as information, not
as errors, at every log level.

Binaries come from the environment (ctest sets them): XSMBD, XSMB_RPCD, XSMB_LOADER, XSMBCTL,
XSMB_BENCH; a missing one is skipped with a message.
"""

import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import rootfs

BINARIES = {
    "XSMBD": ("xsmbd", ["--config", "--foreground", "--log-level", "--check-config",
                        "--takeover", "--workers", "--io-threads", "--rpcd"]),
    "XSMB_BENCH": ("xsmb-bench", ["--port", "--share", "--workload", "--json", "--server_pid",
                                  "--duration", "--qd"]),
    "XSMB_LOADER": ("xsmb-loader", ["load", "attach IFACE", "detach IFACE", "status", "unload",
                                    "--pin-dir"]),
    "XSMBCTL": ("xsmbctl", ["user add NAME", "user list", "status", "limit list", "--db"]),
    "XSMB_RPCD": ("xsmb-rpcd", ["--user NAME"]),
}
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO")


class Help(unittest.TestCase):
    def check(self, env, flag):
        path = os.environ.get(env)
        if not path:
            self.skipTest(f"{env} not set")
        name, terms = BINARIES[env]
        r = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertNotIn("No flags matched", out + r.stderr)
        self.assertTrue(out.startswith("NAME\n       " + name + " - "), out[:200])
        headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
        for s in SECTIONS:
            self.assertIn(s, headings, f"{name}: no {s} section")
        self.assertTrue("OPTIONS" in headings or "COMMANDS" in headings, headings)
        for t in terms:
            self.assertIn(t, out, f"{name} --help does not mention {t}")
        long_lines = [line for line in out.splitlines() if len(line) > 80 and " " in line.strip()]
        self.assertEqual(long_lines, [], f"{name}: lines over 80 columns")
        return out

    def test_xsmbd(self):
        out = self.check("XSMBD", "--help")
        # Abseil's own flags (--helpfull, --flagfile, ...) stay out of the manual.
        self.assertNotIn("--flagfile", out)
        self.assertEqual(self.check("XSMBD", "-h"), out)

    def test_xsmb_bench(self):
        self.check("XSMB_BENCH", "--help")

    def test_xsmb_loader(self):
        self.check("XSMB_LOADER", "--help")
        # A usage error is still one (exit status 2, on stderr).
        r = subprocess.run([os.environ["XSMB_LOADER"], "frobnicate"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)

    def test_xsmbctl(self):
        self.check("XSMBCTL", "-h")

    def test_xsmb_rpcd(self):
        self.check("XSMB_RPCD", "--help")


class StartupLogLevels(unittest.TestCase):
    def run_server(self, level):
        xsmbd = os.environ.get("XSMBD")
        if not xsmbd:
            self.skipTest("XSMBD not set")
        d = Path(tempfile.mkdtemp(prefix="xsmbd-loglevel-"))
        (d / "share").mkdir()
        port = rootfs.free_port()
        conf = d / "smb.conf"
        conf.write_text(f"[global]\n  smb ports = {port}\n  interfaces = 127.0.0.1\n"
                        f"  bind interfaces only = yes\n  smb passwd file = {d}/users.db\n"
                        f"  log level = {level}\n[s]\n  path = {d}/share\n")
        log = open(d / "stderr", "w+")
        p = subprocess.Popen([xsmbd, "--foreground", "--config", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and "listening on" not in (d / "stderr").read_text():
                self.assertIsNone(p.poll(), (d / "stderr").read_text())
                time.sleep(0.1)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        text = (d / "stderr").read_text()
        subprocess.run(["rm", "-rf", str(d)])
        return text

    def test_startup_facts_are_information(self):
        for level in (0, 1):
            text = self.run_server(level)
            lines = text.splitlines()
            listening = [x for x in lines if "xsmbd listening on 127.0.0.1 port" in x]
            self.assertEqual(len(listening), 1, text)
            self.assertRegex(listening[0], r"^I \d\d:\d\d:\d\d\.\d{3} ")
            limit = [x for x in lines if "open file limit (RLIMIT_NOFILE)" in x]
            self.assertEqual(len(limit), 1, text)
            self.assertTrue(limit[0].startswith("I "), limit[0])
            stats = [x for x in lines if re.search(r"stats: connections \d+", x)]
            self.assertTrue(stats and stats[0].startswith("I "), text)
            # A clean start and stop logs no error at all.
            self.assertEqual([x for x in lines if x.startswith("E ")], [], text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
