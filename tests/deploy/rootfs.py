"""Root filesystems for the deployment tests, from Debian's archive, cached as tarballs.

image_base(): what deploy/Containerfile's runtime stage holds before the install: Debian 12
minbase (mmdebstrap; the content of debian:12-slim) plus deploy/runtime-packages.txt.
systemd_base(): the same plus systemd, systemd-sysv and procps (a plain host to boot).
Both are made once (mmdebstrap takes about 4 minutes here, most of it downloading) into
XSMBD_TEST_CACHE (default ~/.cache/xsmbd-tests), keyed by the package lists; unpack() gives a
test its own copy in seconds.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = REPO / "deploy" / "runtime-packages.txt"
MIRROR = os.environ.get("XSMBD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SYSTEMD_PACKAGES = ["systemd", "systemd-sysv", "procps"]


def cache_dir():
    base = os.environ.get("XSMBD_TEST_CACHE") or os.path.expanduser("~/.cache/xsmbd-tests")
    return Path(base)


def runtime_packages():
    return [line.strip() for line in PACKAGES.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _key(extra):
    return hashlib.sha256((PACKAGES.read_text() + " ".join(extra)).encode()).hexdigest()[:12]


def may_build():
    """Whether a missing base may be built now (slow: XSMBD_ROOTFS_BUILD=1 allows it)."""
    return os.environ.get("XSMBD_ROOTFS_BUILD") == "1"


def image_base():
    tar = cache_dir() / f"rootfs-bookworm-{_key([])}.tar"
    if tar.exists():
        return tar
    if not may_build():
        raise unittest.SkipTest(f"no cached base {tar}: run once with XSMBD_ROOTFS_BUILD=1 "
                                "(mmdebstrap, about 4 minutes)")
    if not shutil.which("mmdebstrap"):
        raise unittest.SkipTest("mmdebstrap not installed (apt-get install mmdebstrap)")
    cache_dir().mkdir(parents=True, exist_ok=True)
    part = tar.with_name(tar.stem + ".part.tar")
    subprocess.run(["mmdebstrap", "--variant=minbase", "--quiet",
                    "--include=" + ",".join(runtime_packages()),
                    "--dpkgopt=path-exclude=/usr/share/doc/*",
                    "--dpkgopt=path-exclude=/usr/share/man/*",
                    "--dpkgopt=path-exclude=/usr/share/locale/*",
                    "bookworm", str(part), MIRROR], check=True, timeout=900)
    part.rename(tar)
    return tar


def systemd_base():
    tar = cache_dir() / f"rootfs-bookworm-systemd-{_key(SYSTEMD_PACKAGES)}.tar"
    if tar.exists():
        return tar
    base = image_base()
    if not may_build():
        raise unittest.SkipTest(f"no cached base {tar}: run once with XSMBD_ROOTFS_BUILD=1")
    tmp = Path(tempfile.mkdtemp(prefix="xsmbd-sdbase-", dir=cache_dir()))
    try:
        root = tmp / "root"
        root.mkdir()
        subprocess.run(["tar", "-C", str(root), "-xf", str(base)], check=True)
        # apt inside the chroot, in a mount namespace of its own: /proc is never left mounted.
        script = (f"mount -t proc proc {root}/proc && chroot {root} sh -c 'apt-get update -qq && "
                  "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                  f"--no-install-recommends {' '.join(SYSTEMD_PACKAGES)} >/dev/null && "
                  "apt-get clean && rm -rf /var/lib/apt/lists/*'")
        subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       check=True, timeout=900)
        part = tar.with_name(tar.stem + ".part.tar")
        subprocess.run(["tar", "-C", str(root), "-cf", str(part), "."], check=True)
        part.rename(tar)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tar


def unpack(tar, into):
    """Unpacks `tar` into the new directory `into`."""
    into.mkdir()
    subprocess.run(["tar", "-C", str(into), "-xf", str(tar)], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed_root(tar, prefix, build, *install_args):
    """A fresh copy of the base `tar` in a temporary directory named after `prefix`, with
    `cmake --install build *install_args` laid into it (DESTDIR). Returns (tmp, root, the
    install's output); the caller removes tmp."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    root = tmp / "root"
    unpack(tar, root)
    env = dict(os.environ, DESTDIR=str(root))
    out = subprocess.run(["cmake", "--install", build, *install_args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return tmp, root, out
