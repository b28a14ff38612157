#!/usr/bin/env python3
"""DOS attributes are kept where Samba keeps them: the user.DOSATTRIB xattr in Samba's NDR
format (server/vfs/attributes.h). Attributes set through xsmbd decode with Samba's own
xattr_DOSATTRIB parser, and a record Samba's packer wrote is what xsmbd reports (these need
Samba's Python bindings, Debian's python3-samba for /usr/bin/python3, and skip without).
Windows write-time and ARCHIVE semantics through the test codec (WriteTimeAndArchiveTest).
Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_dosattrib.py
"""

import os
import re
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client  # noqa: E402

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


SET_INFO = 0x0011
FILE_BASIC_INFORMATION = 4
GENERIC_WRITE_READ = 0x0012019F  # read/write data and attributes, READ_CONTROL, SYNCHRONIZE
FREEZE, THAW = 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE
NT_EPOCH = 116444736000000000


class WriteTimeAndArchiveTest(harness.ServerTestCase):
    """MS-FSA 2.1.5.14.2 / 2.1.5.3 through the test codec: a LastWriteTime set through a handle
    stays through that handle's WRITEs until -2 thaws it; a WRITE sets ARCHIVE."""

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def connect(self):
        c = smb2client.Smb2Client(self.server.port, timeout=60)
        self.addCleanup(c.close)
        self.assertEqual(c.negotiate(0x0210).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(c.login(USER, PASSWORD).status, smb2client.STATUS_SUCCESS)
        c.sign_requests = False
        r = c.tree_connect(f"\\\\127.0.0.1\\{self.share.name}", sign_it=True)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS)
        return c

    def set_basic(self, c, file_id, write_time, attributes=0):
        """SET_INFO FileBasicInformation (MS-SMB2 2.2.39, MS-FSCC 2.4.7): only LastWriteTime."""
        info = struct.pack("<QQQQII", 0, 0, write_time, 0, attributes, 0)
        body = struct.pack("<HBBIHHI", 33, 1, FILE_BASIC_INFORMATION, len(info), 64 + 32, 0,
                           0) + file_id + info
        r = c.send(c.build(SET_INFO, body))
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))

    def test_set_write_time_stays_until_thawed(self):
        c = self.connect()
        r = c.create("w.txt", desired_access=GENERIC_WRITE_READ, create_disposition=3)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        fid = r.file_id
        path = self.share.path / "w.txt"
        set_to = 1262304000  # 2010-01-01
        self.set_basic(c, fid, NT_EPOCH + set_to * 10**7)
        self.assertEqual(c.write(fid, b"abc").status, smb2client.STATUS_SUCCESS)
        self.assertEqual(int(path.stat().st_mtime), set_to, "the handle's WRITE moved it")
        self.set_basic(c, fid, FREEZE)  # -1 keeps it as it is
        self.assertEqual(c.write(fid, b"def", offset=3).status, smb2client.STATUS_SUCCESS)
        self.assertEqual(int(path.stat().st_mtime), set_to)
        self.set_basic(c, fid, THAW)
        self.assertEqual(c.write(fid, b"ghi", offset=6).status, smb2client.STATUS_SUCCESS)
        self.assertGreater(path.stat().st_mtime, time.time() - 600, "-2 did not thaw it")
        self.assertEqual(c.close_file(fid).status, smb2client.STATUS_SUCCESS)

    def test_a_write_sets_archive(self):
        c = self.connect()
        r = c.create("a.txt", desired_access=GENERIC_WRITE_READ, create_disposition=3)
        self.assertEqual(r.status, smb2client.STATUS_SUCCESS, smb2client.status_name(r.status))
        self.set_basic(c, r.file_id, 0, attributes=0x80)  # NORMAL: ARCHIVE cleared
        record = os.getxattr(self.share.path / "a.txt", XATTR)
        self.assertEqual(struct.unpack_from("<I", record, 12)[0] & ARCHIVE, 0)
        self.assertEqual(c.write(r.file_id, b"x").status, smb2client.STATUS_SUCCESS)
        record = os.getxattr(self.share.path / "a.txt", XATTR)
        self.assertEqual(struct.unpack_from("<I", record, 12)[0] & ARCHIVE, ARCHIVE)
        self.assertEqual(c.close_file(r.file_id).status, smb2client.STATUS_SUCCESS)


if __name__ == "__main__":
    harness.main()
