// Input: a UDP payload as it reaches the server. parseFirstHeader must return either an error
// or a header whose DCID lies inside the input at the offset the header form puts it
// (RFC 8999 5.1 / 5.2), of at most 20 bytes for QUIC v1 and exactly 16 for a short header;
// cidWorker and isPlaceable must agree with the layout bytes (bpf/include/xsmb_quic.h).
#include <cstddef>
#include <cstdint>

#include "common/quic/cid.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb::quic;
  xsmb::ByteSpan in(data, size);
  auto h = parseFirstHeader(in);
  if (!h.ok()) {
    check(!h.status().message().empty());
    return 0;
  }
  check(size > 0);
  const uint8_t* start = h->dcid.data();
  if (h->form == HeaderForm::kShort) {
    check((data[0] & XSMB_QUIC_FORM_LONG) == 0);
    check(h->dcid.size() == kCidLength && start == data + XSMB_QUIC_SHORT_OFF_DCID);
  } else {
    check((data[0] & XSMB_QUIC_FORM_LONG) != 0 && size >= XSMB_QUIC_LONG_OFF_DCID);
    check(h->dcid.size() == data[XSMB_QUIC_LONG_OFF_DCID_LEN]);
    check(h->dcid.empty() || start == data + XSMB_QUIC_LONG_OFF_DCID);
    if (h->version == XSMB_QUIC_VERSION_1) check(h->dcid.size() <= kMaxCidLength);
  }
  check(h->dcid.size() <= size);
  auto worker = cidWorker(h->dcid);
  bool ours = h->dcid.size() == kCidLength && h->dcid[0] == kCidLayoutV1;
  check(worker.ok() == ours);
  if (ours) check(*worker == h->dcid[1]);
  if (isPlaceable(*h)) check(ours);
  return 0;
}
