#!/usr/bin/env python3
"""NT ACLs a share brings from Samba: files whose security.NTACL xattr holds an xattr_NTACL in
the layout Samba's vfs_acl_xattr writes (version 4 as Samba 4.17 writes by default, version 1 as
samba-tool's ntvfs mode writes) are opened with the rights their DACL grants and no more, and a
file created in a directory that has one inherits from it. The blobs are built here from
librpc/idl/xattr.idl, the same layout the unit tests check with Samba's ndrdump --validate.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_ntacl.py
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402

USER = "acluser"
PASSWORD = "Acl-Pass-123"
UNC = r"\\127.0.0.1\share"

FILE_READ_DATA, FILE_WRITE_DATA, READ_CONTROL = 0x1, 0x2, 0x20000
FILE_GENERIC_READ, FILE_ALL_ACCESS = 0x00120089, 0x001F01FF
OBJECT_INHERIT = 0x01
# Root may write the trusted namespace Samba uses; another account's xsmbd keeps user.NTACL.
XATTR = "security.NTACL" if os.geteuid() == 0 else "user.NTACL"


def sid(authority, *subs):
    return bytes([1, len(subs)]) + authority.to_bytes(6, "big") + b"".join(
        struct.pack("<I", s) for s in subs)


def ace(mask, trustee, flags=0, ace_type=0):
    body = struct.pack("<I", mask) + trustee
    return struct.pack("<BBH", ace_type, flags, 4 + len(body)) + body


def descriptor(base, owner, group, aces):
    """A self-relative descriptor placed at `base` in its blob (Samba's NDR counts the offsets
    from the blob's start)."""
    dacl = b"".join(aces)
    dacl = struct.pack("<BBHHH", 2, 0, 8 + len(dacl), len(aces), 0) + dacl
    o = base + 20
    g = o + len(owner)
    d = g + len(group)
    return struct.pack("<BBHIIII", 1, 0, 0x8004, o, g, 0, d) + owner + group + dacl


def ntacl_v4(owner, group, aces):
    head = struct.pack("<HHIIH", 4, 4, 0x20000, 0x20004, 1) + b"\x00" * 64 + b"posix_acl\x00"
    head += b"\x00" * (-len(head) % 4)
    head += struct.pack("<II", 0, 0) + b"\x00" * 64
    return head + descriptor(len(head), owner, group, aces)


def ntacl_v1(owner, group, aces):
    return struct.pack("<HHI", 1, 1, 0x20000) + descriptor(8, owner, group, aces)


UID, GID = os.getuid(), os.getgid()
OWNER = sid(22, 1, UID)  # S-1-22-1-uid: the test user's Unix account is the one running this
GROUP = sid(22, 2, GID)
EVERYONE = sid(1, 0)
CREATOR_OWNER = sid(3, 0)


class NtAclTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        share = server.add_share("share", {"read only": "no"})
        p = share.path
        for name in ("read_only_v4.txt", "read_only_v1.txt", "plain.txt"):
            (p / name).write_text("data\n")
        os.setxattr(p / "read_only_v4.txt", XATTR,
                    ntacl_v4(OWNER, GROUP, [ace(FILE_GENERIC_READ, OWNER)]))
        os.setxattr(p / "read_only_v1.txt", XATTR,
                    ntacl_v1(OWNER, GROUP, [ace(FILE_GENERIC_READ, EVERYONE)]))
        # A symlink inside the share is its target, descriptor included (the check lists the
        # xattrs by path, following the link as the open does).
        os.symlink("read_only_v4.txt", p / "link_to_read_only")
        (p / "inherits").mkdir()
        os.setxattr(p / "inherits", XATTR, ntacl_v4(OWNER, GROUP, [
            ace(FILE_ALL_ACCESS, OWNER),
            ace(FILE_GENERIC_READ, CREATOR_OWNER, flags=OBJECT_INHERIT)]))
        server.add_user(USER, PASSWORD)
        cls.share = share

    def raw(self):
        cl = c.Smb2Client(self.server.port)
        self.addCleanup(cl.close)
        self.assertEqual(cl.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(cl.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertEqual(cl.tree_connect(UNC).status, c.STATUS_SUCCESS)
        return cl

    def open_status(self, cl, name, access, disposition=1):
        r = cl.create(name, desired_access=access, create_disposition=disposition)
        if r.status == c.STATUS_SUCCESS:
            cl.close_file(r.file_id)
        return r.status

    def test_samba_v4_blob_grants_read_only(self):
        cl = self.raw()
        self.assertEqual(self.open_status(cl, "read_only_v4.txt", FILE_READ_DATA),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.open_status(cl, "read_only_v4.txt", FILE_WRITE_DATA),
                         c.STATUS_ACCESS_DENIED)
        # The owner may always read the descriptor (and rewrite it).
        self.assertEqual(self.open_status(cl, "read_only_v4.txt", READ_CONTROL),
                         c.STATUS_SUCCESS)

    def test_symlink_to_file_with_ntacl_is_checked_against_the_target(self):
        cl = self.raw()
        self.assertEqual(self.open_status(cl, "link_to_read_only", FILE_READ_DATA),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.open_status(cl, "link_to_read_only", FILE_WRITE_DATA),
                         c.STATUS_ACCESS_DENIED)

    def test_samba_v1_blob_grants_everyone_read_only(self):
        cl = self.raw()
        self.assertEqual(self.open_status(cl, "read_only_v1.txt", FILE_READ_DATA),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.open_status(cl, "read_only_v1.txt", FILE_WRITE_DATA),
                         c.STATUS_ACCESS_DENIED)

    def test_file_without_ntacl_keeps_unix_rights(self):
        cl = self.raw()
        self.assertEqual(self.open_status(cl, "plain.txt", FILE_WRITE_DATA), c.STATUS_SUCCESS)
        self.assertRaises(OSError, os.getxattr, self.share.path / "plain.txt", XATTR)

    def test_new_file_inherits_creator_owner_ace(self):
        cl = self.raw()
        # FILE_CREATE: the creator gets what it asked for, whatever the inherited DACL says.
        self.assertEqual(self.open_status(cl, "inherits\\new.txt", FILE_WRITE_DATA, 2),
                         c.STATUS_SUCCESS)
        blob = os.getxattr(self.share.path / "inherits" / "new.txt", XATTR)
        self.assertEqual(blob[:4], b"\x04\x00\x04\x00", blob.hex())  # xattr_NTACL version 4
        # The CREATOR OWNER ACE became one for the owner, generic rights mapped, no flags.
        self.assertIn(ace(FILE_GENERIC_READ, OWNER), blob)
        self.assertNotIn(CREATOR_OWNER, blob)
        # ... and it is enforced on the next open.
        self.assertEqual(self.open_status(cl, "inherits\\new.txt", FILE_READ_DATA),
                         c.STATUS_SUCCESS)
        self.assertEqual(self.open_status(cl, "inherits\\new.txt", FILE_WRITE_DATA),
                         c.STATUS_ACCESS_DENIED)


if __name__ == "__main__":
    unittest.main()
