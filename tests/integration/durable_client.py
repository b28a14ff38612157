"""CREATE with create contexts for the test codec (smb2client.Smb2Client): durable handle
requests and reconnects (MS-SMB2 2.2.13.2.3, 2.2.13.2.4, 2.2.13.2.11, 2.2.13.2.12), and the
parsing of the response's contexts (2.2.14.2). Used by test_durable.py."""

import os
import socket
import struct

import smb2client
import smb2raw

OPLOCK_LEVEL_NONE = 0x00
OPLOCK_LEVEL_BATCH = 0x09
OPLOCK_LEVEL_LEASE = 0xFF
FILE_OPEN = 1
FILE_OPEN_IF = 3
FILE_OVERWRITE_IF = 5
FILE_NON_DIRECTORY_FILE = 0x00000040
GENERIC_READ_WRITE = 0x00120089 | 0x00120116  # FILE_GENERIC_READ | FILE_GENERIC_WRITE
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_FILE_CLOSED = 0xC0000128
STATUS_LOCK_NOT_GRANTED = 0xC0000055
LOCK = 0x000A
SET_INFO = 0x0011
QUERY_INFO = 0x0010


class Client(smb2client.Smb2Client):
    """An Smb2Client that sets oplock break notifications (MessageId all ones, MS-SMB2 2.2.23)
    aside in `breaks` while it waits for a reply, and can cut its TCP connection."""

    def __init__(self, port, timeout=10.0):
        super().__init__(port, timeout)
        self.breaks = []

    def send(self, message, sign_it=None, corrupt_signature=False, key=None):
        if sign_it is None:
            sign_it = self.sign_requests and self.session_key is not None
        if sign_it:
            message = smb2client.sign(message, key or self.session_key, self.cmac)
        self.last_request = message
        self.conn.send(message)
        while True:
            r = smb2client.Reply(self.conn.recv())
            if r.message_id == 0xFFFFFFFFFFFFFFFF:
                self.breaks.append(r)
            elif r.status != smb2client.STATUS_PENDING:
                return r

    def negotiate(self, dialect=0x0210, client_guid=None):
        """NEGOTIATE offering exactly `dialect` with ClientGuid `client_guid` (16 bytes; random
        when None): a lease open is reclaimed only by the client that holds the lease."""
        guid = client_guid if client_guid is not None else os.urandom(16)
        body = (struct.pack("<HHHHI", 36, 1, smb2raw.SIGNING_ENABLED, 0, 0) + guid
                + struct.pack("<IHH", 0, 0, 0) + struct.pack("<H", dialect))
        r = self.send(self.build(smb2client.NEGOTIATE, body), sign_it=False)
        if r.status == smb2client.STATUS_SUCCESS:
            self.server_security_mode, self.dialect = struct.unpack_from("<HH", r.body, 2)
        return r

    def cut(self):
        """Drops the connection with a TCP reset (SO_LINGER 0), as a network failure would."""
        self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.sock.close()


def create_contexts(contexts):
    """An SMB2_CREATE_CONTEXT chain (MS-SMB2 2.2.13.2) of (name, data) pairs, each 8-aligned."""
    out = b""
    for i, (name, data) in enumerate(contexts):
        name = name.encode("ascii")
        # Fixed part 16 bytes, name at 16, padding to 8, data after.
        name_off = 16
        data_off = (name_off + len(name) + 7) // 8 * 8
        entry = bytearray(data_off + len(data))
        entry[name_off:name_off + len(name)] = name
        entry[data_off:data_off + len(data)] = data
        last = i == len(contexts) - 1
        if not last:
            entry += b"\x00" * (-len(entry) % 8)
        struct.pack_into("<IHHHHI", entry, 0, 0 if last else len(entry), name_off, len(name), 0,
                         data_off if data else 0, len(data))
        out += bytes(entry)
    return out


def parse_contexts(raw, offset, length):
    """{name: data} of a response's create contexts; offset counted from the header start."""
    out = {}
    pos = offset
    while length and pos + 16 <= len(raw):
        nxt, noff, nlen, _, doff, dlen = struct.unpack_from("<IHHHHI", raw, pos)
        name = raw[pos + noff:pos + noff + nlen].decode("ascii", "replace")
        out[name] = raw[pos + doff:pos + doff + dlen]
        if not nxt:
            break
        pos += nxt
    return out


def dhnq():
    return ("DHnQ", b"\x00" * 16)


def dhnc(file_id):
    return ("DHnC", file_id)


def dh2q(create_guid, timeout_ms=0, flags=0):
    return ("DH2Q", struct.pack("<IIQ", timeout_ms, flags, 0) + create_guid)


def dh2c(file_id, create_guid, flags=0):
    return ("DH2C", file_id + create_guid + struct.pack("<I", flags))


def rqls(key, state):
    """SMB2_CREATE_REQUEST_LEASE (MS-SMB2 2.2.13.2.8): LeaseKey, LeaseState, Flags 0,
    LeaseDuration 0."""
    return ("RqLs", key + struct.pack("<IIQ", state, 0, 0))


def lease_state(reply):
    """(LeaseKey, LeaseState) of a CREATE response's lease context (MS-SMB2 2.2.14.2.10)."""
    data = reply.contexts.get("RqLs")
    if data is None or len(data) < 20:
        return None
    return data[:16], struct.unpack_from("<I", data, 16)[0]


def create(client, name, contexts=(), oplock=OPLOCK_LEVEL_BATCH, access=GENERIC_READ_WRITE,
           disposition=FILE_OPEN_IF, share_access=0, options=FILE_NON_DIRECTORY_FILE):
    """CREATE (MS-SMB2 2.2.13) with `contexts`; the reply gets file_id, oplock,
    create_action, end_of_file and contexts ({name: data})."""
    raw_name = name.encode("utf-16-le")
    ctx = create_contexts(list(contexts))
    name_off = 64 + 56
    ctx_off = (name_off + max(len(raw_name), 1) + 7) // 8 * 8 if ctx else 0
    body = bytearray(struct.pack("<HBBIQQIIIII", 57, 0, oplock, 2, 0, 0, access, 0, share_access,
                                 disposition, options)
                     + struct.pack("<HHII", name_off, len(raw_name), ctx_off, len(ctx)))
    body += raw_name or b"\x00"
    if ctx:
        body += b"\x00" * (ctx_off - 64 - len(body)) + ctx
    r = client.send(client.build(smb2client.CREATE, bytes(body)))
    r.file_id = None
    r.contexts = {}
    if r.status == smb2client.STATUS_SUCCESS:
        r.oplock = r.body[2]
        r.create_action = struct.unpack_from("<I", r.body, 4)[0]
        r.end_of_file = struct.unpack_from("<Q", r.body, 48)[0]
        r.file_id = r.body[64:80]
        coff, clen = struct.unpack_from("<II", r.body, 80)
        r.contexts = parse_contexts(r.raw, coff, clen)
    return r


def lock(client, file_id, offset, length, exclusive=True):
    """LOCK (MS-SMB2 2.2.26) of one range, failing at once on conflict; exclusive=None
    unlocks it."""
    if exclusive is None:
        flags = 0x04  # SMB2_LOCKFLAG_UNLOCK
    else:
        flags = (0x02 if exclusive else 0x01) | 0x10  # EXCLUSIVE/SHARED | FAIL_IMMEDIATELY
    body = struct.pack("<HHI", 48, 1, 0) + file_id + struct.pack("<QQII", offset, length, flags, 0)
    return client.send(client.build(LOCK, body))


def set_position(client, file_id, position):
    """SET_INFO FilePositionInformation (MS-FSCC 2.4.35)."""
    data = struct.pack("<Q", position)
    body = struct.pack("<HBBIHHI", 33, 1, 14, len(data), 96, 0, 0) + file_id + data
    return client.send(client.build(SET_INFO, body))


def query_position(client, file_id):
    """QUERY_INFO FilePositionInformation; returns (status, position)."""
    body = struct.pack("<HBBIHHIII", 41, 1, 14, 8, 0, 0, 0, 0, 0) + file_id
    r = client.send(client.build(QUERY_INFO, body))
    if r.status != smb2client.STATUS_SUCCESS:
        return r.status, None
    off, length = struct.unpack_from("<HI", r.body, 2)
    return r.status, struct.unpack_from("<Q", r.raw, off)[0]
