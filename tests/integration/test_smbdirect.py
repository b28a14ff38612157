#!/usr/bin/env python3
"""SMB Direct on a machine without an RDMA device: with "smb direct = yes" (or auto) xsmbd says
so in exactly one log line and serves TCP as before (smbclient copies a file both ways), and
xsmbctl status shows SMB Direct's state and its counters, all zero. With the default (no),
nothing about SMB Direct is logged.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_smbdirect.py
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

USER, PASSWORD = "rdmauser", "Rdma-user-123"
NO_DEVICE = "SMB Direct: no RDMA device found; serving TCP only"
ZERO_COUNTERS = ("smb direct counters: connections 0, refused 0, open 0, rdma reads 0 (0 bytes), "
                 "rdma writes 0 (0 bytes), send credits used 0, receive credits granted 0, "
                 "peer credits used 0, send with invalidate 0, completion errors 0, "
                 "cq wakeups 0")


def has_rdma_device():
    for d in ("/sys/class/infiniband", "/sys/class/infiniband_verbs"):
        if os.path.isdir(d) and any(not n.startswith("abi_version") for n in os.listdir(d)):
            return True
    return False


class SmbDirectCase(harness.ServerTestCase):
    """One server per subclass; `expected_line` is the one SMB Direct line it must log."""

    expected_line = None
    expected_state = None

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("data", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def smb_direct_lines(self):
        return [line for line in self.server.log().splitlines() if "SMB Direct" in line]

    def status(self):
        return self.server.xsmbctl_status()

    def test_one_line_about_smb_direct(self):
        lines = self.smb_direct_lines()
        if self.expected_line is None:
            self.assertEqual(lines, [])
        else:
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].endswith(self.expected_line), lines[0])

    def test_tcp_still_serves(self):
        tmp = harness.make_temp_dir("xsmbd-rdma-")
        src, sha = harness.random_file(4 << 20)
        rc, out = self.server.smbclient("data", f"put {src} up.bin; get up.bin {tmp}/down.bin",
                                        user=USER, password=PASSWORD)
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(self.share.path / "up.bin"), sha)
        self.assertEqual(harness.sha256_file(tmp / "down.bin"), sha)
        # Still exactly one line once a client came and went.
        self.test_one_line_about_smb_direct()

    def test_status_shows_state_and_zero_counters(self):
        out = self.status()
        self.assertIn(f"smb direct: {self.expected_state}\n", out)
        self.assertIn(ZERO_COUNTERS + "\n", out)


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's own SMB Direct")
@unittest.skipIf(has_rdma_device(), "this machine has an RDMA device")
class SmbDirectYes(SmbDirectCase):
    GLOBAL_OPTIONS = {"smb direct": "yes", "server multi channel support": "yes"}
    expected_line = NO_DEVICE
    expected_state = "no RDMA device found; serving TCP only"


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's own SMB Direct")
@unittest.skipIf(has_rdma_device(), "this machine has an RDMA device")
class SmbDirectAuto(SmbDirectCase):
    GLOBAL_OPTIONS = {"smb direct": "auto", "smb direct port": "5445"}
    expected_line = NO_DEVICE  # a notice: the harness runs xsmbd at log level 2
    expected_state = "no RDMA device found; serving TCP only"


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's own SMB Direct")
class SmbDirectOff(SmbDirectCase):
    expected_line = None
    expected_state = "off (smb direct = no)"


del SmbDirectCase  # the base itself runs no server

if __name__ == "__main__":
    unittest.main(verbosity=2)
