// SMB2 Remote Direct Memory Access Transport Protocol (MS-SMBD) messages and the receiving
// side's checks: the negotiate exchange (2.2.1, 2.2.2; 3.1.5.6), data transfer messages (2.2.3;
// 3.1.5.8) with reassembly of an upper-layer message sent in fragments and the fragmenting of
// one to send (3.1.5.1/3.1.4.1), and the SMB2 Buffer Descriptor V1 lists that name the client's
// registered memory for RDMA reads and writes (2.2.3.1). Every field is little-endian. Nothing
// here touches a device: the transport (server/smbdirect) moves the bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/bytes.h"

namespace xsmb::smbd {

inline constexpr uint16_t kVersion1 = 0x0100;  // MS-SMBD 2.2.1: the only version defined

// MS-SMBD 2.2.1 Negotiate Request: 20 bytes.
struct NegotiateRequest {
  static constexpr size_t kSize = 20;
  uint16_t min_version = kVersion1;
  uint16_t max_version = kVersion1;
  uint16_t credits_requested = 0;    // send credits the sender asks to be granted
  uint32_t preferred_send_size = 0;  // bytes per send the sender would like to use
  uint32_t max_receive_size = 0;     // bytes per receive the sender can take (>= 128)
  uint32_t max_fragmented_size = 0;  // largest reassembled upper-layer message (>= 131,072)
};

// MS-SMBD 2.2.2 Negotiate Response: 32 bytes.
struct NegotiateResponse {
  static constexpr size_t kSize = 32;
  uint16_t min_version = kVersion1;
  uint16_t max_version = kVersion1;
  uint16_t negotiated_version = kVersion1;  // 0 in a failure response
  uint16_t credits_requested = 0;
  uint16_t credits_granted = 0;
  uint32_t status = 0;               // NTSTATUS: 0, or STATUS_NOT_SUPPORTED for a version mismatch
  uint32_t max_read_write_size = 0;  // largest RDMA read or write of an SMB2 READ/WRITE
  uint32_t preferred_send_size = 0;
  uint32_t max_receive_size = 0;
  uint32_t max_fragmented_size = 0;
};

// MS-SMBD 2.2.3 Data Transfer message header: 20 bytes of fields, padded to DataOffset (24 when
// data follows). Flags: SMB_DIRECT_RESPONSE_REQUESTED asks the peer to answer at once (the
// keep-alive, 3.1.6.2).
inline constexpr uint16_t SMB_DIRECT_RESPONSE_REQUESTED = 0x0001;
inline constexpr size_t kDataTransferMinSize = 20;  // a message without data
inline constexpr size_t kDataOffset = 24;           // where this implementation puts data
struct DataTransfer {
  uint16_t credits_requested = 0;  // total send credits asked of the receiver
  uint16_t credits_granted = 0;    // send credits added for the receiver
  uint16_t flags = 0;
  uint32_t remaining_data_length = 0;  // bytes of the upper-layer message after this one
  uint32_t data_offset = 0;            // from the start of the message, 8-byte aligned
  uint32_t data_length = 0;
  ByteSpan data;  // the payload, inside the decoded message
};

// MS-SMB2 2.2.3.1 (SMB2_BUFFER_DESCRIPTOR_V1 in MS-SMBD 2.2.3.1): 16 bytes.
struct BufferDescriptorV1 {
  static constexpr size_t kSize = 16;
  uint64_t offset = 0;  // address in the peer's registered memory
  uint32_t token = 0;   // the peer's memory registration (steering tag)
  uint32_t length = 0;  // bytes
};

// What this side offers and accepts (smb.conf defaults in server/smbdirect).
struct Limits {
  uint16_t receive_credit_max = 255;           // receives posted for the peer's sends
  uint16_t send_credit_target = 255;           // send credits asked of the peer
  uint32_t max_send_size = 1364;               // bytes per send this side sends at most
  uint32_t max_receive_size = 1364;            // bytes per receive this side posts
  uint32_t max_fragmented_size = 1024 * 1024;  // largest message this side reassembles
  uint32_t max_read_write_size = 1024 * 1024;  // largest RDMA transfer of one READ/WRITE
};

// The parameters of a negotiated connection (MS-SMBD 3.1.1.1 Connection).
struct Negotiated {
  uint16_t receive_credit_target = 0;     // what the peer asked for (CreditsRequested)
  uint16_t send_credits = 0;              // granted by the peer (0 until its first message)
  uint32_t max_send_size = 0;             // min(ours, the peer's MaxReceiveSize)
  uint32_t max_receive_size = 0;          // min(ours, the peer's PreferredSendSize), >= 128
  uint32_t max_fragmented_send_size = 0;  // the peer's MaxFragmentedSize
  uint32_t max_read_write_size = 0;
};

// Decoders: std::nullopt when the message is shorter than the structure (the receiver then
// terminates the connection, MS-SMBD 3.1.5.6 / 3.1.5.7). Extra bytes are ignored.
std::optional<NegotiateRequest> decodeNegotiateRequest(ByteSpan msg);
std::optional<NegotiateResponse> decodeNegotiateResponse(ByteSpan msg);
Bytes encodeNegotiateRequest(const NegotiateRequest& r);
Bytes encodeNegotiateResponse(const NegotiateResponse& r);

// The listening side's answer to the first message (MS-SMBD 3.1.5.6). kAccept: send `response`
// and use `params`. kRefuse: the versions offered exclude 1.0: send `response` (a failure with
// STATUS_NOT_SUPPORTED), then disconnect. kDisconnect: the message is too short, asks for no
// credits, or offers a MaxReceiveSize below 128 or a MaxFragmentedSize below 131,072: close
// without answering.
enum class NegotiateOutcome { kAccept, kRefuse, kDisconnect };
NegotiateOutcome acceptNegotiate(const Limits& ours, ByteSpan msg, NegotiateResponse* response,
                                 Negotiated* params);

// A received data transfer message checked as MS-SMBD 3.1.5.8 requires: at least 20 bytes,
// CreditsRequested >= 1, DataOffset 8-byte aligned, DataOffset + DataLength within the message
// (a message without data may say DataOffset 0), DataLength + RemainingDataLength within
// `max_fragmented_size`. std::nullopt on any violation: the receiver terminates the connection.
std::optional<DataTransfer> decodeDataTransfer(ByteSpan msg, uint32_t max_fragmented_size);
// The message header (padded to kDataOffset when `data` is not empty) followed by `data`.
Bytes encodeDataTransfer(const DataTransfer& header, ByteSpan data);

// Reassembles upper-layer messages from data transfer payloads (MS-SMBD 3.1.5.8): a message
// whose RemainingDataLength is not 0 starts or continues one, the next must announce exactly
// what is left after it. Payload-less messages (credit grants, keep-alives) are not fed.
class Reassembler {
 public:
  explicit Reassembler(uint32_t max_fragmented_size) : max_(max_fragmented_size) {}
  enum class Result { kIncomplete, kComplete, kViolation };
  // kComplete: the whole message is in *out. kViolation: the fragments disagree (a continuation
  // announcing a different remainder, more than max_fragmented_size in total): terminate.
  Result feed(const DataTransfer& m, Bytes* out);
  bool inProgress() const { return expected_ > 0; }

 private:
  uint32_t max_;
  Bytes buf_;
  uint32_t expected_ = 0;  // RemainingDataLength announced by the last fragment (0: none)
};

// Splits an upper-layer message of `size` bytes into the pieces of data transfer messages no
// larger than `max_send_size` each (MS-SMBD 3.1.4.1): each piece's offset in the message, its
// length and the RemainingDataLength its header carries. Empty when `size` is 0, larger than
// `max_fragmented_send_size`, or `max_send_size` leaves no room after the header.
struct Fragment {
  uint32_t offset = 0, length = 0, remaining = 0;
};
std::vector<Fragment> fragment(uint32_t size, uint32_t max_send_size,
                               uint32_t max_fragmented_send_size);

// The channel information of an SMB2 READ or WRITE over RDMA: a list of whole descriptors (a
// non-empty multiple of 16 bytes), else std::nullopt (MS-SMB2 3.3.5.12 / 3.3.5.13: the request
// then fails with STATUS_INVALID_PARAMETER).
std::optional<std::vector<BufferDescriptorV1>> decodeBufferDescriptors(ByteSpan channel_info);

// The RDMA channel of an SMB2 READ or WRITE request (MS-SMB2 2.2.19 / 2.2.21): `message` is the
// request from the start of its SMB2 header (64 bytes), whose body holds the 16-bit
// ChannelInfoOffset (from the header's start) and ChannelInfoLength at `info_field_at` (READ:
// body offset 44, WRITE: 40). The descriptor list there, or std::nullopt when the fields are
// cut off, the range is empty, lies inside the header or past the message, or is not a whole
// list (the request then fails with STATUS_INVALID_PARAMETER, MS-SMB2 3.3.5.12 / 3.3.5.13).
inline constexpr size_t kReadChannelInfoField = 64 + 44;
inline constexpr size_t kWriteChannelInfoField = 64 + 40;
std::optional<std::vector<BufferDescriptorV1>> channelDescriptors(ByteSpan message,
                                                                  size_t info_field_at);

}  // namespace xsmb::smbd
