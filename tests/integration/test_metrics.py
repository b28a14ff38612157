#!/usr/bin/env python3
"""The Prometheus endpoint ("metrics address", docs/operations.md): /metrics in the text
exposition format 0.0.4, /healthz, /readyz; counters that move by exactly what smbclient
transferred, gauges of a connection kept open, auth failures.

  python3 tests/integration/test_metrics.py [-v]
"""

import math
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def http_get(port, path, method="GET"):
    """(status, content type, body) of one request to the endpoint."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def wait_endpoint(port, timeout=10.0):
    """Waits until the endpoint answers: xsmbd opens it after its SMB listeners, which are what
    Server.start() waits for."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_get(port, "/healthz")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def parse_exposition(text):
    """{(name, frozenset(labels)): value} and {family: type}; raises on a malformed line."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in types:
                raise ValueError(f"family {name} typed twice")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"malformed sample line: {line!r}")
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        pairs = LABEL.findall(labels)
        if labels and ",".join(f'{k}="{v}"' for k, v in pairs) != labels:
            raise ValueError(f"malformed labels: {line!r}")
        key = (name, frozenset(pairs))
        if key in samples:
            raise ValueError(f"duplicate sample: {line!r}")
        samples[key] = float(value)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(harness.ServerTestCase):
    @classmethod
    def configure(cls, server):
        cls.metrics_port = harness.free_port()
        server.global_options["metrics address"] = f"127.0.0.1:{cls.metrics_port}"
        server.add_share("data", {"read only": "no"})
        server.add_user("alice", "Secret123")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_endpoint(cls.metrics_port)

    def scrape(self):
        status, ctype, body = http_get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4")
        return parse_exposition(body)

    def smbclient(self, commands, **kw):
        return self.server.smbclient("data", commands, user="alice", password="Secret123", **kw)

    def test_probes(self):
        status, _, body = http_get(self.metrics_port, "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        status, _, body = http_get(self.metrics_port, "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual(http_get(self.metrics_port, "/nothing")[0], 404)
        self.assertEqual(http_get(self.metrics_port, "/metrics", method="POST")[0], 405)

    def test_format(self):
        self.smbclient("ls")  # at least one command of each kind a logon uses
        samples, types = self.scrape()
        names = {name for name, _ in samples}
        for family, kind in types.items():
            self.assertIn(kind, ("counter", "gauge", "histogram"), family)
            if kind == "counter":
                self.assertTrue(family.endswith("_total"), family)
        for name in names:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertTrue(name in types or types.get(base) == "histogram",
                            f"{name} has no TYPE line")
        self.assertEqual(value(samples, "xsmbd_bpf_active"), 0.0)  # no data plane here
        self.assertEqual(value(samples, "xsmbd_ready"), 1.0)
        # Histogram buckets are cumulative, end in +Inf, and +Inf equals _count.
        for cmd in ("NEGOTIATE", "SESSION_SETUP", "TREE_CONNECT", "CREATE"):
            buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in samples.items()
                              if n == "xsmbd_request_duration_seconds_bucket"
                              and dict(l)["command"] == cmd), key=lambda b: b[0])
            self.assertTrue(buckets, cmd)
            self.assertTrue(math.isinf(buckets[-1][0]))
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), cmd)
            self.assertEqual(counts[-1], value(samples, "xsmbd_request_duration_seconds_count",
                                               command=cmd))
            self.assertEqual(counts[-1], value(samples, "xsmbd_requests_total", command=cmd))
            self.assertGreater(value(samples, "xsmbd_request_duration_seconds_sum", command=cmd),
                               0.0)

    def test_transfer_counters(self):
        size = 24 << 20
        src, digest = harness.random_file(size)
        before, _ = self.scrape()
        # Scrape all along the upload: every scrape parses and no counter goes back.
        seen, stop = [], threading.Event()

        def poll():
            while not stop.is_set():
                seen.append(self.scrape()[0])
                time.sleep(0.02)

        t = threading.Thread(target=poll)
        t.start()
        try:
            rc, out = self.smbclient(f"put {src} big")
        finally:
            stop.set()
            t.join()
        self.assertEqual(rc, 0, out)
        mid, _ = self.scrape()
        self.assertEqual(value(mid, "xsmbd_written_bytes_total")
                         - value(before, "xsmbd_written_bytes_total"), size)
        writes = value(mid, "xsmbd_requests_total", command="WRITE") - value(
            before, "xsmbd_requests_total", command="WRITE")
        self.assertGreaterEqual(writes, size // (8 << 20))  # at most 8 MiB per WRITE
        self.assertGreaterEqual(len(seen), 1)
        series = [before] + seen + [mid]
        for a, b in zip(series, series[1:]):
            for key in ("xsmbd_written_bytes_total", "xsmbd_read_bytes_total"):
                self.assertLessEqual(value(a, key), value(b, key))
        dst = harness.make_temp_dir() / "back"
        rc, out = self.smbclient(f"get big {dst}")
        self.assertEqual(rc, 0, out)
        self.assertEqual(harness.sha256_file(dst), digest)
        after, _ = self.scrape()
        self.assertEqual(value(after, "xsmbd_read_bytes_total")
                         - value(mid, "xsmbd_read_bytes_total"), size)
        reads = value(after, "xsmbd_requests_total", command="READ") - value(
            mid, "xsmbd_requests_total", command="READ")
        self.assertGreaterEqual(reads, size // (8 << 20))
        self.assertEqual(value(after, "xsmbd_written_bytes_total"),
                         value(mid, "xsmbd_written_bytes_total"))

    def test_gauges_of_an_open_connection(self):
        (self.server.shares["data"].path / "held").write_bytes(b"x" * 100)
        cmd = ["smbclient", self.server.unc("data"), "-p", str(self.server.port), "-s",
               str(self.server.client_conf), "--use-kerberos=off", "-U", "alice%Secret123"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            proc.stdin.write("open held\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 20
            while True:
                s, _ = self.scrape()
                got = [value(s, n) for n in ("xsmbd_connections", "xsmbd_sessions",
                                              "xsmbd_tree_connects", "xsmbd_opens")]
                if min(got) >= 1:
                    break
                self.assertLess(time.monotonic(), deadline, f"gauges stayed at {got}")
                time.sleep(0.1)
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while True:
            s, _ = self.scrape()
            got = [value(s, n) for n in ("xsmbd_sessions", "xsmbd_tree_connects", "xsmbd_opens")]
            if max(got) == 0:
                break
            self.assertLess(time.monotonic(), deadline, f"gauges stayed at {got} after quit")
            time.sleep(0.1)

    def test_auth_failures(self):
        before, _ = self.scrape()
        rc, out = self.server.smbclient("data", "ls", user="alice", password="wrong")
        self.assertNotEqual(rc, 0, out)
        after, _ = self.scrape()
        self.assertGreaterEqual(value(after, "xsmbd_auth_failures_total")
                                - value(before, "xsmbd_auth_failures_total"), 1)


if __name__ == "__main__":
    harness.main()
