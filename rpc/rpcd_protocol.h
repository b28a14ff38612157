// The message protocol between xsmbd and its helper xsmb-rpcd over a
// socketpair(AF_UNIX, SOCK_STREAM) (fd 3 in the helper). Every message is a frame:
//   u32 length   bytes that follow this field (20 + payload size), little-endian
//   u32 type     MsgType
//   u64 request_id  chosen by xsmbd; the reply carries the same value
//   u64 pipe_id     chosen by xsmbd at OPEN; 0 where no pipe is involved
//   payload
// Requests may be pipelined; the helper answers each by request_id.
#pragma once

#include <cstdint>
#include <optional>

#include "common/base/bytes.h"

namespace xsmb::rpc {

enum class MsgType : uint32_t {
  kConfig = 1,  // -> payload: serializeServerInfo(); reply kConfigOk
  kConfigOk = 2,
  kOpen = 3,  // -> payload: u16 name length, name (UTF-8), serializeCallerInfo()
  kOpenOk = 4,
  kOpenFail = 5,   // unknown pipe name (or pipe_id already in use / too many pipes)
  kData = 6,       // -> payload: the bytes the SMB client wrote to the pipe
  kDataReply = 7,  // <- payload: the bytes the SMB client reads next (may be empty)
  kPipeError = 8,  // <- the pipe is broken (or unknown); the SMB layer disconnects it
  kClose = 9,      // -> no reply
  // Test-only messages, compiled in and harmless: they let tests observe the sandbox.
  kTestOpenFile = 100,  // -> payload: path; reply kTestResult
  kTestHold = 101,      // -> the helper never answers this request (a call stuck in flight)
  kTestResult = 102,    // <- payload: i32 open() errno (0 = opened), u32 uid, u32 euid, u32 gid
};

constexpr size_t kFrameHeaderSize = 24;  // length field + 20
constexpr uint32_t kMaxFramePayload = 4 << 20;

struct Frame {
  MsgType type = MsgType::kData;
  uint64_t request_id = 0;
  uint64_t pipe_id = 0;
  Bytes payload;
};

Bytes encodeFrame(const Frame& f);

// Incremental decoder for a byte stream of frames.
class FrameDecoder {
 public:
  void append(ByteSpan data);
  // The next complete frame, or nullopt when more bytes are needed or the stream is bad
  // (a length below 20 or above 20 + kMaxFramePayload: bad() turns true).
  std::optional<Frame> next();
  bool bad() const { return bad_; }

 private:
  Bytes buf_;
  size_t off_ = 0;
  bool bad_ = false;
};

}  // namespace xsmb::rpc
