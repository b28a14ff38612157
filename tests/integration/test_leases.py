#!/usr/bin/env python3
"""Leases between two real clients (the test codec, two TCP connections) on the same file: a
lease break delivered to the holder and acknowledged, the other client's CREATE answered an
interim STATUS_PENDING and completed after the acknowledgment (MS-SMB2 3.3.4.2, 3.3.4.7,
3.3.5.22.2), and a sharing violation after a handle-caching break that the holder answers by
keeping its handle open.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_leases.py
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client  # noqa: E402

USER, PASSWORD = "leaseuser", "Lease-test-123"
OPLOCK_BREAK = 0x0012
OPLOCK_LEVEL_LEASE = 0xFF
R, H, W = 0x1, 0x2, 0x4
ACK_REQUIRED = 0x1  # SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED
FILE_OPEN_IF = 3
READ_WRITE = 0x0012019F
STATUS_SHARING_VIOLATION = 0xC0000043
FLAGS_ASYNC = 0x00000002


def lease_context(key, state):
    """An SMB2_CREATE_REQUEST_LEASE context (MS-SMB2 2.2.13.2, 2.2.13.2.8): "RqLs", 32 bytes."""
    data = key + struct.pack("<IIQ", state, 0, 0)
    return struct.pack("<IHHHHI", 0, 16, 4, 0, 24, len(data)) + b"RqLs" + b"\0" * 4 + data


def create_request(c, name, key=None, state=0, share_access=7):
    """A CREATE (MS-SMB2 2.2.13) for read/write, FILE_OPEN_IF, with a lease request if `key`."""
    raw = name.encode("utf-16-le")
    ctx_off = ctx_len = 0
    ctx = b""
    level = 0
    if key is not None:
        level = OPLOCK_LEVEL_LEASE
        ctx = lease_context(key, state)
        ctx_off = 120 + len(raw) + (-(120 + len(raw)) % 8)
        ctx_len = len(ctx)
    body = (struct.pack("<HBBIQQIIIII", 57, 0, level, 2, 0, 0, READ_WRITE, 0, share_access,
                        FILE_OPEN_IF, 0x40)
            + struct.pack("<HHII", 120, len(raw), ctx_off, ctx_len) + raw)
    if ctx:
        body += b"\0" * (ctx_off - 64 - len(body)) + ctx
    return c.build(smb2client.CREATE, body)


def lease_of(reply):
    """(OplockLevel, LeaseKey, LeaseState) of a CREATE response, the lease from its "RqLs"
    response context (MS-SMB2 2.2.14.2.10), or None when it has none."""
    level = reply.body[2]
    off, length = struct.unpack_from("<II", reply.body, 80)
    while length:
        nxt, name_off, name_len, _, data_off, data_len = struct.unpack_from("<IHHHHI", reply.raw,
                                                                            off)
        if reply.raw[off + name_off:off + name_off + name_len] == b"RqLs":
            data = reply.raw[off + data_off:off + data_off + data_len]
            return level, data[:16], struct.unpack_from("<I", data, 16)[0]
        if not nxt:
            break
        off += nxt
    return level, None, None


def parse_lease_break(reply):
    """A Lease Break Notification (MS-SMB2 2.2.23.2): (Flags, LeaseKey, Current, New)."""
    size, _epoch, flags = struct.unpack_from("<HHI", reply.body, 0)
    assert size == 44, size
    key = reply.body[8:24]
    current, new = struct.unpack_from("<II", reply.body, 24)
    return flags, key, current, new


def lease_ack(c, key, state):
    """A Lease Break Acknowledgment (MS-SMB2 2.2.24.2)."""
    body = struct.pack("<HHI", 36, 0, 0) + key + struct.pack("<IQ", state, 0)
    return c.build(OPLOCK_BREAK, body)


class LeaseTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def connect(self):
        c = smb2client.Smb2Client(self.server.port, timeout=20)
        self.addCleanup(c.close)
        self.assertEqual(c.negotiate(0x0210).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.login(USER, PASSWORD).status, smb2client.STATUS_SUCCESS)
        c.sign_requests = False  # signing is enabled, not required
        r = c.tree_connect(f"\\\\127.0.0.1\\{self.share.name}", sign_it=True)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
        return c

    def recv(self, c):
        return smb2client.Reply(c.conn.recv())

    def open_leased(self, c, name, key, state):
        c.conn.send(create_request(c, name, key, state))
        r = self.recv(c)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        return r

    def expect_break(self, c, key, current, new):
        n = self.recv(c)
        self.assertEqual(n.command, OPLOCK_BREAK)
        self.assertEqual(n.message_id, 0xFFFFFFFFFFFFFFFF)
        flags, got_key, got_current, got_new = parse_lease_break(n)
        self.assertEqual((got_key, got_current, got_new), (key, current, new))
        self.assertEqual(flags, ACK_REQUIRED)

    def ack(self, c, key, state):
        c.conn.send(lease_ack(c, key, state))
        r = self.recv(c)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        self.assertEqual(struct.unpack_from("<H", r.body, 0)[0], 36)
        self.assertEqual(r.body[8:24], key)
        self.assertEqual(struct.unpack_from("<I", r.body, 24)[0], state)

    def test_leasing_is_offered_from_2_1(self):
        c = smb2client.Smb2Client(self.server.port, timeout=20)
        self.addCleanup(c.close)
        r = c.negotiate(0x0210)
        self.assertTrue(struct.unpack_from("<I", r.body, 24)[0] & 0x2)  # SMB2_GLOBAL_CAP_LEASING

    def test_break_delivered_acknowledged_and_waiting_create_completes(self):
        a, b = self.connect(), self.connect()
        key_a = os.urandom(16)
        r = self.open_leased(a, "shared.txt", key_a, R | H | W)
        self.assertEqual(lease_of(r), (OPLOCK_LEVEL_LEASE, key_a, R | H | W))
        # B's open must wait for A to give up write caching: an interim STATUS_PENDING first.
        b.conn.send(create_request(b, "shared.txt"))
        interim = self.recv(b)
        self.assertEqual(interim.status, smb2client.STATUS_PENDING)
        self.assertTrue(interim.flags & FLAGS_ASYNC)
        async_id = struct.unpack_from("<Q", interim.raw, 32)[0]
        self.assertNotEqual(async_id, 0)
        self.expect_break(a, key_a, R | H | W, R | H)
        self.ack(a, key_a, R | H)
        final = self.recv(b)
        self.assertEqual(final.status, smb2client.STATUS_SUCCESS,
                         smb2client.status_name(final.status))
        self.assertEqual(struct.unpack_from("<Q", final.raw, 32)[0], async_id)
        self.assertEqual(final.body[2], 0)  # B asked for no oplock
        # A's lease, asked for again under its key, is now RH.
        again = self.open_leased(a, "shared.txt", key_a, R | H | W)
        self.assertEqual(lease_of(again), (OPLOCK_LEVEL_LEASE, key_a, R | H))

    def test_sharing_violation_after_handle_break(self):
        a, b = self.connect(), self.connect()
        key_a = os.urandom(16)
        self.open_leased(a, "exclusive.txt", key_a, R | H)
        # B wants the file to itself: A's cached handle must go first (break RH -> R).
        b.conn.send(create_request(b, "exclusive.txt", share_access=0))
        self.assertEqual(self.recv(b).status, smb2client.STATUS_PENDING)
        self.expect_break(a, key_a, R | H, R)
        # A acknowledges but keeps its handle open: B's open meets the share modes.
        self.ack(a, key_a, R)
        final = self.recv(b)
        self.assertEqual(final.status, STATUS_SHARING_VIOLATION,
                         smb2client.status_name(final.status))


if __name__ == "__main__":
    unittest.main()
