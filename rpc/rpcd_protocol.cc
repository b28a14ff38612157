#include "rpc/rpcd_protocol.h"

namespace xsmb::rpc {

Bytes encodeFrame(const Frame& f) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(20 + f.payload.size()));
  w.u32(static_cast<uint32_t>(f.type));
  w.u64(f.request_id);
  w.u64(f.pipe_id);
  w.bytes(f.payload);
  return w.take();
}

void FrameDecoder::append(ByteSpan data) {
  if (bad_) return;
  if (off_ > 0 && off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

std::optional<Frame> FrameDecoder::next() {
  if (bad_ || buf_.size() - off_ < 4) return std::nullopt;
  uint32_t len = loadU32(buf_.data() + off_);
  if (len < 20 || len > 20 + kMaxFramePayload) {
    bad_ = true;
    return std::nullopt;
  }
  if (buf_.size() - off_ < 4 + size_t{len}) return std::nullopt;
  ByteReader r(buf_.data() + off_ + 4, len);
  Frame f;
  f.type = static_cast<MsgType>(r.u32());
  f.request_id = r.u64();
  f.pipe_id = r.u64();
  ByteSpan p = r.bytes(len - 20);
  f.payload.assign(p.begin(), p.end());
  off_ += 4 + size_t{len};
  // Keep the buffer from growing without bound while frames are consumed.
  if (off_ > (1u << 16) && off_ * 2 > buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(off_));
    off_ = 0;
  }
  return f;
}

}  // namespace xsmb::rpc
