#!/usr/bin/env python3
"""SMB over QUIC (MS-SMB2 2.1; issue 18), end to end on 127.0.0.1.

xsmbd serves "server smb transports = tcp, quic" on a free UDP port with a self-signed
certificate made here with openssl, and "server smb encrypt = required". Clients reach it
through tools/xsmb-quic-bridge (a local TCP port per bridge, one QUIC connection per accepted
TCP connection), so the repo's Python SMB2 client and Samba's smbclient run unchanged:

- NEGOTIATE 3.1.1 with SMB2_TRANSPORT_CAPABILITIES (MS-SMB2 2.2.3.1.5) is answered with
  SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY (2.2.4.1.5); the NTLMv2 session then has no
  SMB2_SESSION_FLAG_ENCRYPT_DATA and unencrypted requests are served (QUIC encrypts). Without the
  context the session must encrypt and an unencrypted TREE_CONNECT is refused. A dialect below
  3.1.1 is refused over QUIC. Over TCP the context is ignored.
- smbclient (NTLMv2, SMB3 encryption): 64 MiB put and get back, SHA-256 compared.
- 16 smbclient connections at once, each a put and get of its own file.
- A bridge that moves to a new UDP source port after 4 MiB (RFC 9000 9): the transfer and its
  session go on, and xsmbctl status counts the migration.
- A client offering ALPN "smb2" is refused with TLS alert 120 (no_application_protocol).
- Malformed and truncated datagrams sent raw to the UDP port are dropped (counted) while an
  established connection keeps working.

Run: XSMBD=... XSMBCTL=... [XSMB_QUIC_BRIDGE=...] python3 tests/integration/test_quic.py
"""

import concurrent.futures
import ctypes
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import smb2client as c  # noqa: E402
import smb2raw  # noqa: E402

USER, PASSWORD = "quicuser", "Qu1c-over-udp"
TRANSPORT_CAPABILITIES = 0x0006
ACCEPT_TRANSPORT_LEVEL_SECURITY = 0x00000001
SESSION_FLAG_ENCRYPT_DATA = 0x0004


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quic_server_setup(cls, prefix):
    """A certificate in a new temporary directory, a free UDP port and the [global] options of
    a server that speaks SMB over QUIC with them (SMB3 encryption required, so that only the
    transport capabilities lift it), set on the test class `cls`."""
    cls.tmp = harness.make_temp_dir(prefix)
    cls.cert, cls.key = make_certificate(cls.tmp)
    cls.quic_port = free_udp_port()
    cls.GLOBAL_OPTIONS = {
        "server smb transports": "tcp, quic",
        "tls certfile": str(cls.cert),
        "tls keyfile": str(cls.key),
        "quic port": str(cls.quic_port),
        "server smb encrypt": "required",
    }


def make_certificate(directory):
    """A self-signed ECDSA certificate for CN/SAN localhost: (cert path, key path)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    rc, out = harness.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                           "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                           "-keyout", str(key), "-out", str(cert)], timeout=60)
    if rc != 0:
        raise unittest.SkipTest(f"openssl could not make a certificate: {out}")
    return cert, key


class Bridge:
    """xsmb-quic-bridge on a free TCP port of `listen_host`, stopped by its pid; `prefix` runs
    it elsewhere (ip netns exec NS)."""

    def __init__(self, server, ca, *extra, listen_host="127.0.0.1", prefix=()):
        binary = harness.find_binary("XSMB_QUIC_BRIDGE", "xsmb-quic-bridge")
        if not binary:
            raise unittest.SkipTest("xsmb-quic-bridge not built (set XSMB_QUIC_BRIDGE)")
        self.log_path = harness.make_temp_dir("xsmb-bridge-") / "bridge.log"
        self._log = open(self.log_path, "wb")
        self.host = listen_host
        self.proc = subprocess.Popen(
            [*prefix, binary, "--server", server, "--listen", f"{listen_host}:0",
             "--ca", str(ca), *extra], stdout=subprocess.PIPE, stderr=self._log)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on [\d.]+:(\d+)", line)
        if not m:
            self.stop()
            raise AssertionError(f"bridge did not start: {line!r} {self.log()}")
        self.port = int(m.group(1))

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


def negotiate_311(client, transport_capabilities):
    """NEGOTIATE offering only 3.1.1 with preauth-integrity and encryption contexts, and
    SMB2_TRANSPORT_CAPABILITIES(ACCEPT_TRANSPORT_LEVEL_SECURITY) when asked. Returns (reply,
    {context type: data})."""
    contexts = [(smb2raw.PREAUTH_INTEGRITY_CAPABILITIES,
                 struct.pack("<HHH", 1, 32, smb2raw.SHA512) + os.urandom(32)),
                (smb2raw.ENCRYPTION_CAPABILITIES,
                 struct.pack("<HHH", 2, smb2raw.AES128_GCM, smb2raw.AES128_CCM))]
    if transport_capabilities:
        contexts.append((TRANSPORT_CAPABILITIES, struct.pack("<I", ACCEPT_TRANSPORT_LEVEL_SECURITY)))
    fixed_end = 64 + 36 + 2
    offset = fixed_end + (-fixed_end) % 8
    blob = b"\x00" * (offset - fixed_end)
    for i, (ctype, data) in enumerate(contexts):
        blob += struct.pack("<HHI", ctype, len(data), 0) + data
        if i + 1 < len(contexts):
            blob += b"\x00" * ((-len(blob) - fixed_end) % 8)
    client.client_guid = os.urandom(16)
    body = (struct.pack("<HHHHI", 36, 1, smb2raw.SIGNING_ENABLED, 0, 0x7F) + client.client_guid
            + struct.pack("<IHH", offset, len(contexts), 0) + struct.pack("<H", 0x0311) + blob)
    r = client.send(client.build(c.NEGOTIATE, body), sign_it=False)
    answered = {}
    if r.status == c.STATUS_SUCCESS:
        client.dialect = 0x0311
        count = struct.unpack_from("<H", r.body, 6)[0]
        at = struct.unpack_from("<I", r.body, 60)[0]
        for _ in range(count):
            ctype, length = struct.unpack_from("<HH", r.raw, at)
            answered[ctype] = r.raw[at + 8:at + 8 + length]
            at += 8 + length
            at += (-at) % 8
    return r, answered


def client_to(host, port, timeout=20):
    """An Smb2Client connected to host:port (smb2raw.Connection knows 127.0.0.1 only)."""
    client = c.Smb2Client.__new__(c.Smb2Client)
    conn = smb2raw.Connection.__new__(smb2raw.Connection)
    conn.sock = socket.create_connection((host, port), timeout=timeout)
    conn.next_message_id = 0
    saved = smb2raw.Connection
    try:
        smb2raw.Connection = lambda *a, **k: conn
        c.Smb2Client.__init__(client, port, timeout)
    finally:
        smb2raw.Connection = saved
    return client


class QuicTest(harness.ServerTestCase):
    # Where the server's QUIC port is reached and where bridges run (QuicVethTest changes them).
    SERVER_ADDR = "127.0.0.1"
    BRIDGE_HOST = "127.0.0.1"
    BRIDGE_PREFIX = ()
    # "bpf = yes": xsmbd steers datagrams by connection ID with the sk_reuseport program
    # (QuicVethTest, as root); here the workers hand them over in userspace.
    STEERING = False
    # More [global] options (test_quic_xdp.py: the AF_XDP mode).
    EXTRA_OPTIONS = {}

    @classmethod
    def bridge(cls, *extra):
        return Bridge(f"{cls.SERVER_ADDR}:{cls.quic_port}", cls.cert, *extra,
                      listen_host=cls.BRIDGE_HOST, prefix=cls.BRIDGE_PREFIX)

    @classmethod
    def setUpClass(cls):
        quic_server_setup(cls, "xsmbd-quic-")
        if cls.SERVER_ADDR != "127.0.0.1":
            cls.GLOBAL_OPTIONS["interfaces"] = f"127.0.0.1 {cls.SERVER_ADDR}"
        if cls.STEERING:  # an empty pin dir: no pinned data plane of anyone else is touched
            cls.GLOBAL_OPTIONS["bpf"] = "yes"
            cls.GLOBAL_OPTIONS["bpf pin dir"] = str(cls.tmp / "bpf")
        cls.GLOBAL_OPTIONS.update(cls.EXTRA_OPTIONS)
        super().setUpClass()
        cls.main_bridge = cls.bridge()
        cls.addClassCleanup(cls.main_bridge.stop)

    @classmethod
    def configure(cls, server):
        server.add_share("data", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def smbclient(self, port, commands, timeout=300, cwd=None):
        cmd = ["smbclient", f"//{self.BRIDGE_HOST}/data", "-p", str(port), "-s",
               str(self.server.client_conf), "--use-kerberos=off", "-U", f"{USER}%{PASSWORD}",
               "-m", "SMB3_11", "--client-protection=encrypt", "-c", commands]
        return harness.run(cmd, timeout=timeout, cwd=cwd)

    def status(self):
        line = [x for x in self.server.xsmbctl_status().splitlines() if x.startswith("quic:")]
        self.assertEqual(len(line), 1, self.server.xsmbctl_status())
        return {k.strip(): int(v) for k, v in re.findall(r"([a-z ]+?) (\d+)", line[0].replace(",", ""))}

    def steering(self):
        """The "quic steering" line: totals {verdict: n} and per worker (in, steered,
        handshakes); None when the steering is not attached."""
        line = [x for x in self.server.xsmbctl_status().splitlines()
                if x.startswith("quic steering")]
        if not line:
            return None
        head, *workers = line[0].split(";")
        totals = {k.strip(): int(v) for k, v in re.findall(r"([a-z ]+?) (\d+)", head.replace(",", ""))}
        per = [tuple(int(x) for x in re.fullmatch(r" worker \d+ in (\d+) steered (\d+) handshakes (\d+)", w).groups())
               for w in workers]
        return totals, per

    def settled(self, read):
        """read() once two calls a moment apart agree (the clients' last ACKs and closes
        have arrived)."""
        last = read()
        for _ in range(50):
            time.sleep(0.2)
            now = read()
            if now == last:
                return now
            last = now
        self.fail(f"QUIC counters still moving: {last}")

    def steering_settled(self):
        return self.settled(self.steering)

    def quic_client(self):
        client = client_to(self.BRIDGE_HOST, self.main_bridge.port)
        self.addCleanup(client.close)
        return client

    # --- SMB2_TRANSPORT_CAPABILITIES ----------------------------------------------------------

    def test_transport_capabilities_skip_smb3_encryption(self):
        client = self.quic_client()
        r, answered = negotiate_311(client, transport_capabilities=True)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertEqual(answered.get(TRANSPORT_CAPABILITIES),
                         struct.pack("<I", ACCEPT_TRANSPORT_LEVEL_SECURITY))
        r = client.login(USER, PASSWORD)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)  # NTLMv2
        self.assertFalse(client.session_flags & SESSION_FLAG_ENCRYPT_DATA)
        client.sign_requests = False
        r = client.tree_connect("\\\\localhost\\data")
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        r = client.create("caps.txt", desired_access=0x0012019F, create_disposition=5)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertEqual(client.write(r.file_id, b"over quic").status, c.STATUS_SUCCESS)
        self.assertEqual(client.read(r.file_id, 9).data, b"over quic")
        client.close_file(r.file_id)

    def test_without_transport_capabilities_smb3_encryption_is_required(self):
        client = self.quic_client()
        r, answered = negotiate_311(client, transport_capabilities=False)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertNotIn(TRANSPORT_CAPABILITIES, answered)
        r = client.login(USER, PASSWORD)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertTrue(client.session_flags & SESSION_FLAG_ENCRYPT_DATA)
        client.sign_requests = False
        # An unencrypted request is refused, or answered sealed: SMB3 encryption applies.
        path = "\\\\localhost\\data".encode("utf-16-le")
        client.conn.send(client.build(c.TREE_CONNECT,
                                      struct.pack("<HHHH", 9, 0, 72, len(path)) + path))
        raw = client.conn.recv()
        self.assertTrue(raw[:4] == b"\xfdSMB" or c.Reply(raw).status == c.STATUS_ACCESS_DENIED,
                        raw[:64].hex())

    def test_dialects_below_311_refused_over_quic(self):
        client = self.quic_client()
        r = client.negotiate(dialect=0x0302)
        self.assertEqual(r.status, smb2raw.STATUS_NOT_SUPPORTED, r)

    def test_transport_capabilities_ignored_over_tcp(self):
        client = c.Smb2Client(self.server.port, timeout=20)
        self.addCleanup(client.close)
        r, answered = negotiate_311(client, transport_capabilities=True)
        self.assertEqual(r.status, c.STATUS_SUCCESS, r)
        self.assertNotIn(TRANSPORT_CAPABILITIES, answered)
        self.assertEqual(client.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        self.assertTrue(client.session_flags & SESSION_FLAG_ENCRYPT_DATA)

    # --- bulk data, parallel connections, migration --------------------------------------------

    def test_64mib_put_and_get(self):
        path, digest = harness.random_file(64 << 20)
        out_dir = harness.make_temp_dir("xsmbd-quic-get-")
        rc, out = self.smbclient(self.main_bridge.port,
                                 f"put {path} big.bin; get big.bin {out_dir}/big.bin")
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(out_dir / "big.bin"), digest)

    def test_16_parallel_connections(self):
        path, digest = harness.random_file(1 << 20)
        out_dir = harness.make_temp_dir("xsmbd-quic-par-")
        before = self.status()["handshakes"]
        forwarded = self.status()["handed to owner"]
        steer_before = self.steering_settled() if self.STEERING else None
        if self.STEERING:
            self.assertIsNotNone(steer_before, "bpf = yes as root: the steering must attach "
                                 + self.server.xsmbctl_status())

        def one(i):
            return self.smbclient(self.main_bridge.port,
                                  f"put {path} par{i}.bin; get par{i}.bin {out_dir}/par{i}.bin",
                                  timeout=120)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(16)))
        for i, (rc, out) in enumerate(results):
            self.assertEqual(rc, 0, f"client {i}: {out}")
            self.assertEqual(harness.sha256_file(out_dir / f"par{i}.bin"), digest)
        self.assertGreaterEqual(self.status()["handshakes"] - before, 16)
        if self.STEERING:
            self.check_steered(steer_before, self.steering_settled())
            self.assertEqual(self.status()["handed to owner"], forwarded)

    def check_steered(self, before, after):
        """Every datagram went through the reuseport program; each one that names a worker
        was given to that worker's socket (no hand-over in userspace); only Initials and the
        few datagrams the program could not read took the kernel's hash."""
        d = {k: after[0][k] - before[0].get(k, 0) for k in after[0]}
        per = [tuple(a - b for a, b in zip(x, y)) for x, y in zip(after[1], before[1])]
        msg = f"{before} -> {after}"
        self.assertEqual(d["hash unknown"] + d["select failed"], 0, msg)
        hashed = d["hash initial"] + d["hash malformed"]
        self.assertEqual(d["datagrams"], d["by cid"] + hashed, msg)
        self.assertEqual(sum(p[1] for p in per), d["by cid"], msg)
        self.assertGreater(d["by cid"], 16 * 100, msg)  # 2 MiB each way per connection
        self.assertEqual(d["hash initial"], 16, msg)  # each connection's first Initial
        # None malformed: a Handshake packet whose Fixed Bit the client greased (RFC 9287) is
        # read as any other.
        self.assertEqual(d["hash malformed"], 0, msg)
        for w, (got, steered, handshakes) in enumerate(per):
            # A worker is given datagrams exactly when it owns connections, and reads only
            # those (fewer when its socket buffer overflowed) and what the hash gave it.
            self.assertEqual(steered > 0, handshakes > 0, f"worker {w}: {msg}")
            self.assertLessEqual(got, steered + hashed, f"worker {w}: {msg}")

    def test_migration_keeps_the_session(self):
        bridge = self.bridge("--migrate-after-bytes", str(4 << 20))
        self.addCleanup(bridge.stop)
        path, digest = harness.random_file(16 << 20)
        out_dir = harness.make_temp_dir("xsmbd-quic-mig-")
        before = self.status()["migrations"]
        rc, out = self.smbclient(bridge.port, f"put {path} moved.bin; get moved.bin "
                                              f"{out_dir}/moved.bin")
        self.assertEqual(rc, 0, out + bridge.log())
        self.assertEqual(harness.sha256_file(out_dir / "moved.bin"), digest)
        self.assertRegex(bridge.log(), r"migrated from UDP port \d+ to \d+")
        self.assertGreater(self.status()["migrations"], before, bridge.log())

    # --- refusals ---------------------------------------------------------------------------------

    def probe(self, *extra):
        binary = harness.find_binary("XSMB_QUIC_BRIDGE", "xsmb-quic-bridge")
        return harness.run([*self.BRIDGE_PREFIX, binary, "--server",
                            f"{self.SERVER_ADDR}:{self.quic_port}", "--ca", str(self.cert),
                            "--probe", *extra], timeout=30)

    def test_wrong_alpn_refused(self):
        rc, out = self.probe()
        self.assertEqual(rc, 0, out)
        before = self.status()["alpn"]
        rc, out = self.probe("--alpn", "smb2")
        self.assertEqual(rc, 1, out)
        self.assertIn("TLS alert 120", out)
        self.assertEqual(self.status()["alpn"], before + 1)

    def test_malformed_datagrams_dropped_connection_unharmed(self):
        client = self.quic_client()
        self.assertEqual(negotiate_311(client, True)[0].status, c.STATUS_SUCCESS)
        self.assertEqual(client.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        client.sign_requests = False
        before = self.status()
        garbage = [
            b"",
            b"\x00",
            os.urandom(40),
            b"\xc0\x00\x00\x00\x01\x14" + os.urandom(6),         # long header cut in the DCID
            b"\xc0\x00\x00\x00\x01\x08" + os.urandom(8) + b"\x08",  # cut in the SCID
            b"\x40" + b"\x01\x00" + os.urandom(30),               # short header, unknown CID
            b"\xc0\x00\x00\x00\x01\x08" + os.urandom(8) + b"\x00" + os.urandom(1180),  # Initial
            b"\xc0\xde\xad\xbe\xef\x08" + os.urandom(8) + b"\x00" + os.urandom(1200),  # version
        ]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(5):
                for g in garbage:
                    s.sendto(g, (self.SERVER_ADDR, self.quic_port))
        for _ in range(3):
            self.assertEqual(client.echo().status, c.STATUS_SUCCESS)
        self.assertEqual(client.tree_connect("\\\\localhost\\data").status, c.STATUS_SUCCESS)
        after = self.status()
        dropped = lambda s: s["undecodable"] + s["unknown cid"]  # noqa: E731
        self.assertGreaterEqual(dropped(after) - dropped(before), 20, (before, after))
        self.assertServerAlive()

    def test_tcp_still_served(self):
        rc, out = self.server.smbclient("data", "ls", user=USER, password=PASSWORD,
                                        protection="encrypt")
        self.assertEqual(rc, 0, out)


class QuicSetupTimeoutTest(harness.ServerTestCase):
    """"session setup timeout" holds over QUIC as over TCP: a completed handshake (and a
    NEGOTIATE) without an authenticated session is closed after it; a session keeps the
    connection."""

    TIMEOUT = 2

    @classmethod
    def setUpClass(cls):
        cls.tmp = harness.make_temp_dir("xsmbd-quic-st-")
        cls.cert, key = make_certificate(cls.tmp)
        cls.quic_port = free_udp_port()
        cls.GLOBAL_OPTIONS = {"server smb transports": "tcp, quic", "tls certfile": str(cls.cert),
                              "tls keyfile": str(key), "quic port": str(cls.quic_port),
                              "session setup timeout": str(cls.TIMEOUT)}
        super().setUpClass()
        cls.bridge = Bridge(f"127.0.0.1:{cls.quic_port}", cls.cert)
        cls.addClassCleanup(cls.bridge.stop)

    @classmethod
    def configure(cls, server):
        server.add_share("data")
        server.add_user(USER, PASSWORD)

    def client(self):
        client = client_to("127.0.0.1", self.bridge.port)
        self.addCleanup(client.close)
        self.assertEqual(negotiate_311(client, True)[0].status, c.STATUS_SUCCESS)
        return client

    def test_no_session_is_closed(self):
        client = self.client()
        time.sleep(self.TIMEOUT + 2)
        self.assertEqual(client.conn.closed_or_error(timeout=5), "closed")
        self.assertRegex(self.server.xsmbctl_status(), r"session setup timeouts [1-9]")

    def test_session_keeps_the_connection(self):
        client = self.client()
        self.assertEqual(client.login(USER, PASSWORD).status, c.STATUS_SUCCESS)
        client.sign_requests = False
        time.sleep(self.TIMEOUT + 2)
        self.assertEqual(client.echo().status, c.STATUS_SUCCESS)


NS_SRV, NS_CLI = f"xq-srv-{os.getpid()}", f"xq-cli-{os.getpid()}"
CLONE_NEWNET = 0x40000000


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def sh(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}")


class QuicVethTest(QuicTest):
    """The same tests with QUIC on a veth pair between two network namespaces this test
    creates and removes: xsmbd (and this process) in one at 10.203.0.1, the bridges in the
    other at 10.203.0.2. Needs root and ip (iproute2); skipped otherwise, saying why."""

    SERVER_ADDR = "10.203.0.1"
    BRIDGE_HOST = "10.203.0.2"
    BRIDGE_PREFIX = ("ip", "netns", "exec", NS_CLI)
    STEERING = True

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise unittest.SkipTest("needs root and ip (network namespaces, veth)")
        try:
            for ns in (NS_SRV, NS_CLI):
                sh("ip", "netns", "add", ns)
            cls.addClassCleanup(cls._remove_namespaces)
            sh("ip", "link", "add", "xq0", "netns", NS_SRV, "type", "veth", "peer", "name", "xq1",
               "netns", NS_CLI)
            for ns, dev, addr in ((NS_SRV, "xq0", cls.SERVER_ADDR), (NS_CLI, "xq1", cls.BRIDGE_HOST)):
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
                sh("ip", "-n", ns, "link", "set", "lo", "up")
        except RuntimeError as e:
            raise unittest.SkipTest(f"cannot make the namespaces: {e}")
        cls._home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/var/run/netns/{NS_SRV}", os.O_RDONLY)
        try:
            setns(fd)  # xsmbd, smbclient and this process's sockets live in NS_SRV
        finally:
            os.close(fd)
        cls.addClassCleanup(cls._leave)
        super().setUpClass()

    def veth_rx_bytes(self):
        out = subprocess.run(["ip", "-n", NS_SRV, "-s", "-j", "link", "show", "xq0"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)[0]["stats64"]["rx"]["bytes"]

    def test_64mib_put_and_get(self):
        before = self.veth_rx_bytes()
        super().test_64mib_put_and_get()
        self.assertGreater(self.veth_rx_bytes() - before, 64 << 20)  # the put came over veth

    @classmethod
    def _leave(cls):
        setns(cls._home)
        os.close(cls._home)

    @classmethod
    def _remove_namespaces(cls):
        for ns in (NS_SRV, NS_CLI):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    harness.main()
