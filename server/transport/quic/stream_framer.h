// The bytes of an SMB-over-QUIC stream cut into SMB2 messages. MS-SMB2 2.1: on QUIC, as on
// Direct TCP, every SMB2 message is preceded by a 4-byte header, 0x00 and the message's length
// (24 bits, big-endian). A QUIC stream delivers its bytes in order (RFC 9000 2.2) but in
// pieces of any size, so a message may arrive in many pieces and one piece may end several.
// The framer owns no socket: the QUIC worker feeds it what ngtcp2 hands over, and a fuzz
// target (tests/fuzz/transport/quic_framer_fuzz.cc) feeds it anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "common/base/bytes.h"
#include "server/transport/connection.h"

namespace xsmb::transport::quic {

class StreamFramer {
 public:
  enum class Error {
    kNone,
    kBadHeader,  // the first byte of a header is not 0x00, or the length is 0
    kTooLarge,   // the length is above the limit: the connection is closed unread
  };

  // `max_message`: the largest SMB2 message (bytes, without the 4-byte header) accepted.
  explicit StreamFramer(size_t max_message) : max_message_(max_message) {}

  // Takes the next bytes of the stream. Complete messages are appended to `out` (each in a
  // Message of its own); the rest is kept for the next call. After an error nothing more is
  // taken (the connection is to be closed) and every later call returns the same error.
  Error feed(ByteSpan bytes, std::deque<Message>* out);

  // Changes the limit for messages whose header has not been read yet (the protocol layer's
  // Reply::max_message after NEGOTIATE).
  void setMaxMessage(size_t max_message) { max_message_ = max_message; }
  // Bytes of a message begun but not complete (header bytes included).
  size_t buffered() const { return header_len_ + (partial_.empty() ? 0 : filled_); }
  Error error() const { return error_; }
  static const char* describe(Error e);

 private:
  Error takeHeader(ByteSpan* bytes);

  size_t max_message_;
  Error error_ = Error::kNone;
  uint8_t header_[4] = {};
  size_t header_len_ = 0;  // bytes of the current header read so far (0..4)
  Message partial_;        // the message being filled (empty: reading a header)
  size_t filled_ = 0;      // bytes of partial_ filled
};

}  // namespace xsmb::transport::quic
