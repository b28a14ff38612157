// Request decoders and response encoders for each SMB2 command (MS-SMB2 2.2.3 - 2.2.40).
//
// Decoders take the whole message (64-byte header + body, as on the wire) because buffer
// offsets in SMB2 are relative to the start of the header. Each checks the fixed
// StructureSize and that every (offset, length) pair lies inside the message, and returns
// STATUS_INVALID_PARAMETER otherwise. Returned spans point into the message.
// Encoders append the response body (everything after the 64-byte header); offsets they write
// assume the body starts 64 bytes after the header start.
#pragma once

#include <array>
#include <cstdint>
#include <string>
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

// MS-SMB2 2.2.4 NEGOTIATE response.
struct NegotiateResponse {
  uint16_t security_mode = 0;
  uint16_t dialect = 0;
  Guid server_guid{};
  uint32_t capabilities = 0;
  uint32_t max_transact_size = 0, max_read_size = 0, max_write_size = 0;  // bytes
  uint64_t system_time = 0;                                               // FILETIME
  uint64_t server_start_time = 0;
  ByteSpan security_buffer;                          // SPNEGO negTokenInit
  std::vector<std::pair<uint16_t, Bytes>> contexts;  // 3.1.1 only: (type, data)
};
void encodeNegotiateResponse(const NegotiateResponse& r, ByteWriter& w);

// MS-SMB2 2.2.5 SESSION_SETUP request.
struct SessionSetupRequest {
  uint8_t flags = 0;
  uint8_t security_mode = 0;
  uint32_t capabilities = 0;
  uint64_t previous_session_id = 0;
  ByteSpan security_buffer;
};
NtStatus decodeSessionSetupRequest(ByteSpan msg, SessionSetupRequest* out);
// MS-SMB2 2.2.6 SESSION_SETUP response.
void encodeSessionSetupResponse(uint16_t session_flags, ByteSpan security_buffer, ByteWriter& w);

// MS-SMB2 2.2.9 TREE_CONNECT request: Path is "\\server\share" (UTF-16LE -> UTF-8).
struct TreeConnectRequest {
  uint16_t flags = 0;
  std::string path;
};
NtStatus decodeTreeConnectRequest(ByteSpan msg, TreeConnectRequest* out);
// MS-SMB2 2.2.10 TREE_CONNECT response.
void encodeTreeConnectResponse(uint8_t share_type, uint32_t share_flags, uint32_t capabilities,
                               uint32_t maximal_access, ByteWriter& w);

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
// MS-SMB2 2.2.14 CREATE response; `contexts` are (name, data) pairs encoded as
// SMB2_CREATE_CONTEXT (2.2.13.2) chains.
struct CreateResponse {
  uint8_t oplock_level = 0;
  uint32_t create_action = 0;
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  uint64_t allocation_size = 0, end_of_file = 0;
  uint32_t file_attributes = 0;
  FileId file_id;
  std::vector<std::pair<std::string, Bytes>> contexts;
};
void encodeCreateResponse(const CreateResponse& r, ByteWriter& w);

// MS-SMB2 2.2.15 CLOSE request / 2.2.16 response.
struct CloseRequest {
  uint16_t flags = 0;
  FileId file_id;
};
NtStatus decodeCloseRequest(ByteSpan msg, CloseRequest* out);
struct CloseResponse {
  uint16_t flags = 0;
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  uint64_t allocation_size = 0, end_of_file = 0;
  uint32_t file_attributes = 0;
};
void encodeCloseResponse(const CloseResponse& r, ByteWriter& w);

// MS-SMB2 2.2.17 FLUSH request / 2.2.18 response.
NtStatus decodeFlushRequest(ByteSpan msg, FileId* out);
void encodeFlushResponse(ByteWriter& w);

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
// MS-SMB2 2.2.20 READ response header part: DataOffset 0x50; the caller appends `data_length`
// bytes of data right after.
void encodeReadResponseHeader(uint32_t data_length, ByteWriter& w);

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
void encodeWriteResponse(uint32_t count, ByteWriter& w);  // 2.2.22

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
void encodeLockResponse(ByteWriter& w);  // 2.2.27

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
// MS-SMB2 2.2.32 IOCTL response with output at offset 0x70.
void encodeIoctlResponse(uint32_t ctl_code, const FileId& file_id, ByteSpan output, ByteWriter& w);

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
// MS-SMB2 2.2.34 / 2.2.38 QUERY_DIRECTORY and QUERY_INFO responses share a layout:
// StructureSize 9, OutputBufferOffset 0x48, OutputBufferLength, Buffer.
void encodeQueryDirectoryResponse(ByteSpan output, ByteWriter& w);

// MS-SMB2 2.2.35 CHANGE_NOTIFY request.
struct ChangeNotifyRequest {
  uint16_t flags = 0;
  uint32_t output_buffer_length = 0;
  FileId file_id;
  uint32_t completion_filter = 0;
};
NtStatus decodeChangeNotifyRequest(ByteSpan msg, ChangeNotifyRequest* out);

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
void encodeQueryInfoResponse(ByteSpan output, ByteWriter& w);  // 2.2.38

// MS-SMB2 2.2.39 SET_INFO request.
struct SetInfoRequest {
  uint8_t info_type = 0;
  uint8_t file_info_class = 0;
  ByteSpan buffer;
  uint32_t additional_information = 0;
  FileId file_id;
};
NtStatus decodeSetInfoRequest(ByteSpan msg, SetInfoRequest* out);
void encodeSetInfoResponse(ByteWriter& w);  // 2.2.40

// Bodies that are only a StructureSize + Reserved (ECHO, LOGOFF, TREE_DISCONNECT, CANCEL
// requests are StructureSize 4). Checks the StructureSize.
NtStatus decodeEmptyRequest(ByteSpan msg, uint16_t structure_size);
void encodeEmptyResponse(ByteWriter& w);  // StructureSize 4, Reserved 0

// MS-SMB2 2.2.2 ERROR response: StructureSize 9, no error contexts, ByteCount and ErrorData
// (one pad byte when `error_data` is empty).
void encodeErrorResponse(ByteWriter& w, ByteSpan error_data = {});

// MS-SMB2 2.2.23.1 / 2.2.24.1 oplock break acknowledgment, decoded for the FileId only.
NtStatus decodeOplockBreakAck(ByteSpan msg, uint8_t* oplock_level, FileId* file_id);

}  // namespace xsmb::smb2
