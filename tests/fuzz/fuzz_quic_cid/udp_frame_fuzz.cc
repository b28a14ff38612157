// Input: a frame as an AF_XDP socket receives it. parseUdpFrame returns an error or a payload
// inside the frame; a parsed frame rebuilt with buildUdpFrame parses back to the same headers
// and payload (the builder's output is always a valid frame).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/transport/xsk/udp_frame.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb::xsk;
  auto f = parseUdpFrame(xsmb::ByteSpan(data, size));
  if (!f.ok()) return 0;
  check(f->payload.empty() ||
        (f->payload.data() >= data && f->payload.data() + f->payload.size() <= data + size));
  std::vector<uint8_t> out(udpFrameSize(f->header, f->payload.size()));
  auto n = buildUdpFrame(f->header, f->payload, out);
  if (!n.ok()) return 0;  // e.g. a payload too large for one IPv4 packet
  auto back = parseUdpFrame(xsmb::ByteSpan(out.data(), *n));
  check(back.ok());
  check(back->header.source == f->header.source);
  check(back->header.destination == f->header.destination);
  check(back->header.has_vlan == f->header.has_vlan);
  check(back->payload.size() == f->payload.size());
  check(std::equal(back->payload.begin(), back->payload.end(), f->payload.begin()));
  return 0;
}
