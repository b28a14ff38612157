#!/usr/bin/env python3
"""10,000 concurrent connections: with `max connections = 10000`, xsmbd accepts and serves
10,000 connections at once (one held by this test, 9,999 by `xsmb-bench --workload
connections`), each NEGOTIATEd and answering an ECHO; the 10,001st is closed without a
response and counted once as refused; the 10,000 keep being served; once one closes, a new
connection is served. Prints xsmbd's RSS with the 10,000 connections (not asserted).

Run: XSMBD=... XSMBCTL=... XSMB_BENCH=... python3 tests/integration/test_connections.py
"""

import json
import shutil
import os
import queue
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402

MAX_CONNECTIONS = 10000
DIALECTS = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02"]


def bench_binary():
    path = harness.find_binary("XSMB_BENCH", "xsmb-bench")
    if not path:
        raise unittest.SkipTest("xsmb-bench not built (set XSMB_BENCH)")
    return path


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def negotiated(port):
    """A connection whose NEGOTIATE was answered with success."""
    conn = smb2raw.Connection(port, timeout=10)
    r = conn.negotiate(dialects=DIALECTS)
    if r.status != smb2raw.STATUS_SUCCESS:
        conn.close()
        raise AssertionError(f"NEGOTIATE answered {r.status:#010x}")
    return conn


def refusal_outcome(port, timeout=10.0):
    """Connects, sends a NEGOTIATE and reads until the connection ends: 'closed' when the server
    closed it without sending a byte, 'answered' when it sent anything, 'silent' when it neither
    answered nor closed within `timeout`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(smb2raw.frame(smb2raw.negotiate_request(dialects=DIALECTS)))
        except (BrokenPipeError, ConnectionResetError):
            return "closed"
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                return "silent"
            if not chunk:
                break
            received += chunk
        return "answered" if received else "closed"
    finally:
        sock.close()


@unittest.skipIf(harness.backend() != "xsmbd", "the refusal counter is xsmbd's")
class TenThousandConnectionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bench = bench_binary()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = MAX_CONNECTIONS + 200
        if hard < need and os.geteuid() != 0:
            raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < {need} and not root")
        # The server's fds come from its own limit (it raises it); this raises the bench's.
        if hard < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        elif soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        # Log level 1: one line per accepted connection would be 10,000 lines of log.
        server = harness.Server(global_options={"max connections": str(MAX_CONNECTIONS)},
                                log_level=1)
        server.add_share("share", {"read only": "no"})
        server.start()
        cls.server = server

    @classmethod
    def tearDownClass(cls):
        server = getattr(cls, "server", None)
        if server:
            alive = server.alive()
            server.stop()
            if not alive:
                raise AssertionError(f"xsmbd died:\n{server.log()}")

    def status(self):
        return self.server.xsmbctl_status()

    def counters(self):
        """(connections accepted, connections refused, live connections) from xsmbctl status."""
        out = self.status()
        m = re.search(r"counters: connections (\d+), refused (\d+)", out)
        self.assertIsNotNone(m, out[:2000])
        live = sum(1 for line in out.splitlines() if line.startswith("connection "))
        return int(m.group(1)), int(m.group(2)), live

    def start_bench(self, connections):
        cmd = [self.bench, "--port", str(self.server.port), "--workload", "connections",
               "--connections", str(connections), "--hold", "0", "--json", "--progress=false"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_process, proc)
        lines = queue.Queue()

        def pump():
            for line in proc.stderr:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen = []
        while True:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                self.fail(f"xsmb-bench did not report its connections: {seen[-5:]}")
            if line is None:
                self.fail(f"xsmb-bench ended early (rc {proc.wait()}): {''.join(seen)}")
            seen.append(line)
            if line.rstrip().endswith("holding"):
                return proc, line.strip()

    @staticmethod
    def stop_process(proc):
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def finish_bench(self, proc):
        """SIGTERM ends the hold: the bench ECHOes on every connection again and reports."""
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, out)
        (result,) = json.loads(out[out.find("["):])
        return result

    def test_ten_thousand_served_and_the_next_refused(self):
        pid = self.server.proc.pid
        log = self.server.log()
        m = re.search(r"open file limit \(RLIMIT_NOFILE\) (\d+)", log)
        self.assertIsNotNone(m, log)
        self.assertGreaterEqual(int(m.group(1)), MAX_CONNECTIONS, log)
        self.assertNotIn("descriptors but RLIMIT_NOFILE is", log)
        rss_before = rss_kib(pid)

        # One connection held here, 9,999 by the bench: 10,000, each NEGOTIATEd and ECHOed.
        mine = negotiated(self.server.port)
        self.addCleanup(mine.close)
        t0 = time.monotonic()
        bench, ready = self.start_bench(MAX_CONNECTIONS - 1)
        setup = time.monotonic() - t0
        want = MAX_CONNECTIONS - 1
        self.assertIn(f"{want} accepted, 0 refused, 0 failed", ready)
        self.assertIn(f"; {want} served; holding", ready)
        r, mid = mine.echo()
        self.assertEqual((r.status, r.message_id), (smb2raw.STATUS_SUCCESS, mid))
        rss_full = rss_kib(pid)
        _, refused_before, live = self.counters()
        self.assertEqual(live, MAX_CONNECTIONS)
        print(f"\nxsmbd with {MAX_CONNECTIONS} connections: RSS {rss_full} KiB "
              f"(before {rss_before} KiB, {(rss_full - rss_before) * 1024 / MAX_CONNECTIONS:.0f} "
              f"bytes per connection); bench setup {setup:.1f} s: {ready}", file=sys.stderr)

        # The 10,001st: closed without a byte of response, counted exactly once.
        self.assertEqual(refusal_outcome(self.server.port), "closed")
        _, refused_after, live = self.counters()
        self.assertEqual(refused_after, refused_before + 1)
        self.assertEqual(live, MAX_CONNECTIONS)
        self.assertIn(f"max connections ({MAX_CONNECTIONS}) reached", self.server.log())

        # Still served after the refusal: this connection now, the bench's 9,999 below.
        r, mid = mine.echo()
        self.assertEqual((r.status, r.message_id), (smb2raw.STATUS_SUCCESS, mid))

        # One closes: a new connection is served (the server notices the close asynchronously,
        # so a refusal may come first; each try is bounded by the socket timeouts).
        mine.close()
        outcomes = []
        for _ in range(100):
            try:
                again = negotiated(self.server.port)
                break
            except (ConnectionError, AssertionError) as e:
                outcomes.append(str(e))
                time.sleep(0.05)
        else:
            self.fail(f"no connection served after one closed: {outcomes[-3:]}")
        self.addCleanup(again.close)
        r, mid = again.echo()
        self.assertEqual((r.status, r.message_id), (smb2raw.STATUS_SUCCESS, mid))

        result = self.finish_bench(bench)
        self.assertEqual(result["connections"], want, result)
        self.assertEqual(result["accepted"], want, result)
        self.assertEqual(result["refused"], 0, result)
        self.assertEqual(result["failed"], 0, result)
        self.assertEqual(result["served"], want, result)
        self.assertEqual(result["served_after_hold"], want, result)
        self.assertTrue(self.server.alive())



class OutOfDescriptorsTest(unittest.TestCase):
    """With no `max connections` and a small RLIMIT_NOFILE, connections beyond what the
    descriptors allow are refused (accepted and closed at once through a spare descriptor),
    never left waiting in the backlog while the listener spins."""

    LIMIT, CONNECTIONS = 600, 900

    def setUp(self):
        if os.geteuid() != 0 and not shutil.which("prlimit"):
            self.skipTest("needs prlimit")
        self.bench = bench_binary()
        self.server = harness.Server(log_level=1)
        self.server.add_share("share", {"read only": "no"})
        self.server.start()
        self.addCleanup(self.server.stop)
        # Lower the running server's limit (it raised its own at start).
        subprocess.run(["prlimit", "--pid", str(self.server.proc.pid),
                        f"--nofile={self.LIMIT}:{self.LIMIT}"], check=True)

    def test_connections_beyond_the_descriptor_limit_are_refused(self):
        r = subprocess.run([self.bench, "--port", str(self.server.port), "--workload",
                            "connections", "--connections", str(self.CONNECTIONS), "--hold", "1",
                            "--json", "--progress=false"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        (result,) = json.loads(r.stdout[r.stdout.find("["):])
        self.assertEqual(result["failed"], 0, result)  # none stuck unanswered
        self.assertGreater(result["refused"], 0, result)
        self.assertLess(result["accepted"], self.LIMIT, result)
        self.assertEqual(result["accepted"] + result["refused"], self.CONNECTIONS, result)
        self.assertEqual(result["served_after_hold"], result["accepted"], result)
        self.assertIn("out of file descriptors", self.server.log())
        # Once the bench is gone, new connections are served again.
        c = negotiated(self.server.port)
        r, mid = c.echo()
        c.close()
        self.assertEqual((r.status, r.message_id), (smb2raw.STATUS_SUCCESS, mid))
        self.assertTrue(self.server.alive())


if __name__ == "__main__":
    harness.main()
