#include "tools/xsmb-bench/client.h"

#include "absl/strings/str_cat.h"
#include "common/base/unicode.h"
#include "common/crypto/smb3_keys.h"
#include "common/smb2/constants.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::bench {
namespace {

using namespace xsmb::smb2;

constexpr size_t kHeaderSize = 64;

// Blocking exchange of one request, keeping copies of both messages.
struct Captured {
  Header header;
  Bytes message;
  Bytes request;
};

absl::StatusOr<Captured> exchange(Transport& t, Request req, std::chrono::milliseconds timeout) {
  bool done = false;
  absl::Status status;
  Captured c;
  t.submit(std::move(req), [&](const Reply& r) {
    done = true;
    status = r.status;
    if (!r.status.ok()) return;
    c.header = r.header;
    c.message.assign(r.message.begin(), r.message.end());
    c.request.assign(r.request.begin(), r.request.end());
  });
  if (auto st = t.runUntil([&] { return done; }, timeout); !st.ok()) return st;
  if (!status.ok()) return status;
  return c;
}

void padTo8(ByteWriter& w, size_t base) {
  while ((base + w.size()) % 8 != 0) w.u8(0);
}

using PreauthHash = std::array<uint8_t, 64>;  // MS-SMB2 3.2.5.2: SHA-512 of the logon messages

// NEGOTIATE (MS-SMB2 3.2.4.2.2.2) with a fresh preauth salt; a 3.1.1 exchange is hashed into
// *preauth. Errors: transport, a status other than success, a malformed response.
absl::StatusOr<NegotiateReply> negotiate(Transport& t, const ClientOptions& o,
                                         const Guid& client_guid, PreauthHash* preauth) {
  std::array<uint8_t, 32> salt;
  crypto::randomBytes(salt);
  Request neg;
  neg.command = SMB2_NEGOTIATE;
  neg.body = negotiateBody(o.max_dialect, o.sign, client_guid, salt, o.transport_security);
  neg.keep_request = true;
  auto nr = exchange(t, std::move(neg), o.timeout);
  if (!nr.ok()) return nr.status();
  if (nr->header.status != 0) return ntError("NEGOTIATE", nr->header.status);
  NegotiateReply info;
  if (!decodeNegotiateReply(nr->message, &info)) {
    return absl::DataLossError("malformed NEGOTIATE response");
  }
  if (info.dialect == SMB2_DIALECT_311) {
    *preauth = crypto::sha512Concat(*preauth, nr->request);
    *preauth = crypto::sha512Concat(*preauth, nr->message);
  }
  return info;
}

struct Logon {
  uint16_t session_flags = 0;  // of the final SESSION_SETUP response
  Captured last;               // the final SESSION_SETUP exchange
};

// SESSION_SETUP in two rounds: NTLMSSP NEGOTIATE, then AUTHENTICATE, each in SPNEGO. Sets the
// transport's SessionId; with `smb311` the requests and the first response go into *preauth.
absl::StatusOr<Logon> sessionSetup(Transport& t, NtlmClient& ntlm, bool sign, bool smb311,
                                   std::chrono::milliseconds timeout, PreauthHash* preauth) {
  Bytes token = spnegoInitToken(ntlm.negotiateMessage());
  Logon logon;
  for (int round = 0; round < 2; ++round) {
    Request ss;
    ss.command = SMB2_SESSION_SETUP;
    ss.body = sessionSetupBody(token, sign);
    ss.keep_request = true;
    auto sr = exchange(t, std::move(ss), timeout);
    if (!sr.ok()) return sr.status();
    if (smb311) *preauth = crypto::sha512Concat(*preauth, sr->request);
    uint32_t expect = round == 0 ? static_cast<uint32_t>(STATUS_MORE_PROCESSING_REQUIRED) : 0;
    if (sr->header.status != expect) return ntError("SESSION_SETUP", sr->header.status);
    Bytes server_token;
    if (!decodeSessionSetupReply(sr->message, &logon.session_flags, &server_token)) {
      return absl::DataLossError("malformed SESSION_SETUP response");
    }
    if (round == 0) {
      t.setSessionId(sr->header.session_id);
      if (smb311) *preauth = crypto::sha512Concat(*preauth, sr->message);
      auto challenge = ntlmFromSpnego(server_token);
      if (!challenge) return absl::DataLossError("no NTLMSSP CHALLENGE in SESSION_SETUP");
      auto auth = ntlm.authenticateMessage(*challenge);
      if (!auth.ok()) return auth.status();
      token = spnegoResponseToken(*auth);
    } else {
      logon.last = std::move(*sr);
    }
  }
  return logon;
}

// Installs the signing key of the session (HMAC-SHA256 with the session key before 3.0,
// AES-CMAC with the derived key from 3.0 on; `sign_all`: every request, else only those that
// ask) after checking the final SESSION_SETUP response's signature with it when it is signed.
absl::Status startSigning(Transport& t, uint16_t dialect, const crypto::Key16& session_key,
                          const PreauthHash& preauth, const Captured& last, bool sign_all) {
  crypto::SigningAlgorithm alg = crypto::SigningAlgorithm::kHmacSha256;
  crypto::Key16 key = session_key;
  if (dialect >= SMB2_DIALECT_300) {
    alg = crypto::SigningAlgorithm::kAesCmac;
    key = crypto::deriveSmb3ServerKeys(dialect, session_key, preauth).signing_key;
  }
  // The final SESSION_SETUP response is signed with the new key: a check of the logon.
  if (last.header.isSigned() && !crypto::verifySignature(alg, key, last.message)) {
    return absl::PermissionDeniedError("SESSION_SETUP response signature does not verify");
  }
  t.setSigning(alg, key, sign_all);
  return absl::OkStatus();
}

// TREE_CONNECT of `unc` (always signed when a key is installed); returns the TreeId.
absl::StatusOr<uint32_t> treeConnect(Transport& t, const std::string& unc,
                                     std::chrono::milliseconds timeout) {
  Request tc;
  tc.command = SMB2_TREE_CONNECT;
  tc.body = treeConnectBody(unc);
  tc.sign = true;
  auto tr = exchange(t, std::move(tc), timeout);
  if (!tr.ok()) return tr.status();
  if (tr->header.status != 0) return ntError("TREE_CONNECT", tr->header.status);
  return tr->header.tree_id;
}

}  // namespace

absl::Status ntError(const char* what, uint32_t status) {
  return absl::UnknownError(absl::StrCat(what, ": ", std::string(ntStatusName(status))));
}

Bytes negotiateBody(uint16_t max_dialect, bool signing_required, const Guid& client_guid,
                    ByteSpan preauth_salt, bool transport_security) {
  static constexpr uint16_t kAll[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
                                      SMB2_DIALECT_302, SMB2_DIALECT_311};
  std::vector<uint16_t> dialects;
  for (uint16_t d : kAll) {
    if (d <= max_dialect) dialects.push_back(d);
  }
  bool smb311 = max_dialect >= SMB2_DIALECT_311;
  ByteWriter w;
  w.u16(36);
  w.u16(static_cast<uint16_t>(dialects.size()));
  w.u16(SMB2_NEGOTIATE_SIGNING_ENABLED | (signing_required ? SMB2_NEGOTIATE_SIGNING_REQUIRED : 0));
  w.u16(0);
  w.u32(max_dialect >= SMB2_DIALECT_210 ? SMB2_GLOBAL_CAP_LARGE_MTU : 0);
  w.bytes(client_guid.data(), client_guid.size());
  size_t ctx_off_pos = w.size();
  w.u32(0);  // NegotiateContextOffset (3.1.1) / ClientStartTime
  w.u16(0);  // NegotiateContextCount
  w.u16(0);
  for (uint16_t d : dialects) w.u16(d);
  if (smb311) {
    padTo8(w, kHeaderSize);
    w.patchU32(ctx_off_pos, static_cast<uint32_t>(kHeaderSize + w.size()));
    w.patchU16(ctx_off_pos + 4, transport_security ? 2 : 1);
    // MS-SMB2 2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES: SHA-512 and a salt.
    w.u16(SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
    w.u16(static_cast<uint16_t>(6 + preauth_salt.size()));
    w.u32(0);
    w.u16(1);
    w.u16(static_cast<uint16_t>(preauth_salt.size()));
    w.u16(SMB2_PREAUTH_HASH_SHA512);
    w.bytes(preauth_salt);
    if (transport_security) {
      // MS-SMB2 2.2.3.1.5 SMB2_TRANSPORT_CAPABILITIES, 8-byte aligned after the first context.
      padTo8(w, kHeaderSize);
      w.u16(SMB2_TRANSPORT_CAPABILITIES);
      w.u16(4);  // DataLength
      w.u32(0);  // Reserved
      w.u32(SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY);
    }
  }
  return w.take();
}

Bytes sessionSetupBody(ByteSpan token, bool signing_required) {
  ByteWriter w;
  w.u16(25);
  w.u8(0);  // Flags
  w.u8(SMB2_NEGOTIATE_SIGNING_ENABLED | (signing_required ? SMB2_NEGOTIATE_SIGNING_REQUIRED : 0));
  w.u32(0);  // Capabilities
  w.u32(0);  // Channel
  w.u16(kHeaderSize + 24);
  w.u16(static_cast<uint16_t>(token.size()));
  w.u64(0);  // PreviousSessionId
  w.bytes(token);
  return w.take();
}

Bytes treeConnectBody(const std::string& unc) {
  Bytes path = utf8ToUtf16le(unc);
  ByteWriter w;
  w.u16(9);
  w.u16(0);
  w.u16(kHeaderSize + 8);
  w.u16(static_cast<uint16_t>(path.size()));
  w.bytes(path);
  return w.take();
}

Bytes createBody(const std::string& name, uint32_t desired_access, uint32_t disposition,
                 uint32_t create_options, uint32_t share_access, bool mxac) {
  Bytes uname = utf8ToUtf16le(name);
  ByteWriter w;
  w.u16(57);
  w.u8(0);   // SecurityFlags
  w.u8(0);   // RequestedOplockLevel: none
  w.u32(2);  // ImpersonationLevel: Impersonation
  w.u64(0);  // SmbCreateFlags
  w.u64(0);  // Reserved
  w.u32(desired_access);
  w.u32(FILE_ATTRIBUTE_NORMAL);
  w.u32(share_access);
  w.u32(disposition);
  w.u32(create_options);
  w.u16(kHeaderSize + 56);
  w.u16(static_cast<uint16_t>(uname.size()));
  const size_t ctx_hdr = w.size();
  w.u32(0);  // CreateContextsOffset
  w.u32(0);  // CreateContextsLength
  w.bytes(uname);
  if (uname.empty()) w.u8(0);  // the variable part is never empty (StructureSize 57)
  if (mxac) {  // MS-SMB2 2.2.13.2.5: the MxAc request context has no data
    const size_t chain = putCreateContexts({{"MxAc", Bytes{}}}, 0, w);
    w.patchU32(ctx_hdr, static_cast<uint32_t>(kHeaderSize + chain));
    w.patchU32(ctx_hdr + 4, static_cast<uint32_t>(w.size() - chain));
  }
  return w.take();
}

Bytes closeBody(const FileId& id) {
  ByteWriter w;
  w.u16(24);
  w.u16(0);
  w.u32(0);
  w.u64(id.persistent);
  w.u64(id.volatile_id);
  return w.take();
}

Bytes readBody(const FileId& id, uint64_t offset, uint32_t length) {
  ByteWriter w;
  w.u16(49);
  w.u8(0x50);  // Padding: data placed right after the READ response's fixed part
  w.u8(0);
  w.u32(length);
  w.u64(offset);
  w.u64(id.persistent);
  w.u64(id.volatile_id);
  w.u32(0);  // MinimumCount
  w.u32(0);  // Channel
  w.u32(0);  // RemainingBytes
  w.u16(0);
  w.u16(0);
  w.u8(0);  // Buffer (StructureSize 49)
  return w.take();
}

Bytes writeBody(const FileId& id, uint64_t offset, uint32_t length) {
  ByteWriter w;
  w.u16(49);
  w.u16(kHeaderSize + 48);  // DataOffset 0x70
  w.u32(length);
  w.u64(offset);
  w.u64(id.persistent);
  w.u64(id.volatile_id);
  w.u32(0);  // Channel
  w.u32(0);  // RemainingBytes
  w.u16(0);
  w.u16(0);
  w.u32(0);  // Flags
  return w.take();
}

Bytes echoBody() {
  ByteWriter w;
  w.u16(4);
  w.u16(0);
  return w.take();
}

Bytes queryInfoBody(const FileId& id, uint8_t info_type, uint8_t info_class,
                    uint32_t output_length) {
  ByteWriter w;
  w.u16(41);
  w.u8(info_type);
  w.u8(info_class);
  w.u32(output_length);
  w.u16(0);  // InputBufferOffset
  w.u16(0);
  w.u32(0);  // InputBufferLength
  w.u32(0);  // AdditionalInformation
  w.u32(0);  // Flags
  w.u64(id.persistent);
  w.u64(id.volatile_id);
  w.u8(0);  // Buffer (StructureSize 41)
  return w.take();
}

Bytes queryDirectoryBody(const FileId& id, uint8_t info_class, uint8_t flags,
                         const std::string& pattern, uint32_t output_length) {
  Bytes upattern = utf8ToUtf16le(pattern);
  ByteWriter w;
  w.u16(33);
  w.u8(info_class);
  w.u8(flags);
  w.u32(0);  // FileIndex
  w.u64(id.persistent);
  w.u64(id.volatile_id);
  w.u16(kHeaderSize + 32);
  w.u16(static_cast<uint16_t>(upattern.size()));
  w.u32(output_length);
  w.bytes(upattern);
  return w.take();
}

bool decodeNegotiateReply(ByteSpan message, NegotiateReply* out) {
  ByteReader r(message);
  r.seek(kHeaderSize);
  if (r.u16() != 65) return false;
  out->security_mode = r.u16();
  out->dialect = r.u16();
  r.u16();     // NegotiateContextCount
  r.skip(16);  // ServerGuid
  out->capabilities = r.u32();
  out->max_transact = r.u32();
  out->max_read = r.u32();
  out->max_write = r.u32();
  r.skip(16);  // SystemTime, ServerStartTime
  uint16_t off = r.u16(), len = r.u16();
  ByteSpan blob = len ? r.slice(off, len) : ByteSpan();
  if (!r.ok()) return false;
  out->security_blob.assign(blob.begin(), blob.end());
  return true;
}

bool decodeSessionSetupReply(ByteSpan message, uint16_t* session_flags, Bytes* token) {
  ByteReader r(message);
  r.seek(kHeaderSize);
  if (r.u16() != 9) return false;
  *session_flags = r.u16();
  uint16_t off = r.u16(), len = r.u16();
  ByteSpan blob = len ? r.slice(off, len) : ByteSpan();
  if (!r.ok()) return false;
  token->assign(blob.begin(), blob.end());
  return true;
}

bool decodeCreateReply(ByteSpan message, FileId* id, uint64_t* end_of_file) {
  ByteReader r(message);
  r.seek(kHeaderSize);
  if (r.u16() != 89) return false;
  r.skip(6 + 32 + 8);
  uint64_t eof = r.u64();
  r.skip(8);
  id->persistent = r.u64();
  id->volatile_id = r.u64();
  if (!r.ok()) return false;
  if (end_of_file) *end_of_file = eof;
  return true;
}

bool decodeReadReply(ByteSpan message, ByteSpan* data) {
  ByteReader r(message);
  r.seek(kHeaderSize);
  if (r.u16() != 17) return false;
  uint8_t off = r.u8();
  r.u8();
  uint32_t len = r.u32();
  *data = len ? r.slice(off, len) : ByteSpan();
  return r.ok();
}

bool decodeOutputBuffer(ByteSpan message, ByteSpan* out) {
  ByteReader r(message);
  r.seek(kHeaderSize);
  if (r.u16() != 9) return false;
  uint16_t off = r.u16();
  uint32_t len = r.u32();
  *out = len ? r.slice(off, len) : ByteSpan();
  return r.ok();
}

size_t countDirectoryEntries(ByteSpan buffer) {
  size_t count = 0, off = 0;
  while (off + 4 <= buffer.size()) {
    ++count;
    uint32_t next = loadU32(buffer.data() + off);
    if (next == 0) break;
    off += next;
  }
  return count;
}

Client::Client(ClientOptions opts) : opts_(std::move(opts)), transport_(opts_.transport) {
  crypto::randomBytes(client_guid_);
}

absl::Status Client::reconnect() {
  transport_.close(absl::UnavailableError("reconnecting"));
  ++reconnects_;
  return connect();
}

absl::Status Client::connect() {
  if (auto st = transport_.connect(opts_.host, opts_.port, opts_.timeout); !st.ok()) return st;
  signing_ = false;

  PreauthHash preauth{};
  auto info = negotiate(transport_, opts_, client_guid_, &preauth);
  if (!info.ok()) return info.status();
  dialect_ = info->dialect;
  max_read_ = info->max_read;
  max_write_ = info->max_write;
  transport_.setMultiCredit(dialect_ != SMB2_DIALECT_202 &&
                            (info->capabilities & SMB2_GLOBAL_CAP_LARGE_MTU));
  bool smb311 = dialect_ == SMB2_DIALECT_311;
  bool sign = opts_.sign || (info->security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED);

  NtlmClient ntlm(opts_.credentials);
  auto logon = sessionSetup(transport_, ntlm, sign, smb311, opts_.timeout, &preauth);
  if (!logon.ok()) return logon.status();
  bool guest = logon->session_flags & (SMB2_SESSION_FLAG_IS_GUEST | SMB2_SESSION_FLAG_IS_NULL);
  // MS-SMB2 3.2.4.1.1: a 3.1.1 TREE_CONNECT of an authenticated session is always signed, so
  // the key is installed whenever there is one; `sign` decides about the other requests.
  if (!guest && (sign || smb311)) {
    auto st = startSigning(transport_, dialect_, ntlm.sessionKey(), preauth, logon->last, sign);
    if (!st.ok()) return st;
    signing_ = sign;
  }

  auto tree = treeConnect(transport_, "\\\\" + opts_.host + "\\" + opts_.share, opts_.timeout);
  if (!tree.ok()) return tree.status();
  tree_id_ = *tree;
  return absl::OkStatus();
}

void Client::submit(uint16_t command, Bytes body, Completion done, ByteSpan payload,
                    uint32_t payload_size) {
  Request r;
  r.command = command;
  r.tree_id = tree_id_;
  r.body = std::move(body);
  r.payload = payload;
  r.payload_size = payload_size;
  transport_.submit(std::move(r), std::move(done));
}

absl::StatusOr<Bytes> Client::call(uint16_t command, Bytes body, uint32_t also_ok) {
  Request r;
  r.command = command;
  r.tree_id = tree_id_;
  r.body = std::move(body);
  auto c = exchange(transport_, std::move(r), opts_.timeout);
  if (!c.ok()) return c.status();
  if (c->header.status != 0 && c->header.status != also_ok) {
    return ntError("request", c->header.status);
  }
  return std::move(c->message);
}

absl::StatusOr<FileId> Client::open(const std::string& name, uint32_t access, uint32_t disposition,
                                    uint32_t options, uint64_t* end_of_file) {
  auto m = call(SMB2_CREATE, createBody(name, access, disposition, options,
                                        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE));
  if (!m.ok())
    return absl::Status(m.status().code(),
                        absl::StrCat("CREATE ", name, ": ", m.status().message()));
  FileId id;
  if (!decodeCreateReply(*m, &id, end_of_file)) return absl::DataLossError("bad CREATE reply");
  return id;
}

absl::Status Client::close(const FileId& id) {
  auto m = call(SMB2_CLOSE, closeBody(id));
  return m.status();
}

}  // namespace xsmb::bench
