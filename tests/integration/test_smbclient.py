#!/usr/bin/env python3
"""xsmbd driven by Samba's smbclient: file operations for every SMB2/SMB3 dialect, as a user
and as guest, unsigned and signed; authentication, authorization, read-only shares, mandatory
signing and --check-config diagnostics.

Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_smbclient.py [-k PATTERN]
(ctest -L integration does this with the built binaries.)
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402

USER = "xsmbtest"
PASSWORD = "Corr3ct-horse"
OTHER = "xsmbother"
OTHER_PASSWORD = "Batt3ry-staple"
BIG = 64 << 20


def assert_clean(test, rc, out, what):
    test.assertEqual(rc, 0, f"{what}: smbclient rc={rc}\n{out}")
    test.assertNotIn("NT_STATUS_", out, f"{what}: smbclient reported an error\n{out}")


class FileOperationsTest(harness.ServerTestCase):
    """One server; each (dialect, identity, protection) works in a directory of its own."""

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"guest ok": "yes", "read only": "no",
                                               "create mask": "0666",
                                               "directory mask": "0777"})
        server.add_user(USER, PASSWORD)

    @classmethod
    def setUpClass(cls):
        cls.src, cls.src_sha = harness.random_file(BIG)
        cls.scratch = harness.make_temp_dir("xsmbd-get-")
        super().setUpClass()

    def client(self, commands, dialect, guest, protection):
        if guest:
            return self.server.smbclient("share", commands, guest=True, dialect=dialect,
                                         protection=protection)
        return self.server.smbclient("share", commands, user=USER, password=PASSWORD,
                                     dialect=dialect, protection=protection)

    def run_file_operations(self, dialect, guest, protection):
        tag = f"t_{dialect}_{'guest' if guest else 'user'}_{protection or 'default'}"
        d = self.share.path / tag

        def c(cmds, what):
            rc, out = self.client(cmds, dialect, guest, protection)
            assert_clean(self, rc, out, f"{tag}: {what}")
            return out

        out = c("ls", "ls of the share root")
        self.assertRegex(out, r"blocks of size \d+\. \d+ blocks available",
                         "ls prints the volume summary (FileFsFullSizeInformation)")

        c(f"mkdir {tag}", "mkdir")
        self.assertTrue(d.is_dir(), f"{d} not created on disk")

        c(f"cd {tag}; put {self.src} big.bin", "put 64 MiB")
        self.assertEqual((d / "big.bin").stat().st_size, BIG)
        self.assertEqual(harness.sha256_file(d / "big.bin"), self.src_sha,
                         "uploaded file differs from the source")

        out = c(f"cd {tag}; ls", "ls of the new directory")
        self.assertRegex(out, rf"\n\s+big\.bin\s+[A-Z]*\s+{BIG}\s", f"ls lists big.bin:\n{out}")

        out = c(f"cd {tag}; allinfo big.bin", "allinfo")
        for field in ("create_time:", "access_time:", "write_time:", "change_time:"):
            self.assertRegex(out, rf"{field}\s+\w{{3}} \w{{3}} +\d+ \d\d:\d\d:\d\d \d{{4}}",
                             f"allinfo has a parsable {field}\n{out}")
        m = re.search(r"attributes: (\S*) \(([0-9a-f]+)\)", out)
        self.assertIsNotNone(m, f"allinfo shows attributes\n{out}")
        self.assertEqual(int(m.group(2), 16) & 0x10, 0, "a file must not be a directory")
        self.assertIn(f"stream: [::$DATA], {BIG} bytes", out)

        local = self.scratch / f"{tag}.bin"
        c(f"cd {tag}; get big.bin {local}", "get 64 MiB")
        self.assertEqual(local.stat().st_size, BIG)
        self.assertEqual(harness.sha256_file(local), self.src_sha,
                         "downloaded file differs from the source")
        local.unlink()

        c(f"cd {tag}; rename big.bin moved.bin", "rename")
        self.assertFalse((d / "big.bin").exists())
        self.assertEqual((d / "moved.bin").stat().st_size, BIG)

        c(f"cd {tag}; mkdir sub; rmdir sub", "mkdir+rmdir of a subdirectory")
        self.assertFalse((d / "sub").exists())

        c(f"cd {tag}; del moved.bin", "del")
        self.assertFalse((d / "moved.bin").exists())

        c(f"rmdir {tag}", "rmdir")
        self.assertFalse(d.exists())

        out = c("ls", "ls after cleanup")
        self.assertNotIn(tag, out)
        self.assertServerAlive()

    def test_unknown_user_maps_to_guest(self):
        # map to guest = Bad User: a name that is not in the user database becomes guest.
        rc, out = self.server.smbclient("share", "ls", user="nosuchuser", password="x")
        assert_clean(self, rc, out, "unknown user as guest")


def _add_matrix():
    for dialect in harness.DIALECTS:
        for guest, protection in ((False, None), (True, None), (False, "sign")):
            name = (f"test_{dialect}_{'guest' if guest else 'user'}"
                    f"{'_signed' if protection else ''}")

            def t(self, dialect=dialect, guest=guest, protection=protection):
                self.run_file_operations(dialect, guest, protection)
            t.__name__ = name
            setattr(FileOperationsTest, name, t)


_add_matrix()


class AccessControlTest(harness.ServerTestCase):
    """Authentication failures, valid users, read-only shares."""

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        cls.restricted = server.add_share("restricted", {"read only": "no",
                                                         "valid users": USER})
        cls.readonly = server.add_share("ro", {"read only": "yes", "guest ok": "yes"})
        (cls.readonly.path / "existing.txt").write_text("hello\n")
        server.add_user(USER, PASSWORD)
        server.add_user(OTHER, OTHER_PASSWORD)

    def test_wrong_password_is_logon_failure(self):
        for dialect in ("SMB2_10", "SMB3_11"):
            rc, out = self.server.smbclient("share", "ls", user=USER, password="wrong",
                                            dialect=dialect)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("NT_STATUS_LOGON_FAILURE", out)

    def test_valid_users_admits_listed_user(self):
        rc, out = self.server.smbclient("restricted", "ls", user=USER, password=PASSWORD)
        assert_clean(self, rc, out, "listed user on restricted share")

    def test_user_not_in_valid_users_is_denied_at_tree_connect(self):
        # The session itself must succeed (same user works on another share) ...
        rc, out = self.server.smbclient("share", "ls", user=OTHER, password=OTHER_PASSWORD)
        assert_clean(self, rc, out, "other user on an open share")
        # ... and the tree connect is what fails.
        rc, out = self.server.smbclient("restricted", "ls", user=OTHER,
                                        password=OTHER_PASSWORD)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("NT_STATUS_ACCESS_DENIED", out)
        self.assertRegex(out, r"tree ?connect", out)

    def test_put_to_read_only_share_fails_and_leaves_no_file(self):
        src, _ = harness.random_file(BIG)
        for guest in (False, True):
            kw = {"guest": True} if guest else {"user": USER, "password": PASSWORD}
            rc, out = self.server.smbclient("ro", "ls", **kw)
            assert_clean(self, rc, out, "ls on the read-only share")
            self.assertIn("existing.txt", out)
            rc, out = self.server.smbclient("ro", f"put {src} new.bin", **kw)
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)")
            self.assertFalse((self.readonly.path / "new.bin").exists(),
                             "a failed put left a file behind")
            rc, out = self.server.smbclient("ro", "mkdir newdir", **kw)
            self.assertRegex(out, r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)")
            self.assertFalse((self.readonly.path / "newdir").exists())
            rc, out = self.server.smbclient("ro", "del existing.txt", **kw)
            self.assertRegex(out, r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)")
            self.assertEqual((self.readonly.path / "existing.txt").read_text(), "hello\n")


class MandatorySigningTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"server signing": "mandatory"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def test_negotiate_response_requires_signing(self):
        for dialect in harness.DIALECTS:
            with smb2raw.Connection(self.server.port) as conn:
                r = conn.negotiate(dialects=[dialect])
                self.assertEqual(r.status, smb2raw.STATUS_SUCCESS, dialect)
                security_mode, revision = r.negotiate()
                self.assertEqual(revision, smb2raw.DIALECT_IDS[dialect])
                self.assertTrue(security_mode & smb2raw.SIGNING_REQUIRED,
                                f"{dialect}: SecurityMode {security_mode:#x} lacks "
                                "SIGNING_REQUIRED")

    def test_signing_client_is_served(self):
        for dialect in ("SMB2_02", "SMB3_11"):
            rc, out = self.server.smbclient("share", "ls", user=USER, password=PASSWORD,
                                            dialect=dialect, protection="sign")
            assert_clean(self, rc, out, f"signed client, {dialect}")

    def test_client_without_signing_fails_or_signs(self):
        # smbclient with --client-protection=off either refuses a server that requires
        # signing or signs anyway (the server's SIGNING_REQUIRED wins); an unsigned session
        # that the server then serves would show up as rc 0 without any signing, which the
        # raw negotiate test above rules out at the protocol level.
        rc, out = self.server.smbclient("share", "ls", user=USER, password=PASSWORD,
                                        protection="off")
        if rc != 0:
            self.assertIn("NT_STATUS_", out)
        else:
            self.assertNotIn("NT_STATUS_", out)
        self.assertServerAlive()


class DefaultSigningTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})

    def test_negotiate_response_signing_enabled_not_required(self):
        with smb2raw.Connection(self.server.port) as conn:
            r = conn.negotiate(dialects=["SMB2_10"])
            self.assertEqual(r.status, smb2raw.STATUS_SUCCESS)
            security_mode, revision = r.negotiate()
            self.assertEqual(revision, 0x0210)
            self.assertTrue(security_mode & smb2raw.SIGNING_ENABLED)
            self.assertFalse(security_mode & smb2raw.SIGNING_REQUIRED)


@unittest.skipIf(harness.backend() != "xsmbd", "--check-config is an xsmbd feature")
class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.xsmbd = harness.find_binary("XSMBD", "xsmbd")
        if not self.xsmbd:
            self.skipTest("xsmbd not built")
        self.dir = harness.make_temp_dir("xsmbd-conf-")
        self.share = self.dir / "share"
        self.share.mkdir()

    def check(self, text):
        conf = self.dir / "smb.conf"
        conf.write_text(text)
        return harness.run([self.xsmbd, "--check-config", "--config", str(conf)], timeout=30)

    def test_valid_config_exits_zero(self):
        rc, out = self.check(
            "[global]\n"
            "  smb ports = 4455\n"
            "  interfaces = 127.0.0.1\n"
            "  server signing = auto\n"
            "[data]\n"
            f"  path = {self.share}\n"
            "  read only = no\n")
        self.assertEqual(rc, 0, out)
        self.assertIn("data", out, "the effective configuration lists the share")
        self.assertIn(str(self.share), out)

    def test_unknown_parameter_and_missing_path_reported_with_lines(self):
        missing = self.dir / "does-not-exist"
        text = ("[global]\n"                             # line 1
                "  smb ports = 4455\n"                   # line 2
                "  frobnicate level = 11\n"              # line 3: unknown parameter
                "[good]\n"                               # line 4
                f"  path = {self.share}\n"               # line 5
                "\n"                                     # line 6
                "[broken]\n"                             # line 7
                "  read only = yes\n"                    # line 8
                f"  path = {missing}\n")                 # line 9: path does not exist
        rc, out = self.check(text)
        self.assertEqual(rc, 1, out)
        lines = out.splitlines()
        unknown = [l for l in lines if "frobnicate" in l]
        self.assertTrue(any(re.search(r"\bline 3\b", l) for l in unknown),
                        f"unknown parameter not reported at line 3:\n{out}")
        bad_path = [l for l in lines if str(missing) in l or "broken" in l]
        self.assertTrue(any(re.search(r"\bline (7|9)\b", l) for l in bad_path),
                        f"missing path not reported at line 9 (or the share at 7):\n{out}")
        self.assertFalse(any(re.search(r"\bline [1245]\b", l) for l in lines),
                         f"a valid line was reported as a problem:\n{out}")


if __name__ == "__main__":
    harness.main()
