#!/usr/bin/env python3
"""SMB 2.1 signing with a raw client (smb2client.py): NTLMv2 session setup over bare NTLMSSP,
HMAC-SHA256 signatures (MS-SMB2 3.1.4.1) checked both ways, wrong and missing signatures
refused with STATUS_ACCESS_DENIED (MS-SMB2 3.3.5.2.4), the shutdown stats line counting them,
and a wrong password refused with STATUS_LOGON_FAILURE.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_signing.py
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402
import smb2raw  # noqa: E402

USER = "signuser"
PASSWORD = "S1gn-me-please"
UNC = r"\\127.0.0.1\share"


class ClientCryptoVectorsTest(unittest.TestCase):
    """The raw client's own primitives against published vectors, so a failure below points at
    the server and not at this client."""

    def test_md4_rfc1320(self):
        vectors = {  # RFC 1320 appendix A.5
            b"": "31d6cfe0d16ae931b73c59d7e0c089c0",
            b"a": "bde52cb31de33e46245e05fbdbd6fb24",
            b"abc": "a448017aaf21d8525fc10ae87aa6729d",
            b"message digest": "d9130a8164549fe818874806e1c7014b",
            b"abcdefghijklmnopqrstuvwxyz": "d79e1c308aa5bbcdeea8ed63df412da9",
            b"1234567890" * 8: "e33b4ddc9c38f2199c3e7b164fcc0536",
        }
        for data, digest in vectors.items():
            self.assertEqual(c.md4(data).hex(), digest, data)

    def test_ntlmv2_ms_nlmp_4_2_4(self):
        self.assertEqual(c.ntowf_v2("Password", "User", "Domain").hex(),
                         "0c868a403bfd7a93a3001ef22ef02e3f")  # 4.2.4.1.1

        class FixedChallenge:
            server_challenge = bytes.fromhex("0123456789abcdef")
            target_info = bytes.fromhex("02000c0044006f006d00610069006e00"
                                        "01000c00530065007200760065007200" "00000000")
            flags = c.NEGOTIATE_KEY_EXCH

            def av_pairs(self):
                return {}

        msg, key = c.ntlm_authenticate(FixedChallenge(), "User", "Password", "Domain",
                                       client_challenge=b"\xaa" * 8, timestamp=0)
        lm_len, _, lm_off, nt_len, _, nt_off = (int.from_bytes(msg[i:i + n], "little") for i, n in
                                                ((12, 2), (14, 2), (16, 4), (20, 2), (22, 2),
                                                 (24, 4)))
        self.assertEqual(msg[lm_off:lm_off + 16].hex(),
                         "86c35097ac9cec102554764a57cccc19")  # 4.2.4.2.1 LMv2
        self.assertEqual(msg[nt_off:nt_off + 16].hex(),
                         "68cd0ab851e51c96aabc927bebef6a1c")  # 4.2.4.2.2 NTProofStr
        self.assertEqual(nt_len, 16 + 28 + len(FixedChallenge.target_info) + 4)
        self.assertEqual(lm_len, 24)
        self.assertEqual(key.hex(), "8de40ccadbc14a82f15cb0ad0de95ca3")  # 4.2.4.1.2
        self.assertEqual(c.rc4(key, b"\x55" * 16).hex(),
                         "c5dad2544fc9799094ce1ce90bc9d03e")  # 4.2.4.2.3

    def test_sign_and_verify_roundtrip(self):
        msg = c.sign(smb2raw.echo_request(7), b"k" * 16)
        self.assertTrue(c.signature_ok(msg, b"k" * 16))
        self.assertFalse(c.signature_ok(msg, b"j" * 16))
        tampered = bytearray(msg)
        tampered[-1] ^= 1
        self.assertFalse(c.signature_ok(bytes(tampered), b"k" * 16))


def _login(test, port, key_exch=False, security_mode=smb2raw.SIGNING_ENABLED):
    cl = c.Smb2Client(port)
    test.addCleanup(cl.close)
    r = cl.negotiate(dialect=0x0210, security_mode=security_mode)
    test.assertEqual(r.status, c.STATUS_SUCCESS, r)
    test.assertEqual(cl.dialect, 0x0210)
    r = cl.login(USER, PASSWORD, key_exch=key_exch, security_mode=security_mode)
    test.assertEqual(r.status, c.STATUS_SUCCESS, f"session setup: {r}")
    test.assertNotEqual(cl.session_id, 0)
    return cl, r


class SigningTest(harness.ServerTestCase):
    """server signing = auto (the default): signing on request of the client."""

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def test_negotiate_advertises_signing_enabled(self):
        with c.Smb2Client(self.server.port) as cl:
            r = cl.negotiate(dialect=0x0210)
            self.assertEqual(r.status, c.STATUS_SUCCESS)
            self.assertEqual(cl.dialect, 0x0210)
            self.assertTrue(cl.server_security_mode & smb2raw.SIGNING_ENABLED)
            self.assertFalse(cl.server_security_mode & smb2raw.SIGNING_REQUIRED)

    def check_signed_tree_connect(self, cl):
        r = cl.tree_connect(UNC)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertNotEqual(cl.tree_id, 0)
        self.assertTrue(r.signed, "response to a signed request must be signed (3.3.4.1.1)")
        self.assertTrue(c.signature_ok(r.raw, cl.session_key),
                        f"TREE_CONNECT response signature {r.signature.hex()} does not verify "
                        f"under the session key")
        # A signed ECHO and a signed CREATE+READ on the tree work too, responses verified.
        r = cl.echo()
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertTrue(r.signed and c.signature_ok(r.raw, cl.session_key), r)
        r = cl.create("hello.txt")
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertTrue(r.signed and c.signature_ok(r.raw, cl.session_key), r)
        rr = cl.read(r.file_id)
        self.assertEqual(rr.status, c.STATUS_SUCCESS, rr)
        self.assertEqual(rr.data, b"signed hello\n")
        self.assertTrue(rr.signed and c.signature_ok(rr.raw, cl.session_key), rr)
        self.assertEqual(cl.close_file(r.file_id).status, c.STATUS_SUCCESS)

    def setUp(self):
        (self.server.shares["share"].path / "hello.txt").write_bytes(b"signed hello\n")

    def test_a_signed_tree_connect_and_signed_response(self):
        cl, _ = _login(self, self.server.port)
        self.check_signed_tree_connect(cl)

    def test_a_signed_with_key_exchange(self):
        cl, _ = _login(self, self.server.port, key_exch=True)
        self.assertTrue(cl.challenge.flags & c.NEGOTIATE_KEY_EXCH,
                        "server should offer NTLMSSP_NEGOTIATE_KEY_EXCH when asked")
        self.check_signed_tree_connect(cl)

    def test_a_client_requires_signing_final_session_setup_signed(self):
        cl, r = _login(self, self.server.port,
                       security_mode=smb2raw.SIGNING_ENABLED | smb2raw.SIGNING_REQUIRED)
        # MS-SMB2 3.3.5.5.3: with Session.SigningRequired the final response is signed.
        self.assertTrue(r.signed, f"final SESSION_SETUP response not signed: {r}")
        self.assertTrue(c.signature_ok(r.raw, cl.session_key))
        self.check_signed_tree_connect(cl)

    def test_b_wrong_signature_tree_connect_denied(self):
        cl, _ = _login(self, self.server.port)
        r = cl.tree_connect(UNC, corrupt_signature=True)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED,
                         f"TREE_CONNECT with a flipped signature bit: {r}")
        self.assertEqual(cl.tree_id, 0)
        # The session survives a forged request: the correctly signed retry succeeds.
        self.check_signed_tree_connect(cl)

    def test_b_wrong_signature_echo_denied(self):
        cl, _ = _login(self, self.server.port)
        r = cl.echo(corrupt_signature=True)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, f"ECHO with a bad signature: {r}")
        r = cl.echo()
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)

    def test_b_signature_under_another_sessions_key_denied(self):
        cl, _ = _login(self, self.server.port)
        other, _ = _login(self, self.server.port)
        self.assertNotEqual(cl.session_key, other.session_key)
        real_key, cl.session_key = cl.session_key, other.session_key
        r = cl.tree_connect(UNC)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, f"signed with a foreign key: {r}")
        cl.session_key = real_key
        self.check_signed_tree_connect(cl)

    def test_e_wrong_password_logon_failure(self):
        with c.Smb2Client(self.server.port) as cl:
            self.assertEqual(cl.negotiate().status, c.STATUS_SUCCESS)
            r = cl.login(USER, PASSWORD + "x")
            self.assertEqual(r.status, c.STATUS_LOGON_FAILURE, r)
            self.assertIsNone(cl.session_key)
        with c.Smb2Client(self.server.port) as cl:
            self.assertEqual(cl.negotiate().status, c.STATUS_SUCCESS)
            r = cl.login(USER.upper(), PASSWORD + "x", key_exch=True)
            self.assertEqual(r.status, c.STATUS_LOGON_FAILURE, r)


class MandatorySigningTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"server signing": "mandatory"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def test_c_unsigned_tree_connect_denied(self):
        cl, r = _login(self, self.server.port)
        self.assertTrue(cl.server_security_mode & smb2raw.SIGNING_REQUIRED,
                        f"NEGOTIATE SecurityMode {cl.server_security_mode:#x} lacks "
                        f"SIGNING_REQUIRED under server signing = mandatory")
        self.assertTrue(r.signed and c.signature_ok(r.raw, cl.session_key),
                        f"final SESSION_SETUP response not correctly signed: {r}")
        r = cl.tree_connect(UNC, sign_it=False)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, f"unsigned TREE_CONNECT: {r}")
        self.assertEqual(cl.tree_id, 0)
        r = cl.tree_connect(UNC)
        self.assertEqual(r.status, c.STATUS_SUCCESS, f"signed TREE_CONNECT: {r}")
        self.assertTrue(r.signed and c.signature_ok(r.raw, cl.session_key), r)

    def test_c_unsigned_create_on_tree_denied(self):
        cl, _ = _login(self, self.server.port)
        self.assertEqual(cl.tree_connect(UNC).status, c.STATUS_SUCCESS)
        (self.server.shares["share"].path / "m.txt").write_bytes(b"m")
        r = cl.create("m.txt", sign_it=False)
        self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, f"unsigned CREATE: {r}")
        r = cl.create("m.txt")
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)


class StatsLineTest(unittest.TestCase):
    BAD = 3

    def test_d_bad_signatures_counted_at_shutdown(self):
        if harness.backend() != "xsmbd":
            self.skipTest("the stats line is xsmbd's")
        server = harness.Server(log_level=1)
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)
        server.start()
        self.addCleanup(server.stop)
        cl, _ = _login(self, server.port)
        statuses = [cl.tree_connect(UNC, corrupt_signature=True).status,
                    cl.echo(corrupt_signature=True).status,
                    cl.echo(corrupt_signature=True).status]
        self.assertEqual(len(statuses), self.BAD)
        self.assertEqual(statuses, [c.STATUS_ACCESS_DENIED] * self.BAD)
        with c.Smb2Client(server.port) as bad:
            bad.negotiate()
            self.assertEqual(bad.login(USER, "nope").status, c.STATUS_LOGON_FAILURE)
        self.assertEqual(cl.echo().status, c.STATUS_SUCCESS)
        cl.close()
        self.assertTrue(server.alive())
        server.stop()  # SIGTERM to the group, waits for the exit
        lines = [ln for ln in server.log().splitlines() if "stats: connections" in ln]
        self.assertTrue(lines, f"no stats line at shutdown (log level 1):\n{server.log()}")
        m = re.search(r"bad signatures (\d+)", lines[-1])
        self.assertIsNotNone(m, lines[-1])
        self.assertEqual(int(m.group(1)), self.BAD, lines[-1])
        m = re.search(r"logon failures (\d+)", lines[-1])
        self.assertIsNotNone(m, lines[-1])
        self.assertEqual(int(m.group(1)), 1, lines[-1])


if __name__ == "__main__":
    harness.main()
