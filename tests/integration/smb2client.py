"""A minimal SMB 2.1 / 3.0 client on a raw socket for the integration tests.

NEGOTIATE (one dialect, 0x0210 by default), SESSION_SETUP with bare NTLMSSP tokens and an
NTLMv2 response (MS-NLMP 3.3.2), HMAC-SHA256 signing (MS-SMB2 3.1.4.1), TREE_CONNECT, CREATE,
READ, WRITE, CLOSE, ECHO, IOCTL and LOGOFF. Every request and response stays visible to the test
(raw bytes, status, header fields) so tests can send wrong signatures or unsigned requests on
purpose. Written from the specifications.

Dialect 3.0 (0x0300) adds what multichannel needs: the SP800-108 key derivation of MS-SMB2
3.1.4.2 (Session.SigningKey, Channel.SigningKey), AES-128-CMAC signing, and session binding
(bind(): SESSION_SETUP with SMB2_SESSION_FLAG_BINDING, MS-SMB2 3.2.4.2.3 / 3.3.5.5.2). AES-CMAC
comes from the `cryptography` package (Debian python3-cryptography); HAVE_CMAC says whether it
is there.

MD4 is not in hashlib under OpenSSL 3 (legacy provider), so it is implemented here (RFC 1320);
RC4 likewise (for NTLMSSP_NEGOTIATE_KEY_EXCH, MS-NLMP 3.4.3).
"""

import hashlib
import hmac
import os
import struct
import time

import smb2raw

try:
    from cryptography.hazmat.primitives import cmac as _cmac
    from cryptography.hazmat.primitives.ciphers import algorithms as _algorithms
    HAVE_CMAC = True
except ImportError:  # pragma: no cover - only where python3-cryptography is missing
    HAVE_CMAC = False

# MS-SMB2 2.2.1 commands.
NEGOTIATE = 0x0000
SESSION_SETUP = 0x0001
LOGOFF = 0x0002
TREE_CONNECT = 0x0003
TREE_DISCONNECT = 0x0004
CREATE = 0x0005
CLOSE = 0x0006
READ = 0x0008
WRITE = 0x0009
ECHO = 0x000D
IOCTL = 0x000B

SESSION_FLAG_BINDING = 0x01  # MS-SMB2 2.2.5 Flags
FSCTL_QUERY_NETWORK_INTERFACE_INFO = 0x001401FC
IOCTL_IS_FSCTL = 0x00000001

FLAGS_SERVER_TO_REDIR = 0x00000001
FLAGS_SIGNED = 0x00000008

# MS-ERREF NTSTATUS values the tests look at.
STATUS_SUCCESS = 0x00000000
STATUS_PENDING = 0x00000103
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_OBJECT_NAME_INVALID = 0xC0000033
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
STATUS_OBJECT_PATH_SYNTAX_BAD = 0xC000003B
STATUS_END_OF_FILE = 0xC0000011
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_REQUEST_NOT_ACCEPTED = 0xC00000D0
STATUS_INVALID_PARAMETER = 0xC000000D

STATUS_NAMES = {v: k for k, v in globals().items() if k.startswith("STATUS_")}


def status_name(status):
    return STATUS_NAMES.get(status, f"{status:#010x}")


# --- MD4 (RFC 1320) and RC4 -----------------------------------------------------------------

def _rotl(x, n):
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data):
    """MD4 digest (16 bytes) of `data` (RFC 1320)."""
    msg = bytes(data) + b"\x80"
    msg += b"\x00" * ((56 - len(msg)) % 64) + struct.pack("<Q", (len(data) * 8) & (2**64 - 1))
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    f = lambda x, y, z: (x & y) | (~x & z)  # noqa: E731
    g = lambda x, y, z: (x & y) | (x & z) | (y & z)  # noqa: E731
    hh = lambda x, y, z: x ^ y ^ z  # noqa: E731
    for off in range(0, len(msg), 64):
        x = struct.unpack_from("<16I", msg, off)
        a, b, c, d = h
        for i in range(16):  # round 1: k in order, shifts 3 7 11 19
            k = i
            s = (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, _rotl(a + f(b, c, d) + x[k], s), b, c
        for i in range(16):  # round 2: k = 0 4 8 12 1 5 ..., shifts 3 5 9 13
            k = (i % 4) * 4 + i // 4
            s = (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, _rotl(a + g(b, c, d) + x[k] + 0x5A827999, s), b, c
        for i in range(16):  # round 3: k = 0 8 4 12 2 10 ..., shifts 3 9 11 15
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, _rotl(a + hh(b, c, d) + x[k] + 0x6ED9EBA1, s), b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d))]
    return struct.pack("<4I", *h)


def rc4(key, data):
    """RC4 keystream XOR `data` (used once per key by NTLMSSP key exchange)."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


# --- NTLMSSP (MS-NLMP 2.2.1, 3.3.2) ------------------------------------------------------------

NTLMSSP_SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_UNICODE = 0x00000001
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

MSV_AV_EOL = 0
MSV_AV_TIMESTAMP = 7

# Windows 10 style VERSION structure (MS-NLMP 2.2.2.10); informational only.
_VERSION = struct.pack("<BBHBBBB", 10, 0, 19041, 0, 0, 0, 15)


def ntowf_v2(password, user, domain):
    """NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(password)), UNICODE(Upper(user) + domain))."""
    return hmac_md5(md4(password.encode("utf-16-le")),
                    (user.upper() + domain).encode("utf-16-le"))


def ntlm_negotiate(key_exch=False):
    """NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) with empty domain/workstation fields."""
    flags = (NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_SIGN | NEGOTIATE_NTLM
             | NEGOTIATE_ALWAYS_SIGN | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_TARGET_INFO
             | NEGOTIATE_VERSION | NEGOTIATE_128 | NEGOTIATE_56)
    if key_exch:
        flags |= NEGOTIATE_KEY_EXCH
    return (NTLMSSP_SIGNATURE + struct.pack("<II", 1, flags)
            + struct.pack("<HHI", 0, 0, 40) * 2 + _VERSION)


class Challenge:
    """Fields of a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2)."""

    def __init__(self, msg):
        if msg[:8] != NTLMSSP_SIGNATURE or struct.unpack_from("<I", msg, 8)[0] != 2:
            raise ValueError(f"not an NTLMSSP CHALLENGE: {msg[:16].hex()}")
        tn_len, _, tn_off = struct.unpack_from("<HHI", msg, 12)
        self.flags = struct.unpack_from("<I", msg, 20)[0]
        self.server_challenge = msg[24:32]
        ti_len, _, ti_off = struct.unpack_from("<HHI", msg, 40)
        self.target_name = msg[tn_off:tn_off + tn_len].decode("utf-16-le", errors="replace")
        self.target_info = msg[ti_off:ti_off + ti_len]

    def av_pairs(self):
        """{AvId: value bytes} of TargetInfo (MS-NLMP 2.2.2.1)."""
        out = {}
        off = 0
        while off + 4 <= len(self.target_info):
            av_id, av_len = struct.unpack_from("<HH", self.target_info, off)
            if av_id == MSV_AV_EOL:
                break
            out[av_id] = self.target_info[off + 4:off + 4 + av_len]
            off += 4 + av_len
        return out


def _filetime_now():
    return int((time.time() + 11644473600) * 10_000_000)


def ntlm_authenticate(challenge, user, password, domain, workstation="ITEST",
                      key_exch=False, client_challenge=None, timestamp=None):
    """(AUTHENTICATE_MESSAGE bytes, exported session key) for NTLMv2 (MS-NLMP 3.3.2, 3.4.5.1).

    Without key_exch the exported session key is the SessionBaseKey
    HMAC_MD5(NTOWFv2, NTProofStr); with it, a random key sent RC4-encrypted under that key.
    The server's TargetInfo is echoed unchanged in the blob (no MIC, so no MsvAvFlags).
    """
    client_challenge = client_challenge or os.urandom(8)
    avs = challenge.av_pairs()
    if timestamp is None:
        timestamp = (struct.unpack("<Q", avs[MSV_AV_TIMESTAMP])[0]
                     if MSV_AV_TIMESTAMP in avs else _filetime_now())
    key_nt = ntowf_v2(password, user, domain)
    temp = (b"\x01\x01" + b"\x00" * 6 + struct.pack("<Q", timestamp) + client_challenge
            + b"\x00" * 4 + challenge.target_info + b"\x00" * 4)
    nt_proof = hmac_md5(key_nt, challenge.server_challenge + temp)
    nt_response = nt_proof + temp
    lm_response = hmac_md5(key_nt, challenge.server_challenge + client_challenge) + client_challenge
    session_base_key = hmac_md5(key_nt, nt_proof)
    flags = (NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_SIGN | NEGOTIATE_NTLM
             | NEGOTIATE_ALWAYS_SIGN | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_TARGET_INFO
             | NEGOTIATE_VERSION | NEGOTIATE_128 | NEGOTIATE_56)
    if key_exch and challenge.flags & NEGOTIATE_KEY_EXCH:
        flags |= NEGOTIATE_KEY_EXCH
        exported = os.urandom(16)
        encrypted_key = rc4(session_base_key, exported)
    else:
        exported = session_base_key
        encrypted_key = b""
    fields = [lm_response, nt_response, domain.encode("utf-16-le"), user.encode("utf-16-le"),
              workstation.encode("utf-16-le"), encrypted_key]
    offset = 88  # 64-byte fixed part + VERSION (8) + MIC (16, zero: none computed)
    descriptors = b""
    payload = b""
    for f in fields:
        descriptors += struct.pack("<HHI", len(f), len(f), offset + len(payload))
        payload += f
    msg = (NTLMSSP_SIGNATURE + struct.pack("<I", 3) + descriptors + struct.pack("<I", flags)
           + _VERSION + b"\x00" * 16 + payload)
    return msg, exported


def find_ntlmssp(token):
    """The NTLMSSP message inside a security token: the token itself, or the bytes from the
    NTLMSSP signature on when the server wrapped it in SPNEGO (offsets inside stay valid)."""
    i = token.find(NTLMSSP_SIGNATURE)
    if i < 0:
        raise ValueError(f"no NTLMSSP message in the security buffer: {token[:32].hex()}")
    return token[i:]


# --- SMB2 messages -----------------------------------------------------------------------------

def kdf(key, label, context):
    """SP800-108 counter-mode KDF with HMAC-SHA256, one round, L = 128 (MS-SMB2 3.1.4.2):
    HMAC(key, i=1 || label || 0x00 || context || L), first 16 bytes. Labels and contexts include
    their terminating NUL."""
    data = struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", 128)
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def smb30_signing_key(session_key):
    """Session.SigningKey / Channel.SigningKey of dialect 3.0 and 3.0.2 (MS-SMB2 3.3.5.5.3)."""
    return kdf(session_key, b"SMB2AESCMAC\x00", b"SmbSign\x00")


def _mac(message, key, cmac):
    m = bytearray(message)
    m[48:64] = b"\x00" * 16
    if cmac:
        c = _cmac.CMAC(_algorithms.AES(key))
        c.update(bytes(m))
        return c.finalize()
    return hmac.new(key, bytes(m), hashlib.sha256).digest()[:16]


def sign(message, key, cmac=False):
    """`message` with SMB2_FLAGS_SIGNED set and its signature (MS-SMB2 3.1.4.1): the first 16
    bytes of HMAC-SHA256, or AES-128-CMAC (`cmac`, dialect 3.x), of the message with a zero
    signature field."""
    m = bytearray(message)
    struct.pack_into("<I", m, 16, struct.unpack_from("<I", m, 16)[0] | FLAGS_SIGNED)
    m[48:64] = _mac(m, key, cmac)
    return bytes(m)


def signature_ok(message, key, cmac=False):
    """True if `message` carries a correct signature under `key`."""
    return hmac.compare_digest(bytes(message[48:64]), _mac(message, key, cmac))


class Reply:
    """A parsed SMB2 response: header fields, body, and the raw bytes (for signature checks)."""

    def __init__(self, raw):
        self.raw = raw
        if len(raw) < 64 or raw[:4] != b"\xfeSMB":
            raise ValueError(f"not an SMB2 response: {raw[:16].hex()}")
        (self.credit_charge, self.status, self.command, self.credits, self.flags,
         self.next_command, self.message_id) = struct.unpack_from("<HIHHIIQ", raw, 6)
        self.tree_id, self.session_id = struct.unpack_from("<IQ", raw, 36)
        self.signature = raw[48:64]
        self.body = raw[64:]

    @property
    def signed(self):
        return bool(self.flags & FLAGS_SIGNED)

    def __repr__(self):
        return (f"Reply(cmd={self.command:#x}, status={status_name(self.status)}, "
                f"flags={self.flags:#x}, mid={self.message_id})")


class Smb2Client:
    """One connection, at most one session and one tree connect.

    sign_requests: sign every request once a signing key exists (after SESSION_SETUP).
    Methods return Reply objects; they do not raise on an error status.
    """

    def __init__(self, port, timeout=10.0):
        self.conn = smb2raw.Connection(port, timeout=timeout)
        self.message_id = 0
        self.session_id = 0
        self.tree_id = 0
        self.session_key = None
        self.sign_requests = True
        self.dialect = None
        self.server_security_mode = None
        self.last_request = None
        self.session_signing_key = None  # Session.SigningKey (3.x; the key of bindings)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- framing ---------------------------------------------------------------------------

    def build(self, command, body, tree_id=None, session_id=None, flags=0):
        """A request: 64-byte sync header (MS-SMB2 2.2.1.2) + body, next MessageId, 64 credits
        asked for, signature zero (not yet signed)."""
        mid = self.message_id
        self.message_id += 1
        hdr = (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 1, 0, command, 64, flags, 0, mid,
                                        0xFEFF, self.tree_id if tree_id is None else tree_id,
                                        self.session_id if session_id is None else session_id)
               + b"\x00" * 16)
        return hdr + body

    @property
    def cmac(self):
        """Signing is AES-128-CMAC (dialect 3.0 / 3.0.2) rather than HMAC-SHA256."""
        return bool(self.dialect) and self.dialect >= 0x0300

    def send(self, message, sign_it=None, corrupt_signature=False, key=None):
        """Signs (if asked or by default when a key exists; with `key` instead of the
        connection's signing key when given) and sends; returns the reply."""
        if sign_it is None:
            sign_it = self.sign_requests and self.session_key is not None
        if sign_it:
            message = sign(message, key or self.session_key, self.cmac)
            if corrupt_signature:
                m = bytearray(message)
                m[48] ^= 0x01
                message = bytes(m)
        elif corrupt_signature:
            raise ValueError("corrupt_signature needs a signed message")
        self.last_request = message
        self.conn.send(message)
        while True:
            r = Reply(self.conn.recv())
            if r.status != STATUS_PENDING:
                return r

    # --- commands --------------------------------------------------------------------------

    def negotiate(self, dialect=0x0210, security_mode=smb2raw.SIGNING_ENABLED, client_guid=None,
                  capabilities=0):
        """NEGOTIATE (MS-SMB2 2.2.3) offering exactly `dialect` (not 3.1.1), with `client_guid`
        (16 bytes; random when None)."""
        self.client_guid = client_guid or os.urandom(16)
        body = (struct.pack("<HHHHI", 36, 1, security_mode, 0, capabilities) + self.client_guid
                + struct.pack("<IHH", 0, 0, 0) + struct.pack("<H", dialect))
        r = self.send(self.build(NEGOTIATE, body), sign_it=False)
        if r.status == STATUS_SUCCESS:
            self.server_security_mode, self.dialect = struct.unpack_from("<HH", r.body, 2)
            self.server_capabilities = struct.unpack_from("<I", r.body, 24)[0]
        return r

    def session_setup_raw(self, token, security_mode=smb2raw.SIGNING_ENABLED, flags=0,
                          sign_key=None):
        """One SESSION_SETUP round trip (MS-SMB2 2.2.5) carrying `token`, signed with `sign_key`
        when given; returns the reply."""
        body = struct.pack("<HBBIIHHQ", 25, flags, security_mode, 0, 0, 88, len(token), 0) + token
        r = self.send(self.build(SESSION_SETUP, body), sign_it=sign_key is not None,
                      key=sign_key)
        if r.session_id:
            self.session_id = r.session_id
        return r

    @staticmethod
    def security_buffer(reply):
        """The SecurityBuffer of a SESSION_SETUP response (MS-SMB2 2.2.6)."""
        off, length = struct.unpack_from("<HH", reply.body, 4)
        return reply.raw[off:off + length]

    def login(self, user, password, domain="WORKGROUP", key_exch=False,
              security_mode=smb2raw.SIGNING_ENABLED):
        """Two-leg NTLMSSP session setup with bare NTLMSSP tokens. Returns the final reply;
        on success self.session_key holds the signing key (= exported session key for 2.1)."""
        r = self.session_setup_raw(ntlm_negotiate(key_exch), security_mode)
        if r.status != STATUS_MORE_PROCESSING_REQUIRED:
            return r
        self.challenge = Challenge(find_ntlmssp(self.security_buffer(r)))
        msg, key = ntlm_authenticate(self.challenge, user, password, domain, key_exch=key_exch)
        r = self.session_setup_raw(msg, security_mode)
        self.session_flags = struct.unpack_from("<H", r.body, 2)[0] if len(r.body) >= 4 else 0
        if r.status == STATUS_SUCCESS:
            self.session_key = smb30_signing_key(key) if self.cmac else key
            self.session_signing_key = self.session_key
        return r

    def bind(self, primary, user, password, domain="WORKGROUP"):
        """Binds this connection (negotiated at the same 3.x dialect) to `primary`'s session as
        a further channel (MS-SMB2 3.2.4.2.3): both legs carry SMB2_SESSION_FLAG_BINDING and
        are signed with Session.SigningKey; the final response must verify with this channel's
        Channel.SigningKey, derived from this authentication's session key, which then signs
        this connection's requests. Returns the final reply; raises AssertionError when a
        response signature does not verify."""
        self.session_id = primary.session_id
        self.tree_id = primary.tree_id
        skey = primary.session_signing_key
        r = self.session_setup_raw(ntlm_negotiate(), flags=SESSION_FLAG_BINDING, sign_key=skey)
        if r.status != STATUS_MORE_PROCESSING_REQUIRED:
            return r
        if not signature_ok(r.raw, skey, self.cmac):
            raise AssertionError("binding challenge not signed with Session.SigningKey")
        challenge = Challenge(find_ntlmssp(self.security_buffer(r)))
        msg, key = ntlm_authenticate(challenge, user, password, domain)
        r = self.session_setup_raw(msg, flags=SESSION_FLAG_BINDING, sign_key=skey)
        if r.status == STATUS_SUCCESS:
            channel_key = smb30_signing_key(key)
            if not signature_ok(r.raw, channel_key, self.cmac):
                raise AssertionError("binding response not signed with Channel.SigningKey")
            self.session_key = channel_key
            self.session_signing_key = skey
        return r

    def tree_connect(self, unc, **send_kwargs):
        """TREE_CONNECT (MS-SMB2 2.2.9) to `unc` (e.g. \\\\127.0.0.1\\share)."""
        path = unc.encode("utf-16-le")
        body = struct.pack("<HHHH", 9, 0, 72, len(path)) + path
        r = self.send(self.build(TREE_CONNECT, body, tree_id=0), **send_kwargs)
        if r.status == STATUS_SUCCESS:
            self.tree_id = r.tree_id
        return r

    def ioctl(self, ctl_code, file_id=b"\xff" * 16, data=b"", max_output=65536, **send_kwargs):
        """IOCTL (MS-SMB2 2.2.31) with SMB2_0_IOCTL_IS_FSCTL; reply.output holds the output."""
        body = (struct.pack("<HHI", 57, 0, ctl_code) + file_id
                + struct.pack("<IIIIIIII", 120 if data else 0, len(data), 0, 0, 0, max_output,
                              IOCTL_IS_FSCTL, 0) + (data or b"\x00"))
        r = self.send(self.build(IOCTL, body), **send_kwargs)
        r.output = b""
        if r.status == STATUS_SUCCESS and len(r.body) >= 48:
            out_off, out_len = struct.unpack_from("<II", r.body, 32)
            r.output = r.raw[out_off:out_off + out_len]
        return r

    def echo(self, **send_kwargs):
        return self.send(self.build(ECHO, struct.pack("<HH", 4, 0)), **send_kwargs)

    def create(self, name, desired_access=0x00120089, create_disposition=1,
               create_options=0x00000040, share_access=7, **send_kwargs):
        """CREATE (MS-SMB2 2.2.13) of `name` (share-relative, '\\' separators). Defaults: open
        an existing non-directory file (FILE_OPEN, FILE_NON_DIRECTORY_FILE) for generic read.
        On success reply.file_id holds the 16-byte FileId."""
        raw_name = name.encode("utf-16-le")
        buf = raw_name or b"\x00"
        body = (struct.pack("<HBBIQQIIIII", 57, 0, 0, 2, 0, 0, desired_access, 0, share_access,
                            create_disposition, create_options)
                + struct.pack("<HHII", 120, len(raw_name), 0, 0) + buf)
        r = self.send(self.build(CREATE, body), **send_kwargs)
        r.file_id = r.body[64:80] if r.status == STATUS_SUCCESS else None
        return r

    def read(self, file_id, length=65536, offset=0, minimum_count=0, **send_kwargs):
        """READ (MS-SMB2 2.2.19); reply.data holds the bytes read on success."""
        body = (struct.pack("<HBBIQ", 49, 0, 0, length, offset) + file_id
                + struct.pack("<IIIHH", minimum_count, 0, 0, 0, 0) + b"\x00")
        r = self.send(self.charged(self.build(READ, body), length), **send_kwargs)
        r.data = b""
        if r.status == STATUS_SUCCESS:
            data_off, data_len = r.body[2], struct.unpack_from("<I", r.body, 4)[0]
            r.data = r.raw[data_off:data_off + data_len]
        return r

    def write_request(self, file_id, data, offset=0, flags=0):
        """A WRITE request (MS-SMB2 2.2.21), unsigned and not sent: data at DataOffset 0x70,
        CreditCharge one per started 64 KiB (MS-SMB2 3.1.5.2) from dialect 2.1 on."""
        body = (struct.pack("<HHIQ", 49, 64 + 48, len(data), offset) + file_id
                + struct.pack("<IIHHI", 0, 0, 0, 0, flags) + data)
        return self.charged(self.build(WRITE, body), len(data))

    def charged(self, message, payload):
        """`message` (just built) with the CreditCharge a READ or WRITE of `payload` bytes needs
        from dialect 2.1 on: one per started 64 KiB (MS-SMB2 3.1.5.2); the request then takes
        that many MessageIds."""
        if not self.dialect or self.dialect < 0x0210 or payload <= 65536:
            return message
        charge = (payload + 65535) // 65536
        msg = bytearray(message)
        struct.pack_into("<H", msg, 6, charge)
        self.message_id += charge - 1
        return bytes(msg)

    def write(self, file_id, data, offset=0, flags=0, **send_kwargs):
        """WRITE `data` at `offset`; reply.count holds the bytes written on success."""
        r = self.send(self.write_request(file_id, data, offset, flags), **send_kwargs)
        r.count = struct.unpack_from("<I", r.body, 4)[0] if r.status == STATUS_SUCCESS else 0
        return r

    def close_file(self, file_id, **send_kwargs):
        body = struct.pack("<HHI", 24, 0, 0) + file_id
        return self.send(self.build(CLOSE, body), **send_kwargs)

    def read_file(self, name):
        """(status, bytes) of a whole small file: CREATE, READ until EOF, CLOSE."""
        r = self.create(name)
        if r.status != STATUS_SUCCESS:
            return r.status, None
        data = b""
        while True:
            rr = self.read(r.file_id, offset=len(data))
            if rr.status == STATUS_END_OF_FILE or (rr.status == STATUS_SUCCESS and not rr.data):
                break
            if rr.status != STATUS_SUCCESS:
                self.close_file(r.file_id)
                return rr.status, data
            data += rr.data
        self.close_file(r.file_id)
        return STATUS_SUCCESS, data

    def logoff(self, **send_kwargs):
        return self.send(self.build(LOGOFF, struct.pack("<HH", 4, 0)), **send_kwargs)
