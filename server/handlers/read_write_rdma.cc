#include "server/handlers/read_write_rdma.h"

#include <optional>
#include <vector>

#include "common/base/log.h"
#include "common/smb2/constants.h"
#include "common/smbd/smbd.h"
#include "server/vfs/file_io.h"
#include "server/vfs/path.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// The checks every RDMA channel request shares (MS-SMB2 3.3.5.12 / 3.3.5.13): an SMB Direct
// connection, a known channel (_INVALIDATE from dialect 3.0.2 on), a whole descriptor list.
NtStatus channelOf(RequestContext& ctx, uint32_t channel, size_t info_field,
                   std::vector<smbd::BufferDescriptorV1>* descriptors) {
  if (!ctx.conn->rdma || ctx.on_event_loop) return STATUS_INVALID_PARAMETER;
  if (channel != SMB2_CHANNEL_RDMA_V1 && channel != SMB2_CHANNEL_RDMA_V1_INVALIDATE) {
    return STATUS_INVALID_PARAMETER;
  }
  if (channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE && ctx.conn->dialect < SMB2_DIALECT_302) {
    return STATUS_INVALID_PARAMETER;
  }
  std::optional<std::vector<smbd::BufferDescriptorV1>> d =
      smbd::channelDescriptors(ctx.message, info_field);
  if (!d) return STATUS_INVALID_PARAMETER;
  *descriptors = std::move(*d);
  return STATUS_SUCCESS;
}

uint64_t totalLength(const std::vector<smbd::BufferDescriptorV1>& d) {
  uint64_t n = 0;
  for (const smbd::BufferDescriptorV1& x : d) n += x.length;
  return n;
}

// SMB2_CHANNEL_RDMA_V1_INVALIDATE: the response goes with Send with Invalidate of the first
// descriptor's registration (MS-SMB2 3.3.5.12; one token per send).
void maybeInvalidate(RequestContext& ctx, uint32_t channel,
                     const std::vector<smbd::BufferDescriptorV1>& d) {
  if (channel == SMB2_CHANNEL_RDMA_V1_INVALIDATE) ctx.conn->rdma->invalidateWithReply(d[0].token);
}

}  // namespace

NtStatus readToChannel(RequestContext& ctx, session::Open& o, const ReadRequest& req,
                       ResponseBody& out) {
  std::vector<smbd::BufferDescriptorV1> d;
  if (NtStatus st = channelOf(ctx, req.channel, smbd::kReadChannelInfoField, &d);
      st != STATUS_SUCCESS) {
    return st;
  }
  smbd::RdmaChannel& rdma = *ctx.conn->rdma;
  if (req.length > rdma.maxReadWriteSize() || req.length > totalLength(d)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (req.length == 0) {
    out = ReadResponse{};
    return STATUS_SUCCESS;
  }
  std::shared_ptr<smbd::RegisteredBuffer> buf = rdma.acquire(req.length);
  if (!buf) return STATUS_INSUFFICIENT_RESOURCES;
  const ssize_t n = vfs::preadFull(o.fd.get(), buf->bytes.data(), req.length, req.offset, 0);
  if (n < 0) return vfs::ntStatusFromErrno(errno);
  const auto got = static_cast<uint32_t>(n);
  if ((got == 0 && req.length > 0) || got < req.minimum_count) return STATUS_END_OF_FILE;
  if (!rdma.writeToPeer(d, *buf, got)) {
    XLOG(INFO) << ctx.conn->peer << ": READ: RDMA write of " << got << " bytes failed";
    return STATUS_CONNECTION_DISCONNECTED;
  }
  maybeInvalidate(ctx, req.channel, d);
  ReadResponse r;
  r.data_remaining = got;  // DataLength 0: the data went by RDMA Write (MS-SMB2 2.2.20)
  out = std::move(r);
  o.position = req.offset + got;
  return STATUS_SUCCESS;
}

NtStatus pullWriteData(RequestContext& ctx, WriteRequest* req,
                       std::shared_ptr<smbd::RegisteredBuffer>* hold) {
  std::vector<smbd::BufferDescriptorV1> d;
  if (NtStatus st = channelOf(ctx, req->channel, smbd::kWriteChannelInfoField, &d);
      st != STATUS_SUCCESS) {
    return st;
  }
  smbd::RdmaChannel& rdma = *ctx.conn->rdma;
  const uint32_t length = req->remaining_bytes;
  if (!req->data.empty() || length == 0 || length > rdma.maxReadWriteSize() ||
      length > totalLength(d)) {
    return STATUS_INVALID_PARAMETER;
  }
  std::shared_ptr<smbd::RegisteredBuffer> buf = rdma.acquire(length);
  if (!buf) return STATUS_INSUFFICIENT_RESOURCES;
  if (!rdma.readFromPeer(d, *buf, length)) {
    XLOG(INFO) << ctx.conn->peer << ": WRITE: RDMA read of " << length << " bytes failed";
    return STATUS_CONNECTION_DISCONNECTED;
  }
  maybeInvalidate(ctx, req->channel, d);
  req->data = ByteSpan(buf->bytes.data(), length);
  *hold = std::move(buf);
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
