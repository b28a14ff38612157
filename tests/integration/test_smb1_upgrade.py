#!/usr/bin/env python3
"""The SMB1 upgrade path (MS-SMB2 3.3.5.3.1): an SMB1 NEGOTIATE that offers SMB2 dialect
strings is answered with an SMB2 NEGOTIATE response — DialectRevision 0x02FF ("SMB 2.???",
the client then sends an SMB2 NEGOTIATE with MessageId 1) or 0x0202 ("SMB 2.002" only) — and
one offering no SMB2 dialect is refused by closing the connection. smbclient with SMB1 allowed
reaches the share the same way.

Run: XSMBD=... XSMBCTL=... python3 tests/integration/test_smb1_upgrade.py
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2raw  # noqa: E402


def smb1_negotiate(dialects):
    """An SMB1 NEGOTIATE request (MS-CIFS 2.2.4.52.1): 32-byte header, WordCount 0, then the
    0x02-prefixed NUL-terminated dialect strings."""
    header = (b"\xffSMB" + bytes([0x72]) + b"\x00" * 4 + bytes([0x18]) +
              struct.pack("<H", 0xC853) + b"\x00" * 12 + struct.pack("<HHHH", 0xFFFF, 1, 0, 1))
    strings = b"".join(b"\x02" + d.encode() + b"\x00" for d in dialects)
    return header + b"\x00" + struct.pack("<H", len(strings)) + strings


@unittest.skipIf(harness.backend() != "xsmbd", "checks xsmbd's own upgrade answers")
class Smb1UpgradeTest(harness.ServerTestCase):
    USER, PASSWORD = "upgrader", "Up-grade-123"

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(cls.USER, cls.PASSWORD)

    def test_wildcard_then_smb2_negotiate(self):
        with smb2raw.Connection(self.server.port) as c:
            c.send(smb1_negotiate(["NT LM 0.12", "SMB 2.002", "SMB 2.???"]))
            r = smb2raw.Response(c.recv())
            self.assertEqual(r.status, 0)
            self.assertEqual(r.command, 0)
            self.assertEqual(r.message_id, 0)
            self.assertEqual(r.negotiate()[1], 0x02FF)
            c.send(smb2raw.negotiate_request(message_id=1))
            r2 = smb2raw.Response(c.recv())
            self.assertEqual(r2.status, 0)
            self.assertEqual(r2.message_id, 1)
            self.assertEqual(r2.negotiate()[1], 0x0311)

    def test_smb2002_only_selects_202(self):
        with smb2raw.Connection(self.server.port) as c:
            c.send(smb1_negotiate(["NT LM 0.12", "SMB 2.002"]))
            r = smb2raw.Response(c.recv())
            self.assertEqual(r.status, 0)
            self.assertEqual(r.negotiate()[1], 0x0202)

    def test_no_smb2_dialect_is_refused(self):
        with smb2raw.Connection(self.server.port) as c:
            c.send(smb1_negotiate(["NT LM 0.12"]))
            with self.assertRaises((ConnectionError, OSError)):
                c.recv()

    def test_smbclient_through_smb1_negotiate(self):
        rc, out = self.server.smbclient("share", "ls", user=self.USER, password=self.PASSWORD,
                                        extra=["--option=client min protocol=NT1"])
        self.assertEqual(rc, 0, out)
        self.assertIn("blocks available", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
