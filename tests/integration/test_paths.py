#!/usr/bin/env python3
"""Path resolution at the share boundary: symlinks made by the test inside the share (to /etc,
a relative "../../..", an absolute link to a file of the share, a directory link inside the
share), client paths with "..", and case-insensitive lookup. Driven by smbclient and by the raw
client of smb2client.py (which sends names exactly as given, where smbclient normalizes).

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_paths.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402

USER = "pathuser"
PASSWORD = "P4th-walker"
UNC = r"\\127.0.0.1\share"

SECRET = "outside-the-share secret\n"
# Statuses that count as "the escape was refused" (MS-ERREF names as smbclient prints them).
REFUSALS = ("NT_STATUS_ACCESS_DENIED", "NT_STATUS_OBJECT_PATH_NOT_FOUND",
            "NT_STATUS_OBJECT_NAME_NOT_FOUND", "NT_STATUS_OBJECT_NAME_INVALID",
            "NT_STATUS_OBJECT_PATH_SYNTAX_BAD", "NT_STATUS_NOT_A_DIRECTORY")

xsmbd_only = unittest.skipIf(harness.backend() != "xsmbd", "xsmbd's documented policy")


def _etc_passwd_head():
    with open("/etc/passwd") as f:
        return f.readline().strip()


class PathsTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        share = server.add_share("share", {"read only": "no"})
        p = share.path
        # A file just outside the share; "up3" -> ../../.. reaches it as up3\<root>\secret.txt
        # (share = ROOT/shares/share, so ../../.. is ROOT's parent).
        (server.root / "secret.txt").write_text(SECRET)
        cls.up3_secret = "up3\\" + server.root.name + "\\secret.txt"
        (p / "subdir").mkdir()
        (p / "subdir" / "inside.txt").write_text("inside\n")
        (p / "target.txt").write_text("target\n")
        (p / "MixedCase.TXT").write_text("mixed case\n")
        os.symlink("/etc", p / "etclink")
        os.symlink("/etc/passwd", p / "passwdlink")
        os.symlink("../../..", p / "up3")
        os.symlink(str(p / "target.txt"), p / "abslink")
        os.symlink("subdir", p / "dirlink")
        server.add_user(USER, PASSWORD)
        cls.share = share

    def setUp(self):
        self.out = harness.make_temp_dir("xsmbd-paths-")

    def smb(self, commands):
        return self.server.smbclient("share", commands, user=USER, password=PASSWORD,
                                     cwd=self.out, timeout=30)

    def raw(self):
        cl = c.Smb2Client(self.server.port)
        self.addCleanup(cl.close)
        self.assertEqual(cl.negotiate().status, c.STATUS_SUCCESS)
        self.assertEqual(cl.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        r = cl.tree_connect(UNC)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        return cl

    def assert_get_refused(self, remote):
        local = self.out / "got.bin"
        rc, out = self.smb(f'get "{remote}" got.bin')
        what = f"smbclient get {remote}"
        self.assertNotEqual(rc, 0, f"{what} succeeded:\n{out}")
        self.assertTrue(any(s in out for s in REFUSALS), f"{what}: unexpected error\n{out}")
        if local.exists():
            self.assertEqual(local.stat().st_size, 0,
                             f"{what} wrote {local.read_bytes()[:80]!r}")
        self.assertNotIn(_etc_passwd_head(), out)
        self.assertNotIn(SECRET.strip(), out)

    # --- links that leave the share ------------------------------------------------------

    def test_get_through_link_to_etc_refused(self):
        self.assert_get_refused("etclink\\passwd")
        self.assert_get_refused("etclink\\hostname")

    def test_get_file_link_to_etc_passwd_refused(self):
        self.assert_get_refused("passwdlink")

    def test_get_through_relative_dotdot_link_refused(self):
        self.assertTrue((self.server.root / "secret.txt").is_file())
        self.assert_get_refused(self.up3_secret)

    def test_listing_through_escaping_links_shows_nothing_outside(self):
        for link, outside_name in (("etclink", "passwd"), ("up3", self.server.root.name)):
            rc, out = self.smb(f"ls {link}\\*")
            self.assertNotEqual(rc, 0, f"ls {link}\\* listed something:\n{out}")
            self.assertTrue(any(s in out for s in REFUSALS), out)
            self.assertNotIn(outside_name, out.replace(f"\\{link}\\*", ""),
                             f"ls {link}\\* shows an entry from outside the share:\n{out}")

    def test_raw_create_through_escaping_links_refused(self):
        cl = self.raw()
        for name in ("etclink\\passwd", "passwdlink", self.up3_secret, "etclink", "up3"):
            status, data = cl.read_file(name)
            self.assertNotEqual(status, c.STATUS_SUCCESS,
                                f"raw CREATE+READ {name!r} returned {data!r}")
            self.assertEqual(status >> 30, 3, f"{name!r}: {c.status_name(status)} is no error")

    def test_absolute_link_to_file_inside_share(self):
        # Whatever the policy, the link never yields anything but its target's bytes.
        local = self.out / "abs.txt"
        rc, out = self.smb("get abslink abs.txt")
        if rc == 0:
            self.assertEqual(local.read_text(), "target\n", out)
        else:
            self.assertTrue(any(s in out for s in REFUSALS), out)

    @xsmbd_only
    def test_absolute_link_refused_by_xsmbd(self):
        # server/vfs/path.h: openat2 RESOLVE_BENEATH refuses every absolute link, even one that
        # points back into the share -> STATUS_ACCESS_DENIED.
        rc, out = self.smb("get abslink abs.txt")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("NT_STATUS_ACCESS_DENIED", out)
        status, _ = self.raw().read_file("abslink")
        self.assertEqual(status, c.STATUS_ACCESS_DENIED, c.status_name(status))

    # --- a directory link inside the share -------------------------------------------------

    def test_get_through_inside_directory_link(self):
        rc, out = self.smb("get dirlink\\inside.txt in.txt")
        self.assertEqual(rc, 0, out)
        self.assertEqual((self.out / "in.txt").read_text(), "inside\n")
        status, data = self.raw().read_file("dirlink\\inside.txt")
        self.assertEqual((status, data), (c.STATUS_SUCCESS, b"inside\n"), c.status_name(status))

    def test_list_inside_directory_link(self):
        rc, out = self.smb("ls dirlink\\*")
        self.assertEqual(rc, 0, f"ls dirlink\\* (dirlink -> subdir, inside the share):\n{out}")
        self.assertIn("inside.txt", out)
        rc, out = self.smb("cd dirlink; get inside.txt in2.txt")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)
        self.assertEqual((self.out / "in2.txt").read_text(), "inside\n")

    def test_raw_open_inside_directory_link_as_directory(self):
        cl = self.raw()
        # FILE_DIRECTORY_FILE on a link to a directory of the share opens that directory.
        r = cl.create("dirlink", desired_access=0x00100081, create_options=0x00000001)
        self.assertEqual(r.status, c.STATUS_SUCCESS,
                         f"CREATE 'dirlink' FILE_DIRECTORY_FILE: {c.status_name(r.status)}")
        cl.close_file(r.file_id)
        # FILE_NON_DIRECTORY_FILE on it must fail: it is a directory (MS-SMB2 3.3.5.9).
        r = cl.create("dirlink", desired_access=0x00120089, create_options=0x00000040)
        self.assertEqual(r.status, 0xC00000BA,  # STATUS_FILE_IS_A_DIRECTORY
                         f"CREATE 'dirlink' FILE_NON_DIRECTORY_FILE: {c.status_name(r.status)}")

    # --- ".." in client paths ----------------------------------------------------------------

    def test_smbclient_dotdot_path_refused(self):
        # smbclient may fold the ".." itself; whatever reaches the server must not escape.
        self.assert_get_refused("..\\..\\etc\\passwd")
        self.assert_get_refused("subdir\\..\\..\\..\\..\\etc\\passwd")

    def test_raw_create_dotdot_refused(self):
        cl = self.raw()
        for name in ("..\\..\\etc\\passwd", "..", "subdir\\..\\..\\secret.txt",
                     "subdir\\..\\..\\..\\" + self.server.root.name + "\\secret.txt"):
            r = cl.create(name)
            self.assertNotEqual(r.status, c.STATUS_SUCCESS, f"raw CREATE {name!r} succeeded")
            self.assertEqual(r.status >> 30, 3, f"{name!r}: {c.status_name(r.status)}")
            if harness.backend() == "xsmbd":
                self.assertEqual(r.status, c.STATUS_OBJECT_PATH_SYNTAX_BAD,
                                 f"raw CREATE {name!r}: {c.status_name(r.status)}")
        # The connection is still usable after the refusals.
        self.assertEqual(cl.read_file("target.txt"), (c.STATUS_SUCCESS, b"target\n"))

    # --- case-insensitive lookup -------------------------------------------------------------

    def test_case_insensitive_get(self):
        rc, out = self.smb("get mixedcase.txt mc.txt")
        self.assertEqual(rc, 0, out)
        self.assertEqual((self.out / "mc.txt").read_text(), "mixed case\n")
        rc, out = self.smb("get SUBDIR\\INSIDE.txt up.txt")
        self.assertEqual(rc, 0, out)
        self.assertEqual((self.out / "up.txt").read_text(), "inside\n")

    def test_case_insensitive_raw_create(self):
        cl = self.raw()
        for name in ("mixedcase.txt", "MIXEDCASE.TXT", "Subdir\\Inside.Txt"):
            status, data = cl.read_file(name)
            self.assertEqual(status, c.STATUS_SUCCESS, f"{name!r}: {c.status_name(status)}")
            self.assertIn(data, (b"mixed case\n", b"inside\n"), name)
        status, _ = cl.read_file("mixedcase.txx")
        self.assertEqual(status, c.STATUS_OBJECT_NAME_NOT_FOUND, c.status_name(status))


if __name__ == "__main__":
    harness.main()
