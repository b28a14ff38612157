// SMB2/3 client session for xsmb-bench: request bodies for the commands the workloads use
// (MS-SMB2 2.2.3 - 2.2.37), the logon sequence (NEGOTIATE, NTLMv2 SESSION_SETUP, TREE_CONNECT)
// with 3.1.1 preauth integrity and SMB 3.x key derivation for signing, and reconnect.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/smb2/messages.h"
#include "tools/xsmb-bench/ntlm_client.h"
#include "tools/xsmb-bench/transport.h"

namespace xsmb::bench {

using smb2::FileId;

// Request bodies (everything after the 64-byte header). Names are UTF-8, '\' separated,
// relative to the share root.
// With `transport_security` (3.1.1 only) an SMB2_TRANSPORT_CAPABILITIES context with
// SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY follows the preauth context (MS-SMB2 2.2.3.1.5): over
// QUIC the server may then skip SMB3 encryption.
Bytes negotiateBody(uint16_t max_dialect, bool signing_required, const smb2::Guid& client_guid,
                    ByteSpan preauth_salt, bool transport_security = false);
Bytes sessionSetupBody(ByteSpan security_token, bool signing_required);
Bytes treeConnectBody(const std::string& unc);
// `mxac`: with an SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST context (MS-SMB2 2.2.13.2.5, no
// timestamp), as Windows sends on nearly every CREATE.
Bytes createBody(const std::string& name, uint32_t desired_access, uint32_t disposition,
                 uint32_t create_options, uint32_t share_access, bool mxac = false);
Bytes closeBody(const FileId& id);
Bytes readBody(const FileId& id, uint64_t offset, uint32_t length);
// WRITE header part only (DataOffset 0x70); the data goes in Request::payload.
Bytes writeBody(const FileId& id, uint64_t offset, uint32_t length);
Bytes echoBody();
Bytes queryInfoBody(const FileId& id, uint8_t info_type, uint8_t info_class,
                    uint32_t output_length);
Bytes queryDirectoryBody(const FileId& id, uint8_t info_class, uint8_t flags,
                         const std::string& pattern, uint32_t output_length);

// Reply decoders (body = after the header). False when the body is too short or an
// offset/length points outside it.
struct NegotiateReply {
  uint16_t security_mode = 0, dialect = 0;
  uint32_t capabilities = 0, max_transact = 0, max_read = 0, max_write = 0;
  Bytes security_blob;
};
bool decodeNegotiateReply(ByteSpan message, NegotiateReply* out);
bool decodeSessionSetupReply(ByteSpan message, uint16_t* session_flags, Bytes* token);
bool decodeCreateReply(ByteSpan message, FileId* id, uint64_t* end_of_file);
// READ reply: the data (a span into `message`).
bool decodeReadReply(ByteSpan message, ByteSpan* data);
// QUERY_DIRECTORY / QUERY_INFO reply: the output buffer.
bool decodeOutputBuffer(ByteSpan message, ByteSpan* out);
// Number of entries in a FILE_*_INFORMATION directory listing chained by NextEntryOffset.
size_t countDirectoryEntries(ByteSpan buffer);

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 445;
  NtlmCredentials credentials;
  std::string share;                         // share name; the tree is \\host\share
  uint16_t max_dialect = 0x0311;             // highest dialect offered (0x0202 .. 0x0311)
  bool sign = false;                         // sign even when the server does not require it
  bool transport_security = false;           // offer SMB2_TRANSPORT_CAPABILITIES (over QUIC)
  std::chrono::milliseconds timeout{10000};  // for each logon step
  TransportOptions transport;
};

class Client {
 public:
  explicit Client(ClientOptions opts);

  // TCP connect, NEGOTIATE, SESSION_SETUP (NTLMv2 in SPNEGO), TREE_CONNECT; blocking.
  absl::Status connect();
  // Closes the connection (requests in flight fail) and logs on again from scratch.
  absl::Status reconnect();

  Transport& transport() { return transport_; }
  uint16_t dialect() const { return dialect_; }
  uint32_t treeId() const { return tree_id_; }
  uint32_t maxRead() const { return max_read_; }
  uint32_t maxWrite() const { return max_write_; }
  bool signing() const { return signing_; }
  uint64_t reconnects() const { return reconnects_; }

  // Asynchronous: builds the request for the connected tree and submits it.
  void submit(uint16_t command, Bytes body, Completion done, ByteSpan payload = {},
              uint32_t payload_size = 0);
  // Blocking: submits and waits for the reply; returns a copy of the whole reply message.
  // Transport errors and NTSTATUS values other than STATUS_SUCCESS (and `also_ok`) -> error.
  absl::StatusOr<Bytes> call(uint16_t command, Bytes body, uint32_t also_ok = 0);
  absl::StatusOr<FileId> open(const std::string& name, uint32_t access, uint32_t disposition,
                              uint32_t options, uint64_t* end_of_file = nullptr);
  absl::Status close(const FileId& id);

 private:
  ClientOptions opts_;
  Transport transport_;
  uint16_t dialect_ = 0;
  uint32_t tree_id_ = 0;
  uint32_t max_read_ = 65536, max_write_ = 65536;
  bool signing_ = false;
  uint64_t reconnects_ = 0;
  smb2::Guid client_guid_{};
};

// An NTSTATUS as an absl::Status (Unknown, with its MS-ERREF name).
absl::Status ntError(const char* what, uint32_t status);

}  // namespace xsmb::bench
