#!/usr/bin/env python3
"""xsmb-bench against real servers: every workload runs without errors against xsmbd and,
when Samba is installed, against smbd started the same way; results are plausible (bytes
moved, directory entries counted, sessions held), also with signing on each dialect family.

Run: XSMBD=... XSMBCTL=... XSMB_BENCH=... python3 tests/integration/test_bench.py
     (binaries default to the newest build*/ ones; --backend smbd is not needed: the smbd
     class runs whenever /usr/sbin/smbd exists.)
"""

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

USER, PASSWORD = "benchit", "Bench-it-1"
LIST_FILES = 50


def bench_binary():
    path = harness.find_binary("XSMB_BENCH", "xsmb-bench")
    if not path:
        raise unittest.SkipTest("xsmb-bench not built (set XSMB_BENCH)")
    return path


class BenchAgainst:
    """Mixin: KIND is 'xsmbd' or 'smbd'."""

    KIND = None

    @classmethod
    def setUpClass(cls):
        cls.bench = bench_binary()
        if cls.KIND == "smbd" and not (shutil.which("smbd") or os.path.exists("/usr/sbin/smbd")):
            raise unittest.SkipTest("Samba's smbd is not installed (apt-get install samba)")
        if cls.KIND == "smbd" and os.geteuid() != 0:
            raise unittest.SkipTest("smbd needs root here")
        server = harness.Server(kind=cls.KIND)
        share = server.add_share("bench", {"read only": "no"})
        # As root both servers access the share as the same unprivileged account.
        unix_user = None
        if os.geteuid() == 0:
            harness.Server._ensure_unix_account(USER)
            unix_user = USER
        server.add_user(USER, PASSWORD, unix_user=unix_user)
        (share.path / "list").mkdir()
        for i in range(LIST_FILES):
            (share.path / "list" / f"f{i:03d}").write_bytes(b"x" * i)
        if os.geteuid() == 0:
            shutil.chown(share.path, USER)
            for p in share.path.rglob("*"):
                shutil.chown(p, USER)
        server.start()
        cls.server = server

    @classmethod
    def tearDownClass(cls):
        server = getattr(cls, "server", None)
        if server:
            alive = server.alive()
            server.stop()
            if not alive:
                raise AssertionError(f"{cls.KIND} died:\n{server.log()}")

    def run_bench(self, *args, expect_rc=0):
        cmd = [self.bench, "--port", str(self.server.port), "--user", USER, "--password",
               PASSWORD, "--share", "bench", "--json", "--progress=false", "--duration", "1",
               "--warmup", "0.2"] + list(args)
        rc, out = harness.run(cmd, timeout=120)
        self.assertEqual(rc, expect_rc, f"{' '.join(cmd)}\n{out}\nserver log:\n"
                                        f"{self.server.log(4000)}")
        start = out.find("[")
        return json.loads(out[start:out.rfind("]") + 1]) if start >= 0 else []

    def test_all_workloads(self):
        results = self.run_bench("--workload", "echo,create,stat,list,seqread,randread,"
                                 "seqwrite,randwrite", "--qd", "4", "--block", "64k",
                                 "--file_size", "4m", "--path", "")
        by_name = {r["workload"]: r for r in results}
        self.assertEqual(set(by_name), {"echo", "create", "stat", "list", "seqread",
                                        "randread", "seqwrite", "randwrite"})
        for r in results:
            self.assertGreater(r["ops"], 0, r)
            self.assertEqual(r["errors"], 0, r)
            self.assertEqual(r["dialect"], "3.1.1", r)
            self.assertLessEqual(r["latency_us"]["p50"], r["latency_us"]["p99"])
        for name in ("seqread", "randread", "seqwrite", "randwrite"):
            self.assertEqual(by_name[name]["bytes"], by_name[name]["ops"] * 65536)
        # The share root holds list/, the I/O file and the create names (plus . and ..).
        self.assertGreaterEqual(by_name["list"]["entries"], 4 * by_name["list"]["ops"])

    def test_list_counts_every_entry(self):
        (r,) = self.run_bench("--workload", "list", "--path", "list")
        self.assertEqual(r["errors"], 0)
        self.assertEqual(r["entries"], r["ops"] * (LIST_FILES + 2))  # with . and ..

    def test_large_multi_credit_io(self):
        results = self.run_bench("--workload", "seqwrite,seqread", "--block", "1m", "--qd", "4",
                                 "--file_size", "16m", "--path", "large.bin")
        for r in results:
            self.assertEqual(r["errors"], 0, r)
            self.assertGreater(r["ops"], 0, r)
            self.assertEqual(r["bytes"], r["ops"] << 20)

    def test_signing_each_dialect(self):
        for dialect in ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"):
            with self.subTest(dialect=dialect):
                (r,) = self.run_bench("--workload", "stat", "--sign", "--max_dialect", dialect,
                                      "--qd", "2", "--file_size", "64k", "--duration", "0.5")
                self.assertTrue(r["signing"], r)
                self.assertEqual(r["dialect"], dialect)
                self.assertEqual(r["errors"], 0, r)
                self.assertGreater(r["ops"], 0)

    def test_sessions_held(self):
        (r,) = self.run_bench("--workload", "sessions", "--sessions", "20", "--threads", "2",
                              "--hold", "0.5")
        self.assertEqual(r["ops"], 20)
        self.assertEqual(r["errors"], 0)

    def test_wrong_password_fails_cleanly(self):
        cmd = [self.bench, "--port", str(self.server.port), "--user", USER, "--password", "nope",
               "--share", "bench", "--workload", "echo", "--duration", "0.2",
               "--progress=false"]
        rc, out = harness.run(cmd, timeout=60)
        self.assertEqual(rc, 1, out)
        self.assertIn("STATUS_LOGON_FAILURE", out)


class BenchAgainstXsmbd(BenchAgainst, unittest.TestCase):
    KIND = "xsmbd"


class BenchAgainstSmbd(BenchAgainst, unittest.TestCase):
    KIND = "smbd"


if __name__ == "__main__":
    harness.main()
