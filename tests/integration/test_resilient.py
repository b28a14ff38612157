#!/usr/bin/env python3
"""Resilient handles and lock sequences with the test codec: FSCTL_LMR_REQUEST_RESILIENCY
(MS-SMB2 3.3.5.15.9) keeps an open without oplock or lease through a cut TCP connection, and a
LOCK whose LockSequenceNumber/Index repeats the last successful one of its entry succeeds
without taking effect again (3.3.5.14), also after the open was reclaimed on a new connection;
a plain open (no resiliency, no durability, no multichannel) verifies no sequences.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_resilient.py
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import durable_client as dc  # noqa: E402
import harness  # noqa: E402
import smb2client  # noqa: E402

USER, PASSWORD = "resilient1", "Resilient-pw-1"
IOCTL = 0x000B
FSCTL_LMR_REQUEST_RESILIENCY = 0x001401D4
SMB2_0_IOCTL_IS_FSCTL = 1
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_RANGE_NOT_LOCKED = 0xC000007E
FLAG_SHARED, FLAG_EXCLUSIVE, FLAG_UNLOCK, FLAG_FAIL_IMMEDIATELY = 0x01, 0x02, 0x04, 0x10


def request_resiliency(client, file_id, timeout_ms, raw_input=None):
    """IOCTL (MS-SMB2 2.2.31) FSCTL_LMR_REQUEST_RESILIENCY with NETWORK_RESILIENCY_REQUEST."""
    data = struct.pack("<II", timeout_ms, 0) if raw_input is None else raw_input
    body = (struct.pack("<HHI", 57, 0, FSCTL_LMR_REQUEST_RESILIENCY) + file_id +
            struct.pack("<IIIIIIII", 64 + 56, len(data), 0, 0, 0, 0, SMB2_0_IOCTL_IS_FSCTL, 0) +
            data)
    return client.send(client.build(IOCTL, body))


def lock(client, file_id, offset, length, flags, index, number):
    """LOCK of one range with LockSequenceNumber `number` (0-15) and LockSequenceIndex `index`."""
    body = (struct.pack("<HHI", 48, 1, (index << 4) | number) + file_id +
            struct.pack("<QQII", offset, length, flags, 0))
    return client.send(client.build(dc.LOCK, body))


class ResilientTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def connect(self, dialect=0x0210):
        c = dc.Client(self.server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.negotiate(dialect).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.login(USER, PASSWORD).status, smb2client.STATUS_SUCCESS)
        r = c.tree_connect(f"\\\\127.0.0.1\\{self.share.name}")
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
        return c

    def status(self, r):
        return smb2client.status_name(r.status)

    def open_plain(self, client, name):
        r = dc.create(client, name, oplock=dc.OPLOCK_LEVEL_NONE)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, self.status(r))
        return r.file_id

    def test_plain_open_verifies_no_lock_sequence(self):
        a = self.connect()
        fid = self.open_plain(a, "plain.dat")
        x = FLAG_EXCLUSIVE | FLAG_FAIL_IMMEDIATELY
        self.assertEqual(lock(a, fid, 100, 100, x, 1, 1).status, smb2client.STATUS_SUCCESS)
        # The same sequence again is a new request: it conflicts with the lock it took.
        self.assertEqual(lock(a, fid, 100, 100, x, 1, 1).status, dc.STATUS_LOCK_NOT_GRANTED)

    def test_resiliency_request_checks_its_input(self):
        a = self.connect()
        fid = self.open_plain(a, "input.dat")
        r = request_resiliency(a, fid, 0, raw_input=b"\x00" * 4)
        self.assertEqual(r.status, STATUS_INVALID_PARAMETER, self.status(r))
        r = request_resiliency(a, fid, 300 * 1000 + 1)  # above MaxResiliencyTimeout
        self.assertEqual(r.status, STATUS_INVALID_PARAMETER, self.status(r))
        r = request_resiliency(a, b"\xff" * 16, 1000)
        self.assertEqual(r.status, dc.STATUS_FILE_CLOSED, self.status(r))

    def test_replayed_lock_is_ignored_and_open_survives_a_cut(self):
        a = self.connect()
        fid = self.open_plain(a, "resilient.dat")
        r = request_resiliency(a, fid, 10 * 1000)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, self.status(r))
        x = FLAG_EXCLUSIVE | FLAG_FAIL_IMMEDIATELY
        self.assertEqual(lock(a, fid, 100, 100, x, 1, 1).status, smb2client.STATUS_SUCCESS)
        # A replay (same index and number) succeeds without locking twice ...
        self.assertEqual(lock(a, fid, 100, 100, x, 1, 1).status, smb2client.STATUS_SUCCESS)
        # ... even as an unlock: the entry says it was done already.
        self.assertEqual(lock(a, fid, 100, 100, FLAG_UNLOCK, 1, 1).status,
                         smb2client.STATUS_SUCCESS)
        # A new number is a new request: the range is still locked.
        self.assertEqual(lock(a, fid, 100, 100, x, 1, 2).status, dc.STATUS_LOCK_NOT_GRANTED)
        # Index 65 names no entry: processed as new every time.
        self.assertEqual(lock(a, fid, 100, 100, x, 65, 1).status, dc.STATUS_LOCK_NOT_GRANTED)
        self.assertEqual(lock(a, fid, 100, 100, FLAG_UNLOCK, 2, 7).status,
                         smb2client.STATUS_SUCCESS)
        self.assertEqual(lock(a, fid, 0, 10, x, 3, 5).status, smb2client.STATUS_SUCCESS)
        a.cut()

        # Reclaimed on a new connection (DHnC, MS-SMB2 3.3.5.9.7 takes resilient opens too),
        # with its lock and its lock sequence entries.
        b = self.connect()
        r = dc.create(b, "ignored-name", [dc.dhnc(fid)], oplock=0, access=0, disposition=0)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, self.status(r))
        self.assertEqual(lock(b, fid, 0, 10, x, 3, 5).status, smb2client.STATUS_SUCCESS)  # replay
        self.assertEqual(lock(b, fid, 0, 10, x, 3, 6).status, dc.STATUS_LOCK_NOT_GRANTED)
        self.assertEqual(lock(b, fid, 0, 10, FLAG_UNLOCK, 4, 1).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(lock(b, fid, 0, 10, FLAG_UNLOCK, 4, 2).status, STATUS_RANGE_NOT_LOCKED)
        self.assertEqual(b.close_file(fid).status, smb2client.STATUS_SUCCESS)


if __name__ == "__main__":
    unittest.main()
