#include "common/smbd/smbd.h"

#include <algorithm>

namespace xsmb::smbd {
namespace {

constexpr uint32_t kMinReceiveSize = 128;             // MS-SMBD 3.1.5.6
constexpr uint32_t kMinFragmentedSize = 131072;       // MS-SMBD 3.1.5.6
constexpr uint32_t kStatusNotSupported = 0xC00000BB;  // MS-ERREF STATUS_NOT_SUPPORTED

}  // namespace

std::optional<NegotiateRequest> decodeNegotiateRequest(ByteSpan msg) {
  if (msg.size() < NegotiateRequest::kSize) return std::nullopt;
  ByteReader r(msg);
  NegotiateRequest q;
  q.min_version = r.u16();
  q.max_version = r.u16();
  r.u16();  // Reserved
  q.credits_requested = r.u16();
  q.preferred_send_size = r.u32();
  q.max_receive_size = r.u32();
  q.max_fragmented_size = r.u32();
  return q;
}

std::optional<NegotiateResponse> decodeNegotiateResponse(ByteSpan msg) {
  if (msg.size() < NegotiateResponse::kSize) return std::nullopt;
  ByteReader r(msg);
  NegotiateResponse p;
  p.min_version = r.u16();
  p.max_version = r.u16();
  p.negotiated_version = r.u16();
  r.u16();  // Reserved
  p.credits_requested = r.u16();
  p.credits_granted = r.u16();
  p.status = r.u32();
  p.max_read_write_size = r.u32();
  p.preferred_send_size = r.u32();
  p.max_receive_size = r.u32();
  p.max_fragmented_size = r.u32();
  return p;
}

Bytes encodeNegotiateRequest(const NegotiateRequest& q) {
  ByteWriter w;
  w.u16(q.min_version);
  w.u16(q.max_version);
  w.u16(0);
  w.u16(q.credits_requested);
  w.u32(q.preferred_send_size);
  w.u32(q.max_receive_size);
  w.u32(q.max_fragmented_size);
  return w.take();
}

Bytes encodeNegotiateResponse(const NegotiateResponse& p) {
  ByteWriter w;
  w.u16(p.min_version);
  w.u16(p.max_version);
  w.u16(p.negotiated_version);
  w.u16(0);
  w.u16(p.credits_requested);
  w.u16(p.credits_granted);
  w.u32(p.status);
  w.u32(p.max_read_write_size);
  w.u32(p.preferred_send_size);
  w.u32(p.max_receive_size);
  w.u32(p.max_fragmented_size);
  return w.take();
}

NegotiateOutcome acceptNegotiate(const Limits& ours, ByteSpan msg, NegotiateResponse* response,
                                 Negotiated* params) {
  std::optional<NegotiateRequest> q = decodeNegotiateRequest(msg);
  if (!q) return NegotiateOutcome::kDisconnect;
  *response = {};
  if (q->min_version > kVersion1 || q->max_version < kVersion1) {
    response->negotiated_version = 0;
    response->status = kStatusNotSupported;
    return NegotiateOutcome::kRefuse;
  }
  if (q->credits_requested == 0 || q->max_receive_size < kMinReceiveSize ||
      q->max_fragmented_size < kMinFragmentedSize) {
    return NegotiateOutcome::kDisconnect;
  }
  Negotiated n;
  n.receive_credit_target = std::min(q->credits_requested, ours.receive_credit_max);
  n.max_receive_size =
      std::max(kMinReceiveSize, std::min(ours.max_receive_size, q->preferred_send_size));
  n.max_send_size = std::min(ours.max_send_size, q->max_receive_size);
  n.max_fragmented_send_size = q->max_fragmented_size;
  n.max_read_write_size = ours.max_read_write_size;
  // The first grant: as many receives as are posted for the peer, up to what it asked for.
  response->credits_granted = n.receive_credit_target;
  response->credits_requested = ours.send_credit_target;
  response->max_read_write_size = n.max_read_write_size;
  response->preferred_send_size = n.max_send_size;
  response->max_receive_size = n.max_receive_size;
  response->max_fragmented_size = ours.max_fragmented_size;
  *params = n;
  return NegotiateOutcome::kAccept;
}

std::optional<DataTransfer> decodeDataTransfer(ByteSpan msg, uint32_t max_fragmented_size) {
  if (msg.size() < kDataTransferMinSize) return std::nullopt;
  ByteReader r(msg);
  DataTransfer m;
  m.credits_requested = r.u16();
  m.credits_granted = r.u16();
  m.flags = r.u16();
  r.u16();  // Reserved
  m.remaining_data_length = r.u32();
  m.data_offset = r.u32();
  m.data_length = r.u32();
  if (m.credits_requested == 0 || m.data_offset % 8 != 0) return std::nullopt;
  if (m.data_length == 0) {
    if (m.remaining_data_length != 0) return std::nullopt;  // nothing to continue
    return m;
  }
  if (m.data_offset < kDataTransferMinSize || m.data_offset > msg.size() ||
      m.data_length > msg.size() - m.data_offset) {
    return std::nullopt;
  }
  if (static_cast<uint64_t>(m.data_length) + m.remaining_data_length > max_fragmented_size) {
    return std::nullopt;
  }
  m.data = msg.subspan(m.data_offset, m.data_length);
  return m;
}

Bytes encodeDataTransfer(const DataTransfer& h, ByteSpan data) {
  ByteWriter w;
  w.u16(h.credits_requested);
  w.u16(h.credits_granted);
  w.u16(h.flags);
  w.u16(0);
  w.u32(data.empty() ? 0 : h.remaining_data_length);
  w.u32(data.empty() ? 0 : static_cast<uint32_t>(kDataOffset));
  w.u32(static_cast<uint32_t>(data.size()));
  if (!data.empty()) {
    w.u32(0);  // Padding up to DataOffset 24
    w.bytes(data);
  }
  return w.take();
}

Reassembler::Result Reassembler::feed(const DataTransfer& m, Bytes* out) {
  if (m.data_length == 0) return Result::kIncomplete;
  if (expected_ > 0) {
    // A continuation carries part of what the previous one announced and no more.
    if (m.data_length > expected_ || m.remaining_data_length != expected_ - m.data_length) {
      return Result::kViolation;
    }
  } else {
    if (static_cast<uint64_t>(m.data_length) + m.remaining_data_length > max_) {
      return Result::kViolation;
    }
    buf_.clear();
    buf_.reserve(static_cast<size_t>(m.data_length) + m.remaining_data_length);
  }
  buf_.insert(buf_.end(), m.data.begin(), m.data.end());
  expected_ = m.remaining_data_length;
  if (expected_ > 0) return Result::kIncomplete;
  *out = std::move(buf_);
  buf_ = {};
  return Result::kComplete;
}

std::vector<Fragment> fragment(uint32_t size, uint32_t max_send_size,
                               uint32_t max_fragmented_send_size) {
  std::vector<Fragment> out;
  if (size == 0 || size > max_fragmented_send_size || max_send_size <= kDataOffset) return out;
  const uint32_t per = max_send_size - static_cast<uint32_t>(kDataOffset);
  out.reserve((size + per - 1) / per);
  for (uint32_t off = 0; off < size;) {
    const uint32_t len = std::min(per, size - off);
    out.push_back({off, len, size - off - len});
    off += len;
  }
  return out;
}

std::optional<std::vector<BufferDescriptorV1>> decodeBufferDescriptors(ByteSpan channel_info) {
  if (channel_info.empty() || channel_info.size() % BufferDescriptorV1::kSize != 0) {
    return std::nullopt;
  }
  std::vector<BufferDescriptorV1> list(channel_info.size() / BufferDescriptorV1::kSize);
  ByteReader r(channel_info);
  for (BufferDescriptorV1& d : list) {
    d.offset = r.u64();
    d.token = r.u32();
    d.length = r.u32();
  }
  return list;
}

std::optional<std::vector<BufferDescriptorV1>> channelDescriptors(ByteSpan message,
                                                                  size_t info_field_at) {
  constexpr size_t kHeaderSize = 64;
  if (info_field_at > message.size() || message.size() - info_field_at < 4) return std::nullopt;
  ByteReader r(message.subspan(info_field_at, 4));
  const uint16_t offset = r.u16();
  const uint16_t length = r.u16();
  if (length == 0 || offset < kHeaderSize || offset > message.size() ||
      length > message.size() - offset) {
    return std::nullopt;
  }
  return decodeBufferDescriptors(message.subspan(offset, length));
}

}  // namespace xsmb::smbd
