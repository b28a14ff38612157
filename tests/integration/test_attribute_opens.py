#!/usr/bin/env python3
"""Opens for attributes only (FILE_READ_ATTRIBUTES | SYNCHRONIZE), which xsmbd serves the short
way (the file opened O_PATH before it is looked at, no access-check call), opens for data whose
rights the open's own read/write flags prove (opened first too), and the per-inode look-aside
record of DOS attributes (server/vfs/meta_cache.h), driven by the raw client of smb2client.py:

- an attribute-only open of a file the user may not read succeeds and reports its size, an open
  for data is refused; the directory/non-directory options, another spelling of the name and a
  symlink out of the share get the statuses the usual way gives;
- opens for data the short way: the READONLY attribute (no write bits) refuses writing even to
  an account the kernel would let write (root, in CI), a directory asked for FILE_ADD_FILE
  still opens, a write through a read/write open reaches the file;
- DOS attributes changed on disk by another process (the xattr Samba and xsmbd share) are seen
  by the next open, of a file and of the share root, also after the server has cached them.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_attribute_opens.py
"""

import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402

USER = "attruser"
PASSWORD = "Attr-0nly-pw"
OWNER = "attrowner"  # the account running the tests (root in CI)
OWNER_PASSWORD = "Attr-0wner-pw"
UNC = r"\\127.0.0.1\share"

READ_ATTRIBUTES = 0x00100080  # FILE_READ_ATTRIBUTES | SYNCHRONIZE
READ_DATA = 0x00000001
WRITE_DATA = 0x00000002
READ_WRITE = 0x00120089 | 0x00000116  # FILE_GENERIC_READ, WRITE_DATA, APPEND_DATA, WRITE_ATTRIBUTES
FILE_OPEN = 1
FILE_DIRECTORY_FILE = 0x1
FILE_NON_DIRECTORY_FILE = 0x40
STATUS_NOT_A_DIRECTORY = 0xC0000103
STATUS_FILE_IS_A_DIRECTORY = 0xC00000BA
QUERY_INFO = 0x0010
FILE_BASIC_INFORMATION = 4
FILE_STANDARD_INFORMATION = 5

ATTR_HIDDEN, ATTR_SYSTEM, ATTR_DIRECTORY, ATTR_ARCHIVE = 0x2, 0x4, 0x10, 0x20
DOS_XATTR = "user.DOSATTRIB"
# xsmbd keeps a cached record only for a ctime older than this (meta_cache.h kRacyMarginNs).
SETTLE_SECONDS = 2.4

xsmbd_only = unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's implementation")


def dos_record(attributes):
    """Samba's xattr_DOSATTRIB version 5 (24 bytes): AttribHex "" and padding, version twice,
    padding, ValidFlags (attributes), Attrib, CreateTime 0."""
    return struct.pack("<HHHHIIQ", 0, 5, 5, 0, 0x1, attributes, 0)


class AttributeOpensTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        share = server.add_share("share", {"read only": "no"})
        p = share.path
        (p / "locked.bin").write_bytes(b"x" * 1234)
        os.chmod(p / "locked.bin", 0o000)  # the test's account's, which the user is not (root)
        (p / "dir").mkdir()
        (p / "dir" / "deep").mkdir()
        (p / "dir" / "deep" / "MixedCase.TXT").write_bytes(b"mixed")
        (p / "plain.txt").write_bytes(b"plain")
        (p / "attrs.txt").write_bytes(b"attributes")
        (p / "readonly.txt").write_bytes(b"read only")
        os.chmod(p / "readonly.txt", 0o444)
        (p / "rw.txt").write_bytes(b"0123456789")
        (p / "listed").mkdir()
        for i in range(40):  # more than one batch of a listing (handlers/directory.cc)
            (p / "listed" / f"f{i:02d}.txt").write_bytes(b"x")
        os.symlink("/etc/passwd", p / "passwdlink")
        os.symlink("dir/deep/MixedCase.TXT", p / "innerlink")
        # As root, the user is an unprivileged account, to which locked.bin is closed.
        unix_user = None
        if os.geteuid() == 0:
            harness.Server._ensure_unix_account(USER)
            unix_user = USER
        server.add_user(USER, PASSWORD, unix_user=unix_user)
        server.add_user(OWNER, OWNER_PASSWORD)
        cls.share = share

    def setUp(self):
        self.cl = c.Smb2Client(self.server.port)
        self.addCleanup(self.cl.close)
        self.assertEqual(self.cl.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(self.cl.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(self.cl.tree_connect(UNC).status, c.STATUS_SUCCESS)

    def open_attrs(self, name, options=0, access=READ_ATTRIBUTES):
        return self.cl.create(name, desired_access=access, create_disposition=FILE_OPEN,
                              create_options=options)

    def attributes_and_size(self, name):
        """(FileAttributes, EndOfFile) of the CREATE response of an attribute-only open, which
        is then closed (MS-SMB2 2.2.14: EndofFile at 48, FileAttributes at 56)."""
        r = self.open_attrs(name)
        self.assertEqual(r.status, c.STATUS_SUCCESS, f"{name}: {c.status_name(r.status)}")
        eof, attrs = struct.unpack_from("<QI", r.body, 48)
        self.assertEqual(self.cl.close_file(r.file_id).status, c.STATUS_SUCCESS)
        return attrs, eof

    def query(self, fid, cls):
        body = (struct.pack("<HBBIHHIII", 41, 1, cls, 4096, 0, 0, 0, 0, 0) + fid + b"\0")
        r = self.cl.send(self.cl.build(QUERY_INFO, body))
        off, n = struct.unpack_from("<HI", r.body, 2) if len(r.body) >= 8 else (0, 0)
        return r.status, r.raw[off:off + n]

    @unittest.skipIf(os.geteuid() != 0, "needs root: the user must be another account")
    def test_unreadable_file_attributes_but_not_data(self):
        r = self.open_attrs("locked.bin")
        self.assertEqual(r.status, c.STATUS_SUCCESS, c.status_name(r.status))
        self.assertEqual(struct.unpack_from("<Q", r.body, 48)[0], 1234)
        st, info = self.query(r.file_id, FILE_STANDARD_INFORMATION)
        self.assertEqual(st, c.STATUS_SUCCESS, c.status_name(st))
        self.assertEqual(struct.unpack_from("<Q", info, 8)[0], 1234)  # EndOfFile
        # The handle grants attributes only: its data is not readable through it.
        self.assertEqual(self.cl.read(r.file_id, length=16).status, c.STATUS_ACCESS_DENIED)
        self.assertEqual(self.cl.close_file(r.file_id).status, c.STATUS_SUCCESS)
        r = self.open_attrs("locked.bin", access=READ_DATA)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, c.status_name(r.status))

    def test_directory_options_and_types(self):
        self.assertEqual(self.open_attrs("plain.txt", FILE_DIRECTORY_FILE).status,
                         STATUS_NOT_A_DIRECTORY)
        self.assertEqual(self.open_attrs("dir", FILE_NON_DIRECTORY_FILE).status,
                         STATUS_FILE_IS_A_DIRECTORY)
        attrs, _ = self.attributes_and_size("dir\\deep")
        self.assertTrue(attrs & ATTR_DIRECTORY, hex(attrs))
        # A directory opened for its attributes cannot be listed through that handle.
        r = self.open_attrs("dir", FILE_DIRECTORY_FILE)
        self.assertEqual(r.status, c.STATUS_SUCCESS)
        st, info = self.query(r.file_id, FILE_BASIC_INFORMATION)
        self.assertEqual(st, c.STATUS_SUCCESS, c.status_name(st))
        self.assertTrue(struct.unpack_from("<I", info, 32)[0] & ATTR_DIRECTORY)
        self.assertEqual(self.cl.close_file(r.file_id).status, c.STATUS_SUCCESS)

    def test_share_root_handles(self):
        """Attribute-only handles of the share root (which xsmbd serves with the root's own
        descriptor): several at once, each queried after another is closed, one left open when
        its connection drops; the share keeps serving after all of them are gone."""
        first, second = self.open_attrs(""), self.open_attrs("", FILE_DIRECTORY_FILE)
        for r in (first, second):
            self.assertEqual(r.status, c.STATUS_SUCCESS, c.status_name(r.status))
            self.assertTrue(struct.unpack_from("<I", r.body, 56)[0] & ATTR_DIRECTORY)
        self.assertEqual(self.cl.close_file(first.file_id).status, c.STATUS_SUCCESS)
        st, info = self.query(second.file_id, FILE_BASIC_INFORMATION)
        self.assertEqual(st, c.STATUS_SUCCESS, c.status_name(st))
        self.assertTrue(struct.unpack_from("<I", info, 32)[0] & ATTR_DIRECTORY)
        self.assertEqual(self.cl.close_file(second.file_id).status, c.STATUS_SUCCESS)
        other = c.Smb2Client(self.server.port)
        self.addCleanup(other.close)
        self.assertEqual(other.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(other.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(other.tree_connect(UNC).status, c.STATUS_SUCCESS)
        self.assertEqual(other.create("", desired_access=READ_ATTRIBUTES, create_options=0).status,
                         c.STATUS_SUCCESS)
        other.close()  # the handle goes with its connection
        time.sleep(0.5)
        # Paths beneath the root still resolve, files still open and read.
        self.assertEqual(self.attributes_and_size("dir\\deep\\MixedCase.TXT")[1], 5)
        self.assertEqual(self.cl.read_file("plain.txt"), (c.STATUS_SUCCESS, b"plain"))
        self.assertEqual(self.attributes_and_size("")[0] & ATTR_DIRECTORY, ATTR_DIRECTORY)

    def test_data_opens(self):
        owner = c.Smb2Client(self.server.port)
        self.addCleanup(owner.close)
        self.assertEqual(owner.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(owner.login(OWNER, OWNER_PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(owner.tree_connect(UNC).status, c.STATUS_SUCCESS)
        # Nested, in one open beneath the root; another spelling goes the usual way.
        for name in ("dir\\deep\\MixedCase.TXT", "DIR\\deep\\mixedcase.txt"):
            self.assertEqual(owner.read_file(name), (c.STATUS_SUCCESS, b"mixed"), name)
        self.assertEqual(owner.read_file("dir\\nodir\\x.txt")[0], c.STATUS_OBJECT_PATH_NOT_FOUND)
        # READONLY (mode 0444): reading is fine, writing is refused whoever asks.
        self.assertEqual(owner.read_file("readonly.txt"), (c.STATUS_SUCCESS, b"read only"))
        for access in (WRITE_DATA, READ_WRITE):
            r = owner.create("readonly.txt", desired_access=access, create_disposition=FILE_OPEN)
            self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, c.status_name(r.status))
        # A directory asked for FILE_ADD_FILE (WRITE_DATA) cannot be opened for writing: the
        # usual way opens it.
        r = owner.create("dir", desired_access=WRITE_DATA | READ_ATTRIBUTES,
                         create_disposition=FILE_OPEN, create_options=FILE_DIRECTORY_FILE)
        self.assertEqual(r.status, c.STATUS_SUCCESS, c.status_name(r.status))
        self.assertEqual(owner.close_file(r.file_id).status, c.STATUS_SUCCESS)
        # A read/write open: the write reaches the file, the read sees it.
        r = owner.create("rw.txt", desired_access=READ_WRITE, create_disposition=FILE_OPEN)
        self.assertEqual(r.status, c.STATUS_SUCCESS, c.status_name(r.status))
        self.assertEqual(owner.write(r.file_id, b"abc", offset=3).status, c.STATUS_SUCCESS)
        rr = owner.read(r.file_id, length=64)
        self.assertEqual((rr.status, rr.data), (c.STATUS_SUCCESS, b"012abc6789"))
        self.assertEqual(owner.close_file(r.file_id).status, c.STATUS_SUCCESS)
        self.assertEqual((self.share.path / "rw.txt").read_bytes(), b"012abc6789")
        # A handle opened for reading only cannot write.
        r = owner.create("rw.txt", desired_access=0x00120089, create_disposition=FILE_OPEN)
        self.assertEqual(r.status, c.STATUS_SUCCESS, c.status_name(r.status))
        self.assertEqual(owner.write(r.file_id, b"zz").status, c.STATUS_ACCESS_DENIED)
        self.assertEqual(owner.close_file(r.file_id).status, c.STATUS_SUCCESS)

    def maximal_access(self, cl, name, access=READ_ATTRIBUTES):
        """The MxAc answer (MS-SMB2 2.2.14.2.5 MaximalAccess) of a CREATE (FILE_OPEN) of `name`
        with an SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST context; the handle is closed."""
        raw = name.encode("utf-16-le")
        ctx = struct.pack("<IHHHHI", 0, 16, 4, 0, 0, 0) + b"MxAc" + b"\0" * 4
        ctx_off = (120 + len(raw) + 7) & ~7
        body = (struct.pack("<HBBIQQIIIII", 57, 0, 0, 2, 0, 0, access, 0, 7, FILE_OPEN, 0)
                + struct.pack("<HHII", 120, len(raw), ctx_off, len(ctx)) + (raw or b"\0"))
        body += b"\0" * (ctx_off - 64 - len(body)) + ctx
        r = cl.send(cl.build(c.CREATE, body))
        self.assertEqual(r.status, c.STATUS_SUCCESS, f"{name}: {c.status_name(r.status)}")
        self.assertEqual(cl.close_file(r.body[64:80]).status, c.STATUS_SUCCESS)
        off, length = struct.unpack_from("<II", r.body, 80)
        contexts, pos = r.raw[off:off + length], 0
        while True:
            nxt, name_off, name_len, _, data_off, data_len = struct.unpack_from("<IHHHHI",
                                                                              contexts, pos)
            if contexts[pos + name_off:pos + name_off + name_len] == b"MxAc":
                status, mask = struct.unpack_from("<II", contexts, pos + data_off)
                self.assertEqual(status, c.STATUS_SUCCESS)
                return mask
            self.assertNotEqual(nxt, 0, "no MxAc context in the response")
            pos += nxt

    def test_maximal_access_the_short_way_and_the_usual_way_agree(self):
        """An attribute-only open with MxAc opens first and computes the maximal access as the
        usual way does: the same name in another spelling (which goes the usual way) gets the
        same answer, for a file the user may not read, one it owns, a nested one and a
        directory."""
        owner = c.Smb2Client(self.server.port)
        self.addCleanup(owner.close)
        self.assertEqual(owner.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(owner.login(OWNER, OWNER_PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(owner.tree_connect(UNC).status, c.STATUS_SUCCESS)
        cases = [(self.cl, "locked.bin", "LOCKED.BIN"), (owner, "rw.txt", "RW.TXT"),
                 (owner, "readonly.txt", "ReadOnly.txt"), (self.cl, "plain.txt", "Plain.TXT"),
                 (owner, "dir\\deep\\MixedCase.TXT", "dir\\deep\\mixedcase.txt"),
                 (owner, "dir\\deep", "Dir\\Deep")]
        for cl, name, other in cases:
            short, usual = self.maximal_access(cl, name), self.maximal_access(cl, other)
            self.assertEqual(short, usual, f"{name}: {short:#x} != {other}: {usual:#x}")
            self.assertTrue(short & READ_ATTRIBUTES == READ_ATTRIBUTES, f"{name}: {short:#x}")
            if name == "locked.bin":
                continue  # not readable: the read open below would be refused either way
            # Opened for reading (FILE_GENERIC_READ, as Windows opens a file to read it).
            short, usual = (self.maximal_access(cl, name, 0x00120089),
                            self.maximal_access(cl, other, 0x00120089))
            self.assertEqual(short, usual, f"{name} (read): {short:#x} != {other}: {usual:#x}")
        # The answers differ where the rights do: the owner may write rw.txt, nobody readonly.txt.
        self.assertTrue(self.maximal_access(owner, "rw.txt") & WRITE_DATA)
        self.assertFalse(self.maximal_access(owner, "readonly.txt") & WRITE_DATA)

    def listed_attributes(self, name):
        """The attribute letters smbclient's `ls` prints for listed\\<name>."""
        rc, out = self.server.smbclient("share", "ls listed\\*", user=USER, password=PASSWORD)
        self.assertEqual(rc, 0, out)
        for line in out.splitlines():
            fields = line.split()
            if fields and fields[0] == name:
                return fields[1] if fields[1].isalpha() else ""
        self.fail(f"{name} not listed: {out}")

    @xsmbd_only
    def test_listing_sees_attributes_changed_on_disk(self):
        """Directory listings cache what they read by path (vfs::DirListing) while the
        directory and the entry keep their ctime: a change on disk shows in the next listing."""
        path = self.share.path / "listed" / "f07.txt"
        os.setxattr(path, DOS_XATTR, dos_record(ATTR_HIDDEN))
        time.sleep(SETTLE_SECONDS)  # the directory and the file old enough to be cached
        for _ in range(2):
            self.assertIn("H", self.listed_attributes("f07.txt"))
            self.assertNotIn("H", self.listed_attributes("f08.txt"))
        os.setxattr(path, DOS_XATTR, dos_record(ATTR_SYSTEM))
        attrs = self.listed_attributes("f07.txt")
        self.assertIn("S", attrs)
        self.assertNotIn("H", attrs)

    def test_names_and_links(self):
        self.assertEqual(self.attributes_and_size("dir\\deep\\MixedCase.TXT")[1], 5)
        # Another spelling: the short way misses, the usual way finds the file.
        self.assertEqual(self.attributes_and_size("DIR\\Deep\\mixedcase.txt")[1], 5)
        self.assertEqual(self.attributes_and_size("innerlink")[1], 5)
        self.assertEqual(self.open_attrs("missing.txt").status, c.STATUS_OBJECT_NAME_NOT_FOUND)
        self.assertEqual(self.open_attrs("nodir\\missing.txt").status,
                         c.STATUS_OBJECT_PATH_NOT_FOUND)
        st = self.open_attrs("passwdlink").status
        self.assertIn(st, (c.STATUS_ACCESS_DENIED, c.STATUS_OBJECT_NAME_NOT_FOUND,
                           c.STATUS_OBJECT_PATH_NOT_FOUND), c.status_name(st))

    @xsmbd_only
    def test_attributes_changed_on_disk_are_seen(self):
        """After the server cached a file's (and the root's) DOS record, a change made on disk
        by another process shows in the next open."""
        path = self.share.path / "attrs.txt"
        os.setxattr(path, DOS_XATTR, dos_record(ATTR_HIDDEN))
        os.setxattr(self.share.path, DOS_XATTR, dos_record(ATTR_HIDDEN | ATTR_DIRECTORY))
        time.sleep(SETTLE_SECONDS)  # old enough to be cached
        for _ in range(3):  # read and cached, then answered from the record
            self.assertEqual(self.attributes_and_size("attrs.txt")[0], ATTR_HIDDEN)
            self.assertEqual(self.attributes_and_size("")[0], ATTR_HIDDEN | ATTR_DIRECTORY)
        os.setxattr(path, DOS_XATTR, dos_record(ATTR_SYSTEM | ATTR_ARCHIVE))
        os.setxattr(self.share.path, DOS_XATTR, dos_record(ATTR_SYSTEM | ATTR_DIRECTORY))
        self.assertEqual(self.attributes_and_size("attrs.txt")[0], ATTR_SYSTEM | ATTR_ARCHIVE)
        self.assertEqual(self.attributes_and_size("")[0], ATTR_SYSTEM | ATTR_DIRECTORY)
        # And again once the change has settled and been cached in turn.
        time.sleep(SETTLE_SECONDS)
        for _ in range(2):
            self.assertEqual(self.attributes_and_size("attrs.txt")[0], ATTR_SYSTEM | ATTR_ARCHIVE)
        os.removexattr(path, DOS_XATTR)
        self.assertEqual(self.attributes_and_size("attrs.txt")[0], ATTR_ARCHIVE)


if __name__ == "__main__":
    harness.main()
