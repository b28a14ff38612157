// SMB2 packet header, MS-SMB2 2.2.1: 64 bytes, little-endian, at the start of every
// SMB2 message (and of each message inside a compound, MS-SMB2 3.3.5.2.7).
#pragma once

#include <array>
#include <cstdint>

#include "common/base/bytes.h"
#include "common/smb2/constants.h"

namespace xsmb::smb2 {

struct Header {
  uint16_t credit_charge = 0;
  uint32_t status = 0;  // responses: NTSTATUS; requests: ChannelSequence/Reserved
  uint16_t command = 0;
  uint16_t credits = 0;  // CreditRequest (request) / CreditResponse (response)
  uint32_t flags = 0;
  uint32_t next_command = 0;  // offset of the next message in a compound, 0 for the last
  uint64_t message_id = 0;
  uint64_t async_id = 0;    // valid when flags has SMB2_FLAGS_ASYNC_COMMAND
  uint32_t process_id = 0;  // sync form only
  uint32_t tree_id = 0;     // sync form only
  uint64_t session_id = 0;
  std::array<uint8_t, 16> signature{};

  bool isAsync() const { return flags & SMB2_FLAGS_ASYNC_COMMAND; }
  bool isRelated() const { return flags & SMB2_FLAGS_RELATED_OPERATIONS; }
  bool isSigned() const { return flags & SMB2_FLAGS_SIGNED; }
};

// Offsets of header fields that are rewritten in place (signing, compounding).
constexpr size_t kHeaderFlagsOffset = 16;
constexpr size_t kHeaderNextCommandOffset = 20;
constexpr size_t kHeaderSignatureOffset = 48;

// Parses the first 64 bytes of `msg`. False when shorter than 64 bytes, the ProtocolId is not
// 0xFE 'SMB' or StructureSize is not 64.
bool decodeHeader(ByteSpan msg, Header* out);
// Appends the 64-byte wire form of `h` (StructureSize 64, sync or async by flags).
void encodeHeader(const Header& h, ByteWriter& w);

}  // namespace xsmb::smb2
