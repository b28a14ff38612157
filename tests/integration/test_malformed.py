#!/usr/bin/env python3
"""Malformed frames over real sockets. For each, the server must answer with an SMB2 error or
close that connection (never stay silent, never crash), and a well-behaved client connected
before the attack must keep being served: its ECHO is answered and a fresh smbclient `ls`
works afterwards.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_malformed.py
"""

import os
import random
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402

# Outcomes that count as handling a bad request correctly.
GOOD_OUTCOMES = ("closed", "error:")

# Samba's smbd accepts frames up to 16 MiB and waits for the announced length whatever the
# first byte is; xsmbd enforces a frame limit and MS-SMB2 2.1's zero first byte. Tests that
# check those limits without a half-close therefore apply to xsmbd only.
xsmbd_only = unittest.skipIf(harness.backend() != "xsmbd",
                             "frame limit / zero type byte are xsmbd policy, not smbd's")


class MalformedFramesTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        server.add_share("share", {"guest ok": "yes", "read only": "no"})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The bystander: negotiated before any attack, kept open for the whole class.
        cls.bystander = smb2raw.Connection(cls.server.port)
        r = cls.bystander.negotiate(dialects=["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02"])
        if r.status != smb2raw.STATUS_SUCCESS:
            raise AssertionError(f"bystander NEGOTIATE failed: {r.status:#x}")
        cls.addClassCleanup(cls.bystander.close)

    def setUp(self):
        self.rng = random.Random(f"{self.id()}")

    def attack(self, data, negotiate_first=False, half_close=False):
        """Sends `data` on a fresh connection; returns the outcome (see closed_or_error)."""
        with smb2raw.Connection(self.server.port) as conn:
            if negotiate_first:
                r = conn.negotiate(dialects=["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02"])
                self.assertEqual(r.status, smb2raw.STATUS_SUCCESS)
                self.assertEqual(r.command, smb2raw.NEGOTIATE)
            try:
                conn.send_raw(data)
                if half_close:
                    conn.sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                return "closed"
            return conn.closed_or_error(timeout=5.0)

    def assertHandled(self, outcome, what):
        self.assertTrue(outcome.startswith(GOOD_OUTCOMES),
                        f"{what}: server neither answered with an SMB2 error nor closed the "
                        f"connection (outcome: {outcome})")

    def assertOthersServed(self):
        self.assertServerAlive()
        r, mid = self.bystander.echo()
        self.assertEqual(r.command, smb2raw.ECHO)
        self.assertEqual(r.message_id, mid)
        self.assertTrue(r.flags & smb2raw.FLAGS_SERVER_TO_REDIR)
        rc, out = self.server.smbclient("share", "ls", guest=True, timeout=60)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)

    # --- transport framing -----------------------------------------------------------------

    @xsmbd_only
    def test_netbios_length_over_limit(self):
        # Announces 16 MiB - 1, far above any negotiated MaxTransact/Read/WriteSize + header.
        payload = smb2raw.negotiate_request()
        self.assertHandled(self.attack(smb2raw.frame(payload, length=0x00FFFFFF)),
                           "NetBIOS length 0x00FFFFFF")
        self.assertOthersServed()

    @xsmbd_only
    def test_netbios_length_over_limit_after_negotiate(self):
        data = struct.pack(">I", 0x00FFFFFF) + smb2raw.echo_request(1)
        self.assertHandled(self.attack(data, negotiate_first=True),
                           "NetBIOS length 0x00FFFFFF after NEGOTIATE")
        self.assertOthersServed()

    def test_truncated_smb2_header(self):
        payload = smb2raw.negotiate_request()[:20]
        self.assertHandled(self.attack(smb2raw.frame(payload)), "20-byte SMB2 header")
        self.assertOthersServed()

    def test_header_cut_by_eof(self):
        # A frame that announces 100 bytes, delivers 30 and half-closes.
        data = smb2raw.frame(smb2raw.negotiate_request()[:30], length=100)
        self.assertHandled(self.attack(data, half_close=True), "frame cut by EOF")
        self.assertOthersServed()

    # Garbage whose first four bytes announce an arbitrary length: after the half-close a
    # server still waiting for the rest of that frame sees EOF and must close.
    def test_http_garbage(self):
        data = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        self.assertHandled(self.attack(data, half_close=True), "HTTP request")
        self.assertOthersServed()

    @xsmbd_only
    def test_nonzero_transport_type_byte(self):
        # MS-SMB2 2.1: the first byte MUST be zero; 'GET ' must not be taken as a length.
        data = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        self.assertHandled(self.attack(data), "HTTP request without half-close")
        self.assertOthersServed()

    def test_random_bytes(self):
        data = bytes(self.rng.getrandbits(8) for _ in range(4096))
        self.assertHandled(self.attack(data, half_close=True), "4 KiB of random bytes")
        self.assertOthersServed()

    def test_framed_random_payload(self):
        payload = bytes(self.rng.getrandbits(8) for _ in range(512))
        self.assertHandled(self.attack(smb2raw.frame(payload)), "framed random payload")
        self.assertOthersServed()

    def test_wrong_protocol_id(self):
        payload = b"\xfeSMX" + smb2raw.negotiate_request()[4:]
        self.assertHandled(self.attack(smb2raw.frame(payload)), "ProtocolId \\xfeSMX")
        self.assertOthersServed()

    # --- SMB2 header and NEGOTIATE body ----------------------------------------------------

    def test_header_structure_size_wrong(self):
        payload = smb2raw.negotiate_request(header_structure_size=63)
        self.assertHandled(self.attack(smb2raw.frame(payload)), "header StructureSize 63")
        self.assertOthersServed()

    def test_negotiate_structure_size_wrong(self):
        payload = smb2raw.negotiate_request(structure_size=35)
        self.assertHandled(self.attack(smb2raw.frame(payload)), "NEGOTIATE StructureSize 35")
        self.assertOthersServed()

    def test_negotiate_dialect_count_zero(self):
        # MS-SMB2 3.3.5.4: DialectCount 0 MUST fail with STATUS_INVALID_PARAMETER.
        payload = smb2raw.negotiate_request(dialects=[], dialect_count=0)
        outcome = self.attack(smb2raw.frame(payload))
        self.assertHandled(outcome, "DialectCount 0")
        if outcome.startswith("error:"):
            self.assertEqual(outcome, f"error:{smb2raw.STATUS_INVALID_PARAMETER:#010x}")
        self.assertOthersServed()

    def test_negotiate_dialect_count_past_end(self):
        payload = smb2raw.negotiate_request(dialects=["SMB2_02"], dialect_count=1000)
        self.assertHandled(self.attack(smb2raw.frame(payload)), "DialectCount past the end")
        self.assertOthersServed()

    def test_negotiate_only_unknown_dialects(self):
        # MS-SMB2 3.3.5.4: no common dialect -> STATUS_NOT_SUPPORTED (or a disconnect).
        payload = smb2raw.negotiate_request(dialects=[0x0101, 0x7777])
        self.assertHandled(self.attack(smb2raw.frame(payload)), "only unknown dialects")
        self.assertOthersServed()

    def test_random_bytes_after_valid_negotiate(self):
        data = bytes(self.rng.getrandbits(8) for _ in range(2048))
        self.assertHandled(self.attack(data, negotiate_first=True, half_close=True),
                           "random bytes after NEGOTIATE")
        self.assertOthersServed()

    def test_framed_random_payload_after_valid_negotiate(self):
        payload = bytes(self.rng.getrandbits(8) for _ in range(1024))
        self.assertHandled(self.attack(smb2raw.frame(payload), negotiate_first=True),
                           "framed random payload after NEGOTIATE")
        self.assertOthersServed()

    def test_second_negotiate_on_same_connection(self):
        # MS-SMB2 3.3.5.3.1: a second NEGOTIATE on a negotiated connection disconnects it.
        data = smb2raw.frame(smb2raw.negotiate_request(message_id=1))
        self.assertHandled(self.attack(data, negotiate_first=True), "second NEGOTIATE")
        self.assertOthersServed()

    def test_many_bad_connections_in_a_row(self):
        for i in range(20):
            payload = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 300)))
            header = self.rng.choice([b"", b"\x00\x00\x01\x00", b"\x00\x00\x00\x40\xfeSMB"])
            self.assertHandled(self.attack(header + payload, half_close=True),
                              f"random case {i}")
        self.assertOthersServed()

    def test_valid_negotiate_still_works(self):
        # Control case: the same helpers produce a request the server accepts.
        for dialects in (["SMB2_02"], ["SMB2_10", "SMB3_00"], ["SMB3_02", "SMB3_11"]):
            with smb2raw.Connection(self.server.port) as conn:
                r = conn.negotiate(dialects=dialects)
                self.assertEqual(r.status, smb2raw.STATUS_SUCCESS, dialects)
                _, revision = r.negotiate()
                self.assertEqual(revision, smb2raw.DIALECT_IDS[dialects[-1]])
        self.assertOthersServed()


if __name__ == "__main__":
    harness.main()
