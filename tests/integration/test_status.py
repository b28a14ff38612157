#!/usr/bin/env python3
"""xsmbctl status: the running server's sessions, tree connects and open files, read from its
control socket, match what a client holds open at that moment.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_status.py
"""

import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client  # noqa: E402

USER, PASSWORD = "statususer", "Stat-us-123"


@unittest.skipIf(harness.backend() != "xsmbd", "the control socket is xsmbd's")
class StatusTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        server.add_share("data", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def status(self):
        return self.server.xsmbctl_status()

    def test_lists_session_tree_and_open_file(self):
        (self.server.shares["data"].path / "report.txt").write_bytes(b"x" * 100)
        c = smb2client.Smb2Client(self.server.port)
        try:
            c.negotiate()
            c.login(USER, PASSWORD)
            c.tree_connect(f"\\\\127.0.0.1\\data")
            reply = c.create("report.txt")
            self.assertEqual(reply.status, 0, smb2client.status_name(reply.status))
            out = self.status()
            self.assertIn(f"user {USER}", out)
            self.assertIn("share data rw", out)
            self.assertIn("file \\report.txt", out)
        finally:
            c.close()
        # Once the client is gone its connection is no longer listed.
        out = self.status()
        self.assertNotIn("file \\report.txt", out)
        self.assertIn("counters: connections", out)

    def test_ready_and_a_silent_client(self):
        sock = self.server.db_path.parent / "xsmbd.sock"
        r = subprocess.run([self.server.xsmbctl, "--socket", str(sock), "ready"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, "state: ready\n"), r.stderr)
        self.assertIn("state: ready\n", self.status())
        # A client that sends no command (socat, nc) still gets the whole report.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(sock))
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        self.assertTrue(data.startswith(b"xsmbd status\nstate: ready\n"), data[:200])
        self.assertIn(b"counters: connections", data)

    def test_unreachable_server_is_a_clear_error(self):
        r = subprocess.run([self.server.xsmbctl, "--socket", "/nonexistent/xsmbd.sock",
                            "status"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach xsmbd", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
