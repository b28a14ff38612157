#!/usr/bin/env python3
"""Byte-range locks between two real clients (two connections of the raw test client,
smb2client.py) on the same file: a conflict refused (STATUS_LOCK_NOT_GRANTED for a LOCK,
STATUS_FILE_LOCK_CONFLICT for I/O), a waiting lock that goes async (interim STATUS_PENDING with
an AsyncId, MS-SMB2 3.3.4.2) and is granted when the holder unlocks, closes or drops its
connection, one cancelled by SMB2 CANCEL (3.3.5.16), one ended by the close of its own open, and
a multi-element request that is all or nothing (3.3.5.14.2).

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_locks.py
"""

import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402

USER = "lockuser"
PASSWORD = "L0ck-and-key"
UNC = r"\\127.0.0.1\share"

LOCK = 0x000A
CANCEL = 0x000C
FLAGS_ASYNC_COMMAND = 0x00000002

# MS-SMB2 2.2.26.1 SMB2_LOCK_ELEMENT Flags.
SHARED = 0x01
EXCLUSIVE = 0x02
UNLOCK = 0x04
FAIL_IMMEDIATELY = 0x10

# MS-ERREF statuses (not in smb2client's table).
STATUS_CANCELLED = 0xC0000120
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_INVALID_PARAMETER = 0xC000000D

GENERIC_READ_WRITE = 0xC0000000
FILE_OPEN_IF = 3


def lock_request(cl, file_id, elements):
    """A LOCK request (MS-SMB2 2.2.26) of (offset, length, flags) elements, not yet sent."""
    body = struct.pack("<HHI", 48, len(elements), 0) + file_id
    for offset, length, flags in elements:
        body += struct.pack("<QQII", offset, length, flags, 0)
    return cl.build(LOCK, body)


def send_signed(cl, message):
    cl.conn.send(c.sign(message, cl.session_key) if cl.session_key else message)


def recv(cl, timeout=10.0):
    """The next message from the server, interim or final (c.Reply), with its AsyncId."""
    cl.conn.sock.settimeout(timeout)
    r = c.Reply(cl.conn.recv())
    r.async_id = struct.unpack_from("<Q", r.raw, 32)[0] if r.flags & FLAGS_ASYNC_COMMAND else 0
    return r


def nothing_arrives(cl, seconds=0.5):
    cl.conn.sock.settimeout(seconds)
    try:
        cl.conn.recv()
    except socket.timeout:
        return True
    return False


def cancel(cl, async_id):
    """SMB2 CANCEL (MS-SMB2 2.2.30) of the request that went async with `async_id`: async
    header, no MessageId of its own to consume, no response."""
    hdr = (b"\xfeSMB" + struct.pack("<HHIHHIIQQQ", 64, 0, 0, CANCEL, 0, FLAGS_ASYNC_COMMAND, 0,
                                    0, async_id, cl.session_id) + b"\x00" * 16)
    send_signed(cl, hdr + struct.pack("<HH", 4, 0))


class TwoClientLockTest(harness.ServerTestCase):

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def client(self):
        cl = c.Smb2Client(self.server.port)
        self.addCleanup(cl.close)
        self.assertEqual(cl.negotiate(dialect=0x0210).status, c.STATUS_SUCCESS)
        self.assertEqual(cl.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(cl.tree_connect(UNC).status, c.STATUS_SUCCESS)
        return cl

    def open(self, cl, name):
        r = cl.create(name, desired_access=GENERIC_READ_WRITE, create_disposition=FILE_OPEN_IF)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        return r.file_id

    def lock(self, cl, fid, *elements):
        return cl.send(lock_request(cl, fid, list(elements))).status

    def start_waiting_lock(self, cl, fid, offset, length, flags=EXCLUSIVE):
        """Sends a lock that must wait; returns (MessageId, AsyncId) from the interim reply."""
        msg = lock_request(cl, fid, [(offset, length, flags)])
        mid = struct.unpack_from("<Q", msg, 24)[0]
        send_signed(cl, msg)
        interim = recv(cl)
        self.assertEqual(interim.status, c.STATUS_PENDING, interim)
        self.assertEqual(interim.message_id, mid)
        self.assertTrue(interim.flags & FLAGS_ASYNC_COMMAND, "interim response is async")
        self.assertNotEqual(interim.async_id, 0)
        self.assertTrue(nothing_arrives(cl), "the lock must wait while the range is held")
        return mid, interim.async_id

    def assert_final(self, cl, reply, mid, async_id, status):
        self.assertEqual(reply.command, LOCK, reply)
        self.assertEqual(reply.message_id, mid)
        self.assertEqual(reply.async_id, async_id)
        self.assertEqual(reply.status, status, c.status_name(reply.status))
        self.assertTrue(reply.signed and c.signature_ok(reply.raw, cl.session_key),
                        "the final response is signed like the request (MS-SMB2 3.3.4.1.1)")

    def setUp(self):
        self.a = self.client()
        self.b = self.client()
        self.name = self.id().rsplit(".", 1)[-1] + ".dat"
        self.fa = self.open(self.a, self.name)
        self.fb = self.open(self.b, self.name)
        self.assertEqual(self.a.write(self.fa, b"x" * 100).status, c.STATUS_SUCCESS)

    def test_conflict_is_refused(self):
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE | FAIL_IMMEDIATELY)),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.lock(self.b, self.fb, (5, 10, SHARED | FAIL_IMMEDIATELY)),
                         STATUS_LOCK_NOT_GRANTED)
        self.assertEqual(self.b.write(self.fb, b"y", offset=3).status, STATUS_FILE_LOCK_CONFLICT)
        self.assertEqual(self.b.read(self.fb, length=4, offset=8).status,
                         STATUS_FILE_LOCK_CONFLICT)
        self.assertEqual(self.b.read(self.fb, length=4, offset=10).status, c.STATUS_SUCCESS)
        self.assertEqual(self.a.write(self.fa, b"z", offset=3).status, c.STATUS_SUCCESS)

    def test_waiting_lock_granted_on_unlock(self):
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE)), c.STATUS_SUCCESS)
        mid, aid = self.start_waiting_lock(self.b, self.fb, 0, 10)
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, UNLOCK)), c.STATUS_SUCCESS)
        self.assert_final(self.b, recv(self.b), mid, aid, c.STATUS_SUCCESS)
        # B holds it now: A is refused, B writes.
        self.assertEqual(self.lock(self.a, self.fa, (0, 1, SHARED | FAIL_IMMEDIATELY)),
                         STATUS_LOCK_NOT_GRANTED)
        self.assertEqual(self.a.write(self.fa, b"a", offset=0).status, STATUS_FILE_LOCK_CONFLICT)
        self.assertEqual(self.b.write(self.fb, b"b", offset=0).status, c.STATUS_SUCCESS)

    def test_waiting_lock_granted_when_holder_closes(self):
        self.assertEqual(self.lock(self.a, self.fa, (40, 10, SHARED)), c.STATUS_SUCCESS)
        mid, aid = self.start_waiting_lock(self.b, self.fb, 45, 1)
        self.assertEqual(self.a.close_file(self.fa).status, c.STATUS_SUCCESS)
        self.assert_final(self.b, recv(self.b), mid, aid, c.STATUS_SUCCESS)

    def test_waiting_lock_granted_when_holder_connection_drops(self):
        self.assertEqual(self.lock(self.a, self.fa, (0, 100, EXCLUSIVE)), c.STATUS_SUCCESS)
        mid, aid = self.start_waiting_lock(self.b, self.fb, 50, 10)
        self.a.conn.sock.shutdown(socket.SHUT_RDWR)
        self.a.close()
        self.assert_final(self.b, recv(self.b), mid, aid, c.STATUS_SUCCESS)

    def test_cancel(self):
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE)), c.STATUS_SUCCESS)
        mid, aid = self.start_waiting_lock(self.b, self.fb, 0, 10)
        # The waiting open holds nothing: unlocking its range is refused meanwhile.
        self.assertEqual(self.lock(self.b, self.fb, (0, 10, UNLOCK)), STATUS_RANGE_NOT_LOCKED)
        cancel(self.b, aid)
        self.assert_final(self.b, recv(self.b), mid, aid, STATUS_CANCELLED)
        # Cancelled means never granted, also once A unlocks.
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, UNLOCK)), c.STATUS_SUCCESS)
        self.assertTrue(nothing_arrives(self.b))
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE | FAIL_IMMEDIATELY)),
                         c.STATUS_SUCCESS)

    def test_close_of_the_waiting_open(self):
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE)), c.STATUS_SUCCESS)
        mid, aid = self.start_waiting_lock(self.b, self.fb, 0, 10)
        close = self.b.build(c.CLOSE, struct.pack("<HHI", 24, 0, 0) + self.fb)
        close_mid = struct.unpack_from("<Q", close, 24)[0]
        send_signed(self.b, close)
        replies = {r.message_id: r for r in (recv(self.b), recv(self.b))}
        self.assertEqual(replies[close_mid].status, c.STATUS_SUCCESS)
        self.assert_final(self.b, replies[mid], mid, aid, STATUS_RANGE_NOT_LOCKED)

    def test_many_elements_all_or_nothing(self):
        self.assertEqual(self.lock(self.a, self.fa, (50, 10, EXCLUSIVE | FAIL_IMMEDIATELY)),
                         c.STATUS_SUCCESS)
        st = self.lock(self.b, self.fb, (0, 10, EXCLUSIVE | FAIL_IMMEDIATELY),
                       (20, 10, SHARED | FAIL_IMMEDIATELY), (55, 1, SHARED | FAIL_IMMEDIATELY))
        self.assertEqual(st, STATUS_LOCK_NOT_GRANTED)
        # Nothing of it was kept: A can lock the first two ranges.
        self.assertEqual(self.lock(self.a, self.fa, (0, 10, EXCLUSIVE | FAIL_IMMEDIATELY),
                                   (20, 10, EXCLUSIVE | FAIL_IMMEDIATELY)), c.STATUS_SUCCESS)
        # Several elements may not wait (Windows: STATUS_INVALID_PARAMETER).
        self.assertEqual(self.lock(self.b, self.fb, (70, 1, EXCLUSIVE), (80, 1, EXCLUSIVE)),
                         STATUS_INVALID_PARAMETER)


if __name__ == "__main__":
    harness.main()
