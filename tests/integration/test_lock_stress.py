#!/usr/bin/env python3
"""Stress: 16 connections open, lock, write, unlock and close the same 100 files for a while
(60 s by default; XSMBD_STRESS_SECONDS), with blocking locks that wait on each other, CANCELs,
and connections cut while they hold locks and while their locks wait. Afterwards, with every
client gone, nothing is left behind: `xsmbctl status` shows no connection and no file record
(file table: 0 files), the server holds as many descriptors as before the clients came, and its
resident memory has not grown beyond a bound. Run under AddressSanitizer (an xsmbd built with
-fsanitize=address) LeakSanitizer reports leaks when the server exits; the test then fails on
any sanitizer report in the server's log.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_lock_stress.py
"""

import os
import random
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402
from test_locks import (EXCLUSIVE, FAIL_IMMEDIATELY, SHARED, UNLOCK,  # noqa: E402
                        cancel, lock_request, send_signed)

USER = "stressuser"
PASSWORD = "Str-ess-456"
UNC = r"\\127.0.0.1\share"
CLIENTS = 16
FILES = 100
SECONDS = float(os.environ.get("XSMBD_STRESS_SECONDS", "60"))
GENERIC_READ_WRITE = 0xC0000000
FILE_OPEN_IF = 3
# Resident memory may grow by this much over the run (allocator caches, the page cache is not
# counted); a leak of the per-open or per-lock records would exceed it many times over.
RSS_SLACK_KB = 64 * 1024


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Worker(threading.Thread):
    """One connection doing rounds of CREATE, LOCK (waiting or not), WRITE, UNLOCK, CLOSE on
    random files; now and then it cancels its waiting lock or cuts its connection."""

    def __init__(self, port, seed, deadline):
        super().__init__(daemon=True)
        self.port, self.deadline = port, deadline
        self.rng = random.Random(seed)
        self.counts = {}
        self.error = None
        self.cl = None

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def connect(self):
        cl = c.Smb2Client(self.port, timeout=30.0)
        assert cl.negotiate(dialect=0x0210).status == c.STATUS_SUCCESS
        assert cl.login(USER, PASSWORD).status == c.STATUS_SUCCESS
        assert cl.tree_connect(UNC).status == c.STATUS_SUCCESS
        self.cl = cl
        self.count("connect")

    def recv(self):
        r = c.Reply(self.cl.conn.recv())
        r.async_id = struct.unpack_from("<Q", r.raw, 32)[0] if r.flags & 2 else 0
        return r

    def waiting_lock(self, fid, offset, length, flags):
        """A lock that may wait; sometimes cancelled once it went async. Returns its status."""
        msg = lock_request(self.cl, fid, [(offset, length, flags)])
        send_signed(self.cl, msg)
        r = self.recv()
        if r.status != c.STATUS_PENDING:
            return r.status
        self.count("lock pending")
        if self.rng.random() < 0.2:
            cancel(self.cl, r.async_id)
            self.count("cancel sent")
        return self.recv().status

    def round(self):
        cl = self.cl
        name = f"f{self.rng.randrange(FILES):03d}.dat"
        r = cl.create(name, desired_access=GENERIC_READ_WRITE, create_disposition=FILE_OPEN_IF)
        if r.status != c.STATUS_SUCCESS:
            self.count(f"create {c.status_name(r.status)}")
            return
        fid = r.file_id
        offset, length = self.rng.randrange(0, 4096, 64), self.rng.choice((1, 64, 512))
        flags = EXCLUSIVE if self.rng.random() < 0.7 else SHARED
        if self.rng.random() < 0.5:
            st = cl.send(lock_request(cl, fid, [(offset, length, flags | FAIL_IMMEDIATELY)])).status
        else:
            st = self.waiting_lock(fid, offset, length, flags)
        self.count(f"lock {c.status_name(st)}")
        if self.rng.random() < 0.02:
            # Gone with the lock held (and maybe others waiting for it): no CLOSE, no LOGOFF.
            cl.conn.sock.shutdown(socket.SHUT_RDWR)
            cl.close()
            self.count("cut")
            self.connect()
            return
        w = cl.write(fid, bytes([self.rng.randrange(256)]) * length, offset=offset)
        self.count(f"write {c.status_name(w.status)}")
        if st == c.STATUS_SUCCESS and self.rng.random() < 0.5:
            u = cl.send(lock_request(cl, fid, [(offset, length, UNLOCK)])).status
            self.count(f"unlock {c.status_name(u)}")
        cl.close_file(fid)  # releases whatever it still holds

    def run(self):
        try:
            self.connect()
            while time.monotonic() < self.deadline:
                self.round()
            self.cl.logoff()
            self.cl.close()
        except Exception as e:  # reported by the test
            self.error = e


@unittest.skipIf(harness.backend() != "xsmbd", "the control socket is xsmbd's")
class LockStressTest(unittest.TestCase):
    """Its own server, stopped inside the test: a sanitizer's report at exit counts."""

    def setUp(self):
        self.server = harness.Server()
        self.server.add_share("share", {"read only": "no"})
        self.server.add_user(USER, PASSWORD)
        self.server.start()
        self.addCleanup(self.server.stop)

    def status(self):
        return self.server.xsmbctl_status()

    def wait_for_idle(self, timeout=30.0):
        """`xsmbctl status` once no connection and no file record is left (or at timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.status()
            idle = "file table: 0 files" in out and "\nconnection " not in out
            if idle or time.monotonic() > deadline:
                return out
            time.sleep(0.2)

    def run_clients(self):
        deadline = time.monotonic() + SECONDS
        workers = [Worker(self.server.port, i + 1, deadline) for i in range(CLIENTS)]
        for w in workers:
            w.start()
        totals = {}
        for w in workers:
            w.join(SECONDS + 120)
            self.assertFalse(w.is_alive(), "a client hung (a lock never answered?)")
            self.assertIsNone(w.error, f"client failed: {w.error!r}")
            for k, v in w.counts.items():
                totals[k] = totals.get(k, 0) + v
        return totals

    def test_no_record_fd_or_memory_left(self):
        pid = self.server.proc.pid
        # A first client warms what stays for the server's life (pools, engine rings).
        warm = Worker(self.server.port, 0, time.monotonic() + 1.0)
        warm.run()
        self.assertIsNone(warm.error)
        self.wait_for_idle()
        fds0, rss0 = proc_fds(pid), proc_rss_kb(pid)
        totals = self.run_clients()
        sys.stderr.write(f"\n[stress] {CLIENTS} clients x {SECONDS:.0f} s: "
                         f"{dict(sorted(totals.items()))}\n")
        self.assertGreater(totals.get("lock pending", 0), 0, "no lock ever waited")
        self.assertGreater(totals.get("lock STATUS_SUCCESS", 0), 0)
        out = self.wait_for_idle()
        self.assertIn("file table: 0 files", out, out)
        self.assertNotIn("\nconnection ", out, out)
        fds1, rss1 = proc_fds(pid), proc_rss_kb(pid)
        sys.stderr.write(f"[stress] server fds {fds0} -> {fds1}, VmRSS {rss0} -> {rss1} kB\n")
        self.assertEqual(fds1, fds0, "descriptors left behind")
        if not self.server.sanitized():
            # ASan's quarantine keeps freed memory resident; there LeakSanitizer checks instead.
            self.assertLess(rss1 - rss0, RSS_SLACK_KB, "resident memory grew")
        self.assertTrue(self.server.alive(), self.server.log())
        self.server.stop()  # LeakSanitizer, in an ASan build, reports at exit
        log = self.server.log(tail=200000)
        self.assertFalse(self.server.killed, f"xsmbd did not exit on SIGTERM:\n{log[-20000:]}")
        self.assertEqual(self.server.returncode, 0, f"xsmbd exit status:\n{log[-20000:]}")
        reports = self.server.sanitizer_reports()
        self.assertEqual(reports, [], f"sanitizer report in the server's log:\n{log[-20000:]}")


if __name__ == "__main__":
    harness.main()
