// Direct-TCP / NetBIOS session framing (MS-SMB2 2.1, RFC 1002 4.3): each SMB2 message is
// preceded by a 4-byte header: one type byte (0x00 session message, 0x85 keep-alive) and a
// 24-bit big-endian length.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/bytes.h"
#include "common/smb2/smb2_wire.h"

namespace xsmb::netbios {

constexpr size_t kNetBiosHeaderSize = XSMB_NETBIOS_HEADER_SIZE;
constexpr uint8_t kNetBiosSessionMessage = XSMB_NETBIOS_SESSION_MESSAGE;
constexpr uint8_t kNetBiosKeepAlive = XSMB_NETBIOS_KEEP_ALIVE;

enum class FrameStatus {
  kIncomplete,  // fewer than 4 bytes, or the payload is not all there yet
  kMessage,     // a session message of `length` bytes follows the header
  kKeepAlive,   // a keep-alive frame: skip header_size + length bytes
  kTooLarge,    // length above the limit: close the connection without reading it
  kBadType,     // not a session message or keep-alive: close the connection
};

struct Frame {
  FrameStatus status = FrameStatus::kIncomplete;
  uint32_t length = 0;  // payload length in bytes (valid once the header is complete)
};

// Inspects the start of `buf`. `max_length` is the largest payload accepted. kMessage only when
// the whole payload is in `buf`; kIncomplete with `length` set when only the header is.
Frame parseFrame(ByteSpan buf, size_t max_length);

// Writes a session-message header for a payload of `length` (< 2^24) bytes into `out[0..4)`.
void writeFrameHeader(uint32_t length, uint8_t out[kNetBiosHeaderSize]);

}  // namespace xsmb::netbios
