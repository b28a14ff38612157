#!/usr/bin/env python3
"""smbtorture tests that need a network of their own: every test named in
tests/smbtorture/passing-netns.txt must pass.

Some smbtorture tests reach outside the client: the multichannel tests cut a channel off with
iptables (smbtorture's block.c, `--option=torture:use_iptables=yes`: rules in the OUTPUT
chain dropping one client port), and smb2.multichannel.bugs.bug_15346 connects to port 445
whatever -p says. Neither may touch the host's own firewall or ports, so this test creates a
network namespace (loopback only), runs test_smbtorture.py inside it with xsmbd on port 445
and smbtorture allowed to use iptables there, and removes the namespace afterwards.

Needs root, `ip` (iproute2) and `iptables` (tools/install-deps.sh installs it); skipped
otherwise, saying why.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_smbtorture_netns.py
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

LIST = harness.REPO_ROOT / "tests" / "smbtorture" / "passing-netns.txt"
HERE = os.path.dirname(os.path.abspath(__file__))


def missing():
    """Why this test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespace, iptables)"
    for tool in ("ip", "iptables", "smbtorture"):
        if not shutil.which(tool):
            return f"needs {tool}"
    return None


def listed():
    return [l.strip() for l in LIST.read_text().splitlines()
            if l.strip() and not l.startswith("#")]


class SmbtortureNetnsTest(unittest.TestCase):
    def test_listed_tests_pass_in_a_namespace_of_their_own(self):
        why = missing()
        if why:
            self.skipTest(why)
        names = listed()
        self.assertTrue(names, f"{LIST} lists no test")
        ns = f"xsmbd-torture-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            env = dict(os.environ, XSMBD_TEST_PORT="445", XSMBD_TORTURE_IPTABLES="1",
                       XSMBD_TORTURE_TESTS=" ".join(names))
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                                os.path.join(HERE, "test_smbtorture.py")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace", timeout=60 * len(names) + 120)
        finally:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        sys.stderr.write(r.stdout[-20000:])
        self.assertEqual(r.returncode, 0, "smbtorture tests failed in the namespace (above)")
        for name in names:
            self.assertIn(f"[smbtorture] {name}: pass", r.stdout)


if __name__ == "__main__":
    unittest.main()
