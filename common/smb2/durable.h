// The durable handle create contexts (MS-SMB2 2.2.13.2.3, 2.2.13.2.4, 2.2.13.2.11, 2.2.13.2.12)
// and their responses (2.2.14.2.3, 2.2.14.2.12). All integers little-endian; GUIDs are the 16
// wire bytes as sent. A context whose data has the wrong length is STATUS_INVALID_PARAMETER.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/base/bytes.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::smb2 {

// Create context names (MS-SMB2 2.2.13.2).
inline constexpr const char* kDurableRequestTag = "DHnQ";
inline constexpr const char* kDurableReconnectTag = "DHnC";
inline constexpr const char* kDurableRequestV2Tag = "DH2Q";
inline constexpr const char* kDurableReconnectV2Tag = "DH2C";

// SMB2_DHANDLE_FLAG_PERSISTENT (MS-SMB2 2.2.13.2.11): a persistent (continuously available)
// handle is asked for.
inline constexpr uint32_t SMB2_DHANDLE_FLAG_PERSISTENT = 0x00000002;

// 2.2.13.2.11 SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2: 32 bytes.
struct DurableRequestV2 {
  uint32_t timeout_ms = 0;  // Timeout, milliseconds; 0 = the server chooses
  uint32_t flags = 0;       // SMB2_DHANDLE_FLAG_PERSISTENT
  Guid create_guid{};
};

// 2.2.13.2.12 SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2: 36 bytes.
struct DurableReconnectV2 {
  FileId file_id;
  Guid create_guid{};
  uint32_t flags = 0;
};

// What a CREATE asks of durable handles: at most one context of each kind (a repeated one is
// STATUS_INVALID_PARAMETER, as is a wrong length). The v1 request (2.2.13.2.3) carries 16
// reserved bytes, so only its presence is kept; the v1 reconnect (2.2.13.2.4) carries the FileId
// of the open to reclaim.
struct DurableContexts {
  bool request_v1 = false;
  std::optional<FileId> reconnect_v1;
  std::optional<DurableRequestV2> request_v2;
  std::optional<DurableReconnectV2> reconnect_v2;
  // The LeaseKey of a lease request ("RqLs", MS-SMB2 2.2.13.2.8/.10: its first 16 bytes) beside
  // them: a reconnect of a lease open must name its lease. Absent when the data is shorter than
  // a version 1 lease request (32 bytes); the lease layer refuses that.
  std::optional<Guid> lease_key;
  bool any() const { return request_v1 || reconnect_v1 || request_v2 || reconnect_v2; }
  bool reconnect() const { return reconnect_v1 || reconnect_v2; }
};

// Reads the durable contexts out of a CREATE's contexts; others are ignored.
NtStatus parseDurableContexts(std::span<const CreateContext> contexts, DurableContexts* out);

// MS-SMB2 2.2.14.2.3 SMB2_CREATE_DURABLE_HANDLE_RESPONSE: 8 reserved (zero) bytes.
Bytes encodeDurableResponse();
// MS-SMB2 2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2: Timeout (ms), Flags; 8 bytes.
Bytes encodeDurableResponseV2(uint32_t timeout_ms, uint32_t flags);

}  // namespace xsmb::smb2
