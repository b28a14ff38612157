"""deploy/k8s: renders with `kubectl kustomize`, every object validates offline against the
Kubernetes object schemas (npm package kubernetes-models, JSON schemas of the Kubernetes API,
installed once into a cache directory this test owns), and the security and update properties
the DaemonSet promises hold.

Environment: KUBECTL (default: kubectl on PATH), XSMBD_TEST_CACHE (default ~/.cache/xsmbd-tests;
the npm install goes to XSMBD_TEST_CACHE/kubernetes-models-VERSION).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
MODELS_VERSION = "5.1.0"

# Validates each object of a JSON array (the file argv[2]) with the kubernetes-models class of its
# apiVersion/kind; prints one line per object, exits 1 when one is invalid or unknown.
VALIDATE_JS = r"""
const path = require("path");
const fs = require("fs");
const root = path.join(process.argv[1], "node_modules", "kubernetes-models");
const objects = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let bad = 0;
for (const o of objects) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : [null, o.apiVersion];
  const file = path.join(root, group ? group : "", version, o.kind + ".js");
  const what = `${o.kind}/${o.metadata && o.metadata.name}`;
  if (!fs.existsSync(file)) { console.log(`UNKNOWN ${what}: no schema for ${o.apiVersion} ${o.kind}`); bad++; continue; }
  const Model = require(file)[o.kind];
  try { new Model(o).validate(); console.log(`VALID ${what}`); }
  catch (e) { console.log(`INVALID ${what}: ${e.message}`); bad++; }
}
process.exit(bad ? 1 : 0);
"""


def cache_dir():
    base = os.environ.get("XSMBD_TEST_CACHE") or os.path.expanduser("~/.cache/xsmbd-tests")
    return Path(base) / f"kubernetes-models-{MODELS_VERSION}"


def ensure_models():
    """The kubernetes-models package in the cache (npm install on first use)."""
    d = cache_dir()
    if (d / "node_modules" / "kubernetes-models" / "package.json").exists():
        return d
    if not shutil.which("npm") or not shutil.which("node"):
        raise unittest.SkipTest("npm/node not installed (apt-get install npm)")
    tmp = Path(tempfile.mkdtemp(prefix="km-", dir=d.parent if d.parent.exists() else None))
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix",
                        str(tmp), f"kubernetes-models@{MODELS_VERSION}"],
                       check=True, timeout=150)
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(d)  # atomic: a half-finished install is never taken for a cache hit
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return d


def render():
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        raise unittest.SkipTest("kubectl not installed (apt-get install kubernetes-client)")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return [o for o in yaml.safe_load_all(out) if o]


class RenderedManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = render()
        cls.by_kind = {}
        for o in cls.objects:
            cls.by_kind.setdefault(o["kind"], []).append(o)
        cls.ds = cls.by_kind["DaemonSet"][0]
        cls.pod = cls.ds["spec"]["template"]["spec"]

    def container(self, name, init=False):
        for c in self.pod["initContainers" if init else "containers"]:
            if c["name"] == name:
                return c
        self.fail(f"no container {name}")

    def volume(self, name):
        for v in self.pod["volumes"]:
            if v["name"] == name:
                return v
        self.fail(f"no volume {name}")

    def test_schema_validation(self):
        models = ensure_models()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(self.objects, f)
        try:
            r = subprocess.run(["node", "-e", VALIDATE_JS, str(models), f.name],
                               capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        print(r.stdout, end="")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("VALID "), len(self.objects))

    def test_validator_rejects_a_broken_object(self):
        # The validation above can fail: a privileged flag that is not a boolean is refused.
        models = ensure_models()
        broken = json.loads(json.dumps(self.ds))
        broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = "no"
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([broken], f)
        try:
            r = subprocess.run(["node", "-e", VALIDATE_JS, str(models), f.name],
                               capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("privileged must be boolean", r.stdout)

    def test_objects(self):
        kinds = sorted(o["kind"] for o in self.objects)
        self.assertEqual(kinds, ["ConfigMap", "DaemonSet", "Namespace", "Secret"])
        for o in self.objects:
            if o["kind"] != "Namespace":
                self.assertEqual(o["metadata"].get("namespace"), "xsmbd", o["kind"])

    def test_server_container_capabilities(self):
        sc = self.container("xsmbd")["securityContext"]
        self.assertFalse(sc.get("privileged", False))
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        added = set(sc["capabilities"]["add"])
        self.assertTrue({"BPF", "NET_ADMIN", "NET_BIND_SERVICE"} <= added, added)
        # Beyond those three only what file serving needs: identities and root's file access.
        self.assertEqual(added - {"BPF", "NET_ADMIN", "NET_BIND_SERVICE"},
                         {"SETUID", "SETGID", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER",
                          "KILL"})
        self.assertNotIn("SYS_ADMIN", added)

    def test_only_the_loader_is_privileged(self):
        for c in self.pod.get("initContainers", []) + self.pod["containers"]:
            privileged = (c.get("securityContext") or {}).get("privileged", False)
            self.assertEqual(privileged, c["name"] == "bpf-loader", c["name"])

    def test_bpffs_mounts(self):
        vol = self.volume("bpffs")
        self.assertEqual(vol["hostPath"]["path"], "/sys/fs/bpf")
        loader = self.container("bpf-loader", init=True)
        self.assertEqual(loader["command"][:2], ["/usr/sbin/xsmb-loader", "load"])
        mounts = {m["name"]: m for m in loader["volumeMounts"]}
        self.assertEqual(mounts["bpffs"]["mountPath"], "/sys/fs/bpf")
        self.assertEqual(mounts["bpffs"]["mountPropagation"], "Bidirectional")
        server = {m["name"]: m for m in self.container("xsmbd")["volumeMounts"]}
        self.assertEqual(server["bpffs"]["mountPath"], "/sys/fs/bpf")
        self.assertEqual(server["bpffs"]["mountPropagation"], "HostToContainer")

    def test_network_probes_and_scraping(self):
        self.assertTrue(self.pod["hostNetwork"])
        c = self.container("xsmbd")
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": 9445})
        # Readiness through the pod's own control socket (an emptyDir), never the node's
        # shared port 9445, which the old pod still answers during an update.
        ready = c["readinessProbe"]["exec"]["command"]
        self.assertEqual(ready[0], "/usr/bin/xsmbctl")
        self.assertEqual(ready[-1], "ready")
        socket = ready[ready.index("--socket") + 1]
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        self.assertIn("emptyDir", self.volume(mounts[str(Path(socket).parent)]))
        ann = self.ds["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(ann["prometheus.io/scrape"], "true")
        self.assertEqual(ann["prometheus.io/port"], "9445")
        # With hostNetwork a declared port is a hostPort: the surge pod could not be scheduled.
        for k in self.pod.get("initContainers", []) + self.pod["containers"]:
            self.assertNotIn("ports", k, k["name"])
        conf = self.by_kind["ConfigMap"][0]["data"]["smb.conf"]
        self.assertIn("metrics address = 0.0.0.0:9445", conf)
        self.assertIn(f"control socket = {socket}", conf)
        self.assertIn("bpf = yes", conf)

    def test_rolling_update_without_refusal(self):
        st = self.ds["spec"]["updateStrategy"]
        self.assertEqual(st["type"], "RollingUpdate")
        self.assertEqual(st["rollingUpdate"], {"maxSurge": 1, "maxUnavailable": 0})
        self.assertGreaterEqual(self.pod["terminationGracePeriodSeconds"], 60)
        self.assertIn("--takeover", self.container("xsmbd")["command"])

    def test_config_users_and_share(self):
        self.assertTrue(self.volume("config")["configMap"]["name"].startswith("xsmbd-config"))
        self.assertEqual(self.volume("users")["secret"]["secretName"], "xsmbd-users")
        self.assertEqual(self.volume("share")["hostPath"]["path"], "/srv/xsmbd/share")
        secret = self.by_kind["Secret"][0]
        self.assertIn("users.db", secret.get("stringData", {}) or secret.get("data", {}))
        server = self.container("xsmbd")
        self.assertEqual(server["command"][-2:], ["--config", "/etc/xsmbd/smb.conf"])
        self.assertNotIn("users", {m["name"] for m in server["volumeMounts"]})

    def test_smb_conf_is_accepted_by_xsmbd(self):
        # The ConfigMap's smb.conf passes xsmbd --check-config (where a build is at hand).
        xsmbd = os.environ.get("XSMBD")
        if not xsmbd:
            self.skipTest("XSMBD not set")
        conf = self.by_kind["ConfigMap"][0]["data"]["smb.conf"]
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(conf)
        try:
            r = subprocess.run([xsmbd, "--check-config", "--config", f.name],
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        if 'unknown parameter "metrics address"' in r.stderr:
            self.skipTest("this xsmbd has no metrics endpoint yet (\"metrics address\")")
        # The share's hostPath exists on the node, not here; any other error fails.
        errors = [line for line in r.stderr.splitlines() if line.startswith("error")
                  and "/srv/xsmbd/share\" of share [share] does not exist" not in line]
        self.assertEqual(errors, [], r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
