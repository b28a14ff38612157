#!/usr/bin/env python3
"""READ from the page cache by sendfile ("use sendfile = yes"; off by default): large READs whose
responses are neither signed nor encrypted go from the page cache to the socket; the data must
be byte-identical to the copy path's, and signed responses or `use sendfile = no` must not take
this path. The server's "sendfile reads" counter (xsmbctl status) tells which path ran.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_sendfile.py
"""

import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client  # noqa: E402

USER, PASSWORD = "sfuser", "Send-file-123"
SIZE = 48 << 20


@unittest.skipIf(harness.backend() != "xsmbd", "counts xsmbd's own sendfile reads")
class SendfileTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.on = server.add_share("on", {"read only": "no", "use sendfile": "yes"})
        cls.off = server.add_share("off", {"read only": "no"})  # the default: no
        server.add_user(USER, PASSWORD)

    def setUp(self):
        self.tmp = harness.make_temp_dir("xsmbd-sendfile-")

    def counters(self):
        """(sendfile reads, engine name, file I/O by the engine) from xsmbctl status."""
        out = self.server.xsmbctl_status()
        m = re.search(r"sendfile reads (\d+), (\S+) file I/O (\d+)", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1)), m.group(2), int(m.group(3))

    def sendfile_reads(self):
        return self.counters()[0]

    def get(self, share, protection):
        src, sha = harness.random_file(SIZE)
        name = f"f-{share.name}-{protection}.bin"
        shutil.copyfile(src, share.path / name)
        # Written just now: the file is in the page cache, as the sendfile path requires.
        local = self.tmp / name
        before = self.sendfile_reads()
        rc, out = self.server.smbclient(share.name, f"get {name} {local}", user=USER,
                                        password=PASSWORD, protection=protection)
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(local), sha, f"{name}: data differs")
        return self.sendfile_reads() - before

    def test_plain_reads_use_sendfile_and_data_is_intact(self):
        # smbclient reads up to 8 MiB per READ: 48 MiB take at least 6 READs.
        self.assertGreaterEqual(self.get(self.on, "off"), 6)

    def test_signed_reads_take_the_copy_path(self):
        self.assertEqual(self.get(self.on, "sign"), 0)

    def test_encrypted_reads_take_the_copy_path(self):
        self.assertEqual(self.get(self.on, "encrypt"), 0)

    def test_sendfile_is_off_by_default(self):
        self.assertEqual(self.get(self.off, "off"), 0)

    def test_uncached_reads_go_through_the_io_engine(self):
        # Data not in the page cache cannot be read on the event loop (RWF_NOWAIT fails): the
        # worker's I/O engine reads it, and the bytes must still be exact.
        src, sha = harness.random_file(SIZE)
        path = self.on.path / "cold.bin"
        shutil.copyfile(src, path)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        sf0, engine, io0 = self.counters()
        self.assertIn(engine, ("io_uring", "threads"))
        if os.environ.get("XSMBD_IO_ENGINE") == "threads":
            self.assertEqual(engine, "threads")
        local = self.tmp / "cold.bin"
        rc, out = self.server.smbclient("on", f"get cold.bin {local}", user=USER,
                                        password=PASSWORD, protection="off")
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(local), sha, "cold.bin: data differs")
        sf1, _, io1 = self.counters()
        self.assertGreater(io1, io0, f"no READ went through the {engine} engine")

    def test_writes_and_flush_are_durable_through_the_engine(self):
        # put: WRITEs the page cache takes at once, the rest by the engine; the result on disk
        # must be the file sent.
        src, sha = harness.random_file(SIZE)
        rc, out = self.server.smbclient("on", f"put {src} put.bin", user=USER,
                                        password=PASSWORD, protection="off")
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(self.on.path / "put.bin"), sha)

    def test_large_reads_from_memory_and_minimum_count(self):
        """A large lone READ on either share, cached: the data whole and exact (from the page
        cache by sendfile on "on", from a buffer of its own on "off"); a MinimumCount above
        Length can never be met and is STATUS_END_OF_FILE (MS-SMB2 3.3.5.12) on both."""
        for share in (self.on, self.off):
            data = os.urandom(3 << 20)
            (share.path / "mc.bin").write_bytes(data)
            with smb2client.Smb2Client(self.server.port) as c:
                self.assertEqual(c.negotiate(0x0210).status, smb2client.STATUS_SUCCESS)
                self.assertEqual(c.login(USER, PASSWORD).status, smb2client.STATUS_SUCCESS)
                c.sign_requests = False  # unsigned: the paths under test
                r = c.tree_connect(f"\\\\127.0.0.1\\{share.name}", sign_it=True)
                self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
                r = c.create("mc.bin")
                self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
                fid = r.file_id
                for offset, length in ((0, 1 << 20), (12345, 1 << 20), ((3 << 20) - 65536, 65536)):
                    rr = c.read(fid, length=length, offset=offset)
                    self.assertEqual(rr.status, smb2client.STATUS_SUCCESS, share.name)
                    self.assertTrue(rr.data == data[offset:offset + length],
                                    f"{share.name}: {length} bytes at {offset} differ")
                rr = c.read(fid, length=1 << 20, offset=0, minimum_count=(1 << 20) + 1)
                self.assertEqual(rr.status, smb2client.STATUS_END_OF_FILE,
                                 f"{share.name}: {smb2client.status_name(rr.status)}")
                self.assertEqual(c.close_file(fid).status, smb2client.STATUS_SUCCESS)


if __name__ == "__main__":
    harness.main()
