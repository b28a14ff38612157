"""A DaemonSet rolling update as the kubelet runs it, on this host (privileged; ctest label
`privileged`).

deploy/k8s/daemonset.yaml updates with maxSurge 1 / maxUnavailable 0: the new pod's xsmbd
starts beside the old one (both with the container's `--takeover` command line), the kubelet
runs the new pod's readiness probe until it passes, then sends SIGTERM to the old pod, which
has terminationGracePeriodSeconds to finish. This test plays the kubelet with the shipped
manifest's own command line and readiness probe (the binaries of the build in place of the
image's paths) in the network namespaces of test_e2e_netns.py, while clients keep coming:

- 600 short connections (NEGOTIATE .. LOGOFF) one after the other across the update, and a
  1 GiB put/get started on the old pod: no refusal, no reset, the checksum intact;
- the new pod's probe passes only once it serves (its log says "serving as generation"),
  never because its predecessor answered, and the old pod's probe fails from the switch;
- the old pod, signalled while the transfer still runs, lets it finish and exits 0 within the
  grace period; the metrics address both pods listened on (SO_REUSEPORT) is answered by the
  new pod afterwards (/healthz for the liveness probe, /metrics for Prometheus).
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_e2e_netns as e2e  # noqa: E402
from test_e2e_netns import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GRACE_S = None  # terminationGracePeriodSeconds of the manifest (read in setUpClass)


def manifest_container():
    docs = list(yaml.safe_load_all((REPO / "deploy/k8s/daemonset.yaml").read_text()))
    ds = next(d for d in docs if d and d.get("kind") == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    server = next(c for c in pod["containers"] if c["name"] == "xsmbd")
    return pod, server


class RollingUpdate(unittest.TestCase):
    # The namespaces, loader and server helpers of the data plane test.
    setUpClass = classmethod(e2e.E2E.setUpClass.__func__)
    tearDownClass = classmethod(e2e.E2E.tearDownClass.__func__)
    tearDown = e2e.E2E.tearDown
    transfer = e2e.E2E.transfer
    smbclient = e2e.E2E.smbclient
    short_connections = e2e.E2E.short_connections
    background_transfer = e2e.E2E.background_transfer
    kill_at_cleanup = e2e.E2E.kill_at_cleanup
    load_and_attach = e2e.E2E.load_and_attach
    topo = None

    def pod_args(self, command):
        """The container's command line with this build's xsmbd; `--config` is the harness's."""
        self.assertEqual(Path(command[0]).name, "xsmbd")
        args = list(command[1:])
        i = args.index("--config")
        del args[i:i + 2]
        args.remove("--foreground")  # the harness adds it
        return args

    def probe(self, socket_path):
        """The manifest's readiness probe against one pod's control socket: exit status 0?"""
        cmd = list(self.container["readinessProbe"]["exec"]["command"])
        self.assertEqual(Path(cmd[0]).name, "xsmbctl")
        cmd[0] = harness.find_binary("XSMBCTL", "xsmbctl")
        cmd[cmd.index("--socket") + 1] = str(socket_path)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return r.returncode == 0, (r.stdout + r.stderr).strip()

    def wait_ready(self, server, socket_path, timeout=30):
        """Runs the readiness probe every 0.2 s until it passes (the kubelet's loop)."""
        deadline = time.monotonic() + timeout
        while True:
            ok, said = self.probe(socket_path)
            if ok:
                self.assertEqual(said, "state: ready")
                return
            self.assertTrue(server.alive(), server.log())
            self.assertLess(time.monotonic(), deadline, f"never ready: {said}\n{server.log()}")
            time.sleep(0.2)

    def start_pod(self, name, metrics_port, args):
        run_dir = harness.make_temp_dir(f"xsmbd-{name}-run-")
        opts = {"interfaces": f"127.0.0.1 {e2e.SRV_CLI} {e2e.SRV_FL}", "bpf": "yes",
                "bpf pin dir": e2e.PIN_DIR, "metrics address": f"127.0.0.1:{metrics_port}",
                "control socket": str(run_dir / "xsmbd.sock"), "shutdown timeout": "60",
                "takeover drain time": "60"}
        server = harness.Server(global_options=opts)
        server.add_share("data", {"read only": "no"})
        server.add_user("alice", "Secret-1")
        return server, run_dir / "xsmbd.sock", opts

    def http(self, port, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_rolling_update(self):
        pod, self.container = manifest_container()
        grace = pod["terminationGracePeriodSeconds"]
        args = self.pod_args(self.container["command"])
        self.assertIn("--takeover", args)
        metrics_port = harness.free_port()
        e2e.loader("load")
        # The first pod of the DaemonSet runs the same command line: --takeover with nothing
        # to take over from.
        old, old_sock, _ = self.start_pod("old", metrics_port, args)
        old.start(extra_args=args)
        self.addCleanup(old.stop)
        # The harness returns once the port accepts, which the kernel does from listen(), before
        # the generation is switched to: like the kubelet, wait for the readiness probe.
        self.wait_ready(old, old_sock)
        self.assertIn("serving as generation", old.log())
        self.load_and_attach(old.port)
        (old.shares["data"].path / "hello.txt").write_bytes(b"hello")

        # The new pod: the same share directory, port and pins, its own control socket.
        new, new_sock, new_opts = self.start_pod("new", metrics_port, args)
        new.shares["data"].path = old.shares["data"].path
        new.port = old.port
        new.conf_path.write_text(old.conf_path.read_text().replace(
            f"control socket = {old.global_options['control socket']}",
            f"control socket = {new_opts['control socket']}"))
        state = {"probes_before_ready": 0, "signalled_during_transfer": None}

        def kubelet_update():
            # The kubelet starts the surge pod, probes it, and ends the old one once it is ready.
            with open(new.log_path, "ab") as log:
                state["new"] = subprocess.Popen(
                    [harness.find_binary("XSMBD", "xsmbd"), "--config", str(new.conf_path),
                     "--foreground", "--log-level", str(new.log_level), *args],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            deadline = time.monotonic() + 30
            while True:
                ok, said = self.probe(new_sock)
                if ok:
                    break
                state["probes_before_ready"] += 1
                self.assertIsNone(state["new"].poll(), new.log())
                self.assertLess(time.monotonic(), deadline, f"new pod never ready: {said}")
                time.sleep(0.2)
            state["ready_log"] = new.log()
            deadline = time.monotonic() + 5
            while self.probe(old_sock)[0]:  # the old pod sees the switch within 200 ms
                self.assertLess(time.monotonic(), deadline, "the old pod stays ready")
                time.sleep(0.05)
            state["signalled_during_transfer"] = mover.is_alive()
            os.killpg(old.proc.pid, signal.SIGTERM)
            state["signalled_at"] = time.monotonic()

        self.kill_at_cleanup(state, "new")
        mover, transfer_error = self.background_transfer(old, 1 << 30)
        # The update runs beside the clients: connections keep coming while the new pod
        # starts, is probed, and the old one is signalled.
        kubelet_error = []

        def kubelet():
            try:
                kubelet_update()
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                kubelet_error.append(repr(e))
        updater = threading.Thread(target=kubelet)
        errors, done = [], [0]
        self.short_connections(old.port, 500, errors, done, 100, updater.start)
        updater.join(timeout=120)
        self.assertEqual(kubelet_error, [], f"{kubelet_error}\n{new.log(3000)}")
        self.assertIn("signalled_at", state)
        self.short_connections(old.port, 100, errors, done, -1, None)  # after the signal
        mover.join(timeout=600)
        self.assertFalse(mover.is_alive(), "the transfer did not finish")
        report = (f"errors ({len(errors)}): {errors[:10]}\nold log:\n{old.log(3000)}\n"
                  f"new log:\n{new.log(3000)}")
        self.assertEqual(transfer_error, [], report)
        self.assertEqual((done[0], errors), (600, []), report)
        # Ready only once it served, not through its predecessor's answer.
        self.assertIn("serving as generation", state["ready_log"], report)
        self.assertTrue(state["signalled_during_transfer"],
                        "the transfer ended before the old pod was signalled: test nothing")
        # The old pod finished within the grace period and exited cleanly.
        old.proc.wait(timeout=grace)
        self.assertLessEqual(time.monotonic() - state["signalled_at"], grace, report)
        self.assertEqual(old.proc.returncode, 0, report)
        self.assertIn("connections finish within", old.log(), report)
        # The liveness probe and Prometheus now reach the new pod on the shared address.
        self.assertEqual(self.http(metrics_port, "/healthz")[0], 200, report)
        status, text = self.http(metrics_port, "/metrics")
        self.assertEqual(status, 200, report)
        self.assertRegex(text, r"(?m)^xsmbd_ready 1(\.0*)?$", report)
        self.assertEqual(self.probe(new_sock), (True, "state: ready"))
        # At least the 100 connections made after the signal were the new pod's.
        self.assertGreaterEqual(new.log().count("for alice"), 100, report)


if __name__ == "__main__":
    unittest.main()
