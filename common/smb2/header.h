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

// Byte offsets of the header fields (MS-SMB2 2.2.1), for code that reads or rewrites a field
// in place (signing, compounding, async responses) instead of decoding the whole header.
constexpr size_t kHeaderStatusOffset = XSMB_SMB2_OFF_STATUS;
constexpr size_t kHeaderCommandOffset = XSMB_SMB2_OFF_COMMAND;
constexpr size_t kHeaderCreditsOffset = XSMB_SMB2_OFF_CREDITS;
constexpr size_t kHeaderFlagsOffset = XSMB_SMB2_OFF_FLAGS;
constexpr size_t kHeaderNextCommandOffset = XSMB_SMB2_OFF_NEXT_COMMAND;
constexpr size_t kHeaderMessageIdOffset = XSMB_SMB2_OFF_MESSAGE_ID;
constexpr size_t kHeaderAsyncIdOffset = XSMB_SMB2_OFF_ASYNC_ID;
constexpr size_t kHeaderTreeIdOffset = XSMB_SMB2_OFF_TREE_ID;
constexpr size_t kHeaderSessionIdOffset = XSMB_SMB2_OFF_SESSION_ID;
constexpr size_t kHeaderSignatureOffset = XSMB_SMB2_OFF_SIGNATURE;
constexpr size_t kHeaderSignatureSize = XSMB_SMB2_SIGNATURE_SIZE;

// Parses the first 64 bytes of `msg`. False when shorter than 64 bytes, the ProtocolId is not
// 0xFE 'SMB' or StructureSize is not 64.
bool decodeHeader(ByteSpan msg, Header* out);
// Appends the 64-byte wire form of `h` (StructureSize 64, sync or async by flags).
void encodeHeader(const Header& h, ByteWriter& w);

}  // namespace xsmb::smb2
