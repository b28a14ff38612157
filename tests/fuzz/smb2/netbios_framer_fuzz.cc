// Input: byte 0 picks the frame size limit, byte 1 the receive chunk size, the rest is a TCP byte
// stream. The stream is framed twice: all at once, and as a connection sees it, arriving in
// chunks and buffered until parseFrame reports a whole frame. Both must yield the same frames,
// and every reported frame must lie inside the buffer it was found in.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/smb2/netbios.h"

namespace {

using namespace xsmb;
using namespace xsmb::netbios;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Event {
  FrameStatus status;
  uint32_t length;
};

// Frames `buf` from the start; stops at the first incomplete or fatal frame.
void frameAll(ByteSpan buf, size_t max_length, std::vector<Event>* events, size_t* consumed) {
  size_t pos = 0;
  while (true) {
    Frame f = parseFrame(buf.subspan(pos), max_length);
    if (f.status == FrameStatus::kIncomplete) break;
    events->push_back({f.status, f.length});
    if (f.status != FrameStatus::kMessage && f.status != FrameStatus::kKeepAlive) {
      check(f.status == FrameStatus::kTooLarge ? f.length > max_length : true);
      break;
    }
    if (f.status == FrameStatus::kMessage) check(f.length <= max_length);
    check(buf.size() - pos >= kNetBiosHeaderSize + size_t{f.length});
    pos += kNetBiosHeaderSize + f.length;
  }
  *consumed = pos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr size_t kLimits[] = {0, 1, 64, 4096, 65536, 8 << 20, 0xFFFFFF};
  size_t max_length = kLimits[data[0] % (sizeof(kLimits) / sizeof(kLimits[0]))];
  size_t chunk = 1 + data[1] % 17;
  ByteSpan stream(data + 2, size - 2);

  std::vector<Event> whole;
  size_t whole_consumed = 0;
  frameAll(stream, max_length, &whole, &whole_consumed);

  // Chunked delivery: a receive buffer that grows by `chunk` bytes and drops whole frames.
  std::vector<Event> chunked;
  std::vector<uint8_t> buf;
  size_t fed = 0;
  bool closed = false;
  while (fed < stream.size() && !closed) {
    size_t n = std::min(chunk, stream.size() - fed);
    buf.insert(buf.end(), stream.begin() + fed, stream.begin() + fed + n);
    fed += n;
    size_t consumed = 0;
    size_t before = chunked.size();
    frameAll(buf, max_length, &chunked, &consumed);
    for (size_t i = before; i < chunked.size(); ++i) {
      if (chunked[i].status != FrameStatus::kMessage &&
          chunked[i].status != FrameStatus::kKeepAlive) {
        closed = true;
      }
    }
    buf.erase(buf.begin(), buf.begin() + consumed);
  }
  check(chunked.size() == whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    check(chunked[i].status == whole[i].status && chunked[i].length == whole[i].length);
  }
  return 0;
}
