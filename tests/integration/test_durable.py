#!/usr/bin/env python3
"""Durable handles (MS-SMB2 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12) with the test codec:
an open survives its TCP connection being cut and is reclaimed on a new connection with its
data, position and byte-range lock; only its user may reclaim it; a lease open is reclaimed with
its lease, by its client and lease key only; a conflicting open closes a disconnected durable
open, oplock or lease, instead of breaking it and waiting 35 s for an acknowledgment that cannot
come (MS-SMB2 3.3.4.6, 3.3.4.7), also when it comes before the server saw the connection go; the
scavenger closes one whose timeout passed, applying delete-on-close; a CreateGuid in use is
refused.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_durable.py
"""

import os
import struct
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import durable_client as dc  # noqa: E402
import harness  # noqa: E402
import smb2client  # noqa: E402

USER, PASSWORD = "durable1", "Durable-pw-1"
OTHER, OTHER_PASSWORD = "durable2", "Durable-pw-2"
FILE_OPENED = 1
DELETE = 0x00010000
FILE_DELETE_ON_CLOSE = 0x00001000
SHARE_ALL = 7
STATUS_DUPLICATE_OBJECTID = 0xC000022A
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_INVALID_PARAMETER = 0xC000000D
LEASE_RWH = 0x7  # SMB2_LEASE_READ_CACHING | _HANDLE_CACHING | _WRITE_CACHING
# Far below the 35 s a break waits for its acknowledgment.
PROMPT_S = 5


class DurableTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)
        server.add_user(OTHER, OTHER_PASSWORD)

    def connect(self, user=USER, password=PASSWORD, dialect=0x0210, client_guid=None):
        c = dc.Client(self.server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.negotiate(dialect, client_guid).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.login(user, password).status, smb2client.STATUS_SUCCESS)
        r = c.tree_connect(f"\\\\127.0.0.1\\{self.share.name}")
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
        return c

    def ok(self, r, what):
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS,
                         f"{what}: {smb2client.status_name(r.status)}")

    def disk_path(self, name):
        return os.path.join(self.share.path, name)

    def test_reclaimed_after_the_connection_is_cut(self):
        a = self.connect()
        r = dc.create(a, "reclaim.dat", [dc.dhnq()])
        self.ok(r, "durable create")
        self.assertEqual(r.oplock, dc.OPLOCK_LEVEL_BATCH)
        self.assertIn("DHnQ", r.contexts)
        fid = r.file_id
        self.ok(a.write(fid, b"durable data"), "write")
        self.ok(dc.set_position(a, fid, 0x1234), "set position")
        self.ok(dc.lock(a, fid, 0, 7), "lock")
        a.cut()

        b = self.connect()
        # The old FileId means nothing on the new connection until it is reclaimed.
        self.assertEqual(dc.query_position(b, fid)[0], dc.STATUS_FILE_CLOSED)
        # Another user may not reclaim it.
        other = self.connect(OTHER, OTHER_PASSWORD)
        r = self.reconnect_v1(other, fid)
        self.assertEqual(r.status, smb2client.STATUS_ACCESS_DENIED,
                         smb2client.status_name(r.status))
        r = self.reconnect_v1(b, fid)
        self.ok(r, "reconnect")
        self.assertEqual(r.create_action, FILE_OPENED)
        self.assertEqual(r.file_id, fid)
        self.assertEqual(r.end_of_file, len(b"durable data"))
        self.assertNotIn("DHnQ", r.contexts)  # a reconnect answers no durable context
        rr = b.read(fid, length=64)
        self.ok(rr, "read")
        self.assertEqual(rr.data, b"durable data")
        self.assertEqual(dc.query_position(b, fid), (smb2client.STATUS_SUCCESS, 0x1234))
        # The lock came along: taking it again conflicts, and it can be released.
        self.assertEqual(dc.lock(b, fid, 0, 7).status, dc.STATUS_LOCK_NOT_GRANTED)
        self.ok(dc.lock(b, fid, 0, 7, exclusive=None), "unlock")
        self.assertEqual(dc.lock(b, fid, 0, 7, exclusive=None).status, STATUS_RANGE_NOT_LOCKED)
        # Reclaimed once: a second reconnect finds nothing.
        self.assertEqual(self.reconnect_v1(b, fid).status, smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
        self.ok(b.close_file(fid), "close")

    def reconnect_v1(self, client, fid):
        # Only the reconnect context counts: name and the other fields are ignored.
        return dc.create(client, "ignored-name", [dc.dhnc(fid)], oplock=0, access=0,
                         disposition=0)

    def test_v2_reclaim_needs_the_create_guid(self):
        a = self.connect()
        guid = uuid.uuid4().bytes_le
        r = dc.create(a, "v2.dat", [dc.dh2q(guid, timeout_ms=0xFFFFFFFF)])
        self.ok(r, "durable v2 create")
        self.assertIn("DH2Q", r.contexts)
        timeout_ms, flags = struct.unpack("<II", r.contexts["DH2Q"])
        self.assertEqual((timeout_ms, flags), (300000, 0))  # capped at 300 s; never persistent
        fid = r.file_id
        # The CreateGuid is in use while the open lives.
        self.assertEqual(dc.create(a, "v2-other.dat", [dc.dh2q(guid)]).status,
                         STATUS_DUPLICATE_OBJECTID)
        a.cut()
        b = self.connect()
        wrong = uuid.uuid4().bytes_le
        self.assertEqual(dc.create(b, "v2.dat", [dc.dh2c(fid, wrong)]).status,
                         smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
        # A v2 reconnect with a v2 request beside it is malformed.
        self.assertEqual(dc.create(b, "v2.dat", [dc.dh2c(fid, guid), dc.dh2q(guid)]).status,
                         STATUS_INVALID_PARAMETER)
        r = dc.create(b, "v2.dat", [dc.dh2c(fid, guid)])
        self.ok(r, "v2 reconnect")
        self.assertEqual(r.file_id, fid)
        self.ok(b.close_file(fid), "close")

    def test_a_conflicting_open_closes_the_disconnected_open(self):
        # Share mode none and a batch oplock: while connected this open would have to be broken;
        # disconnected, it is closed and the new open succeeds at once. The CREATE comes once
        # right after the reset (the server may not have seen it yet: the break then reaches the
        # open while its connection is torn down) and once after a pause.
        for i, pause in enumerate((0, 0.2)):
            with self.subTest(pause=pause):
                name = f"conflict{i}.dat"
                a = self.connect()
                r = dc.create(a, name, [dc.dhnq()], share_access=0)
                self.ok(r, "durable create")
                fid = r.file_id
                a.cut()
                b = self.connect()
                time.sleep(pause)
                t0 = time.monotonic()
                r = dc.create(b, name, oplock=0, share_access=0)
                self.ok(r, "conflicting create")
                self.assertLess(time.monotonic() - t0, PROMPT_S)
                self.assertEqual(self.reconnect_v1(b, fid).status,
                                 smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
                self.ok(b.close_file(r.file_id), "close")

    def test_a_lease_open_is_reclaimed_with_its_lease(self):
        client_guid, key = os.urandom(16), os.urandom(16)
        a = self.connect(client_guid=client_guid)
        r = dc.create(a, "leased.dat", [dc.dhnq(), dc.rqls(key, LEASE_RWH)],
                      oplock=dc.OPLOCK_LEVEL_LEASE, share_access=SHARE_ALL)
        self.ok(r, "durable lease create")
        self.assertIn("DHnQ", r.contexts)  # a lease with handle caching is durable
        self.assertEqual(dc.lease_state(r), (key, LEASE_RWH))
        fid = r.file_id
        self.ok(a.write(fid, b"leased data"), "write")
        a.cut()
        b = self.connect(client_guid=client_guid)
        # Without its lease, with another key, or from another client: not found.
        self.assertEqual(self.reconnect_v1(b, fid).status, smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
        r = dc.create(b, "leased.dat", [dc.dhnc(fid), dc.rqls(os.urandom(16), 0)],
                      oplock=dc.OPLOCK_LEVEL_LEASE)
        self.assertEqual(r.status, smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
        stranger = self.connect()
        r = dc.create(stranger, "leased.dat", [dc.dhnc(fid), dc.rqls(key, 0)],
                      oplock=dc.OPLOCK_LEVEL_LEASE)
        self.assertEqual(r.status, smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
        # The requested lease state does not matter: the lease comes back as it was.
        r = dc.create(b, "leased.dat", [dc.dhnc(fid), dc.rqls(key, 0)],
                      oplock=dc.OPLOCK_LEVEL_LEASE)
        self.ok(r, "lease reconnect")
        self.assertEqual(r.file_id, fid)
        self.assertEqual(r.oplock, dc.OPLOCK_LEVEL_LEASE)
        self.assertEqual(dc.lease_state(r), (key, LEASE_RWH))
        self.assertNotIn("DHnQ", r.contexts)
        rr = b.read(fid, length=64)
        self.ok(rr, "read")
        self.assertEqual(rr.data, b"leased data")
        self.ok(b.close_file(fid), "close")

    def test_a_conflicting_open_closes_a_disconnected_lease_holder(self):
        # MS-SMB2 3.3.4.7: the lease break a conflicting open causes would wait 35 s for an
        # acknowledgment; the holder has no connection, so its durable open is closed instead.
        # A CREATE that only needs write caching broken, and one that meets a sharing violation
        # (handle caching broken), each right after the reset and after a pause.
        for i, (share, pause) in enumerate(((SHARE_ALL, 0), (0, 0), (SHARE_ALL, 0.2), (0, 0.2))):
            with self.subTest(share_access=share, pause=pause):
                name = f"lease-conflict{i}.dat"
                client_guid, key = os.urandom(16), os.urandom(16)
                a = self.connect(client_guid=client_guid)
                r = dc.create(a, name, [dc.dhnq(), dc.rqls(key, LEASE_RWH)],
                              oplock=dc.OPLOCK_LEVEL_LEASE, share_access=SHARE_ALL)
                self.ok(r, "durable lease create")
                self.assertIn("DHnQ", r.contexts)
                fid = r.file_id
                a.cut()
                b = self.connect()
                time.sleep(pause)
                t0 = time.monotonic()
                r = dc.create(b, name, oplock=0, share_access=share)
                self.ok(r, "conflicting create")
                self.assertLess(time.monotonic() - t0, PROMPT_S)
                again = self.connect(client_guid=client_guid)
                r2 = dc.create(again, name, [dc.dhnc(fid), dc.rqls(key, 0)],
                               oplock=dc.OPLOCK_LEVEL_LEASE)
                self.assertEqual(r2.status, smb2client.STATUS_OBJECT_NAME_NOT_FOUND)
                self.ok(b.close_file(r.file_id), "close")

    def test_the_scavenger_closes_it_when_its_timeout_passes(self):
        a = self.connect()
        guid = uuid.uuid4().bytes_le
        name = "scavenged.dat"
        r = dc.create(a, name, [dc.dh2q(guid, timeout_ms=1000)],
                      access=dc.GENERIC_READ_WRITE | DELETE,
                      options=dc.FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE)
        self.ok(r, "durable create")
        self.assertEqual(struct.unpack("<II", r.contexts["DH2Q"]), (1000, 0))
        fid = r.file_id
        self.ok(a.write(fid, b"x" * 100), "write")
        cut_at = time.monotonic()
        a.cut()
        time.sleep(0.3)
        self.assertTrue(os.path.exists(self.disk_path(name)), "closed before its timeout")
        deadline = cut_at + 5
        while os.path.exists(self.disk_path(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        gone_after = time.monotonic() - cut_at
        self.assertFalse(os.path.exists(self.disk_path(name)),
                         "delete-on-close not applied by the scavenger")
        self.assertGreaterEqual(gone_after, 0.9)
        b = self.connect()
        self.assertEqual(dc.create(b, name, [dc.dh2c(fid, guid)]).status,
                         smb2client.STATUS_OBJECT_NAME_NOT_FOUND)


if __name__ == "__main__":
    harness.main()
