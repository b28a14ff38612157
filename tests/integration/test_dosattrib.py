#!/usr/bin/env python3
"""DOS attributes are kept where Samba keeps them: the user.DOSATTRIB xattr in Samba's NDR
format (server/vfs/attributes.h). Attributes set through xsmbd decode with Samba's own
xattr_DOSATTRIB parser, and a record Samba's packer wrote is what xsmbd reports.

Needs Samba's Python bindings (Debian's python3-samba, for /usr/bin/python3); skipped without.
Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_dosattrib.py
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

USER = "xsmbtest"
PASSWORD = "D0s-attrib-pw"
SAMBA_PY = "/usr/bin/python3"
XATTR = "user.DOSATTRIB"
HIDDEN, SYSTEM, ARCHIVE = 0x2, 0x4, 0x20

# Runs in Samba's Python: "unpack HEX" prints "version attrib valid_flags create_time";
# "pack3 ATTRIB CREATE" prints a version 3 record (with AttribHex) as hex.
SAMBA_HELPER = r"""
import sys
from samba.dcerpc import xattr
from samba.ndr import ndr_pack, ndr_unpack
if sys.argv[1] == "unpack":
    d = ndr_unpack(xattr.DOSATTRIB, bytes.fromhex(sys.argv[2]))
    print(d.version, d.info.attrib, d.info.valid_flags, d.info.create_time)
else:
    x = xattr.DOSATTRIB()
    x.version = 3
    i = xattr.DosInfo3()
    i.valid_flags = 0x11
    i.attrib = int(sys.argv[2])
    i.create_time = int(sys.argv[3])
    x.info = i
    x.attrib_hex = "0x%x" % i.attrib
    print(ndr_pack(x).hex())
"""


def samba(*args):
    r = subprocess.run([SAMBA_PY, "-c", SAMBA_HELPER, *args], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"samba helper failed: {r.stderr}")
    return r.stdout.strip()


def have_samba_bindings():
    try:
        r = subprocess.run([SAMBA_PY, "-c", "from samba.dcerpc import xattr"],
                           capture_output=True, timeout=60)
        return r.returncode == 0
    except OSError:
        return False


@unittest.skipUnless(have_samba_bindings(), "Samba's Python bindings (python3-samba) missing")
class DosAttribTest(harness.ServerTestCase):

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def smb(self, commands):
        rc, out = self.server.smbclient("share", commands, user=USER, password=PASSWORD)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out, out)
        return out

    def test_attributes_set_through_xsmbd_decode_in_samba(self):
        local = harness.make_temp_dir("xsmbd-dosattrib-") / "f.txt"
        local.write_text("x")
        self.smb(f'put "{local}" f.txt; setmode f.txt +hs')
        record = os.getxattr(self.share.path / "f.txt", XATTR)
        version, attrib, valid, _ = samba("unpack", record.hex()).split()
        self.assertEqual(int(version), 5)
        self.assertEqual(int(attrib) & (HIDDEN | SYSTEM), HIDDEN | SYSTEM)
        self.assertTrue(int(valid) & 0x1, "XATTR_DOSINFO_ATTRIB not set")

    def test_a_record_samba_wrote_is_reported(self):
        path = self.share.path / "g.txt"
        path.write_text("y")
        create = 130000000000000000  # 2012-12-14 23:06:40 UTC
        record = bytes.fromhex(samba("pack3", str(HIDDEN | ARCHIVE), str(create)))
        os.setxattr(path, XATTR, record)
        out = self.smb("allinfo g.txt")
        m = re.search(r"^attributes: (\S+) \((\w+)\)", out, re.M)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(2), 16) & (HIDDEN | ARCHIVE), HIDDEN | ARCHIVE, out)
        self.assertRegex(out, r"create_time:\s+\S+ Dec 14 23:06:40 2012", out)


if __name__ == "__main__":
    harness.main()
