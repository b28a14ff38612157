#!/usr/bin/env python3
"""xsmb-bench --transport quic against a real xsmbd serving SMB over QUIC (MS-SMB2 2.1; issue
18), on 127.0.0.1.

xsmbd serves "server smb transports = tcp, quic" with a self-signed certificate and "server smb
encrypt = required": xsmb-bench does not encrypt, so its tree connects only succeed because it
offers SMB2_TRANSPORT_CAPABILITIES over QUIC (MS-SMB2 2.2.3.1.5) and the server accepts them.
Each run checks that requests were answered without errors, that the server's CPU per request
(--server_pid) is reported and nonzero, and that the datagrams and handshakes reached xsmbd's
QUIC workers (xsmbctl status), so the run really went over QUIC:

- echo for two seconds on two connections;
- 1 MiB seqwrite then seqread of a 16 MiB file for two seconds each;
- --transport quic without a CA or --quic_insecure is a usage error (rc 2);
- a server that answers no QUIC (a closed UDP port) fails the run (rc 1), not a hang.

Run: XSMBD=... XSMBCTL=... XSMB_BENCH=... python3 tests/integration/test_quic_bench.py
"""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from test_quic import free_udp_port, quic_server_setup  # noqa: E402

USER, PASSWORD = "quicbench", "Qu1c-bench-it"


class QuicBenchTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.bench = harness.find_binary("XSMB_BENCH", "xsmb-bench")
        if not cls.bench:
            raise unittest.SkipTest("xsmb-bench not built (set XSMB_BENCH)")
        quic_server_setup(cls, "xsmbd-quicbench-")
        super().setUpClass()

    @classmethod
    def configure(cls, server):
        cls.share = server.add_share("bench", {"read only": "no"})
        server.add_user(USER, PASSWORD)

    def quic_counters(self):
        line = [x for x in self.server.xsmbctl_status().splitlines() if x.startswith("quic:")]
        self.assertEqual(len(line), 1, self.server.xsmbctl_status())
        return {k.strip(): int(v)
                for k, v in re.findall(r"([a-z ]+?) (\d+)", line[0].replace(",", ""))}

    def run_bench(self, *args, quic_args=None, expect_rc=0):
        if quic_args is None:
            quic_args = ["--quic_port", str(self.quic_port), "--quic_ca", str(self.cert)]
        cmd = [self.bench, "--transport", "quic", *quic_args, "--port", "1",
               "--user", USER, "--password", PASSWORD, "--share", "bench", "--json",
               "--progress=false", "--warmup", "0.3", "--duration", "2",
               "--server_pid", str(self.server.proc.pid), "--hard_timeout_ms", "10000", *args]
        rc, out = harness.run(cmd, timeout=120)
        self.assertEqual(rc, expect_rc, f"{' '.join(cmd)}\n{out}")
        start = out.find("[")
        return json.loads(out[start:out.rfind("]") + 1]) if start >= 0 else [], out

    def check_result(self, r, workload):
        self.assertEqual(r["workload"], workload, r)
        self.assertEqual(r["dialect"], "3.1.1", r)
        self.assertGreater(r["ops"], 0, r)
        self.assertEqual(r["errors"], 0, r)
        self.assertEqual(r["reconnects"], 0, r)
        self.assertEqual(r["hard_timeouts"], 0, r)
        self.assertGreater(r["requests"], 0, r)
        self.assertGreater(r["server_cpu_us_per_req"], 0, r)
        self.assertAlmostEqual(r["server_cpu_us_per_req"],
                               r["server_cpu_user_us_per_req"] + r["server_cpu_sys_us_per_req"],
                               delta=0.01 + 0.001 * r["server_cpu_us_per_req"])

    def test_echo(self):
        before = self.quic_counters()
        results, out = self.run_bench("--workload", "echo", "--connections", "2", "--qd", "4")
        self.assertEqual(len(results), 1, out)
        self.check_result(results[0], "echo")
        after = self.quic_counters()
        self.assertGreaterEqual(after["handshakes"] - before["handshakes"], 2, after)
        # A datagram carries at most ~20 ECHO requests (1452 bytes, 72 per request).
        self.assertGreater(after["datagrams in"] - before["datagrams in"],
                           results[0]["requests"] // 25, after)

    def test_one_mib_write_then_read(self):
        before = self.quic_counters()
        results, out = self.run_bench("--workload", "seqwrite,seqread", "--block", "1m",
                                      "--file_size", "16m", "--path", "quicbench.bin")
        self.assertEqual([r["workload"] for r in results], ["seqwrite", "seqread"], out)
        for r in results:
            self.check_result(r, r["workload"])
            self.assertEqual(r["block_size"], 1 << 20, r)
            self.assertEqual(r["bytes"], r["ops"] << 20, r)
        after = self.quic_counters()
        moved = sum(r["bytes"] for r in results)
        self.assertGreater(after["datagrams in"] - before["datagrams in"],
                           results[0]["bytes"] // 1500, after)
        self.assertGreater(after["out"] - before["out"],  # "datagrams in N, out M"
                           results[1]["bytes"] // 65536, after)
        self.assertGreater(moved, 0)
        self.assertEqual((self.share.path / "quicbench.bin").stat().st_size,
                         16 << 20)

    def test_needs_a_ca_or_insecure(self):
        _, out = self.run_bench("--workload", "echo", quic_args=["--quic_port", str(self.quic_port)],
                                expect_rc=2)
        self.assertIn("--quic_ca", out)

    def test_no_quic_server_fails(self):
        _, out = self.run_bench("--workload", "echo", "--duration", "0.5",
                                quic_args=["--quic_port", str(free_udp_port()), "--quic_insecure"],
                                expect_rc=1)
        self.assertIn("echo", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
