#!/usr/bin/env python3
"""SIGHUP reload and SIGTERM drain (docs/operations.md "Reload", "Shutdown").

SIGHUP: a share added to smb.conf is reachable by a new connection while a connection opened
before keeps working; a removed share refuses new tree connects while the old connection's tree
keeps working; a changed share applies to new tree connects only; a file with errors changes
nothing. SIGTERM: a transfer in progress ends (the client gets an error, no hang) and xsmbd
exits 0 within "shutdown timeout"; a connection in the middle of a message holds the drain up to
the bound, during which /readyz is 503, /healthz 200 and new connections are refused.

  python3 tests/integration/test_reload.py [-v]
"""

import os
import signal
import socket
import subprocess
import time
import unittest

import harness
from test_metrics import http_get, parse_exposition, value, wait_endpoint

PASSWORD = "Secret123"


class Interactive:
    """smbclient reading commands from a pipe: one connection kept open across reloads."""

    def __init__(self, server, share):
        cmd = ["smbclient", server.unc(share), "-p", str(server.port), "-s",
               str(server.client_conf), "--use-kerberos=off", "-U", f"alice%{PASSWORD}"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, text=True)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(predicate, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def write_config(server, shares):
    """Rewrites smb.conf with [global] as started and `shares` {name: options}."""
    server.shares = {}
    base = server.root / "shares"
    for name, options in shares.items():
        path = base / name
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o777)
        server.shares[name] = harness.Share(name, path, options)
    server.conf_path.write_text(server.config_text())


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server()
        self.metrics_port = harness.free_port()
        self.server.global_options["metrics address"] = f"127.0.0.1:{self.metrics_port}"
        self.server.add_share("first", {"read only": "no"})
        self.server.add_user("alice", PASSWORD)
        self.server.start()
        self.addCleanup(self.server.stop)
        wait_endpoint(self.metrics_port)
        self.src, _ = harness.random_file(1 << 20)

    def metric(self, name, **labels):
        status, _, body = http_get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200)
        return value(parse_exposition(body)[0], name, **labels)

    def hup(self, result):
        before = self.metric("xsmbd_config_reloads_total", result=result)
        os.kill(self.server.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.metric("xsmbd_config_reloads_total", result=result) > before,
                 f"a reload counted as {result}")
        self.assertTrue(self.server.alive())

    def client(self, share, commands, user="alice", password=PASSWORD):
        return self.server.smbclient(share, commands, user=user, password=password)

    def old_put(self, old, share, name):
        """A file written through the connection opened before (it appears on disk)."""
        old.send(f"put {self.src} {name}")
        path = self.server.root / "shares" / share / name
        wait_for(lambda: path.exists() and path.stat().st_size == 1 << 20,
                 f"{name} written through the old connection")

    def test_add_change_remove_share(self):
        old = Interactive(self.server, "first")
        self.addCleanup(old.close)
        self.old_put(old, "first", "a1")
        accepted = self.metric("xsmbd_connections_accepted_total")
        write_config(self.server, {"first": {"read only": "no"}, "second": {"read only": "no"}})
        self.hup("applied")
        rc, out = self.client("second", f"put {self.src} b1")
        self.assertEqual(rc, 0, out)
        self.assertTrue((self.server.root / "shares" / "second" / "b1").exists())
        self.old_put(old, "first", "a2")
        # The old connection is still the one from before: only the new client connected.
        self.assertEqual(self.metric("xsmbd_connections_accepted_total"), accepted + 1)

        # A changed share: new tree connects see it read-only, a tree connected before keeps
        # writing; then removed: new tree connects are refused, the old tree keeps working.
        old2 = Interactive(self.server, "second")
        self.addCleanup(old2.close)
        self.old_put(old2, "second", "b2")
        write_config(self.server, {"second": {"read only": "yes"}})
        self.hup("applied")
        rc, out = self.client("second", f"put {self.src} b3")
        self.assertNotEqual(rc, 0, out)
        self.assertFalse((self.server.root / "shares" / "second" / "b3").exists())
        self.old_put(old2, "second", "b4")
        rc, out = self.client("first", "ls")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("NT_STATUS_BAD_NETWORK_NAME", out)
        self.old_put(old, "first", "a3")
        self.assertEqual(self.metric("xsmbd_shares"), 2)  # second and IPC$

    def test_invalid_config_is_refused(self):
        good = self.server.conf_path.read_text()
        self.server.conf_path.write_text(good + "\n[broken\n  path = /nonexistent\n")
        self.hup("refused")
        self.assertIn("has errors; the configuration in use stays", self.server.log())
        rc, out = self.client("first", f"put {self.src} still")
        self.assertEqual(rc, 0, out)
        # A share whose path does not exist is an error too: nothing of the file applies.
        write_config(self.server, {"first": {"read only": "no"}, "ghost": {}})
        os.rmdir(self.server.root / "shares" / "ghost")
        self.hup("refused")
        rc, out = self.client("ghost", "ls")
        self.assertIn("NT_STATUS_BAD_NETWORK_NAME", out)
        self.assertEqual(self.metric("xsmbd_config_reloads_total", result="applied"), 0)

    def test_user_added_logs_on_after_reload(self):
        cmd = [self.server.xsmbctl, "--db", str(self.server.db_path), "user", "add", "bob",
               "--unix-user", harness.current_unix_user()]
        r = subprocess.run(cmd, input="Bobpass1\n", capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.hup("applied")
        rc, out = self.client("first", "ls", user="bob", password="Bobpass1")
        self.assertEqual(rc, 0, out)


class ShutdownTest(unittest.TestCase):
    TIMEOUT = 3  # "shutdown timeout" of these servers, seconds

    def start(self, share_options=None):
        server = harness.Server(global_options={"shutdown timeout": str(self.TIMEOUT)})
        self.metrics_port = harness.free_port()
        server.global_options["metrics address"] = f"127.0.0.1:{self.metrics_port}"
        server.add_share("data", dict({"read only": "no"}, **(share_options or {})))
        server.add_user("alice", PASSWORD)
        server.start()
        self.addCleanup(server.stop)
        wait_endpoint(self.metrics_port)
        return server

    def terminate(self, server):
        """SIGTERM to xsmbd alone; (exit status, seconds it took)."""
        t0 = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)
        rc = server.proc.wait(timeout=self.TIMEOUT + 15)
        return rc, time.monotonic() - t0

    def test_sigterm_during_transfer(self):
        # 64 MiB at 32 MB/s: about two seconds of transfer to interrupt.
        server = self.start({"share bandwidth limit": str(32 << 20)})
        src, _ = harness.random_file(64 << 20)
        with open(src, "rb") as f, open(server.shares["data"].path / "big", "wb") as g:
            g.write(f.read())
        dst = harness.make_temp_dir() / "big"
        cmd = ["smbclient", server.unc("data"), "-p", str(server.port), "-s",
               str(server.client_conf), "--use-kerberos=off", "-U", f"alice%{PASSWORD}",
               "-c", f"get big {dst}"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        try:
            wait_for(lambda: dst.exists() and dst.stat().st_size > (4 << 20),
                     "the transfer to start", timeout=30)
            rc, took = self.terminate(server)
            out, _ = client.communicate(timeout=30)  # the client ends too: no hang
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        self.assertEqual(rc, 0, server.log())
        self.assertLess(took, self.TIMEOUT + 2.0, server.log())
        self.assertLess(dst.stat().st_size, 64 << 20, "the transfer finished before SIGTERM")
        self.assertNotEqual(client.returncode, 0, out)
        log = server.log()
        self.assertIn("draining 1 connections", log)
        self.assertNotIn("AddressSanitizer", log)

    def test_drain_is_bounded(self):
        server = self.start()
        # A message announced as 100 bytes of which 10 arrived: in flight, never finishing.
        stuck = socket.create_connection(("127.0.0.1", server.port))
        self.addCleanup(stuck.close)
        stuck.sendall(bytes([0, 0, 0, 100]) + b"\xfeSMB" + bytes(6))
        time.sleep(0.2)
        t0 = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)
        wait_for(lambda: http_get(self.metrics_port, "/readyz")[0] == 503, "/readyz 503",
                 timeout=self.TIMEOUT)
        self.assertEqual(http_get(self.metrics_port, "/healthz")[0], 200)
        with self.assertRaises(OSError):  # the listeners are closed
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        self.assertIsNone(server.proc.poll(), "exited before the bound with a message in flight")
        rc = server.proc.wait(timeout=self.TIMEOUT + 15)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, server.log())
        self.assertGreaterEqual(took, self.TIMEOUT - 0.5)
        self.assertLess(took, self.TIMEOUT + 2.0)
        self.assertIn("shutdown: cutting 1 connections still busy", server.log())
        stuck.settimeout(5)
        self.assertEqual(stuck.recv(100), b"")  # closed by the server

    def test_idle_connections_do_not_delay_exit(self):
        server = self.start()
        idle = Interactive(server, "data")
        self.addCleanup(idle.close)
        wait_for(lambda: "session" in server.log(), "the session", timeout=20)
        time.sleep(0.3)
        rc, took = self.terminate(server)
        self.assertEqual(rc, 0, server.log())
        self.assertLess(took, 1.5, server.log())


if __name__ == "__main__":
    harness.main()
