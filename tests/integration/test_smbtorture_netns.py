#!/usr/bin/env python3
"""smbtorture tests that need a network of their own: every test named in
tests/smbtorture/passing-netns.txt must pass.

Some smbtorture tests reach outside the client: the multichannel tests cut a channel off with
iptables (smbtorture's block.c, `--option=torture:use_iptables=yes`: rules in the OUTPUT
chain dropping one client port), and smb2.multichannel.bugs.bug_15346 connects to port 445
whatever -p says. Neither may touch the host's own firewall or ports, so this test creates a
network namespace (loopback only), runs test_smbtorture.py inside it with xsmbd on port 445
and smbtorture allowed to use iptables there, and removes the namespace afterwards.

The tests of tests/smbtorture/passing-netns-no-oplock-retry.txt run the same way against a
server with `smb2 disable oplock break retry = yes` (Windows Server's choice of channel for an
oplock break: the newest one, and no other when it fails), which they expect; the others expect
the default (MS-SMB2's retry on the next channel). Samba's own test environments split them the
same way (its selftest/knownfail.d/multichannel).

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

LISTS = harness.REPO_ROOT / "tests" / "smbtorture"
LIST = LISTS / "passing-netns.txt"
NO_RETRY_LIST = LISTS / "passing-netns-no-oplock-retry.txt"
HERE = os.path.dirname(os.path.abspath(__file__))


def missing():
    """Why this test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespace, iptables)"
    for tool in ("ip", "iptables", "smbtorture"):
        if not shutil.which(tool):
            return f"needs {tool}"
    return None


def listed(path=LIST):
    return [l.strip() for l in path.read_text().splitlines()
            if l.strip() and not l.startswith("#")]


def run_in_namespace(names, server_globals=""):
    """Runs test_smbtorture.py for `names` in a namespace of its own; returns its output."""
    ns = f"xsmbd-torture-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        env = dict(os.environ, XSMBD_TEST_PORT="445", XSMBD_TORTURE_IPTABLES="1",
                   XSMBD_TORTURE_TESTS=" ".join(names), XSMBD_TORTURE_GLOBALS=server_globals)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                            os.path.join(HERE, "test_smbtorture.py")],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=60 * len(names) + 120)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    sys.stderr.write(r.stdout[-20000:])
    return r


class SmbtortureNetnsTest(unittest.TestCase):
    def check_list(self, path, server_globals=""):
        why = missing()
        if why:
            self.skipTest(why)
        names = listed(path)
        self.assertTrue(names, f"{path} lists no test")
        r = run_in_namespace(names, server_globals)
        self.assertEqual(r.returncode, 0, "smbtorture tests failed in the namespace (above)")
        for name in names:
            self.assertIn(f"[smbtorture] {name}: pass", r.stdout)

    def test_listed_tests_pass_in_a_namespace_of_their_own(self):
        self.check_list(LIST)

    def test_windows_oplock_break_channel_choice(self):
        self.check_list(NO_RETRY_LIST, "smb2 disable oplock break retry = yes")


if __name__ == "__main__":
    unittest.main()
