#include "common/smb2/netbios.h"

namespace xsmb::netbios {

Frame parseFrame(ByteSpan buf, size_t max_length) {
  Frame f;
  if (buf.size() < kNetBiosHeaderSize) return f;
  uint8_t type = buf[0];
  f.length = (uint32_t{buf[1]} << 16) | (uint32_t{buf[2]} << 8) | buf[3];
  if (type == kNetBiosKeepAlive) {
    f.status = buf.size() - kNetBiosHeaderSize >= f.length ? FrameStatus::kKeepAlive
                                                           : FrameStatus::kIncomplete;
    if (f.length > 64) f.status = FrameStatus::kBadType;
    return f;
  }
  if (type != kNetBiosSessionMessage) {
    f.status = FrameStatus::kBadType;
    return f;
  }
  if (f.length > max_length) {
    f.status = FrameStatus::kTooLarge;
    return f;
  }
  f.status = buf.size() - kNetBiosHeaderSize >= f.length ? FrameStatus::kMessage
                                                         : FrameStatus::kIncomplete;
  return f;
}

void writeFrameHeader(uint32_t length, uint8_t out[kNetBiosHeaderSize]) {
  out[0] = kNetBiosSessionMessage;
  out[1] = static_cast<uint8_t>(length >> 16);
  out[2] = static_cast<uint8_t>(length >> 8);
  out[3] = static_cast<uint8_t>(length);
}

}  // namespace xsmb::netbios
