#!/usr/bin/env python3
"""Named streams and extended attributes through Samba's smbclient: a stream written by
`put file:stream` is stored as Samba's vfs_streams_xattr stores it (xattr
user.DosStream.<name>:$DATA, value = data + NUL), a stream Samba left on disk is listed by
`allinfo` and read back by `get`, a stream larger than the filesystem's xattr limit is refused with
NT_STATUS_DISK_FULL. Extended attributes (FileFullEaInformation get and set, the ExtA create
context) with the raw SMB2 client of smb2client.py, stored as Samba keeps them (user.<name>).

Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_streams.py
(ctest -L integration does this with the built binaries.)
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402

USER = "xsmbtest"
PASSWORD = "Corr3ct-horse"


class StreamsTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no", "create mask": "0666",
                                               "directory mask": "0777"})
        server.add_user(USER, PASSWORD)

    def setUp(self):
        probe = self.share.path / ".xattr-probe"
        probe.write_bytes(b"")
        try:
            os.setxattr(probe, "user.probe", b"1")
        except OSError as e:
            self.skipTest(f"the share's filesystem has no user xattrs: {e}")
        finally:
            probe.unlink()
        self.local = harness.make_temp_dir("xsmbd-streams-")

    def client(self, commands):
        rc, out = self.server.smbclient("share", commands, user=USER, password=PASSWORD,
                                        cwd=str(self.local))
        self.assertServerAlive()
        return rc, out

    def client_ok(self, commands):
        rc, out = self.client(commands)
        self.assertEqual(rc, 0, f"smbclient {commands!r}: rc={rc}\n{out}")
        self.assertNotIn("NT_STATUS_", out, f"smbclient {commands!r}\n{out}")
        return out

    def test_put_stream_is_stored_as_samba_stores_it(self):
        (self.local / "data.txt").write_bytes(b"stream payload\n")
        (self.share.path / "put.txt").write_bytes(b"base")
        self.client_ok('put data.txt "put.txt:mystream"')
        raw = os.getxattr(self.share.path / "put.txt", "user.DosStream.mystream:$DATA")
        self.assertEqual(raw, b"stream payload\n\0")
        self.assertEqual((self.share.path / "put.txt").read_bytes(), b"base",
                         "the file's own data is untouched")
        out = self.client_ok("allinfo put.txt")
        self.assertRegex(out, r"stream:\s+\[::\$DATA\], 4 bytes")
        self.assertRegex(out, r"stream:\s+\[:mystream:\$DATA\], 15 bytes")
        self.client_ok('get "put.txt:MYSTREAM" back.txt')  # names compare without case
        self.assertEqual((self.local / "back.txt").read_bytes(), b"stream payload\n")

    def test_stream_left_by_samba_is_listed_and_read(self):
        f = self.share.path / "samba.txt"
        f.write_bytes(b"")
        os.setxattr(f, "user.DosStream.Zone.Identifier:$DATA", b"[ZoneTransfer]\r\nZoneId=3\0")
        os.setxattr(f, "user.DOSATTRIB", b"\0")  # Samba's own state: neither stream nor EA
        out = self.client_ok("allinfo samba.txt")
        self.assertRegex(out, r"stream:\s+\[:Zone\.Identifier:\$DATA\], 24 bytes")
        self.assertNotIn("DOSATTRIB", out)
        self.client_ok('get "samba.txt:Zone.Identifier" zone.txt')
        self.assertEqual((self.local / "zone.txt").read_bytes(), b"[ZoneTransfer]\r\nZoneId=3")

    def test_stream_beyond_the_xattr_limit_is_disk_full(self):
        (self.local / "big.bin").write_bytes(os.urandom(70000))  # above Linux's 64 KiB values
        (self.share.path / "big.txt").write_bytes(b"")
        rc, out = self.client('put big.bin "big.txt:huge"')
        self.assertIn("NT_STATUS_DISK_FULL", out, out)
        stored = os.getxattr(self.share.path / "big.txt", "user.DosStream.huge:$DATA")
        self.assertLess(len(stored), 70000, "no acknowledged part beyond the limit")

    def test_deleting_the_file_removes_its_streams(self):
        (self.local / "s.txt").write_bytes(b"x")
        (self.share.path / "gone.txt").write_bytes(b"")
        self.client_ok('put s.txt "gone.txt:s1"')
        self.client_ok("del gone.txt")
        self.assertFalse((self.share.path / "gone.txt").exists())
        rc, out = self.client('get "gone.txt:s1" nothing.txt')
        self.assertIn("NT_STATUS_OBJECT_NAME_NOT_FOUND", out, out)


QUERY_INFO, SET_INFO = 0x0010, 0x0011
FILE_EA_INFORMATION, FILE_FULL_EA_INFORMATION = 7, 15
STATUS_NO_EAS_ON_FILE = 0xC0000052
STATUS_INVALID_EA_NAME = 0x80000013
STATUS_EA_LIST_INCONSISTENT = 0x80000014


def full_ea(entries):
    """FILE_FULL_EA_INFORMATION chain (MS-FSCC 2.4.15) of (name, value) pairs."""
    out = b""
    for i, (name, value) in enumerate(entries):
        entry = struct.pack("<BBH", 0, len(name), len(value)) + name + b"\0" + value
        size = 4 + len(entry)
        last = i == len(entries) - 1
        padded = size if last else (size + 3) & ~3
        out += struct.pack("<I", 0 if last else padded) + entry + b"\0" * (padded - size)
    return out


def parse_full_ea(buf):
    out, pos = [], 0
    while True:
        nxt, _flags, nlen, vlen = struct.unpack_from("<IBBH", buf, pos)
        name = buf[pos + 8:pos + 8 + nlen]
        out.append((name, buf[pos + 9 + nlen:pos + 9 + nlen + vlen]))
        if nxt == 0:
            return out
        pos += nxt


class EaTest(harness.ServerTestCase):
    """FileFullEaInformation get/set and the EA create context with a raw SMB2 client; the EAs
    are user xattrs on disk, as Samba keeps them."""

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no", "create mask": "0666"})
        server.add_user(USER, PASSWORD)

    def setUp(self):
        self.cl = c.Smb2Client(self.server.port)
        self.addCleanup(self.cl.close)
        self.assertEqual(self.cl.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(self.cl.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(self.cl.tree_connect("\\\\127.0.0.1\\share").status, c.STATUS_SUCCESS)

    def open(self, name, contexts=b""):
        """CREATE (FILE_OPEN_IF, all access) with an optional create context chain."""
        raw_name = name.encode("utf-16-le")
        ctx_off = (120 + len(raw_name) + 7) & ~7 if contexts else 0
        body = (struct.pack("<HBBIQQIIIII", 57, 0, 0, 2, 0, 0, 0x001F01FF, 0, 7, 3, 0x40)
                + struct.pack("<HHII", 120, len(raw_name), ctx_off, len(contexts)) + raw_name)
        if contexts:
            body += b"\0" * (ctx_off - 64 - len(body)) + contexts
        r = self.cl.send(self.cl.build(c.CREATE, body))
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        fid = r.body[64:80]
        self.addCleanup(self.cl.close_file, fid)
        return fid

    def query(self, fid, cls, input_buf=b"", length=4096):
        body = (struct.pack("<HBBIHHIII", 41, 1, cls, length, 104 if input_buf else 0, 0,
                            len(input_buf), 0, 0) + fid + (input_buf or b"\0"))
        r = self.cl.send(self.cl.build(QUERY_INFO, body))
        off, n = struct.unpack_from("<HI", r.body, 2) if len(r.body) >= 8 else (0, 0)
        return r.status, r.raw[off:off + n]

    def set_eas(self, fid, buf):
        body = struct.pack("<HBBIHHI", 33, 1, FILE_FULL_EA_INFORMATION, len(buf), 96, 0, 0)
        return self.cl.send(self.cl.build(SET_INFO, body + fid + buf)).status

    def test_set_query_and_remove(self):
        fid = self.open("ea.txt")
        self.assertEqual(self.query(fid, FILE_FULL_EA_INFORMATION)[0], STATUS_NO_EAS_ON_FILE)
        self.assertEqual(self.set_eas(fid, full_ea([(b"Color", b"blue"), (b"Size", b"XL")])),
                         c.STATUS_SUCCESS)
        self.assertEqual(os.getxattr(self.share.path / "ea.txt", "user.Color"), b"blue")
        st, buf = self.query(fid, FILE_FULL_EA_INFORMATION)
        self.assertEqual(st, c.STATUS_SUCCESS)
        self.assertEqual(sorted(parse_full_ea(buf)), [(b"Color", b"blue"), (b"Size", b"XL")])
        st, buf = self.query(fid, FILE_EA_INFORMATION)
        self.assertEqual(st, c.STATUS_SUCCESS)
        self.assertEqual(struct.unpack("<I", buf)[0], 20 + 15)  # two entries, the first padded
        # With a FILE_GET_EA_INFORMATION list: in its order, names compared without case.
        get = (struct.pack("<IB", 12, 5) + b"COLOR\0" + b"\0"
               + struct.pack("<IB", 0, 4) + b"none\0")
        st, buf = self.query(fid, FILE_FULL_EA_INFORMATION, get)
        self.assertEqual(st, c.STATUS_SUCCESS)
        self.assertEqual(parse_full_ea(buf), [(b"Color", b"blue"), (b"none", b"")])
        # An empty value removes the EA.
        self.assertEqual(self.set_eas(fid, full_ea([(b"Color", b""), (b"Size", b"")])),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.query(fid, FILE_FULL_EA_INFORMATION)[0], STATUS_NO_EAS_ON_FILE)

    def test_refusals(self):
        fid = self.open("bad.txt")
        self.assertEqual(self.set_eas(fid, full_ea([(b"a*b", b"1")])), STATUS_INVALID_EA_NAME)
        broken = bytearray(full_ea([(b"ok", b"1")]))
        broken[6] = 200  # EaValueLength beyond the buffer
        self.assertEqual(self.set_eas(fid, bytes(broken)), STATUS_EA_LIST_INCONSISTENT)
        # Names that would reach other state (streams, DOS attributes) are no EAs.
        self.assertEqual(self.set_eas(fid, full_ea([(b"DosStream.x:$DATA", b"1")])),
                         STATUS_INVALID_EA_NAME)
        path = self.share.path / "bad.txt"
        dos = os.getxattr(path, "user.DOSATTRIB")  # the DOS attributes, as Samba keeps them
        self.assertEqual(self.set_eas(fid, full_ea([(b"DOSATTRIB", b"1")])),
                         c.STATUS_ACCESS_DENIED)
        self.assertEqual([x for x in os.listxattr(path) if x != "user.DOSATTRIB"], [])
        self.assertEqual(os.getxattr(path, "user.DOSATTRIB"), dos)
        st, _ = self.query(fid, FILE_FULL_EA_INFORMATION, length=4)
        self.assertEqual(st, STATUS_NO_EAS_ON_FILE)

    def test_ea_size_follows_changes_on_disk(self):
        """FileEaInformation's EaSize is kept per inode while its ctime holds (xsmbd's
        meta_cache): a change made on disk by another process shows in the next query, also
        once the size has been cached."""
        fid = self.open("sized.txt")
        path = self.share.path / "sized.txt"
        os.setxattr(path, "user.One", b"1")
        time.sleep(2.4)  # older than the look-aside cache's racy margin (2.1 s): cached now
        for _ in range(2):
            st, buf = self.query(fid, FILE_EA_INFORMATION)
            self.assertEqual((st, struct.unpack("<I", buf)[0]), (c.STATUS_SUCCESS, 9 + 3 + 1))
        os.setxattr(path, "user.Second", b"22")
        st, buf = self.query(fid, FILE_EA_INFORMATION)
        self.assertEqual((st, struct.unpack("<I", buf)[0]), (c.STATUS_SUCCESS, 16 + 9 + 6 + 2))
        os.removexattr(path, "user.One")
        os.removexattr(path, "user.Second")
        st, buf = self.query(fid, FILE_EA_INFORMATION)
        self.assertEqual((st, struct.unpack("<I", buf)[0]), (c.STATUS_SUCCESS, 0))

    def test_create_context_sets_eas(self):
        eas = full_ea([(b"Origin", b"create")])
        # SMB2_CREATE_CONTEXT (MS-SMB2 2.2.13.2): Next, NameOffset 16, NameLength 4, Reserved,
        # DataOffset 24, DataLength, "ExtA" + 4 bytes of padding, data.
        ctx = struct.pack("<IHHHHI", 0, 16, 4, 0, 24, len(eas)) + b"ExtA" + b"\0" * 4 + eas
        fid = self.open("ctx.txt", ctx)
        self.assertEqual(os.getxattr(self.share.path / "ctx.txt", "user.Origin"), b"create")
        st, buf = self.query(fid, FILE_FULL_EA_INFORMATION)
        self.assertEqual((st, parse_full_ea(buf)), (c.STATUS_SUCCESS, [(b"Origin", b"create")]))


if __name__ == "__main__":
    harness.main()
