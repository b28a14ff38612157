#include "server/transport/quic/stream_framer.h"

#include <algorithm>
#include <cstring>

namespace xsmb::transport::quic {

const char* StreamFramer::describe(Error e) {
  switch (e) {
    case Error::kNone:
      return "no error";
    case Error::kBadHeader:
      return "not a Direct TCP transport header (MS-SMB2 2.1: a zero byte, a non-zero length)";
    case Error::kTooLarge:
      return "message longer than the connection accepts";
  }
  return "?";
}

StreamFramer::Error StreamFramer::takeHeader(ByteSpan* bytes) {
  const size_t n = std::min(sizeof(header_) - header_len_, bytes->size());
  std::memcpy(header_ + header_len_, bytes->data(), n);
  header_len_ += n;
  *bytes = bytes->subspan(n);
  if (header_len_ < sizeof(header_)) return Error::kNone;
  const uint32_t length = (uint32_t{header_[1]} << 16) | (uint32_t{header_[2]} << 8) | header_[3];
  if (header_[0] != 0 || length == 0) return Error::kBadHeader;
  if (length > max_message_) return Error::kTooLarge;
  partial_ = Message::make(length);
  filled_ = 0;
  return Error::kNone;
}

StreamFramer::Error StreamFramer::feed(ByteSpan bytes, std::deque<Message>* out) {
  while (error_ == Error::kNone && !bytes.empty()) {
    if (partial_.empty()) {
      error_ = takeHeader(&bytes);
      continue;
    }
    const size_t n = std::min(partial_.size - filled_, bytes.size());
    std::memcpy(partial_.data.get() + filled_, bytes.data(), n);
    filled_ += n;
    bytes = bytes.subspan(n);
    if (filled_ == partial_.size) {
      out->push_back(std::move(partial_));
      partial_ = {};
      header_len_ = 0;
      filled_ = 0;
    }
  }
  return error_;
}

}  // namespace xsmb::transport::quic
