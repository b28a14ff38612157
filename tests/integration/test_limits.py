#!/usr/bin/env python3
"""Connection limit: with `max connections = 2`, a third concurrent TCP connection is closed
without being served while two are open, the two keep being served, and once one closes a new
connection is served again (the count is released, refusals do not leak slots).
Credits: one connection keeps 64 requests in flight.
Busy polling: after a burst the event loops stop polling and an idle server uses no CPU.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_limits.py
"""

import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402

DIALECTS = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02"]


def try_negotiate(port, timeout=3.0):
    """('ok', conn) if a fresh connection's NEGOTIATE is answered with success, else
    (outcome, None) with outcome 'closed', 'silent' or 'error:STATUS'."""
    conn = smb2raw.Connection(port, timeout=timeout)
    try:
        conn.send(smb2raw.negotiate_request(dialects=DIALECTS))
        data = conn.recv()
    except (ConnectionError, BrokenPipeError):
        conn.close()
        return "closed", None
    except socket.timeout:
        conn.close()
        return "silent", None
    r = smb2raw.Response(data)
    if r.status != smb2raw.STATUS_SUCCESS:
        conn.close()
        return f"error:{r.status:#010x}", None
    conn.next_message_id = 1
    return "ok", conn


@unittest.skipIf(harness.backend() != "xsmbd",
                 "smbd's max connections limits tree connects per share, not TCP connections")
class MaxConnectionsTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"max connections": "2"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})

    def served_within(self, seconds):
        """A served connection, retrying while the server has not yet noticed an earlier
        close (closes are asynchronous to this client). Fails the test after `seconds`."""
        deadline = time.monotonic() + seconds
        outcomes = []
        while True:
            outcome, conn = try_negotiate(self.server.port)
            if conn:
                self.addCleanup(conn.close)
                return conn
            outcomes.append(outcome)
            if time.monotonic() > deadline:
                self.fail(f"no connection served within {seconds}s: {outcomes[-5:]}")
            time.sleep(0.05)

    def assert_refused(self, what):
        outcome, conn = try_negotiate(self.server.port)
        if conn:
            conn.close()
        self.assertEqual(outcome, "closed", f"{what}: third connection was {outcome}")

    def assert_echo(self, conn, what):
        r, mid = conn.echo()
        self.assertEqual((r.command, r.status, r.message_id),
                         (smb2raw.ECHO, smb2raw.STATUS_SUCCESS, mid), what)

    def test_third_connection_refused_until_one_closes(self):
        a = self.served_within(3)
        b = self.served_within(3)
        # Two are open: every further connection is closed unanswered, and stays so.
        for i in range(3):
            self.assert_refused(f"attempt {i + 1} with two open")
        self.assert_echo(a, "first connection after the refusals")
        self.assert_echo(b, "second connection after the refusals")
        self.assertServerAlive()

        a.close()
        c = self.served_within(5)
        self.assert_echo(c, "connection served after one closed")
        self.assert_echo(b, "second connection still served")
        # Back at two: the limit holds again (refusals did not consume or free slots).
        self.assert_refused("with b and c open")

        b.close()
        c.close()
        d = self.served_within(5)
        e = self.served_within(5)
        self.assert_echo(d, "d")
        self.assert_echo(e, "e")
        self.assert_refused("with d and e open")
        self.assertIn("max connections (2) reached", self.server.log())



class CreditsInFlightTest(harness.ServerTestCase):
    """Credits (MS-SMB2 3.3.1.2): a client that asks for them gets enough to keep at least 64
    requests in flight on one connection, and all 64 are answered, in any order."""

    IN_FLIGHT = 64

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})

    def test_sixty_four_requests_in_flight(self):
        with smb2raw.Connection(self.server.port) as conn:
            neg = bytearray(smb2raw.negotiate_request(dialects=DIALECTS))
            struct.pack_into("<H", neg, 14, self.IN_FLIGHT + 1)  # CreditRequest
            conn.send(bytes(neg))
            r = smb2raw.Response(conn.recv())
            self.assertEqual(r.status, smb2raw.STATUS_SUCCESS)
            self.assertGreaterEqual(r.credits, self.IN_FLIGHT,
                                    "NEGOTIATE granted too few credits for 64 in flight")
            # MessageIds 1..64 sent at once, before reading any response.
            batch = b"".join(smb2raw.frame(smb2raw.echo_request(mid))
                             for mid in range(1, self.IN_FLIGHT + 1))
            conn.send_raw(batch)
            seen = set()
            for _ in range(self.IN_FLIGHT):
                r = smb2raw.Response(conn.recv())
                self.assertEqual(r.status, smb2raw.STATUS_SUCCESS, hex(r.status))
                self.assertEqual(r.command, smb2raw.ECHO)
                self.assertGreaterEqual(r.credits, 1)  # each gives its credit back
                seen.add(r.message_id)
            self.assertEqual(seen, set(range(1, self.IN_FLIGHT + 1)))


def cpu_seconds(pid):
    """User + system CPU time of every thread of `pid` so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BusyPollTest(harness.ServerTestCase):
    """`busy poll` (default 50 us): a loop polls epoll for a while after its last event instead
    of sleeping at once. Once the requests stop, polling must stop too: an xsmbd that has just
    answered a burst from several connections uses (next to) no CPU while idle."""

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})

    def test_idle_after_a_burst_uses_no_cpu(self):
        conns = [smb2raw.Connection(self.server.port) for _ in range(4)]
        try:
            for conn in conns:
                neg = bytearray(smb2raw.negotiate_request(dialects=DIALECTS))
                struct.pack_into("<H", neg, 14, 64)
                conn.send(bytes(neg))
                self.assertEqual(smb2raw.Response(conn.recv()).status, smb2raw.STATUS_SUCCESS)
            for round_ in range(20):
                for conn in conns:
                    conn.send_raw(b"".join(smb2raw.frame(smb2raw.echo_request(mid))
                                           for mid in range(1 + round_ * 32, 33 + round_ * 32)))
                for conn in conns:
                    for _ in range(32):
                        self.assertEqual(smb2raw.Response(conn.recv()).status,
                                         smb2raw.STATUS_SUCCESS)
            pid = self.server.proc.pid
            time.sleep(0.2)
            before = cpu_seconds(pid)
            time.sleep(2.0)
            used = cpu_seconds(pid) - before
            # A loop left polling would burn a whole CPU (2 s here); idle loops wake once a
            # second at most.
            self.assertLess(used, 0.2, f"idle xsmbd used {used:.2f} s of CPU in 2 s")
        finally:
            for conn in conns:
                conn.close()


class SocketOptionsTest(harness.ServerTestCase):
    """`socket options` (Samba's parameter) reach every accepted connection: the kernel's view
    of the server's end of the socket (`ss`) shows the buffer sizes (doubled by the kernel,
    autotuning off) and the keep-alive timer set from TCP_KEEPIDLE."""

    GLOBAL_OPTIONS = {"socket options":
                      "TCP_NODELAY SO_RCVBUF=131072 SO_SNDBUF=262144 SO_KEEPALIVE TCP_KEEPIDLE=77"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})

    def test_options_are_on_the_server_socket(self):
        conn = smb2raw.Connection(self.server.port)
        try:
            conn.send(smb2raw.negotiate_request(dialects=DIALECTS))
            self.assertEqual(smb2raw.Response(conn.recv()).status, smb2raw.STATUS_SUCCESS)
            out = subprocess.run(
                ["ss", "-tnmo", "state", "established", f"( sport = :{self.server.port} )"],
                capture_output=True, text=True, check=True).stdout
            rb = re.search(r"\brb(\d+)", out)
            tb = re.search(r"\btb(\d+)", out)
            self.assertTrue(rb and tb, out)
            self.assertEqual(int(rb.group(1)), 2 * 131072, out)
            self.assertEqual(int(tb.group(1)), 2 * 262144, out)
            # timer:(keepalive,1min16sec,0): idle time before the first probe, counting down
            timer = re.search(r"timer:\(keepalive,(?:(\d+)min)?(\d+)(?:\.\d+)?sec", out)
            self.assertTrue(timer, out)
            left = int(timer.group(1) or 0) * 60 + int(timer.group(2))
            self.assertTrue(60 <= left <= 77, out)
        finally:
            conn.close()


if __name__ == "__main__":
    harness.main()
