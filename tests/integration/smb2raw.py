"""Just enough SMB2 on a raw socket for the integration tests: build a NEGOTIATE and an ECHO
request (MS-SMB2 2.2.3, 2.2.28), frame them with the 4-byte direct-TCP transport header
(MS-SMB2 2.1), and read and parse responses. Built from the specification; no session setup.
"""

import os
import socket
import struct

SMB2_MAGIC = b"\xfeSMB"
HEADER_SIZE = 64

NEGOTIATE = 0x0000
ECHO = 0x000D

FLAGS_SERVER_TO_REDIR = 0x00000001

SIGNING_ENABLED = 0x0001   # SMB2_NEGOTIATE_SIGNING_ENABLED
SIGNING_REQUIRED = 0x0002  # SMB2_NEGOTIATE_SIGNING_REQUIRED

DIALECT_IDS = {"SMB2_02": 0x0202, "SMB2_10": 0x0210, "SMB3_00": 0x0300,
               "SMB3_02": 0x0302, "SMB3_11": 0x0311}

STATUS_SUCCESS = 0x00000000
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_NOT_SUPPORTED = 0xC00000BB

# MS-SMB2 2.2.3.1 negotiate context types.
PREAUTH_INTEGRITY_CAPABILITIES = 0x0001
ENCRYPTION_CAPABILITIES = 0x0002
SHA512 = 0x0001
AES128_CCM = 0x0001
AES128_GCM = 0x0002


def frame(payload, length=None):
    """Direct-TCP transport header (MS-SMB2 2.1): a zero byte and a 24-bit big-endian length."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n & 0x00FFFFFF) + payload


def header(command, message_id, credit_request=1, structure_size=64, session_id=0, tree_id=0,
           flags=0, next_command=0):
    """A 64-byte sync SMB2 request header (MS-SMB2 2.2.1.2), signature zero."""
    return (SMB2_MAGIC
            + struct.pack("<HHIHHIIQIIQ", structure_size, 0, 0, command, credit_request, flags,
                          next_command, message_id, 0xFEFF, tree_id, session_id)
            + b"\x00" * 16)


def _negotiate_contexts(start_offset):
    """Preauth-integrity (SHA-512, 32-byte salt) and encryption contexts, each 8-aligned."""
    preauth = struct.pack("<HHH", 1, 32, SHA512) + os.urandom(32)
    enc = struct.pack("<HHH", 2, AES128_GCM, AES128_CCM)
    out = b""
    offset = start_offset
    for i, (ctype, data) in enumerate(((PREAUTH_INTEGRITY_CAPABILITIES, preauth),
                                       (ENCRYPTION_CAPABILITIES, enc))):
        pad = (-offset) % 8
        out += b"\x00" * pad
        offset += pad
        ctx = struct.pack("<HHI", ctype, len(data), 0) + data
        out += ctx
        offset += len(ctx)
    return out, 2


def negotiate_request(dialects=("SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"),
                      message_id=0, security_mode=SIGNING_ENABLED, dialect_count=None,
                      structure_size=36, header_structure_size=64):
    """The SMB2 NEGOTIATE request (MS-SMB2 2.2.3) as bytes without the transport header.

    dialect_count overrides the DialectCount field (the array still holds `dialects`);
    SMB3_11 in `dialects` adds the preauth-integrity and encryption contexts it requires.
    """
    ids = [DIALECT_IDS[d] if isinstance(d, str) else d for d in dialects]
    count = len(ids) if dialect_count is None else dialect_count
    body_fixed = 36
    dialect_bytes = b"".join(struct.pack("<H", d) for d in ids)
    contexts = b""
    ctx_offset = 0
    ctx_count = 0
    if 0x0311 in ids:
        end = HEADER_SIZE + body_fixed + len(dialect_bytes)
        pad = (-end) % 8
        ctx_offset = end + pad
        contexts, ctx_count = _negotiate_contexts(ctx_offset)
        contexts = b"\x00" * pad + contexts
    capabilities = 0x7F if 0x0300 <= max(ids or [0]) else 0
    body = struct.pack("<HHHHI", structure_size, count, security_mode, 0, capabilities)
    body += os.urandom(16)  # ClientGuid
    body += struct.pack("<IHH", ctx_offset, ctx_count, 0)
    body += dialect_bytes + contexts
    return header(NEGOTIATE, message_id, structure_size=header_structure_size) + body


def echo_request(message_id):
    """SMB2 ECHO request (MS-SMB2 2.2.28): StructureSize 4, Reserved."""
    return header(ECHO, message_id) + struct.pack("<HH", 4, 0)


class Response:
    def __init__(self, data):
        self.raw = data
        if len(data) < HEADER_SIZE or data[:4] != SMB2_MAGIC:
            raise ValueError(f"not an SMB2 response: {data[:16].hex()}")
        (self.structure_size, self.credit_charge, self.status, self.command, self.credits,
         self.flags, self.next_command, self.message_id) = struct.unpack_from(
             "<HHIHHIIQ", data, 4)
        self.body = data[HEADER_SIZE:]

    def negotiate(self):
        """(SecurityMode, DialectRevision) of a NEGOTIATE response (MS-SMB2 2.2.4)."""
        size, security_mode, dialect = struct.unpack_from("<HHH", self.body, 0)
        if size != 65:
            raise ValueError(f"NEGOTIATE response StructureSize {size}")
        return security_mode, dialect


class Connection:
    """A TCP connection to 127.0.0.1:port speaking framed SMB2."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.next_message_id = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, payload):
        self.sock.sendall(frame(payload))

    def _recv_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if not k:
                raise ConnectionError(f"closed by peer after {got} of {n} bytes")
            got += k
        return bytes(buf)

    def recv(self):
        """One framed message (payload bytes). Raises ConnectionError when the peer closed."""
        hdr = self._recv_exact(4)
        if hdr[0] != 0:
            raise ValueError(f"transport header type {hdr[0]:#x}")
        n = struct.unpack(">I", hdr)[0] & 0x00FFFFFF
        return self._recv_exact(n)

    def recv_response(self):
        """The next SMB2 response, skipping interim STATUS_PENDING replies."""
        while True:
            r = Response(self.recv())
            if r.status != 0x00000103:
                return r

    def negotiate(self, **kwargs):
        self.send(negotiate_request(message_id=self.next_message_id, **kwargs))
        self.next_message_id += 1
        return self.recv_response()

    def echo(self):
        mid = self.next_message_id
        self.send(echo_request(mid))
        self.next_message_id += 1
        r = self.recv_response()
        return r, mid

    def closed_or_error(self, timeout=5.0):
        """After a bad request: 'closed' if the server closed the connection, 'error:STATUS'
        for an SMB2 error response, 'ok' for a success response, 'silent' if nothing came."""
        self.sock.settimeout(timeout)
        try:
            data = self.recv()
        except (ConnectionError, ConnectionResetError, BrokenPipeError):
            return "closed"
        except socket.timeout:
            return "silent"
        except ValueError as e:
            return f"garbage:{e}"
        try:
            r = Response(data)
        except ValueError as e:
            return f"garbage:{e}"
        if r.status == STATUS_SUCCESS:
            return "ok"
        return f"error:{r.status:#010x}"
