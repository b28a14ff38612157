// Lease wire structures (MS-SMB2 2.2.13.2.8, 2.2.13.2.10, 2.2.14.2.10, 2.2.14.2.11, 2.2.23.2,
// 2.2.24.2, 2.2.25.2). All integers little-endian; LeaseKey and ParentLeaseKey are 16 opaque
// bytes chosen by the client.
#pragma once

#include <array>
#include <cstdint>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::smb2 {

using LeaseKey = std::array<uint8_t, 16>;

// MS-SMB2 2.2.13.2.8 LeaseState bits.
constexpr uint32_t SMB2_LEASE_NONE = 0x00;
constexpr uint32_t SMB2_LEASE_READ_CACHING = 0x01;
constexpr uint32_t SMB2_LEASE_HANDLE_CACHING = 0x02;
constexpr uint32_t SMB2_LEASE_WRITE_CACHING = 0x04;
// MS-SMB2 2.2.13.2.10 / 2.2.14.2.10 LeaseFlags.
constexpr uint32_t SMB2_LEASE_FLAG_BREAK_IN_PROGRESS = 0x02;
constexpr uint32_t SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET = 0x04;
// MS-SMB2 2.2.23.2 Flags.
constexpr uint32_t SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED = 0x01;

// The SMB2_CREATE_REQUEST_LEASE ("RqLs") context data: version 1 is 32 bytes (2.2.13.2.8),
// version 2 is 52 bytes (2.2.13.2.10) and adds ParentLeaseKey and Epoch.
struct LeaseContext {
  uint16_t version = 1;  // 1 or 2
  LeaseKey key{};
  uint32_t state = 0;  // SMB2_LEASE_* bits
  uint32_t flags = 0;  // SMB2_LEASE_FLAG_*
  LeaseKey parent_key{};
  uint16_t epoch = 0;
};
// Decodes "RqLs" data: 52 bytes or more is version 2 when `v2_allowed` (dialect 3.x), else 32
// bytes or more is version 1. STATUS_INVALID_PARAMETER when shorter than 32 bytes.
NtStatus decodeLeaseContext(ByteSpan data, bool v2_allowed, LeaseContext* out);
// The SMB2_CREATE_RESPONSE_LEASE(_V2) data (2.2.14.2.10 / 2.2.14.2.11): 32 or 52 bytes,
// LeaseDuration 0.
Bytes encodeLeaseContext(const LeaseContext& c);

// MS-SMB2 2.2.24.2 Lease Break Acknowledgment: StructureSize 36, Reserved, Flags, LeaseKey,
// LeaseState, LeaseDuration (36 bytes in all after the 64-byte header).
struct LeaseBreakAck {
  LeaseKey key{};
  uint32_t state = 0;
};
// `msg` is the whole message (header + body). STATUS_INVALID_PARAMETER when the body is short or
// its StructureSize is not 36.
NtStatus decodeLeaseBreakAck(ByteSpan msg, LeaseBreakAck* out);
// The StructureSize of an OPLOCK_BREAK request body (24: oplock acknowledgment, 36: lease
// acknowledgment), or 0 when the message has no body.
uint16_t oplockBreakStructureSize(ByteSpan msg);

// MS-SMB2 2.2.23.2 Lease Break Notification body (44 bytes): StructureSize 44, NewEpoch, Flags,
// LeaseKey, CurrentLeaseState, NewLeaseState, BreakReason, AccessMaskHint, ShareMaskHint (0).
struct LeaseBreakNotification {
  uint16_t new_epoch = 0;
  uint32_t flags = 0;
  LeaseKey key{};
  uint32_t current_state = 0, new_state = 0;
};
void encodeLeaseBreakNotification(const LeaseBreakNotification& n, ByteWriter& w);

}  // namespace xsmb::smb2
