"""Benchmark plots (tools/bench/plot.py, installed as xsmb-bench-plot): bench.py's report and
xsmb-bench's JSON become PNG and SVG beside the JSON; `xsmb-bench --out FILE` against a real
xsmbd writes FILE and its plots. Skipped where python3-matplotlib is missing.
Environment: XSMBD, XSMB_BENCH (ctest sets them).
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLOT = REPO / "tools" / "bench" / "plot.py"


def have_matplotlib():
    return subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(have_matplotlib(), "python3-matplotlib not installed")
class Plots(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="xsmbd-plots-"))

    def tearDown(self):
        subprocess.run(["rm", "-rf", str(self.dir)])

    def assert_plots(self, json_path):
        png, svg = json_path.with_suffix(".png"), json_path.with_suffix(".svg")
        self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(png.stat().st_size, 5000)
        self.assertIn("<svg", svg.read_text())

    def test_bench_report(self):
        cpu = {"median_xsmbd": {"total_us": 20.0}, "median_samba": {"total_us": 40.0}}
        doc = {"commit": "abc", "rounds": 1, "cpus": 2, "benchmarks": {
            "echo": {"unit": "ops/s", "median_xsmbd": 20000.0, "median_samba": 15000.0,
                     "server_cpu": cpu},
            "seqread-1m": {"unit": "MB/s", "median_xsmbd": 2500.0, "median_samba": 1900.0,
                           "server_cpu": cpu},
            "put-1g": {"unit": "MB/s", "median_xsmbd": None, "median_samba": 300.0}}}
        path = self.dir / "bench.json"
        path.write_text(json.dumps(doc))
        r = subprocess.run([str(PLOT), str(path)], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_plots(path)
        self.assertIn("Samba", path.with_suffix(".svg").read_text())

    def test_rejects_other_json(self):
        path = self.dir / "x.json"
        path.write_text('{"something": 1}')
        r = subprocess.run([str(PLOT), str(path)], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 1)
        self.assertFalse(path.with_suffix(".png").exists())

    def test_xsmb_bench_out(self):
        xsmbd, bench = os.environ.get("XSMBD"), os.environ.get("XSMB_BENCH")
        if not xsmbd or not bench:
            self.skipTest("XSMBD/XSMB_BENCH not set")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        (self.dir / "share").mkdir()
        os.chmod(self.dir / "share", 0o777)
        conf = self.dir / "smb.conf"
        conf.write_text(f"[global]\n  smb ports = {port}\n  interfaces = 127.0.0.1\n"
                        f"  bind interfaces only = yes\n  map to guest = bad user\n"
                        f"  smb passwd file = {self.dir}/users.db\n"
                        f"[s]\n  path = {self.dir}/share\n  guest ok = yes\n  read only = no\n")
        log = open(self.dir / "xsmbd.log", "w")
        p = subprocess.Popen([xsmbd, "--foreground", "--config", str(conf)], stderr=log,
                             stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while "listening on" not in (self.dir / "xsmbd.log").read_text():
                self.assertIsNone(p.poll())
                self.assertLess(time.time(), deadline)
                time.sleep(0.1)
            out = self.dir / "run.json"
            r = subprocess.run([bench, "--port", str(port), "--share", "s", "--workload",
                                "echo", "--duration", "1", "--warmup", "0.2",
                                "--progress=false", "--out", str(out)],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            results = json.loads(out.read_text())
            self.assertEqual([x["workload"] for x in results], ["echo"])
            self.assertGreater(results[0]["ops_per_sec"], 0)
            self.assert_plots(out)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
