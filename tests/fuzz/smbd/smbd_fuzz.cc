// Fuzzes the MS-SMBD parsers (common/smbd/smbd.h) on what a peer sends: the first byte picks
// the negotiate request (answered as the listening side does), the negotiate response, a
// sequence of data transfer messages fed to a reassembler (split on the marker "SMBD"), a
// buffer descriptor list, or an SMB2 READ/WRITE request whose channel information is read. Whatever
// decodes is encoded again and must decode to the same fields.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/smbd/smbd.h"

namespace {

using namespace xsmb;
using namespace xsmb::smbd;

void check(bool ok) {
  if (!ok) std::abort();
}

void dataTransfers(ByteSpan in) {
  Reassembler r(1 << 20);
  Bytes out;
  while (!in.empty()) {
    size_t n = in.size();
    for (size_t i = 0; i + 4 <= in.size(); ++i) {
      if (std::memcmp(in.data() + i, "SMBD", 4) == 0) {
        n = i;
        break;
      }
    }
    std::optional<DataTransfer> m = decodeDataTransfer(in.first(n), 1 << 20);
    if (m) {
      check(m->data.size() == m->data_length);
      Bytes again = encodeDataTransfer(*m, m->data);
      std::optional<DataTransfer> m2 = decodeDataTransfer(again, 1 << 20);
      check(m2 && m2->data_length == m->data_length &&
            m2->credits_requested == m->credits_requested);
      if (r.feed(*m, &out) == Reassembler::Result::kViolation) return;
    }
    in = in.subspan(std::min(in.size(), n + 4));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteSpan in(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      NegotiateResponse resp;
      Negotiated n;
      if (acceptNegotiate(Limits{}, in, &resp, &n) == NegotiateOutcome::kAccept) {
        check(n.max_receive_size >= 128 && n.max_send_size >= 128 && resp.credits_granted > 0);
        check(decodeNegotiateResponse(encodeNegotiateResponse(resp)).has_value());
      }
      break;
    }
    case 1:
      if (auto p = decodeNegotiateResponse(in)) {
        check(decodeNegotiateResponse(encodeNegotiateResponse(*p))->status == p->status);
      }
      break;
    case 2:
      dataTransfers(in);
      break;
    case 3:
      if (auto list = decodeBufferDescriptors(in)) check(list->size() * 16 == in.size());
      break;
    default:
      // An SMB2 READ (4) or WRITE (5) request's channel information.
      if (auto list = channelDescriptors(
              in, data[0] % 6 == 4 ? kReadChannelInfoField : kWriteChannelInfoField)) {
        check(!list->empty() && list->size() * 16 <= in.size());
      }
  }
  return 0;
}
