#!/usr/bin/env python3
"""SMB over QUIC in the AF_XDP receive mode (issue 18; docs/quic.md "AF_XDP mode").

xsmbd runs with "quic xdp interface = xq0" on the server end of the veth pair that
test_quic.QuicVethTest creates between two network namespaces, so xsmb_quic_xdp runs natively
on xq0 and every worker has an AF_XDP socket (copy mode: veth has no zero-copy) on each of its
receive queues. All of test_quic.py's veth tests run again in that mode: NTLMv2 with and
without SMB2_TRANSPORT_CAPABILITIES, 64 MiB put/get with SHA-256, 16 parallel connections,
migration, a wrong ALPN, malformed and truncated datagrams. After the 16 connections the
"quic xdp" line of xsmbctl status must show, per worker, that every packet XDP placed was read
from that worker's XSK or counted as a kernel drop, that no XSK datagram named another worker,
that a worker got packets exactly when it owns connections, and that the UDP sockets read only
what XDP passed (the clients' first Initials).

QuicXdpFallbackTest: an interface that does not exist costs one log line and nothing else:
QUIC is served from the sockets.

Needs root and ip (network namespaces, veth, XDP, AF_XDP); skipped otherwise, saying why.
Run: XSMBD=... XSMBCTL=... XSMB_QUIC_BRIDGE=... python3 tests/integration/test_quic_xdp.py
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import test_quic  # noqa: E402  (a module import: unittest must not collect its classes here)


def xdp_line(status):
    """The "quic xdp" line as ({total: n}, [{field: n} per worker]); None when absent."""
    line = [x for x in status.splitlines() if x.startswith("quic xdp:")]
    if not line:
        return None
    head, *workers = line[0].split(";")
    totals = {k.strip(): int(v) for k, v in re.findall(r"([a-z ]+?) (\d+)", head.replace(",", ""))}
    per = []
    for w in workers:
        m = re.fullmatch(r" worker \d+ placed (\d+) xsk (\d+) not owner (\d+) socket (\d+)"
                         r" dropped (\d+) ring full (\d+) handshakes (\d+)", w)
        assert m, f"unexpected worker field: {w!r}"
        per.append(dict(zip(("placed", "xsk", "not owner", "socket", "dropped", "ring full",
                             "handshakes"), (int(x) for x in m.groups()))))
    return totals, per


class QuicXdpTest(test_quic.QuicVethTest):
    EXTRA_OPTIONS = {"quic xdp interface": "xq0", "quic xdp mode": "copy"}

    @classmethod
    def setUpClass(cls):
        cls.metrics_port = harness.free_port()
        cls.EXTRA_OPTIONS = dict(cls.EXTRA_OPTIONS,
                                 **{"metrics address": f"127.0.0.1:{cls.metrics_port}"})
        super().setUpClass()

    def scrape(self):
        """{(family, frozenset(labels)): value} of /metrics' xsmbd_quic_* samples."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        out = {}
        for m in re.finditer(r"^(xsmbd_quic_\w+)(?:\{([^}]*)\})? (\S+)$", text, re.M):
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out

    def xdp(self):
        got = xdp_line(self.server.xsmbctl_status())
        self.assertIsNotNone(got, "AF_XDP mode must be up:\n" + self.server.xsmbctl_status()
                             + self.server.log())
        return got

    def xdp_settled(self):
        return self.settled(self.xdp)

    def test_00_mode_is_up(self):
        totals, per = self.xdp()
        self.assertEqual(len(per), self.status()["workers"])
        self.assertIn("quic: AF_XDP mode on xq0", self.server.log())
        self.assertIn("interface xq0 (copy)", [x for x in self.server.xsmbctl_status().splitlines()
                                  if x.startswith("quic xdp:")][0])

    def test_16_parallel_connections(self):
        before = self.xdp_settled()
        super().test_16_parallel_connections()
        after = self.xdp_settled()
        d = {k: after[0][k] - before[0].get(k, 0) for k in after[0] if k != "queues"}
        per = [{k: a[k] - b[k] for k in a} for a, b in zip(after[1], before[1])]
        msg = f"{before} -> {after}"
        sys.stderr.write(f"\nAF_XDP after 16 connections: {d}\n  per worker: {per}\n")
        self.assertGreater(d["redirected"], 16 * 100, msg)  # 2 MiB each way per connection
        self.assertEqual(sum(p["placed"] for p in per), d["redirected"], msg)
        self.assertGreaterEqual(d["pass initial"], 16, msg)  # each connection's first Initial
        self.assertEqual(d["cid registration failures"], 0, msg)
        self.assertEqual(d["pass malformed"], 0, msg)  # greased Fixed Bits (RFC 9287) included
        passed = (d["pass initial"] + d["pass unknown cid"] + d["pass malformed"]
                  + d["pass no xsk"])
        for w, p in enumerate(per):
            wmsg = f"worker {w}: {msg}"
            # Every packet XDP gave this worker's XSKs was read by it or dropped by the kernel.
            self.assertEqual(p["placed"], p["xsk"] + p["dropped"] + p["ring full"], wmsg)
            self.assertEqual(p["not owner"], 0, wmsg)  # each XSK datagram names its reader
            # A worker is given packets exactly when it owns connections.
            self.assertEqual(p["placed"] > 0, p["handshakes"] > 0, wmsg)
            # Its sockets read only what XDP passed (Initials, unknown IDs).
            self.assertLessEqual(p["socket"], passed, wmsg)
        self.assertLess(passed, d["redirected"] // 20, msg)

    def test_metrics_show_the_xsk_counters(self):
        """/metrics carries the same per-worker XSK counters as the status line."""
        rc, out = self.smbclient(self.main_bridge.port, "ls")
        self.assertEqual(rc, 0, out)
        totals, per = self.xdp_settled()
        m = self.scrape()
        msg = f"{per} vs {m}"
        for w, p in enumerate(per):
            for kind, field in (("placed", "placed"), ("received", "xsk"),
                                ("not_owner", "not owner"), ("ring_full", "ring full")):
                key = ("xsmbd_quic_xsk_packets_total",
                       frozenset({("worker", str(w)), ("kind", kind)}))
                self.assertEqual(m.get(key), p[field], f"worker {w} {kind}: {msg}")
        self.assertGreater(sum(p["placed"] for p in per), 0, msg)
        self.assertEqual(m[("xsmbd_quic_xdp_packets_total", frozenset({("verdict", "redirect")}))],
                         totals["redirected"], msg)
        self.assertIn(("xsmbd_quic_connections", frozenset()), m)
        self.assertGreaterEqual(
            m[("xsmbd_quic_handshakes_total", frozenset({("result", "completed")}))], 1, msg)

    def test_bpftool_shows_each_connection_at_its_worker(self):
        """While a connection is open, bpftool prints its IDs in xsmb_quic_cids by field
        name, each at the worker its ID names, with the packets XDP placed by it; that
        worker's XSKs (and no other's) took them."""
        if not shutil.which("bpftool"):
            self.skipTest("no bpftool")
        client = self.quic_client()
        self.assertEqual(test_quic.negotiate_311(client, True)[0].status,
                         test_quic.c.STATUS_SUCCESS)
        self.assertEqual(client.login(test_quic.USER, test_quic.PASSWORD).status,
                         test_quic.c.STATUS_SUCCESS)
        client.sign_requests = False
        _, before = self.xdp_settled()
        for _ in range(40):
            self.assertEqual(client.echo().status, test_quic.c.STATUS_SUCCESS)
        _, after = self.xdp_settled()
        out = subprocess.run(["bpftool", "-j", "map", "dump", "name", "xsmb_quic_cids"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        # With BTF bpftool -j gives each element's fields under "formatted" (the raw bytes
        # beside them); the test reads the named fields.
        entries = [e.get("formatted", e) for e in json.loads(out.stdout)]
        self.assertTrue(entries, "no connection ID registered while a connection is open")
        for e in entries:
            self.assertEqual(e["key"]["layout"], 1, e)
            self.assertEqual(e["value"]["worker"], e["key"]["worker"], e)
        # The echoes' datagrams went to the worker that owns the client's connection: its
        # placed count grew by at least 40, and no other worker's grew.
        busy = [w for w, (a, b) in enumerate(zip(after, before)) if a["placed"] > b["placed"]]
        self.assertEqual(len(busy), 1, f"{before} -> {after}")
        w = busy[0]
        self.assertGreaterEqual(after[w]["placed"] - before[w]["placed"], 40)
        self.assertEqual(after[w]["xsk"] - before[w]["xsk"],
                         after[w]["placed"] - before[w]["placed"])
        mine = [e for e in entries if e["key"]["worker"] == w and e["value"]["xdp_packets"] > 0]
        self.assertTrue(mine, f"worker {w} has no ID with packets: {entries}")
        self.assertGreaterEqual(sum(e["value"]["xdp_packets"] for e in mine), 40, entries)

    def check_steered(self, before, after):
        """In AF_XDP mode the reuseport program sees only what XDP passed: each connection's
        first Initial (by the kernel's hash), nothing it could have placed by ID."""
        d = {k: after[0][k] - before[0].get(k, 0) for k in after[0]}
        msg = f"{before} -> {after}"
        self.assertEqual(d["hash unknown"] + d["select failed"], 0, msg)
        self.assertGreaterEqual(d["hash initial"], 16, msg)
        self.assertLess(d["datagrams"], 16 * 20, msg)


class QuicXdpFallbackTest(harness.ServerTestCase):
    """"quic xdp interface" naming no interface: one log line, QUIC served from the sockets."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise test_quic.unittest.SkipTest("needs root (the fallback is the unprivileged path)")
        test_quic.quic_server_setup(cls, "xsmbd-quic-xdpfb-")
        cls.GLOBAL_OPTIONS["quic xdp interface"] = "nosuchif0"
        super().setUpClass()
        cls.bridge = test_quic.Bridge(f"127.0.0.1:{cls.quic_port}", cls.cert)
        cls.addClassCleanup(cls.bridge.stop)

    @classmethod
    def configure(cls, server):
        server.add_share("data", {"read only": "no"})
        server.add_user(test_quic.USER, test_quic.PASSWORD)

    def test_sockets_serve_and_one_line_says_why(self):
        deadline = time.time() + 10
        while "quic: SMB over QUIC on UDP port" not in self.server.log() and time.time() < deadline:
            time.sleep(0.1)
        client = test_quic.client_to("127.0.0.1", self.bridge.port)
        self.addCleanup(client.close)
        r, _ = test_quic.negotiate_311(client, True)
        self.assertEqual(r.status, test_quic.c.STATUS_SUCCESS, r)
        self.assertEqual(client.login(test_quic.USER, test_quic.PASSWORD).status,
                         test_quic.c.STATUS_SUCCESS)
        log = self.server.log()
        self.assertEqual(log.count("AF_XDP mode on nosuchif0 not started"), 1, log)
        self.assertIn("no interface nosuchif0", log)
        self.assertNotIn("quic xdp:", self.server.xsmbctl_status())


if __name__ == "__main__":
    harness.main()
