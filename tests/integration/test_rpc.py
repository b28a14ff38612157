#!/usr/bin/env python3
"""DCE/RPC over IPC$ driven by Samba's clients: share listing (smbclient -L) and rpcclient's
srvsvc / lsarpc / samr commands, each checked for content; the sandboxed helper xsmb-rpcd
(killed while clients are connected and a transfer runs; runs unprivileged).

Run: XSMBD=build/server/xsmbd XSMBCTL=build/tools/xsmbctl/xsmbctl \
         python3 tests/integration/test_rpc.py [-k PATTERN]
Harness check against Samba: XSMBD_TEST_BACKEND=smbd python3 tests/integration/test_rpc.py
(the xsmb-rpcd tests skip there).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

USER = "xsmbtest"
PASSWORD = "Corr3ct-horse"
OTHER = "xsmbother"
OTHER_PASSWORD = "Batt3ry-staple"
NETBIOS = "XSMBTEST"
WORKGROUP = "WORKGROUP"
BIG = 64 << 20


def smbclient_list(server, user=USER, password=PASSWORD, guest=False):
    cmd = ["smbclient", "-L", "//127.0.0.1", "-p", str(server.port), "-s",
           str(server.client_conf), "--use-kerberos=off"]
    cmd += ["-N"] if guest else ["-U", f"{user}%{password}"]
    return harness.run(cmd, timeout=60)


def rpcclient(server, command, user=USER, password=PASSWORD):
    cmd = ["rpcclient", "-p", str(server.port), "-s", str(server.client_conf),
           "--use-kerberos=off", "-U", f"{user}%{password}", "-c", command, "127.0.0.1"]
    return harness.run(cmd, timeout=60)


def children(pid):
    """(pid, comm) of the direct children of pid."""
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,comm="], capture_output=True,
                         text=True).stdout
    result = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            result.append((int(parts[0]), parts[1].strip()))
    return result


def rpcd_pid(server):
    for pid, comm in children(server.proc.pid):
        if comm.startswith("xsmb-rpcd"):
            return pid
    return None


def process_user(pid):
    return subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True,
                          text=True).stdout.strip()


class RpcTestBase(harness.ServerTestCase):
    GLOBAL_OPTIONS = {"server string": "xsmbd rpc test"}

    @classmethod
    def configure(cls, server):
        cls.data = server.add_share("data", {"comment": "Data share", "guest ok": "yes",
                                             "read only": "no"})
        cls.hidden = server.add_share("hidden", {"comment": "Hidden share", "browseable": "no"})
        server.add_share("public", {"comment": "Public files", "guest ok": "yes"})
        server.add_user(USER, PASSWORD)
        server.add_user(OTHER, OTHER_PASSWORD)

    def assertRpcOk(self, rc, out, what):
        self.assertEqual(rc, 0, f"{what}: rc={rc}\n{out}")
        self.assertNotIn("NT_STATUS_", out, f"{what} failed\n{out}")
        self.assertNotIn("WERR_", out, f"{what} failed\n{out}")
        self.assertNotIn("result was", out, f"{what} failed\n{out}")

    def lookup_sid(self, name):
        """(SID, RID) of user `name`, looked up as NETBIOS\\name (a bare name equal to the
        server's NetBIOS name resolves to the domain, as on Samba and Windows)."""
        rc, out = rpcclient(self.server, f"lookupnames {NETBIOS}\\\\{name}")
        self.assertRpcOk(rc, out, "lookupnames")
        m = re.search(r" (S-1-5-21-\d+-\d+-\d+-(\d+)) \(User: 1\)", out)
        self.assertIsNotNone(m, out)
        return m.group(1), int(m.group(2))


class ShareListingTest(RpcTestBase):
    def check_listing(self, rc, out):
        self.assertEqual(rc, 0, out)
        self.assertNotIn("NT_STATUS_", out)
        # "\tdata            Disk      Data share"
        self.assertRegex(out, r"(?m)^\s+data\s+Disk\s+Data share\s*$")
        self.assertRegex(out, r"(?m)^\s+public\s+Disk\s+Public files\s*$")
        self.assertRegex(out, r"(?m)^\s+IPC\$\s+IPC\s+IPC Service")
        self.assertNotRegex(out, r"(?m)^\s+hidden\s", "browseable = no share was listed")

    def test_list_as_user(self):
        self.check_listing(*smbclient_list(self.server))

    def test_list_as_guest(self):
        self.check_listing(*smbclient_list(self.server, guest=True))

    def test_hidden_share_still_reachable(self):
        rc, out = self.server.smbclient("hidden", "ls", user=USER, password=PASSWORD)
        self.assertEqual(rc, 0, out)


class RpcclientTest(RpcTestBase):
    def test_srvinfo(self):
        rc, out = rpcclient(self.server, "srvinfo")
        self.assertRpcOk(rc, out, "srvinfo")
        self.assertIn(NETBIOS, out)
        self.assertIn("xsmbd rpc test", out)
        self.assertRegex(out, r"platform_id\s*:\s*500")
        self.assertRegex(out, r"server type\s*:\s*0x[0-9a-f]+")

    def test_netshareenumall(self):
        rc, out = rpcclient(self.server, "netshareenumall")
        self.assertRpcOk(rc, out, "netshareenumall")
        self.assertRegex(out, r"netname:\s*data\s+remark:\s*Data share\s+path:\s*C:")
        self.assertRegex(out, r"netname:\s*public\s+remark:\s*Public files")
        self.assertRegex(out, r"netname:\s*IPC\$")
        self.assertNotRegex(out, r"netname:\s*hidden\b")
        # The path is the share's directory as a Windows path.
        win = "C:" + str(self.data.path).replace("/", "\\")
        self.assertIn(win, out)

    def test_netsharegetinfo(self):
        rc, out = rpcclient(self.server, "netsharegetinfo data")
        self.assertRpcOk(rc, out, "netsharegetinfo data")
        self.assertRegex(out, r"netname:\s*data\s+remark:\s*Data share")
        rc, out = rpcclient(self.server, "netsharegetinfo hidden")
        self.assertRpcOk(rc, out, "netsharegetinfo hidden")
        self.assertRegex(out, r"netname:\s*hidden\s+remark:\s*Hidden share")
        rc, out = rpcclient(self.server, "netsharegetinfo nosuchshare")
        self.assertTrue(rc != 0 or "WERR_NERR_NETNAMENOTFOUND" in out.upper()
                        or "NET_NAME_NOT_FOUND" in out.upper(), out)

    def test_lsaquery(self):
        rc, out = rpcclient(self.server, "lsaquery")
        self.assertRpcOk(rc, out, "lsaquery")
        self.assertRegex(out, rf"Domain Name:\s*{WORKGROUP}")

    def test_lookupnames(self):
        sid, rid = self.lookup_sid(USER)
        other_sid, other_rid = self.lookup_sid(OTHER)
        self.assertNotEqual(rid, other_rid)
        domain_sid = sid.rsplit("-", 1)[0]
        self.assertEqual(domain_sid, other_sid.rsplit("-", 1)[0])
        rc, out = rpcclient(self.server, f"lookupnames {NETBIOS}")
        self.assertRpcOk(rc, out, "lookupnames domain")
        self.assertIn(f"{NETBIOS} {domain_sid} (Domain: 3)", out)

    def test_lookupsids(self):
        sid, _ = self.lookup_sid(USER)
        rc, out = rpcclient(self.server, f"lookupsids {sid}")
        self.assertRpcOk(rc, out, "lookupsids")
        self.assertRegex(out, rf"{re.escape(sid)} \S*\\{USER} \(1\)")

    def test_enumdomusers(self):
        _, rid = self.lookup_sid(USER)
        _, other_rid = self.lookup_sid(OTHER)
        rc, out = rpcclient(self.server, "enumdomusers")
        self.assertRpcOk(rc, out, "enumdomusers")
        self.assertIn(f"user:[{USER}] rid:[{rid:#x}]", out)
        self.assertIn(f"user:[{OTHER}] rid:[{other_rid:#x}]", out)

    def test_queryuser(self):
        _, rid = self.lookup_sid(USER)
        rc, out = rpcclient(self.server, f"queryuser {USER}")
        self.assertRpcOk(rc, out, "queryuser")
        self.assertRegex(out, rf"User Name\s*:\s*{USER}")
        self.assertRegex(out, rf"user_rid\s*:\s*{rid:#x}")
        self.assertRegex(out, r"group_rid\s*:\s*0x201")

    def test_getusername(self):
        rc, out = rpcclient(self.server, "getusername")
        self.assertRpcOk(rc, out, "getusername")
        self.assertRegex(out, rf"Account Name:\s*{USER}")
        self.assertRegex(out, r"Authority Name:\s*\S+")


class SidStabilityTest(RpcTestBase):
    def test_sids_survive_restart(self):
        before = self.lookup_sid(USER)
        self.server.stop()
        self.server.start()
        after = self.lookup_sid(USER)
        self.assertEqual(before, after)


class RpcdHelperTest(RpcTestBase):
    @classmethod
    def setUpClass(cls):
        if harness.backend() != "xsmbd":
            raise unittest.SkipTest("xsmb-rpcd exists only in xsmbd")
        cls.src, cls.src_sha = harness.random_file(BIG)
        cls.scratch = harness.make_temp_dir("xsmbd-rpc-get-")
        super().setUpClass()

    def wait_rpcd(self, not_pid=None, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = rpcd_pid(self.server)
            if pid and pid != not_pid:
                return pid
            time.sleep(0.05)
        self.fail(f"no xsmb-rpcd child of xsmbd (pid {self.server.proc.pid}); children: "
                  f"{children(self.server.proc.pid)}\n{self.server.log()}")

    def test_helper_runs_unprivileged(self):
        smbclient_list(self.server)  # the helper may be started lazily
        pid = self.wait_rpcd()
        user = process_user(pid)
        if os.geteuid() == 0:
            self.assertEqual(user, "nobody")
        else:
            self.assertEqual(user, harness.current_unix_user())
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        self.assertRegex(status, r"NoNewPrivs:\s*1")
        self.assertRegex(status, r"Seccomp:\s*2")

    def test_kill_helper_during_transfer(self):
        shutil.copyfile(self.src, self.data.path / "big.bin")
        os.chmod(self.data.path / "big.bin", 0o644)
        rc, out = smbclient_list(self.server)
        self.assertEqual(rc, 0, out)
        old = self.wait_rpcd()
        target = self.scratch / "big.bin"
        transfer = subprocess.Popen(
            ["smbclient", self.server.unc("data"), "-p", str(self.server.port), "-s",
             str(self.server.client_conf), "--use-kerberos=off", "-U", f"{USER}%{PASSWORD}",
             "-c", f"get big.bin {target}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(0.3)
            os.kill(old, signal.SIGKILL)
            # The next listing works (the helper is restarted).
            rc, out = smbclient_list(self.server)
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"(?m)^\s+data\s+Disk\s+Data share\s*$")
            out, _ = transfer.communicate(timeout=300)
        finally:
            if transfer.poll() is None:
                transfer.kill()
                transfer.wait()
        self.assertEqual(transfer.returncode, 0, out)
        self.assertEqual(harness.sha256_file(target), self.src_sha)
        new = self.wait_rpcd(not_pid=old)
        self.assertNotEqual(new, old)
        self.assertServerAlive()
        rc, out = rpcclient(self.server, "srvinfo")
        self.assertRpcOk(rc, out, "srvinfo after restart")


if __name__ == "__main__":
    harness.main()
