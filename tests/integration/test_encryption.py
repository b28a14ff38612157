#!/usr/bin/env python3
"""SMB 3.x encryption and signing algorithms, end to end (issue 3's acceptance).

- A share with `server smb encrypt = required`: smbclient --client-protection=encrypt with each
  of AES-128-CCM, AES-128-GCM, AES-256-CCM, AES-256-GCM (`client smb3 encryption algorithms`):
  put and get of a 64 MiB file (SHA-256 compared), ls, mkdir, rename. smbclient talks through a
  recording TCP relay (FrameTap), so the test sees on the wire which cipher the server chose
  (its NEGOTIATE response's SMB2_ENCRYPTION_CAPABILITIES) and that every message after the
  logon went as an SMB2 TRANSFORM (0xFD 'SMB', MS-SMB2 2.2.41) in both directions.
- A raw NEGOTIATE offering one cipher gets exactly that one (MS-SMB2 3.3.5.4).
- smbclient -m SMB2_10 (cannot encrypt) is refused the share with NT_STATUS_ACCESS_DENIED; with
  a global `server smb encrypt = required` the SMB 2.1 session itself is refused.
- SMB2_SIGNING_CAPABILITIES (MS-SMB2 2.2.3.1.7): AES-GMAC when offered, HMAC-SHA256 when only
  that is offered, AES-CMAC when the server is configured for it; smbclient
  --client-protection=sign -m SMB3_11 works and its traffic is signed, not sealed.
- A TRANSFORM message that does not decrypt (for a real session, or for no session) closes the
  connection, and the shutdown stats line counts it ("decryption failures N").

Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_encryption.py [-k PATTERN]
"""

import os
import re
import shutil
import socket
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402
import smb2raw  # noqa: E402

USER = "sealuser"
PASSWORD = "S3al-it-please"

# MS-SMB2 2.2.3.1.2 cipher ids, by the names smbclient's option takes.
CIPHERS = {"AES-128-CCM": 0x0001, "AES-128-GCM": 0x0002, "AES-256-CCM": 0x0003,
           "AES-256-GCM": 0x0004}
# MS-SMB2 2.2.3.1.7 signing algorithm ids.
HMAC_SHA256, AES_CMAC, AES_GMAC = 0x0000, 0x0001, 0x0002
SIGNING_CAPABILITIES = 0x0008
TRANSFORM_MAGIC = b"\xfdSMB"
SMB2_MAGIC = b"\xfeSMB"
FLAGS_SIGNED = 0x00000008
BIG = 64 << 20


def setUpModule():
    if not shutil.which("smbclient"):
        raise unittest.SkipTest("smbclient not installed")


# --- raw NEGOTIATE with chosen contexts ------------------------------------------------------

def negotiate_body(ciphers=None, signing=None, dialects=(0x0311,), capabilities=0x7F):
    """SMB2 NEGOTIATE request body (MS-SMB2 2.2.3): the preauth-integrity context (SHA-512) and,
    when given, ENCRYPTION_CAPABILITIES offering `ciphers` and SIGNING_CAPABILITIES offering
    `signing` (ids in the client's order of preference), each context 8-byte aligned."""
    dialect_bytes = b"".join(struct.pack("<H", d) for d in dialects)
    end = smb2raw.HEADER_SIZE + 36 + len(dialect_bytes)
    ctx_offset = end + (-end) % 8
    contexts = [(smb2raw.PREAUTH_INTEGRITY_CAPABILITIES,
                 struct.pack("<HHH", 1, 32, smb2raw.SHA512) + os.urandom(32))]
    if ciphers is not None:
        contexts.append((smb2raw.ENCRYPTION_CAPABILITIES,
                         struct.pack("<H", len(ciphers))
                         + b"".join(struct.pack("<H", x) for x in ciphers)))
    if signing is not None:
        contexts.append((SIGNING_CAPABILITIES,
                         struct.pack("<H", len(signing))
                         + b"".join(struct.pack("<H", x) for x in signing)))
    blob = b""
    for ctype, data in contexts:
        blob += b"\x00" * ((-len(blob)) % 8)
        blob += struct.pack("<HHI", ctype, len(data), 0) + data
    body = struct.pack("<HHHHI", 36, len(dialects), smb2raw.SIGNING_ENABLED, 0, capabilities)
    body += os.urandom(16)  # ClientGuid
    body += struct.pack("<IHH", ctx_offset if 0x0311 in dialects else 0,
                        len(contexts) if 0x0311 in dialects else 0, 0)
    body += dialect_bytes
    if 0x0311 in dialects:
        body += b"\x00" * (ctx_offset - end) + blob
    return body


def negotiate_contexts(message):
    """{ContextType: data} of an SMB2 NEGOTIATE response (MS-SMB2 2.2.4): NegotiateContextCount
    at body offset 6, NegotiateContextOffset (from the SMB2 header) at body offset 60."""
    body = message[smb2raw.HEADER_SIZE:]
    count = struct.unpack_from("<H", body, 6)[0]
    off = struct.unpack_from("<I", body, 60)[0]
    out = {}
    for _ in range(count):
        off += (-off) % 8
        ctype, length = struct.unpack_from("<HH", message, off)
        out[ctype] = message[off + 8:off + 8 + length]
        off += 8 + length
    return out


def single_choice(data):
    """The one id a server's ENCRYPTION/SIGNING_CAPABILITIES context names (count must be 1)."""
    count, chosen = struct.unpack_from("<HH", data, 0)
    if count != 1 or len(data) != 4:
        raise AssertionError(f"server context must name exactly one id: {data.hex()}")
    return chosen


def raw_negotiate(port, **kwargs):
    """(DialectRevision, {ContextType: data}) of the server's answer to negotiate_body(...)."""
    with smb2raw.Connection(port) as conn:
        conn.send(smb2raw.header(smb2raw.NEGOTIATE, 0) + negotiate_body(**kwargs))
        r = conn.recv_response()
        if r.status != smb2raw.STATUS_SUCCESS:
            raise AssertionError(f"NEGOTIATE failed: {r.status:#010x}")
        _, dialect = r.negotiate()
        return dialect, negotiate_contexts(r.raw)


# --- a recording relay -----------------------------------------------------------------------

class Frame:
    """One direct-TCP frame (MS-SMB2 2.1) seen by FrameTap: its length and first bytes."""

    def __init__(self, direction, length, head):
        self.direction = direction  # "c2s" or "s2c"
        self.length = length
        self.head = head            # the whole frame when length <= FrameTap.KEEP

    @property
    def magic(self):
        return self.head[:4]

    def smb2_command(self):
        return struct.unpack_from("<H", self.head, 12)[0] if self.magic == SMB2_MAGIC else None

    def smb2_status(self):
        return struct.unpack_from("<I", self.head, 8)[0]

    def smb2_flags(self):
        return struct.unpack_from("<I", self.head, 16)[0]


class _FrameParser:
    def __init__(self, direction, sink):
        self.direction = direction
        self.sink = sink
        self.hdr = b""
        self.length = None
        self.head = b""
        self.left = 0

    def feed(self, data):
        i = 0
        while i < len(data):
            if self.length is None:
                take = min(4 - len(self.hdr), len(data) - i)
                self.hdr += data[i:i + take]
                i += take
                if len(self.hdr) == 4:
                    self.length = struct.unpack(">I", self.hdr)[0] & 0x00FFFFFF
                    self.left = self.length
                    self.head = b""
                    self.hdr = b""
                continue
            take = min(self.left, len(data) - i)
            keep = min(take, max(0, FrameTap.KEEP - len(self.head)))
            self.head += data[i:i + keep]
            i += take
            self.left -= take
            if self.left == 0:
                self.sink.append(Frame(self.direction, self.length, self.head))
                self.length = None
        if self.length == 0:
            self.sink.append(Frame(self.direction, 0, b""))
            self.length = None


class FrameTap:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target that records, per connection, the frames
    in both directions (lengths and the first KEEP bytes) in the order they were relayed."""

    KEEP = 8192

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = []  # list of lists of Frame
        self.lock = threading.Lock()
        self.threads = []
        self.closed = False
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            frames = []
            with self.lock:
                self.connections.append(frames)
            for src, dst, direction in ((client, server, "c2s"), (server, client, "s2c")):
                t = threading.Thread(target=self._pump, args=(src, dst, direction, frames),
                                     daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, direction, frames):
        sink = _LockedList(frames, self.lock)
        parser = _FrameParser(direction, sink)
        try:
            while True:
                data = src.recv(1 << 20)
                if not data:
                    break
                parser.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        if not self.closed:
            self.closed = True
            self.listener.close()
            for t in self.threads[1:]:
                t.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _LockedList:
    def __init__(self, items, lock):
        self.items = items
        self.lock = lock

    def append(self, x):
        with self.lock:
            self.items.append(x)


def logon_boundary(frames):
    """Index after the server's successful SESSION_SETUP response, or None."""
    for i, f in enumerate(frames):
        if (f.direction == "s2c" and f.magic == SMB2_MAGIC and f.smb2_command() == 1
                and f.smb2_status() == 0):
            return i + 1
    return None


def negotiate_response(frames):
    for f in frames:
        if f.direction == "s2c" and f.magic == SMB2_MAGIC and f.smb2_command() == 0:
            return f
    return None


# --- tests -----------------------------------------------------------------------------------

class EncryptedShareTest(harness.ServerTestCase):
    """[sealed] has `server smb encrypt = required`; [plain] is an ordinary share."""

    @classmethod
    def configure(cls, server):
        server.add_share("sealed", {"read only": "no", "server smb encrypt": "required",
                                    "create mask": "0666", "directory mask": "0777"})
        server.add_share("plain", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def smbclient(self, share, commands, port=None, **kwargs):
        srv = self.server
        if port is not None:
            saved, srv.port = srv.port, port
        try:
            return srv.smbclient(share, commands, user=USER, password=PASSWORD, **kwargs)
        finally:
            if port is not None:
                srv.port = saved

    def test_raw_negotiate_picks_the_offered_cipher(self):
        for name, cid in CIPHERS.items():
            with self.subTest(cipher=name):
                dialect, ctx = raw_negotiate(self.server.port, ciphers=[cid])
                self.assertEqual(dialect, 0x0311)
                self.assertIn(smb2raw.ENCRYPTION_CAPABILITIES, ctx)
                self.assertEqual(single_choice(ctx[smb2raw.ENCRYPTION_CAPABILITIES]), cid)
        # All four offered, CCM first: the server's own order (default: AES-128-GCM first,
        # as Samba's) decides.
        _, ctx = raw_negotiate(self.server.port, ciphers=[1, 3, 4, 2])
        self.assertEqual(single_choice(ctx[smb2raw.ENCRYPTION_CAPABILITIES]), 0x0002)
        # Nothing in common: the context names cipher 0 (MS-SMB2 3.3.5.4).
        _, ctx = raw_negotiate(self.server.port, ciphers=[0x0007])
        self.assertEqual(single_choice(ctx[smb2raw.ENCRYPTION_CAPABILITIES]), 0)

    def test_smbclient_each_cipher_64mib_put_get_ls_mkdir_rename(self):
        src, digest = harness.random_file(BIG)
        share = self.server.shares["sealed"]
        for name, cid in CIPHERS.items():
            with self.subTest(cipher=name):
                work = harness.make_temp_dir("xsmbd-enc-")
                d = f"dir-{cid}"
                cmds = (f"put {src} big.bin; mkdir {d}; rename big.bin {d}\\moved.bin; "
                        f"ls {d}\\*; get {d}\\moved.bin back.bin; ls")
                with FrameTap(self.server.port) as tap:
                    rc, out = self.smbclient(
                        "sealed", cmds, port=tap.port, dialect="SMB3_11", protection="encrypt",
                        extra=[f"--option=client smb3 encryption algorithms={name}"], cwd=work)
                self.assertEqual(rc, 0, out)
                self.assertNotIn("NT_STATUS_", out)
                self.assertIn("moved.bin", out)
                self.assertIn(d, out)
                self.assertEqual(harness.sha256_file(share.path / d / "moved.bin"), digest)
                self.assertEqual(harness.sha256_file(work / "back.bin"), digest)
                self.assertFalse((share.path / "big.bin").exists())
                self.check_sealed_wire(tap.connections, cid)
        self.assertServerAlive()

    def check_sealed_wire(self, connections, cid):
        self.assertTrue(connections, "smbclient never connected through the relay")
        main = max(connections, key=lambda fs: sum(f.length for f in fs))
        neg = negotiate_response(main)
        self.assertIsNotNone(neg, "no NEGOTIATE response on the wire")
        ctx = negotiate_contexts(neg.head)
        self.assertEqual(single_choice(ctx[smb2raw.ENCRYPTION_CAPABILITIES]), cid)
        start = logon_boundary(main)
        self.assertIsNotNone(start, "no successful SESSION_SETUP response on the wire")
        session_id = struct.unpack_from("<Q", main[start - 1].head, 40)[0]
        after = main[start:]
        plain = [(f.direction, f.smb2_command()) for f in after if f.magic != TRANSFORM_MAGIC]
        self.assertEqual(plain, [], "unencrypted messages after the logon")
        sealed = {"c2s": 0, "s2c": 0}
        for f in after:
            sid = struct.unpack_from("<Q", f.head, 44)[0]
            flags = struct.unpack_from("<H", f.head, 42)[0]
            self.assertEqual((sid, flags), (session_id, 1), f.head[:52].hex())
            self.assertEqual(struct.unpack_from("<I", f.head, 36)[0], f.length - 52)
            sealed[f.direction] += f.length
        # The 64 MiB went up and came back inside TRANSFORM messages.
        self.assertGreater(sealed["c2s"], BIG)
        self.assertGreater(sealed["s2c"], BIG)
        # And the file's bytes never appear in clear: the 64 bytes at offset 32 MiB (where a
        # WRITE and a READ of the 64 MiB transfer begin) are in none of the recorded message
        # heads (each head holds the first 8 KiB of its message).
        src, _ = harness.random_file(BIG)
        with open(src, "rb") as fh:
            fh.seek(BIG // 2)
            probe = fh.read(64)
        self.assertFalse(any(probe in f.head for f in main))

    def test_smb2_10_is_refused_the_sealed_share(self):
        rc, out = self.smbclient("sealed", "ls", dialect="SMB2_10")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("NT_STATUS_ACCESS_DENIED", out)
        # The same client and session are fine on an ordinary share.
        rc, out = self.smbclient("plain", "ls", dialect="SMB2_10")
        self.assertEqual(rc, 0, out)
        self.assertServerAlive()

    def test_smb3_client_without_protection_is_sealed_by_the_share(self):
        # A 3.x client that did not ask for encryption gets SMB2_SHAREFLAG_ENCRYPT_DATA on the
        # tree connect and must encrypt from then on; smbclient does.
        with FrameTap(self.server.port) as tap:
            rc, out = self.smbclient("sealed", "ls", port=tap.port, dialect="SMB3_11")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)
        main = max(tap.connections, key=len)
        tail = main[-4:]
        self.assertTrue(all(f.magic == TRANSFORM_MAGIC for f in tail),
                        [(f.direction, f.magic.hex()) for f in tail])


class GlobalRequiredTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"server smb encrypt": "required"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def test_smb2_10_session_is_refused(self):
        rc, out = self.server.smbclient("share", "ls", user=USER, password=PASSWORD,
                                        dialect="SMB2_10")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("NT_STATUS_ACCESS_DENIED", out)
        # Refused at SESSION_SETUP (MS-SMB2 3.3.5.5.3 with RejectUnencryptedAccess), not later.
        with c.Smb2Client(self.server.port) as cl:
            self.assertEqual(cl.negotiate(dialect=0x0210).status, c.STATUS_SUCCESS)
            r = cl.login(USER, PASSWORD)
            self.assertEqual(r.status, c.STATUS_ACCESS_DENIED, r)
        self.assertServerAlive()

    def test_smb3_session_is_sealed(self):
        for dialect in ("SMB3_00", "SMB3_02", "SMB3_11"):
            with self.subTest(dialect=dialect):
                with FrameTap(self.server.port) as tap:
                    rc, out = self._via(tap, dialect)
                self.assertEqual(rc, 0, out)
                main = max(tap.connections, key=len)
                start = logon_boundary(main)
                self.assertIsNotNone(start)
                # The final SESSION_SETUP response says SMB2_SESSION_FLAG_ENCRYPT_DATA (0x4).
                flags = struct.unpack_from("<H", main[start - 1].head, 66)[0]
                self.assertTrue(flags & 0x0004, f"SessionFlags {flags:#x}")
                self.assertTrue(all(f.magic == TRANSFORM_MAGIC for f in main[start:]))

    def _via(self, tap, dialect):
        saved, self.server.port = self.server.port, tap.port
        try:
            return self.server.smbclient("share", "ls", user=USER, password=PASSWORD,
                                         dialect=dialect)
        finally:
            self.server.port = saved


class SigningAlgorithmTest(harness.ServerTestCase):
    """Default `server smb3 signing algorithms`: AES-GMAC, AES-CMAC, HMAC-SHA256."""

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def chosen(self, offered):
        _, ctx = raw_negotiate(self.server.port, ciphers=[2, 1], signing=offered)
        self.assertIn(SIGNING_CAPABILITIES, ctx)
        return single_choice(ctx[SIGNING_CAPABILITIES])

    def test_raw_negotiate_signing_algorithm(self):
        self.assertEqual(self.chosen([AES_GMAC, AES_CMAC]), AES_GMAC)
        self.assertEqual(self.chosen([AES_CMAC, AES_GMAC]), AES_GMAC)  # the server's order
        self.assertEqual(self.chosen([AES_CMAC]), AES_CMAC)
        self.assertEqual(self.chosen([HMAC_SHA256]), HMAC_SHA256)
        # Without the context nothing is answered for it (and AES-CMAC is used).
        _, ctx = raw_negotiate(self.server.port, ciphers=[2])
        self.assertNotIn(SIGNING_CAPABILITIES, ctx)

    def test_smbclient_signs_with_gmac(self):
        local = harness.make_temp_dir("xsmbd-sign-")
        payload = os.urandom(3 << 20)
        (local / "up.bin").write_bytes(payload)
        saved, tap = self.server.port, FrameTap(self.server.port)
        self.server.port = tap.port
        try:
            rc, out = self.server.smbclient("share", "put up.bin s.bin; get s.bin down.bin; ls",
                                            user=USER, password=PASSWORD, dialect="SMB3_11",
                                            protection="sign", cwd=local)
        finally:
            self.server.port = saved
            tap.close()
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)
        self.assertEqual((local / "down.bin").read_bytes(), payload)
        main = max(tap.connections, key=lambda fs: sum(f.length for f in fs))
        ctx = negotiate_contexts(negotiate_response(main).head)
        self.assertEqual(single_choice(ctx[SIGNING_CAPABILITIES]), AES_GMAC)
        start = logon_boundary(main)
        self.assertIsNotNone(start)
        after = main[start:]
        self.assertTrue(after)
        for f in after:
            self.assertEqual(f.magic, SMB2_MAGIC, "signed, not sealed")
            if f.direction == "s2c" and f.smb2_status() == c.STATUS_PENDING:
                continue  # interim responses go unsigned (MS-SMB2 3.3.4.2; smbd does so too)
            self.assertTrue(f.smb2_flags() & FLAGS_SIGNED,
                            f"{f.direction} command {f.smb2_command()} is not signed")
        self.assertServerAlive()


class CmacSigningTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"server smb3 signing algorithms": "aes-128-cmac"}

    @classmethod
    def configure(cls, server):
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def test_configured_cmac_is_chosen(self):
        _, ctx = raw_negotiate(self.server.port, ciphers=[2], signing=[AES_GMAC, AES_CMAC])
        self.assertEqual(single_choice(ctx[SIGNING_CAPABILITIES]), AES_CMAC)
        rc, out = self.server.smbclient("share", "ls", user=USER, password=PASSWORD,
                                        dialect="SMB3_11", protection="sign")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)
        self.assertServerAlive()


class DecryptionFailureTest(unittest.TestCase):
    """Bogus TRANSFORM messages close the connection and are counted at shutdown."""

    def bogus_transform(self, session_id, size=120):
        ciphertext = os.urandom(size)
        return (TRANSFORM_MAGIC + os.urandom(16)          # Signature (the AEAD tag)
                + os.urandom(12) + b"\x00" * 4            # Nonce (GCM: 12 bytes used)
                + struct.pack("<IHHQ", size, 0, 1, session_id) + ciphertext)

    def assertClosed(self, sock_conn, what):
        self.assertEqual(sock_conn.closed_or_error(timeout=5), "closed", what)

    def test_bogus_transform_closes_and_is_counted(self):
        if harness.backend() != "xsmbd":
            self.skipTest("the stats line is xsmbd's")
        server = harness.Server(log_level=1)
        server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)
        server.start()
        self.addCleanup(server.stop)

        # 1. A real 3.1.1 session (NTLM through the raw client), then a TRANSFORM for it whose
        #    tag cannot verify.
        cl = c.Smb2Client(server.port)
        self.addCleanup(cl.close)
        r = cl.send(cl.build(c.NEGOTIATE, negotiate_body(ciphers=[2, 1])), sign_it=False)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertEqual(struct.unpack_from("<H", r.body, 4)[0], 0x0311)
        r = cl.login(USER, PASSWORD)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertNotEqual(cl.session_id, 0)
        cl.conn.send(self.bogus_transform(cl.session_id))
        self.assertClosed(cl.conn, "TRANSFORM with a bad tag for a valid session")

        # 2. A TRANSFORM for a session that does not exist.
        with smb2raw.Connection(server.port) as conn:
            conn.send(smb2raw.header(smb2raw.NEGOTIATE, 0) + negotiate_body(ciphers=[2]))
            self.assertEqual(conn.recv_response().status, 0)
            conn.send(self.bogus_transform(0x0000DEAD0000BEEF))
            self.assertClosed(conn, "TRANSFORM for an unknown SessionId")

        # The server is unharmed: a new connection negotiates.
        dialect, _ = raw_negotiate(server.port, ciphers=[2])
        self.assertEqual(dialect, 0x0311)
        self.assertTrue(server.alive())
        server.stop()
        lines = [ln for ln in server.log().splitlines() if "stats: connections" in ln]
        self.assertTrue(lines, f"no stats line at shutdown:\n{server.log()}")
        m = re.search(r"decryption failures (\d+)", lines[-1])
        self.assertIsNotNone(m, lines[-1])
        self.assertEqual(int(m.group(1)), 2, lines[-1])


if __name__ == "__main__":
    harness.main()
