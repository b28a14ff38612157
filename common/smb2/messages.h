// Request decoders and typed responses for each SMB2 command (MS-SMB2 2.2.2 - 2.2.40).
//
// Decoders take the whole message (64-byte header + body, as on the wire) because buffer
// offsets in SMB2 are relative to the start of the header. Each checks the fixed
// StructureSize and that every (offset, length) pair lies inside the message, and returns
// STATUS_INVALID_PARAMETER otherwise. Returned spans point into the message.
//
// Responses are one struct per body, named after the MS-SMB2 fields; all integers go on the wire
// little-endian. There is one encoder, encodeResponse (at the end), for the ResponseBody variant
// that command handlers return; it writes StructureSize, offsets and padding itself.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/constants.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::smb2 {

using Guid = std::array<uint8_t, 16>;

// MS-SMB2 2.2.14.1 SMB2_FILEID: persistent and volatile halves, little-endian.
struct FileId {
  uint64_t persistent = 0;
  uint64_t volatile_id = 0;
  bool isRelatedPlaceholder() const { return persistent == ~0ULL && volatile_id == ~0ULL; }
  bool operator==(const FileId&) const = default;
};

struct NegotiateContext {
  uint16_t type = 0;
  ByteSpan data;
};

// MS-SMB2 2.2.3 NEGOTIATE request.
struct NegotiateRequest {
  uint16_t security_mode = 0;
  uint32_t capabilities = 0;
  Guid client_guid{};
  std::vector<uint16_t> dialects;
  std::vector<NegotiateContext> contexts;  // only when 0x0311 is offered
};
NtStatus decodeNegotiateRequest(ByteSpan msg, NegotiateRequest* out);

// MS-SMB2 2.2.4 NEGOTIATE response: StructureSize 65, SecurityBufferOffset 0x80; on 3.1.1 the
// negotiate context list (2.2.4.1) follows at an 8-aligned NegotiateContextOffset.
struct NegotiateResponse {
  uint16_t security_mode = 0;
  uint16_t dialect = 0;
  Guid server_guid{};
  uint32_t capabilities = 0;
  uint32_t max_transact_size = 0, max_read_size = 0, max_write_size = 0;  // bytes
  uint64_t system_time = 0;                                               // FILETIME
  uint64_t server_start_time = 0;
  Bytes security_buffer;                             // SPNEGO negTokenInit
  std::vector<std::pair<uint16_t, Bytes>> contexts;  // 3.1.1 only: (ContextType, Data)
};

// MS-SMB2 2.2.5 SESSION_SETUP request.
struct SessionSetupRequest {
  uint8_t flags = 0;
  uint8_t security_mode = 0;
  uint32_t capabilities = 0;
  uint64_t previous_session_id = 0;
  ByteSpan security_buffer;
};
NtStatus decodeSessionSetupRequest(ByteSpan msg, SessionSetupRequest* out);
// MS-SMB2 2.2.6 SESSION_SETUP response: StructureSize 9, SessionFlags, SecurityBufferOffset 0x48
// (0 when the buffer is empty), SecurityBufferLength, then the buffer (one pad byte when empty).
struct SessionSetupResponse {
  uint16_t session_flags = 0;  // SMB2_SESSION_FLAG_IS_GUEST, _IS_NULL, _ENCRYPT_DATA
  Bytes security_buffer;       // SPNEGO token (or a bare NTLMSSP message)
};

// MS-SMB2 2.2.8 LOGOFF response: StructureSize 4, Reserved.
struct LogoffResponse {};

// MS-SMB2 2.2.9 TREE_CONNECT request: Path is "\\server\share" (UTF-16LE -> UTF-8).
struct TreeConnectRequest {
  uint16_t flags = 0;
  std::string path;
};
NtStatus decodeTreeConnectRequest(ByteSpan msg, TreeConnectRequest* out);
// MS-SMB2 2.2.10 TREE_CONNECT response: StructureSize 16, ShareType, Reserved, ShareFlags,
// Capabilities, MaximalAccess (16 bytes in all).
struct TreeConnectResponse {
  uint8_t share_type = 0;       // SMB2_SHARE_TYPE_DISK, _PIPE, _PRINT
  uint32_t share_flags = 0;     // SMB2_SHAREFLAG_*
  uint32_t capabilities = 0;    // SMB2_SHARE_CAP_*
  uint32_t maximal_access = 0;  // access mask (MS-SMB2 2.2.13.1)
};

// MS-SMB2 2.2.12 TREE_DISCONNECT response: StructureSize 4, Reserved.
struct TreeDisconnectResponse {};

struct CreateContext {
  std::string name;  // ASCII tag such as "MxAc", "QFid", "DHnQ"
  ByteSpan data;
};
// MS-SMB2 2.2.13 CREATE request.
struct CreateRequest {
  uint8_t requested_oplock_level = 0;
  uint32_t impersonation_level = 0;
  uint32_t desired_access = 0;
  uint32_t file_attributes = 0;
  uint32_t share_access = 0;
  uint32_t create_disposition = 0;
  uint32_t create_options = 0;
  std::string name;  // UTF-8, '\' separators as sent
  std::vector<CreateContext> contexts;
};
NtStatus decodeCreateRequest(ByteSpan msg, CreateRequest* out);
// MS-SMB2 2.2.13.2: appends the SMB2_CREATE_CONTEXT chain of (Name, Data) pairs, of a CREATE
// request or response whose body starts at offset `base` of `w`: each context 8-aligned from
// the header start (the 64-byte header keeps body and header alignment the same), Data
// 8-aligned within it, Next the distance to the next context (0 for the last). Returns the
// offset in `w` where the chain starts (CreateContextsOffset is kHeaderSize + that - base).
size_t putCreateContexts(const std::vector<std::pair<std::string, Bytes>>& contexts, size_t base,
                         ByteWriter& w);
// MS-SMB2 2.2.14 CREATE response: StructureSize 89 (88 fixed bytes), times as FILETIME, sizes in
// bytes; `contexts` are (Name, Data) pairs encoded as an SMB2_CREATE_CONTEXT chain (2.2.13.2),
// each 8-aligned, CreateContextsOffset counted from the header start.
struct CreateResponse {
  uint8_t oplock_level = 0;
  uint32_t create_action = 0;
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  uint64_t allocation_size = 0, end_of_file = 0;
  uint32_t file_attributes = 0;
  FileId file_id;
  std::vector<std::pair<std::string, Bytes>> contexts;
};

// MS-SMB2 2.2.15 CLOSE request / 2.2.16 response.
struct CloseRequest {
  uint16_t flags = 0;
  FileId file_id;
};
NtStatus decodeCloseRequest(ByteSpan msg, CloseRequest* out);
// StructureSize 60: Flags, Reserved, the times (FILETIME), AllocationSize, EndofFile (bytes),
// FileAttributes; all zero unless Flags has SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB.
struct CloseResponse {
  uint16_t flags = 0;
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  uint64_t allocation_size = 0, end_of_file = 0;
  uint32_t file_attributes = 0;
};

// MS-SMB2 2.2.17 FLUSH request / 2.2.18 response (StructureSize 4, Reserved).
NtStatus decodeFlushRequest(ByteSpan msg, FileId* out);
struct FlushResponse {};

// MS-SMB2 2.2.19 READ request.
struct ReadRequest {
  uint8_t padding = 0;
  uint8_t flags = 0;
  uint32_t length = 0;
  uint64_t offset = 0;
  FileId file_id;
  uint32_t minimum_count = 0;
  uint32_t channel = 0;
  uint32_t remaining_bytes = 0;
};
NtStatus decodeReadRequest(ByteSpan msg, ReadRequest* out);
// MS-SMB2 2.2.20 READ response: StructureSize 17, DataOffset 0x50 (the Buffer right after the
// 16-byte fixed part), Reserved, DataLength and DataRemaining (bytes), Flags (3.1.1; Reserved2
// before), Buffer. A DataLength of 0 still carries one pad byte of Buffer.
//
// A server's READ data is not copied into this struct: `placement` says where it is.
struct ReadResponse {
  static constexpr size_t kFixedSize = 16;  // StructureSize .. Flags; DataOffset = 64 + 16
  enum class Placement : uint8_t {
    // `buffer` is the data (DataLength is its size); it is appended after the fixed part.
    kBuffer,
    // The `data_length` bytes of data already end the output, behind kFixedSize bytes of room
    // for the fixed part (the dispatcher's payload area, handlers::ReadPayload): the encoder
    // fills that room and never touches the data.
    kInPlace,
    // The data follows the message on the wire (a vfs::FileSegment): only the fixed part.
    kSegment,
  };
  uint32_t data_length = 0;     // DataLength (kInPlace, kSegment)
  uint32_t data_remaining = 0;  // DataRemaining: 0, no RDMA channel is served
  uint32_t flags = 0;           // Flags: SMB2_READFLAG_RESPONSE_NONE
  Placement placement = Placement::kBuffer;
  Bytes buffer;  // kBuffer only

  static ReadResponse inPlace(uint32_t data_length) {
    return {data_length, 0, 0, Placement::kInPlace, {}};
  }
  static ReadResponse inSegment(uint32_t data_length) {
    return {data_length, 0, 0, Placement::kSegment, {}};
  }
};

// MS-SMB2 2.2.21 WRITE request.
struct WriteRequest {
  uint64_t offset = 0;
  FileId file_id;
  uint32_t channel = 0;
  uint32_t remaining_bytes = 0;
  uint32_t flags = 0;
  ByteSpan data;
};
NtStatus decodeWriteRequest(ByteSpan msg, WriteRequest* out);
// MS-SMB2 2.2.22 WRITE response: StructureSize 17, Reserved, Count, Remaining,
// WriteChannelInfoOffset and WriteChannelInfoLength 0 (16 bytes, no pad byte).
struct WriteResponse {
  uint32_t count = 0;      // Count: bytes written
  uint32_t remaining = 0;  // Remaining: 0
};

// MS-SMB2 2.2.26 LOCK request.
struct LockElement {
  uint64_t offset = 0, length = 0;
  uint32_t flags = 0;
};
struct LockRequest {
  uint32_t lock_sequence = 0;
  FileId file_id;
  std::vector<LockElement> locks;
};
NtStatus decodeLockRequest(ByteSpan msg, LockRequest* out);
// MS-SMB2 2.2.27 LOCK response: StructureSize 4, Reserved.
struct LockResponse {};

// MS-SMB2 2.2.31 IOCTL request.
struct IoctlRequest {
  uint32_t ctl_code = 0;
  FileId file_id;
  ByteSpan input;
  uint32_t max_input_response = 0;
  uint32_t max_output_response = 0;
  uint32_t flags = 0;
};
NtStatus decodeIoctlRequest(ByteSpan msg, IoctlRequest* out);
// MS-SMB2 2.2.32 IOCTL response: StructureSize 49, Reserved, CtlCode, FileId, InputOffset 0x70,
// InputCount 0 (no FSCTL served here echoes its input), OutputOffset 0x70, OutputCount, Flags,
// Reserved2, then the output (nothing when it is empty).
struct IoctlResponse {
  uint32_t ctl_code = 0;  // CtlCode as requested
  FileId file_id;         // FileId as requested
  Bytes output;           // the FSCTL's output buffer
  uint32_t flags = 0;     // Flags: 0
};

// MS-SMB2 2.2.33 QUERY_DIRECTORY request.
struct QueryDirectoryRequest {
  uint8_t file_information_class = 0;
  uint8_t flags = 0;
  uint32_t file_index = 0;
  FileId file_id;
  std::string pattern;  // UTF-8
  uint32_t output_buffer_length = 0;
};
NtStatus decodeQueryDirectoryRequest(ByteSpan msg, QueryDirectoryRequest* out);
// MS-SMB2 2.2.34 QUERY_DIRECTORY response: StructureSize 9, OutputBufferOffset 0x48,
// OutputBufferLength, Buffer (one pad byte when empty). CHANGE_NOTIFY (2.2.36) and QUERY_INFO
// (2.2.38) responses have the same layout.
struct QueryDirectoryResponse {
  Bytes output_buffer;  // FILE_*_INFORMATION entries of the class asked for (MS-FSCC 2.4)
};

// MS-SMB2 2.2.35 CHANGE_NOTIFY request.
struct ChangeNotifyRequest {
  uint16_t flags = 0;
  uint32_t output_buffer_length = 0;
  FileId file_id;
  uint32_t completion_filter = 0;
};
NtStatus decodeChangeNotifyRequest(ByteSpan msg, ChangeNotifyRequest* out);
// MS-SMB2 2.2.36 CHANGE_NOTIFY response: StructureSize 9, OutputBufferOffset 0x48,
// OutputBufferLength, Buffer (one pad byte when empty).
struct ChangeNotifyResponse {
  Bytes output_buffer;  // FILE_NOTIFY_INFORMATION entries (MS-FSCC 2.7.1)
};

// MS-SMB2 2.2.37 QUERY_INFO request.
struct QueryInfoRequest {
  uint8_t info_type = 0;
  uint8_t file_info_class = 0;
  uint32_t output_buffer_length = 0;
  ByteSpan input;
  uint32_t additional_information = 0;
  uint32_t flags = 0;
  FileId file_id;
};
NtStatus decodeQueryInfoRequest(ByteSpan msg, QueryInfoRequest* out);
// MS-SMB2 2.2.38 QUERY_INFO response: StructureSize 9, OutputBufferOffset 0x48,
// OutputBufferLength, Buffer (one pad byte when empty).
struct QueryInfoResponse {
  Bytes output_buffer;  // the information class, file system class or security descriptor
};

// MS-SMB2 2.2.39 SET_INFO request.
struct SetInfoRequest {
  uint8_t info_type = 0;
  uint8_t file_info_class = 0;
  ByteSpan buffer;
  uint32_t additional_information = 0;
  FileId file_id;
};
NtStatus decodeSetInfoRequest(ByteSpan msg, SetInfoRequest* out);
// MS-SMB2 2.2.40 SET_INFO response: StructureSize 2, nothing else.
struct SetInfoResponse {};

// Bodies that are only a StructureSize + Reserved (ECHO, LOGOFF, TREE_DISCONNECT, CANCEL
// requests are StructureSize 4). Checks the StructureSize.
NtStatus decodeEmptyRequest(ByteSpan msg, uint16_t structure_size);

// MS-SMB2 2.2.29 ECHO response: StructureSize 4, Reserved.
struct EchoResponse {};

// MS-SMB2 2.2.24.1 oplock break acknowledgment, decoded for OplockLevel and FileId.
NtStatus decodeOplockBreakAck(ByteSpan msg, uint8_t* oplock_level, FileId* file_id);
// MS-SMB2 2.2.25.1 Oplock Break Response: StructureSize 24, OplockLevel, Reserved, Reserved2,
// FileId (24 bytes in all).
struct OplockBreakResponse {
  uint8_t oplock_level = 0;  // SMB2_OPLOCK_LEVEL_* granted
  FileId file_id;
};
// MS-SMB2 2.2.25.2 Lease Break Response: StructureSize 36, Reserved, Flags, LeaseKey (16 bytes),
// LeaseState, LeaseDuration (0); 36 bytes in all.
struct LeaseBreakResponse {
  std::array<uint8_t, 16> lease_key{};
  uint32_t lease_state = 0;
};

// MS-SMB2 2.2.2 ERROR response: StructureSize 9, ErrorContextCount 0, Reserved, ByteCount (the
// size of ErrorData), ErrorData (one pad byte when empty). `error_data` is the command's own,
// e.g. the 4-byte size a STATUS_BUFFER_TOO_SMALL needs (2.2.2.2); SMB 3.1.1 error contexts are
// not sent.
struct ErrorResponse {
  Bytes error_data;
};

// A response body as a command handler returns it. std::monostate is "no body of its own": it
// is sent as the ERROR response of MS-SMB2 2.2.2 without ErrorData (the dispatcher also sends
// ERROR for any error status but STATUS_MORE_PROCESSING_REQUIRED, whatever the body).
using ResponseBody =
    std::variant<std::monostate, ErrorResponse, NegotiateResponse, SessionSetupResponse,
                 LogoffResponse, TreeConnectResponse, TreeDisconnectResponse, CreateResponse,
                 CloseResponse, FlushResponse, ReadResponse, WriteResponse, OplockBreakResponse,
                 LeaseBreakResponse, LockResponse, EchoResponse, IoctlResponse,
                 QueryDirectoryResponse, ChangeNotifyResponse, QueryInfoResponse, SetInfoResponse>;

// Appends `body` to `w`, whose buffer holds the response's 64-byte SMB2 header last (offsets
// written count from that header, alignment is relative to it). ReadResponse::kInPlace is the
// exception: `w` then ends with its data behind room for the fixed part (see ReadResponse).
void encodeResponse(const ResponseBody& body, ByteWriter& w);

// Shorthands for a peer that builds a single response (xsmb-bench's test server): each fills the
// struct and calls encodeResponse.
void encodeNegotiateResponse(const NegotiateResponse& r, ByteWriter& w);
void encodeSessionSetupResponse(uint16_t session_flags, ByteSpan security_buffer, ByteWriter& w);
void encodeTreeConnectResponse(uint8_t share_type, uint32_t share_flags, uint32_t capabilities,
                               uint32_t maximal_access, ByteWriter& w);

}  // namespace xsmb::smb2
