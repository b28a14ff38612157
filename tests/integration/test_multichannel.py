#!/usr/bin/env python3
"""Multichannel over TCP against a real xsmbd (issue 16; MS-SMB2 3.3.5.5.2, 3.3.5.15.11).

- four_channels_256mib: one SMB 3.0 session bound to 4 TCP connections (SESSION_SETUP with
  SMB2_SESSION_FLAG_BINDING, each channel signing with its own Channel.SigningKey), a 256 MiB
  file read in 1 MiB pieces spread over the channels by 4 threads, every response's signature
  checked with its channel's key; a quarter of the way in, the connection of the channel that
  set the session up (the one holding its opens) is cut; the other three finish the file, whose
  SHA-256 must match; the session, its open and its tree connect live on. LOGOFF on one channel
  then ends the session on all.
- binding_refusals: a binding on SMB 2.1, to an unknown session, and with a wrong signature.
- interface_info: FSCTL_QUERY_NETWORK_INTERFACE_INFO lists 127.0.0.1 with the speed and RSS
  capability the "interfaces" line gives it.
- notify_moves_with_session: a CHANGE_NOTIFY sent on a bound channel waits (STATUS_PENDING) at
  the session's home; the home's connection is cut; a file created in the directory then
  completes it on the channel, with the AsyncId of its interim response.
- channel_counters: xsmbctl status lists each channel's requests and bytes, the home's session
  line says how many channels it has, the bound one's says "channel".

Runs in well under two minutes (the 256 MiB read takes a few seconds on loopback).
"""

import hashlib
import os
import queue
import re
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import smb2client as sc  # noqa: E402

USER = "mcuser"
PASSWORD = "Multi-Chan-42"
FILE_SIZE = 256 << 20
CHUNK = 1 << 20
CHANNELS = 4
KILLED = 0  # the channel that set the session up: its connection holds the session
DIALECT = 0x0300
SPEED = 10000000000


def open_primary(port, guid):
    c = sc.Smb2Client(port, timeout=30)
    assert c.negotiate(DIALECT, client_guid=guid).status == sc.STATUS_SUCCESS
    r = c.login(USER, PASSWORD)
    assert r.status == sc.STATUS_SUCCESS, r
    return c


class MultichannelTest(harness.ServerTestCase):
    GLOBAL_OPTIONS = {
        "server multi channel support": "yes",
        "interfaces": f'"127.0.0.1;speed={SPEED},capability=RSS"',
    }

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("share", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def setUp(self):
        if not sc.HAVE_CMAC:
            self.skipTest("python3-cryptography (AES-CMAC for SMB 3.0 signing) is not installed")

    def unc(self):
        return f"\\\\127.0.0.1\\share"

    def test_interface_info(self):
        c = open_primary(self.server.port, os.urandom(16))
        self.assertTrue(c.server_capabilities & 0x08, "SMB2_GLOBAL_CAP_MULTI_CHANNEL missing")
        self.assertEqual(c.tree_connect(self.unc()).status, sc.STATUS_SUCCESS)
        r = c.ioctl(sc.FSCTL_QUERY_NETWORK_INTERFACE_INFO)
        self.assertEqual(r.status, sc.STATUS_SUCCESS, r)
        self.assertEqual(len(r.output), 152)  # one NETWORK_INTERFACE_INFO: 127.0.0.1 only
        nxt, if_index, capability, _, speed, family = struct.unpack_from("<IIIIQH", r.output)
        self.assertEqual((nxt, capability, speed, family), (0, 1, SPEED, 2))
        self.assertEqual(r.output[28:32], bytes([127, 0, 0, 1]))
        self.assertEqual(if_index, socket.if_nametoindex("lo"))
        # A FileId other than all ones is refused (MS-SMB2 3.3.5.15.11).
        r = c.ioctl(sc.FSCTL_QUERY_NETWORK_INTERFACE_INFO, file_id=b"\x01" * 16)
        self.assertEqual(r.status, sc.STATUS_INVALID_PARAMETER)
        c.close()

    def test_binding_refusals(self):
        port = self.server.port
        guid = os.urandom(16)
        primary = open_primary(port, guid)
        # SMB 2.1 has no multichannel.
        with sc.Smb2Client(port) as c:
            c.negotiate(0x0210, client_guid=guid)
            c.dialect = DIALECT  # sign as the 3.0 session does
            r = c.bind(primary, USER, PASSWORD)
            self.assertEqual(r.status, sc.STATUS_REQUEST_NOT_ACCEPTED, r)
        # A session that does not exist.
        with sc.Smb2Client(port) as c:
            c.negotiate(DIALECT, client_guid=guid)
            fake = sc.Smb2Client.__new__(sc.Smb2Client)
            fake.session_id, fake.tree_id = primary.session_id ^ 0x5A5A, 0
            fake.session_signing_key = primary.session_signing_key
            self.assertEqual(c.bind(fake, USER, PASSWORD).status,
                             sc.STATUS_USER_SESSION_DELETED)
        # Signed with a wrong key: the signature check fails first.
        with sc.Smb2Client(port) as c:
            c.negotiate(DIALECT, client_guid=guid)
            fake.session_id = primary.session_id
            fake.session_signing_key = b"\x11" * 16
            self.assertEqual(c.bind(fake, USER, PASSWORD).status, sc.STATUS_ACCESS_DENIED)
        # Wrong password: the logon fails, the session stays usable on its own channel.
        with sc.Smb2Client(port) as c:
            c.negotiate(DIALECT, client_guid=guid)
            self.assertEqual(c.bind(primary, USER, "wrong").status, sc.STATUS_LOGON_FAILURE)
        self.assertEqual(primary.echo().status, sc.STATUS_SUCCESS)
        self.assertEqual(primary.tree_connect(self.unc()).status, sc.STATUS_SUCCESS)
        primary.close()

    def make_file(self):
        path = self.share.path / "big.bin"
        h = hashlib.sha256()
        with open(path, "wb") as f:
            for _ in range(FILE_SIZE // (16 << 20)):
                block = os.urandom(16 << 20)
                h.update(block)
                f.write(block)
        return h.hexdigest()

    def test_four_channels_256mib(self):
        digest = self.make_file()
        port = self.server.port
        guid = os.urandom(16)
        primary = open_primary(port, guid)
        self.assertEqual(primary.tree_connect(self.unc()).status, sc.STATUS_SUCCESS)
        r = primary.create("big.bin")
        self.assertEqual(r.status, sc.STATUS_SUCCESS, r)
        file_id = r.file_id
        channels = [primary]
        for _ in range(CHANNELS - 1):
            c = sc.Smb2Client(port, timeout=30)
            self.assertEqual(c.negotiate(DIALECT, client_guid=guid).status, sc.STATUS_SUCCESS)
            self.assertEqual(c.bind(primary, USER, PASSWORD).status, sc.STATUS_SUCCESS)
            channels.append(c)
        keys = {c.session_key for c in channels}
        self.assertEqual(len(keys), CHANNELS, "each channel has its own signing key")

        work = queue.Queue()
        for i in range(FILE_SIZE // CHUNK):
            work.put(i)
        out = bytearray(FILE_SIZE)
        done = [0] * CHANNELS
        after_kill = [0] * CHANNELS
        errors = []
        killed = threading.Event()
        lock = threading.Lock()
        total = [0]

        def reader(k):
            c = channels[k]
            while True:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    rr = c.read(file_id, length=CHUNK, offset=i * CHUNK)
                except (OSError, ConnectionError, ValueError):
                    work.put(i)  # this channel is gone: another one reads the piece
                    return
                if rr.status != sc.STATUS_SUCCESS or len(rr.data) != CHUNK:
                    errors.append(f"channel {k} piece {i}: {sc.status_name(rr.status)}")
                    return
                if not sc.signature_ok(rr.raw, c.session_key, cmac=True):
                    errors.append(f"channel {k} piece {i}: signature does not verify")
                    return
                out[i * CHUNK:(i + 1) * CHUNK] = rr.data
                with lock:
                    done[k] += 1
                    total[0] += 1
                    if killed.is_set():
                        after_kill[k] += 1
                    elif total[0] >= FILE_SIZE // CHUNK // 4:
                        killed.set()
                        # Cut the first channel's TCP connection under its reader.
                        channels[KILLED].conn.sock.shutdown(socket.SHUT_RDWR)

        t0 = time.monotonic()
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(CHANNELS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=100)
        seconds = time.monotonic() - t0
        self.assertFalse(any(t.is_alive() for t in threads), "a reader hangs")
        self.assertEqual(errors, [])
        self.assertTrue(killed.is_set())
        self.assertEqual(sum(done), FILE_SIZE // CHUNK, f"pieces per channel: {done}")
        self.assertEqual(hashlib.sha256(out).hexdigest(), digest)
        for k in range(CHANNELS):
            self.assertGreater(done[k], 0, f"channel {k} read nothing: {done}")
            if k != KILLED:
                self.assertGreater(after_kill[k], 0, f"channel {k} stopped: {after_kill}")
        print(f"\n[multichannel] 256 MiB over {CHANNELS} channels in {seconds:.1f} s "
              f"({FILE_SIZE / seconds / 1e6:.0f} MB/s); pieces per channel {done}, after the "
              f"cut {after_kill}", file=sys.stderr)

        # The session lives on: its open and tree connect answer on every surviving channel.
        for c in channels[1:]:
            rr = c.read(file_id, length=4096, offset=0)
            self.assertEqual(rr.status, sc.STATUS_SUCCESS, rr)
        self.assertEqual(channels[1].close_file(file_id).status, sc.STATUS_SUCCESS)
        # LOGOFF on one channel ends the session on all of them.
        self.assertEqual(channels[2].logoff().status, sc.STATUS_SUCCESS)
        self.assertEqual(channels[3].echo().status, sc.STATUS_SUCCESS)
        r = channels[3].create("big.bin")
        self.assertEqual(r.status, sc.STATUS_USER_SESSION_DELETED, r)
        for c in channels:
            c.close()
        self.assertServerAlive()

    def bound_pair(self):
        """A session on a primary connection (tree connected) and a channel bound to it."""
        guid = os.urandom(16)
        primary = open_primary(self.server.port, guid)
        self.assertEqual(primary.tree_connect(self.unc()).status, sc.STATUS_SUCCESS)
        channel = sc.Smb2Client(self.server.port, timeout=15)
        self.assertEqual(channel.negotiate(DIALECT, client_guid=guid).status, sc.STATUS_SUCCESS)
        self.assertEqual(channel.bind(primary, USER, PASSWORD).status, sc.STATUS_SUCCESS)
        return primary, channel

    def test_notify_moves_with_session(self):
        (self.share.path / "watched").mkdir()
        primary, channel = self.bound_pair()
        # FILE_LIST_DIRECTORY | SYNCHRONIZE, FILE_OPEN, FILE_DIRECTORY_FILE
        r = channel.create("watched", desired_access=0x00100001, create_options=0x1)
        self.assertEqual(r.status, sc.STATUS_SUCCESS, r)
        # CHANGE_NOTIFY (MS-SMB2 2.2.35): 4096-byte buffer, FILE_NOTIFY_CHANGE_FILE_NAME.
        body = struct.pack("<HHI", 32, 0, 4096) + r.file_id + struct.pack("<II", 0x1, 0)
        channel.conn.send(sc.sign(channel.build(0x0F, body), channel.session_key, cmac=True))
        interim = sc.Reply(channel.conn.recv())
        self.assertEqual(interim.status, sc.STATUS_PENDING, interim)
        async_id = struct.unpack_from("<Q", interim.raw, 32)[0]
        primary.conn.sock.shutdown(socket.SHUT_RDWR)  # the home goes
        deadline = time.monotonic() + 10
        while "channels 2" in self.server.xsmbctl_status() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the session has moved to the channel
        (self.share.path / "watched" / "new.txt").write_bytes(b"x")
        final = sc.Reply(channel.conn.recv())
        self.assertEqual(final.status, sc.STATUS_SUCCESS, final)
        self.assertEqual(struct.unpack_from("<Q", final.raw, 32)[0], async_id)
        self.assertEqual(final.message_id, interim.message_id)
        self.assertIn("new.txt".encode("utf-16-le"), final.body)
        self.assertEqual(channel.echo().status, sc.STATUS_SUCCESS)
        primary.close()
        channel.close()

    def test_channel_counters(self):
        primary, channel = self.bound_pair()
        for _ in range(5):
            self.assertEqual(channel.echo().status, sc.STATUS_SUCCESS)
        out = self.server.xsmbctl_status()
        blocks = {}
        for block in out.split("\nconnection ")[1:]:
            peer = block.split(" ", 1)[0]
            blocks[peer] = block
        mine = [b for b in blocks.values() if f"session {primary.session_id} " in b]
        self.assertEqual(len(mine), 2, out)
        home = [b for b in mine if " channels 2" in b]
        bound = [b for b in mine if " channel " in b or " channel\n" in b]
        self.assertEqual((len(home), len(bound)), (1, 1), out)
        m = re.search(r"traffic: requests (\d+), bytes in (\d+), bytes out (\d+)", bound[0])
        self.assertIsNotNone(m, out)
        requests, bytes_in, bytes_out = map(int, m.groups())
        # NEGOTIATE, 2 SESSION_SETUPs and 5 ECHOs of at least 68 bytes each, each answered.
        self.assertGreaterEqual(requests, 8, out)
        self.assertGreaterEqual(bytes_in, 8 * 68, out)
        self.assertGreaterEqual(bytes_out, 8 * 68, out)
        primary.close()
        channel.close()


if __name__ == "__main__":
    harness.main()
