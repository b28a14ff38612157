#!/usr/bin/env python3
"""WRITE data path: large WRITEs are received straight into the buffer that is written (after a
large message the next read takes only a header's worth), so the framing must hold when large
and small requests follow each other back to back in one TCP stream, in every order, and when a
large WRITE arrives in pieces (the server waits for the rest with SO_RCVLOWAT). Also
write-through WRITEs (SMB2_WRITEFLAG_WRITE_THROUGH, RWF_DSYNC through the I/O engine).
Every byte written is compared with the file on disk.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_write_path.py
"""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client  # noqa: E402
import smb2raw  # noqa: E402

USER, PASSWORD = "wpuser", "Write-path-123"
WRITE_THROUGH = 0x00000001  # SMB2_WRITEFLAG_WRITE_THROUGH (MS-SMB2 2.2.21)
GENERIC_WRITE_READ = 0x0012019F  # read/write data, attributes, EA, READ_CONTROL, SYNCHRONIZE
FILE_OPEN_IF = 3


class WritePathTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def connect(self):
        c = smb2client.Smb2Client(self.server.port, timeout=60)
        self.addCleanup(c.close)
        self.assertEqual(c.negotiate(0x0210).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.login(USER, PASSWORD).status, smb2client.STATUS_SUCCESS)
        c.sign_requests = False  # signing is enabled, not required: unsigned requests
        r = c.tree_connect(f"\\\\127.0.0.1\\{self.share.name}", sign_it=True)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
        return c

    def open_for_write(self, c, name):
        r = c.create(name, desired_access=GENERIC_WRITE_READ, create_disposition=FILE_OPEN_IF)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        return r.file_id

    def replies(self, c, count):
        """The next `count` final replies on `c` (interim STATUS_PENDING ones skipped), by
        MessageId."""
        got = {}
        while len(got) < count:
            r = smb2client.Reply(c.conn.recv())
            if r.status != smb2client.STATUS_PENDING:
                got[r.message_id] = r
        return got

    def test_large_and_small_requests_back_to_back(self):
        c = self.connect()
        fid = self.open_for_write(c, "mixed.bin")
        # (offset, size, flags) of each WRITE; ECHOs in between. Sizes around the 64 KiB mark
        # and the header read after a large message, 1 MiB ones, tiny ones, write-through.
        plan = [(0, 1 << 20, 0), "echo", (1 << 20, 200 * 1024, 0), (1 << 20 | 200 * 1024, 10, 0),
                "echo", "echo", (2 << 20, 64 * 1024 + 1, 0), (3 << 20, 1 << 20, WRITE_THROUGH),
                (4 << 20, 116, 0), (4 << 20 | 116, 1 << 20, 0), "echo", (6 << 20, 3, 0),
                (6 << 20 | 3, 700 * 1024, 0)]
        expected = bytearray()
        batch = b""
        kinds = {}
        for step in plan:
            mid = c.message_id
            if step == "echo":
                msg = c.build(smb2client.ECHO, struct.pack("<HH", 4, 0))
                kinds[mid] = ("echo", 0)
            else:
                offset, size, flags = step
                data = os.urandom(size)
                if len(expected) < offset + size:
                    expected.extend(b"\0" * (offset + size - len(expected)))
                expected[offset:offset + size] = data
                msg = c.write_request(fid, data, offset, flags)
                kinds[mid] = ("write", size)
            batch += smb2raw.frame(msg)
        # All of it in one stream before any reply is read.
        c.conn.send_raw(batch)
        answered = self.replies(c, len(kinds))
        self.assertEqual(set(answered), set(kinds))
        for mid, r in answered.items():
            self.assertEqual(r.status, smb2client.STATUS_SUCCESS,
                             f"message {mid}: {smb2client.status_name(r.status)}")
            kind, size = kinds[mid]
            if kind == "write":
                self.assertEqual(struct.unpack_from("<I", r.body, 4)[0], size)
        self.assertEqual(c.close_file(fid).status, smb2client.STATUS_SUCCESS)
        on_disk = (self.share.path / "mixed.bin").read_bytes()
        self.assertEqual(len(on_disk), len(expected))
        self.assertTrue(on_disk == bytes(expected), "file content differs from what was written")

    def test_large_write_arriving_in_pieces(self):
        """A WRITE whose data arrives in pieces with pauses between them: the server runs dry
        inside the message each time (it then waits for the rest with SO_RCVLOWAT, lowered as
        pieces come in). The last piece is smaller than the 64 KiB below which no mark is set,
        and an ECHO follows at once: both must be answered, nothing waits for bytes the
        client never sends."""
        c = self.connect()
        fid = self.open_for_write(c, "pieces.bin")
        data = os.urandom((1 << 20) + 5)
        write_mid = c.message_id
        frame = smb2raw.frame(c.write_request(fid, data, 0))
        echo_mid = c.message_id
        echo = smb2raw.frame(c.build(smb2client.ECHO, struct.pack("<HH", 4, 0)))
        # Header and a little data; then 300 KiB; then all but 1,000 bytes; then the rest.
        cuts = [4 + 64 + 48 + 4096, 4 + 64 + 48 + 4096 + 300 * 1024, len(frame) - 1000]
        start = 0
        for cut in cuts:
            c.conn.send_raw(frame[start:cut])
            start = cut
            time.sleep(0.2)
        c.conn.send_raw(frame[start:] + echo)
        answered = self.replies(c, 2)
        self.assertEqual(set(answered), {write_mid, echo_mid})
        w = answered[write_mid]
        self.assertEqual(w.status, smb2client.STATUS_SUCCESS, smb2client.status_name(w.status))
        self.assertEqual(struct.unpack_from("<I", w.body, 4)[0], len(data))
        self.assertEqual(answered[echo_mid].status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.close_file(fid).status, smb2client.STATUS_SUCCESS)
        self.assertTrue((self.share.path / "pieces.bin").read_bytes() == data,
                        "file content differs from what was written")

    def test_write_through_is_on_disk_when_answered(self):
        c = self.connect()
        fid = self.open_for_write(c, "through.bin")
        data = os.urandom(300 * 1024)
        r = c.write(fid, data, 0, WRITE_THROUGH)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        self.assertEqual(r.count, len(data))
        self.assertEqual((self.share.path / "through.bin").read_bytes(), data)
        self.assertEqual(c.close_file(fid).status, smb2client.STATUS_SUCCESS)


if __name__ == "__main__":
    harness.main()
