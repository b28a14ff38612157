#!/usr/bin/env python3
"""Extracts client->server NetBIOS frames (4-byte header + SMB2 message or compound chain) from
the captures in /work/shared/captures into this folder, one file per frame:
<capture-tag>_<stream>_<index>_<commands>.bin. Re-run to regenerate; pick what to keep by hand.

usage: extract.py CAPTURE TAG [STREAM...]
"""
import os
import struct
import subprocess
import sys

CMDS = ["negotiate", "sessionsetup", "logoff", "treeconnect", "treedisconnect", "create",
        "close", "flush", "read", "write", "lock", "ioctl", "cancel", "echo", "querydirectory",
        "changenotify", "queryinfo", "setinfo", "oplockbreak"]


def client_bytes(capture, stream):
    out = subprocess.run(["tshark", "-r", capture, "-q", "-z", f"follow,tcp,raw,{stream}"],
                         capture_output=True, text=True, check=True).stdout
    data = bytearray()
    for line in out.splitlines():
        if not line or line.startswith("\t") or not all(c in "0123456789abcdef" for c in line):
            continue
        data += bytes.fromhex(line)
    return bytes(data)


def commands(msg):
    names = []
    off = 0
    while off + 64 <= len(msg) and msg[off:off + 4] == b"\xfeSMB":
        cmd, = struct.unpack_from("<H", msg, off + 12)
        nxt, = struct.unpack_from("<I", msg, off + 20)
        names.append(CMDS[cmd] if cmd < len(CMDS) else f"cmd{cmd}")
        if nxt == 0:
            break
        off += nxt
    return "+".join(names) or "other"


def main():
    capture, tag = sys.argv[1], sys.argv[2]
    streams = [int(s) for s in sys.argv[3:]] or [0]
    here = os.path.dirname(os.path.abspath(__file__))
    for stream in streams:
        data = client_bytes(capture, stream)
        pos, index = 0, 0
        while pos + 4 <= len(data):
            length = int.from_bytes(data[pos + 1:pos + 4], "big")
            frame = data[pos:pos + 4 + length]
            pos += 4 + length
            if frame[0] != 0 or frame[4:8] != b"\xfeSMB":
                continue  # SMB1 negotiate, transform headers
            name = f"{tag}_{stream}_{index:02d}_{commands(frame[4:])}.bin"
            with open(os.path.join(here, name), "wb") as f:
                f.write(frame)
            index += 1


if __name__ == "__main__":
    main()
