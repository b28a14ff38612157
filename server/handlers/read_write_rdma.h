// The RDMA channels of SMB2 READ and WRITE (MS-SMB2 2.2.19 / 2.2.21 Channel
// SMB2_CHANNEL_RDMA_V1 and SMB2_CHANNEL_RDMA_V1_INVALIDATE; 3.3.5.12 / 3.3.5.13; MS-SMBD
// 3.1.4.3 / 3.1.4.4): on an SMB Direct connection (ConnState::rdma) a READ's data is placed in
// the client's memory with RDMA Write and the response carries DataLength 0 and DataRemaining
// = the bytes written; a WRITE's data (RemainingBytes of it) is pulled from the client's
// memory with RDMA Read. Both go through a registered buffer from the connection's pool.
// Elsewhere (TCP) these channels fail with STATUS_INVALID_PARAMETER.
#pragma once

#include <cstdint>
#include <memory>

#include "common/smb2/messages.h"
#include "common/smbd/rdma_channel.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {

// MS-SMB2 2.2.19 Channel values.
inline constexpr uint32_t SMB2_CHANNEL_NONE = 0x00000000;
inline constexpr uint32_t SMB2_CHANNEL_RDMA_V1 = 0x00000001;
inline constexpr uint32_t SMB2_CHANNEL_RDMA_V1_INVALIDATE = 0x00000002;

// A READ whose Channel is not SMB2_CHANNEL_NONE, after its open, access and lock checks: reads
// req.length bytes at req.offset from the file into a registered buffer and writes them to
// the client (a shorter read at the end of the file writes what there is). STATUS_SUCCESS
// with `out` = ReadResponse{DataLength 0, DataRemaining n}; STATUS_INVALID_PARAMETER on a
// transport without RDMA, an unknown channel, _INVALIDATE before dialect 3.0.2, a malformed
// descriptor list, or a length above MaxReadWriteSize or the descriptors' total;
// STATUS_END_OF_FILE as for any READ; STATUS_INSUFFICIENT_RESOURCES when no registered buffer
// is free; STATUS_CONNECTION_DISCONNECTED when the transfer failed.
NtStatus readToChannel(RequestContext& ctx, session::Open& o, const smb2::ReadRequest& req,
                       smb2::ResponseBody& out);

// A WRITE whose Channel is not SMB2_CHANNEL_NONE: pulls req.remaining_bytes from the client
// into a registered buffer, held in `*hold`, and points req->data at it, so the WRITE goes on
// as if the data had come in the message. Failures as readToChannel's; a WRITE carrying data
// in the message as well (Length not 0) is STATUS_INVALID_PARAMETER.
NtStatus pullWriteData(RequestContext& ctx, smb2::WriteRequest* req,
                       std::shared_ptr<smbd::RegisteredBuffer>* hold);

}  // namespace xsmb::handlers
