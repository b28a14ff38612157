#!/usr/bin/env python3
"""xsmbd with Kerberos: smbclient --use-kerberos=required against a throw-away MIT KDC.

Refused: a user with a ticket but no database entry, a ticket for another service
(cifs/otherhost, not in the keytab) and an expired ticket (the server run a day ahead with
libfaketime, package libfaketime; skipped without it).

krb5_harness.Kdc sets up the realm TEST.XSMB on 127.0.0.1 (service principal cifs/localhost,
users alice and mallory) and a keytab; xsmbd gets `kerberos keytab file` and `realm`, and its
user database holds alice only. smbclient refuses Kerberos towards "localhost" or an IP address,
so it names the server krb5_harness.SMB_HOST (cifs/xsmbd.test.xsmb is in the keytab) and
connects to 127.0.0.1 with -I.

Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_kerberos.py [-k PATTERN]
Needs krb5-kdc, krb5-admin-server and krb5-user (tools/install-deps.sh).
"""

import filecmp
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import krb5_harness  # noqa: E402

REALM = krb5_harness.REALM
# The database password is never used: Kerberos proves alice's identity.
DB_PASSWORD = "Unused-by-kerberos-1"


def setUpModule():
    if not krb5_harness.available():
        raise unittest.SkipTest("MIT KDC not installed (tools/install-deps.sh installs krb5-kdc "
                                "krb5-admin-server krb5-user)")
    if not shutil.which("smbclient"):
        raise unittest.SkipTest("smbclient not installed")


class KerberosTest(harness.ServerTestCase):
    kdc = None

    @classmethod
    def setUpClass(cls):
        # The KDC first: the server's configuration names its keytab.
        cls.kdc = krb5_harness.Kdc(harness.make_temp_dir("xsmbd-krb5-"))
        cls.addClassCleanup(cls.kdc.stop)
        # A standalone smbd (harness validation) refuses tickets with a PAC; xsmbd gets one.
        cls.kdc.setup(pac=harness.backend() == "xsmbd")
        cls.kdc.start()
        cls.alice_ccache = cls.kdc.kinit(krb5_harness.ALICE, krb5_harness.ALICE_PASSWORD)
        cls.mallory_ccache = cls.kdc.kinit(krb5_harness.MALLORY, krb5_harness.MALLORY_PASSWORD)
        if harness.backend() == "xsmbd":
            cls.GLOBAL_OPTIONS = {"kerberos keytab file": str(cls.kdc.keytab), "realm": REALM}
        else:
            # Harness validation against smbd: its spelling of the same configuration.
            cls.GLOBAL_OPTIONS = {"kerberos method": "dedicated keytab",
                                  "dedicated keytab file": f"FILE:{cls.kdc.keytab}",
                                  "realm": REALM}
            os.environ["KRB5_CONFIG"] = str(cls.kdc.krb5_conf)  # smbd's realm mapping
        cls.scratch = harness.make_temp_dir("xsmbd-krb5-data-")
        super().setUpClass()

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no", "create mask": "0666",
                                               "directory mask": "0777"})
        server.add_user(krb5_harness.ALICE, DB_PASSWORD)

    def smbclient_krb5(self, user, ccache, commands, extra=(), cwd=None, timeout=120,
                       host=krb5_harness.SMB_HOST, server=None):
        """smbclient //HOST/share -I 127.0.0.1, Kerberos only, `user`'s ccache -> (rc, output).

        smbclient asks the KDC for a ticket to cifs/HOST; `server` defaults to the class's.
        xsmbd needs only the keytab (the host's krb5.conf, if any, is fine for accepting).
        """
        server = server or self.server
        cmd = ["smbclient", f"//{host}/{self.share.name}", "-I", "127.0.0.1",
               "-p", str(server.port),
               "-s", str(server.client_conf), "--use-kerberos=required",
               f"--use-krb5-ccache=FILE:{ccache}", "-U", f"{user}@{REALM}"]
        cmd += list(extra) + ["-c", commands]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=self.kdc.client_env(ccache),
                               cwd=cwd or self.scratch, timeout=timeout, text=True,
                               errors="replace")
            return r.returncode, r.stdout
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else ""
            return -9, f"{out}\n[timed out after {timeout}s: {' '.join(cmd)}]"

    def alice(self, commands, extra=()):
        return self.smbclient_krb5(krb5_harness.ALICE, self.alice_ccache, commands, extra)

    def assertClean(self, rc, out, what):
        self.assertEqual(rc, 0, f"{what}: smbclient rc={rc}\n{out}\n"
                                f"KDC log:\n{self.kdc.logs()}")
        self.assertNotIn("NT_STATUS_", out, f"{what}: smbclient reported an error\n{out}")

    def test_ls_put_get(self):
        local = self.scratch / "upload.bin"
        payload = os.urandom(100_000) + b"kerberos"
        local.write_bytes(payload)
        back = self.scratch / "download.bin"
        rc, out = self.alice(f"put {local.name} krb5.bin; ls; get krb5.bin {back.name}")
        self.assertClean(rc, out, "put/ls/get")
        self.assertIn("krb5.bin", out)
        self.assertEqual((self.share.path / "krb5.bin").read_bytes(), payload)
        self.assertTrue(filecmp.cmp(local, back, shallow=False))
        self.assertServerAlive()

    def test_session_key_signs_and_seals(self):
        # Signing and encryption keys derive from the Kerberos session key (MS-SMB2 3.3.5.5.3):
        # a wrong key fails verification on the first signed or encrypted reply.
        for dialect, protection in (("SMB2_10", "sign"), ("SMB3_00", "encrypt"),
                                    ("SMB3_11", "sign"), ("SMB3_11", "encrypt")):
            with self.subTest(dialect=dialect, protection=protection):
                rc, out = self.alice("ls", extra=["-m", dialect,
                                                  f"--option=client min protocol={dialect}",
                                                  f"--client-protection={protection}"])
                self.assertClean(rc, out, f"{dialect} {protection}")
        self.assertServerAlive()

    def test_user_with_ticket_but_not_in_database_is_refused(self):
        rc, out = self.smbclient_krb5(krb5_harness.MALLORY, self.mallory_ccache, "ls")
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"NT_STATUS_(LOGON_FAILURE|ACCESS_DENIED)")
        # The refusal came from the server: mallory did get a ticket for cifs/localhost.
        klist = krb5_harness.find_tool("klist")
        if klist:
            r = subprocess.run([klist, "-c", f"FILE:{self.mallory_ccache}"],
                               capture_output=True, text=True,
                               env=self.kdc.client_env(self.mallory_ccache))
            self.assertIn(f"{krb5_harness.SMB_SERVICE}@{REALM}", r.stdout, r.stdout + r.stderr)
        self.assertServerAlive()

    def klist(self, ccache):
        klist = krb5_harness.find_tool("klist")
        if not klist:
            self.skipTest("klist not installed")
        r = subprocess.run([klist, "-c", f"FILE:{ccache}"], capture_output=True, text=True,
                           env=self.kdc.client_env(ccache))
        return r.stdout + r.stderr

    def fresh_alice_ccache(self, name):
        return self.kdc.kinit(krb5_harness.ALICE, krb5_harness.ALICE_PASSWORD,
                              ccache=self.scratch / name)

    def test_ticket_for_another_service_is_refused(self):
        # Naming the server "otherhost" makes smbclient ask for, and present, a ticket for
        # cifs/otherhost, a principal the KDC knows but whose key is not in the server's keytab.
        ccache = self.fresh_alice_ccache("alice-other.ccache")
        log_before = len(self.server.log(tail=10**9))
        rc, out = self.smbclient_krb5(krb5_harness.ALICE, ccache, "ls",
                                      host=krb5_harness.FOREIGN_SERVICE.split("/", 1)[1])
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"NT_STATUS_(LOGON_FAILURE|ACCESS_DENIED|INVALID_PARAMETER)")
        # The refusal came from the server: the client did get (and so sent) that ticket, and
        # no session was set up.
        self.assertIn(f"{krb5_harness.FOREIGN_SERVICE}@{REALM}", self.klist(ccache))
        if harness.backend() == "xsmbd":
            log = self.server.log(tail=10**9)[log_before:]
            self.assertIn("Kerberos AP-REQ rejected", log)
            # MIT's reason, passed on in the log line.
            self.assertIn(f"{krb5_harness.FOREIGN_SERVICE}@{REALM} not found in keytab", log)
            self.assertNotRegex(log, r": session \d+ for ")
        # The same user and ccache log on fine to the right service name.
        rc, out = self.smbclient_krb5(krb5_harness.ALICE, ccache, "ls")
        self.assertClean(rc, out, "right service after the foreign one")
        self.assertServerAlive()

    def test_expired_ticket_is_refused(self):
        # MIT clients never send a ticket that has expired by their own clock, and an acceptor
        # with the same clock allows clockskew (5 minutes) past its end. So the server is made
        # to live a day ahead (libfaketime): alice's ticket (10 hours at most) is then long
        # expired where it is checked, and fresh where it was obtained and sent.
        lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
        if lib is None:
            self.skipTest("libfaketime not installed (apt-get install libfaketime)")
        server = harness.Server(global_options=self.GLOBAL_OPTIONS)
        server.add_share(self.share.name, {"read only": "no"})
        server.add_user(krb5_harness.ALICE, DB_PASSWORD)
        fake = {"LD_PRELOAD": lib, "FAKETIME": "+1d", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_DONT_RESET": "1"}
        saved = {k: os.environ.get(k) for k in fake}
        os.environ.update(fake)
        try:
            server.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.addCleanup(server.stop)

        ccache = self.fresh_alice_ccache("alice-expired.ccache")
        rc, out = self.smbclient_krb5(krb5_harness.ALICE, ccache, "ls", server=server)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"NT_STATUS_(LOGON_FAILURE|ACCESS_DENIED|INVALID_PARAMETER)")
        self.assertIn(f"{krb5_harness.SMB_SERVICE}@{REALM}", self.klist(ccache))
        if harness.backend() == "xsmbd":
            log = server.log()
            self.assertIn("Kerberos AP-REQ rejected", log)
            self.assertIn("Ticket expired", log)  # MIT's reason, not a clock-skew error
            self.assertNotRegex(log, r": session \d+ for ")
        self.assertTrue(server.alive(), server.log())
        # The very same ticket is accepted by a server on the real clock.
        rc, out = self.smbclient_krb5(krb5_harness.ALICE, ccache, "ls")
        self.assertClean(rc, out, "same ccache, real clock")


# Debian's libfaketime (package libfaketime); the multiarch path first.
# libfaketimeMT is the variant for multi-threaded programs such as xsmbd.
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1")


if __name__ == "__main__":
    harness.main()
