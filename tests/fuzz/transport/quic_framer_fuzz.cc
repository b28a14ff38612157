// Fuzzes the SMB-over-QUIC stream framer (server/transport/quic/stream_framer.h) with what a
// client may send on its stream: the first byte picks the size limit and how the rest is cut
// into pieces (as QUIC may hand it over). The same bytes fed whole must give the same messages
// and the same error; every message is as long as its header said and within the limit.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "server/transport/quic/stream_framer.h"

namespace {

using namespace xsmb;
using xsmb::transport::Message;
using xsmb::transport::quic::StreamFramer;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = size_t{1} << (data[0] % 20);
  const size_t piece = 1 + (data[0] >> 4);
  ByteSpan in(data + 1, size - 1);

  StreamFramer whole(limit), cut(limit);
  std::deque<Message> a, b;
  const StreamFramer::Error ea = whole.feed(in, &a);
  StreamFramer::Error eb = StreamFramer::Error::kNone;
  for (size_t at = 0; at < in.size(); at += piece) {
    eb = cut.feed(in.subspan(at, std::min(piece, in.size() - at)), &b);
  }
  check(ea == eb && a.size() == b.size());
  size_t consumed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    check(a[i].size == b[i].size && a[i].size > 0 && a[i].size <= limit);
    check(std::memcmp(a[i].data.get(), b[i].data.get(), a[i].size) == 0);
    check(std::memcmp(a[i].data.get(), in.data() + consumed + 4, a[i].size) == 0);
    consumed += 4 + a[i].size;
  }
  if (ea == StreamFramer::Error::kNone) check(consumed + whole.buffered() == in.size());
  return 0;
}
