#!/usr/bin/env python3
"""Limits that hold under abuse (issue 17, docs/hardening.md), each attack as an attacker would
run it, with a second client (Samba's smbclient) served throughout and after:

- one authenticated connection opens handles to one file until refused: the refusal is
  STATUS_INSUFFICIENT_RESOURCES, the server's descriptors are not exhausted;
- 1,500 TCP connections that never send a byte are closed after "session setup timeout", and
  a connection with a session is not;
- a client floods READ requests without reading the replies: the server stops reading it and
  its memory (VmRSS) stays bounded;
- sessions per connection and async requests per connection are bounded.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_abuse.py
"""

import os
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402
from smb2client import Smb2Client, ntlm_negotiate, sign  # noqa: E402

USER, PASSWORD = "abuser", "Abuse-pw1"
STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
READ, ECHO, CHANGE_NOTIFY = 0x0008, 0x000D, 0x000F
FILE_SIZE = 1 << 20


def login(test, port, capabilities=0):
    cl = Smb2Client(port)
    test.addCleanup(cl.close)
    test.assertEqual(cl.negotiate(capabilities=capabilities).status, STATUS_SUCCESS)
    test.assertEqual(cl.login(USER, PASSWORD).status, STATUS_SUCCESS)
    test.assertEqual(cl.tree_connect(f"\\\\127.0.0.1\\share").status, STATUS_SUCCESS)
    return cl


def server_rss_kib(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def server_fds(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


class Bystander:
    """Runs smbclient (list the share, fetch a file) every `period` seconds on a thread while an
    attack runs; records each outcome."""

    def __init__(self, test, period=1.0):
        self.test, self.period = test, period
        self.outcomes = []  # (time, ok, output tail)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def once(self):
        out_dir = harness.make_temp_dir("xsmbd-abuse-get-")
        rc, out = self.test.server.smbclient(
            "share", "ls; get file " + str(out_dir / "got"), user=USER, password=PASSWORD,
            timeout=30)
        got = out_dir / "got"
        ok = rc == 0 and got.exists() and got.stat().st_size == FILE_SIZE
        self.outcomes.append((time.monotonic(), ok, out[-400:]))
        return ok

    def _run(self):
        while not self.stop_event.is_set():
            self.once()
            self.stop_event.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(60)

    def assert_all_served(self, what):
        self.test.assertTrue(self.outcomes, f"{what}: smbclient never ran")
        failed = [o for o in self.outcomes if not o[1]]
        self.test.assertFalse(failed, f"{what}: smbclient refused {len(failed)} of "
                                      f"{len(self.outcomes)} times; first: {failed[:1]}")


class AbuseTestCase(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        share = server.add_share("share", {"read only": "no"})
        (share.path / "file").write_bytes(os.urandom(FILE_SIZE))
        server.add_user(USER, PASSWORD)


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's limits")
class OpenFloodTest(AbuseTestCase):
    """One connection opens the same file until refused (the attack that took 19,975
    descriptors and refused every other client at 5121e5c)."""

    def test_opens_refused_with_insufficient_resources_others_served(self):
        cl = login(self, self.server.port)
        opened, status = 0, STATUS_SUCCESS
        with Bystander(self) as bystander:
            while opened < 100000:
                r = cl.create("file")
                if r.status != STATUS_SUCCESS:
                    status = r.status
                    break
                opened += 1
            fds_at_refusal = server_fds(self.server)
            # The refusal holds: more attempts are refused too, and cost no descriptor.
            for _ in range(20):
                self.assertEqual(cl.create("file").status, STATUS_INSUFFICIENT_RESOURCES)
            time.sleep(2)  # a bystander round with the attacker at its limit
        self.assertEqual(status, STATUS_INSUFFICIENT_RESOURCES,
                         f"after {opened} opens: {status:#010x}")
        with open(f"/proc/{self.server.proc.pid}/limits") as f:
            nofile = int([ln for ln in f if ln.startswith("Max open files")][0].split()[3])
        print(f"\n  refused after {opened} opens; server holds {fds_at_refusal} descriptors "
              f"of RLIMIT_NOFILE {nofile}", file=sys.stderr)
        self.assertLess(fds_at_refusal, nofile - 1024, "descriptors were not kept in reserve")
        self.assertGreater(opened, 1000)
        bystander.assert_all_served("during the open flood")
        # The attacker keeps its handles; another client is still served, with opens of its own.
        self.assertTrue(bystander.once(), bystander.outcomes[-1])
        self.assertEqual(cl.echo().status, STATUS_SUCCESS)
        cl.close()
        self.assertIn("max open files", self.server.log())
        self.assertServerAlive()


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's limits")
class IdleConnectionsTest(AbuseTestCase):
    """1,500 TCP connections that never send a byte are closed after the session setup
    timeout (5 s here), while a client with a session keeps its connection."""

    TIMEOUT = 5
    COUNT = 1500
    GLOBAL_OPTIONS = {"session setup timeout": str(TIMEOUT)}

    @staticmethod
    def closed(sock):
        sock.setblocking(False)  # with a timeout, Python would wait for readability first
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:  # nothing to read: still open
            return False
        except (ConnectionResetError, OSError):
            return True

    def test_idle_connections_closed_after_timeout(self):
        established = login(self, self.server.port)  # a session: not timed out
        negotiated = smb2raw.Connection(self.server.port)  # NEGOTIATE only: timed out
        self.addCleanup(negotiated.close)
        self.assertEqual(negotiated.negotiate().status, STATUS_SUCCESS)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        start = time.monotonic()
        for _ in range(self.COUNT):
            socks.append(socket.create_connection(("127.0.0.1", self.server.port), timeout=5))
        opened_in = time.monotonic() - start
        with Bystander(self, period=0.5) as bystander:
            time.sleep(1)
            open_before = sum(not self.closed(s) for s in socks)
            deadline = start + self.TIMEOUT + 5
            while time.monotonic() < deadline:
                if all(self.closed(s) for s in socks):
                    break
                time.sleep(0.2)
            closed_after = time.monotonic() - start
        still_open = sum(not self.closed(s) for s in socks)
        print(f"\n  {self.COUNT} idle connections opened in {opened_in:.1f}s; "
              f"{open_before} open after 1 s; all closed {closed_after:.1f}s after the first; "
              f"smbclient served {len(bystander.outcomes)} times meanwhile", file=sys.stderr)
        self.assertGreaterEqual(open_before, self.COUNT - 10,
                                "connections closed before the timeout")
        self.assertEqual(still_open, 0)
        self.assertGreaterEqual(closed_after, self.TIMEOUT - 0.5)
        self.assertEqual(negotiated.closed_or_error(timeout=1), "closed")
        self.assertEqual(established.echo().status, STATUS_SUCCESS)
        bystander.assert_all_served("while 1,500 idle connections were held")
        self.assertTrue(bystander.once())
        self.assertIn("session setup timeout", self.server.log())


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's limits")
class FloodWithoutReadingTest(AbuseTestCase):
    """A client that sends READs of 1 MiB with every credit it holds (8,192 credits: 512 MiB of
    replies) and never reads the replies: the server stops reading it once 16 MiB are unsent
    ("max unsent reply bytes"), and its RSS stays within about 100 MiB of where it was."""

    def gather_credits(self, cl, want=8192):
        """ECHOs (each asks for 64 credits) until the client holds `want`; returns the credits
        held."""
        held = 1
        for _ in range(400):
            r = cl.echo()
            held += r.credits - 1
            if held >= want:
                break
        return held

    def test_memory_bounded_while_replies_are_not_read(self):
        cl = login(self, self.server.port, capabilities=0x4)  # SMB2_GLOBAL_CAP_LARGE_MTU
        r = cl.create("file")
        self.assertEqual(r.status, STATUS_SUCCESS)
        self.assertEqual(cl.read(r.file_id, length=FILE_SIZE).status, STATUS_SUCCESS)  # cached
        credits = self.gather_credits(cl)
        self.assertGreaterEqual(credits, 4096)
        rss_before = server_rss_kib(self.server)
        cl.conn.sock.settimeout(3)
        sent = 0
        with Bystander(self) as bystander:
            try:
                for _ in range(credits // 16):
                    body = (struct.pack("<HBBIQ", 49, 0, 0, FILE_SIZE, 0) + r.file_id
                            + struct.pack("<IIIHH", 0, 0, 0, 0, 0) + b"\x00")
                    cl.conn.send(sign_for(cl, cl.charged(cl.build(READ, body), FILE_SIZE)))
                    sent += 1
            except socket.timeout:
                pass  # the server stopped reading this connection: what is asked for
            time.sleep(3)
            rss_peak = server_rss_kib(self.server)
        grown_mib = (rss_peak - rss_before) / 1024
        print(f"\n  {sent} READs of 1 MiB sent ({credits} credits) before the socket blocked;"
              f" server RSS grew {grown_mib:.0f} MiB", file=sys.stderr)
        self.assertLess(grown_mib, 100, "server memory grew with the unread replies")
        bystander.assert_all_served("while one client flooded without reading")
        cl.close()
        self.assertTrue(bystander.once())
        self.assertServerAlive()


@unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's limits")
class PerConnectionBoundsTest(AbuseTestCase):
    GLOBAL_OPTIONS = {"max sessions per connection": "4",
                      "max async requests per connection": "3"}

    def test_sessions_per_connection(self):
        cl = Smb2Client(self.server.port)
        self.addCleanup(cl.close)
        self.assertEqual(cl.negotiate().status, STATUS_SUCCESS)
        statuses = []
        for _ in range(6):
            cl.session_id = 0  # each SESSION_SETUP starts a new session
            statuses.append(cl.session_setup_raw(ntlm_negotiate()).status)
        self.assertEqual(statuses, [STATUS_MORE_PROCESSING_REQUIRED] * 4
                         + [STATUS_INSUFFICIENT_RESOURCES] * 2)
        self.assertEqual(cl.echo().status, STATUS_SUCCESS)

    def test_async_requests_per_connection(self):
        cl = login(self, self.server.port)
        os.makedirs(self.server.shares["share"].path / "watched", exist_ok=True)
        r = cl.create("watched", desired_access=0x00100081, create_options=0x00000001)
        self.assertEqual(r.status, STATUS_SUCCESS)
        statuses = []
        for _ in range(5):
            body = struct.pack("<HHI16sII", 32, 0, 4096, r.file_id, 0x17, 0)
            msg = cl.build(CHANGE_NOTIFY, body)
            cl.conn.send(sign_for(cl, msg))
            statuses.append(struct.unpack_from("<I", cl.conn.recv(), 8)[0])
        self.assertEqual(statuses, [STATUS_PENDING] * 3 + [STATUS_INSUFFICIENT_RESOURCES] * 2)
        self.assertEqual(cl.echo().status, STATUS_SUCCESS)


def sign_for(cl, message):
    """`message` signed as Smb2Client.send would sign it."""
    return sign(message, cl.session_key, cl.cmac) if cl.session_key else message


if __name__ == "__main__":
    harness.main()
