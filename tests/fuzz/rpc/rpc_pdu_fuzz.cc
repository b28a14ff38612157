// PipeEndpoint::write on arbitrary bytes. Input: byte 0 picks the pipe (srvsvc, wkssvc,
// lsarpc, samr), byte 1 the write size (1..256, so partial PDUs and fragments are exercised),
// the rest is the client's byte stream. Every output must be a sequence of well-formed PDUs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rpc/pdu.h"
#include "rpc/pipe.h"

namespace {

std::shared_ptr<const xsmb::rpc::ServerInfo> info() {
  static auto i = [] {
    auto s = std::make_shared<xsmb::rpc::ServerInfo>();
    s->netbios_name = "FUZZ";
    s->workgroup = "WORKGROUP";
    s->server_string = "fuzz";
    s->domain_sid = "S-1-5-21-1-2-3";
    s->shares = {{"data", "Data", "/srv/data", 0, true}, {"hidden", "H", "/h", 0, false}};
    s->users = {{"bench", 1000, "Bench"}, {"alice", 1001, "Alice"}};
    return s;
  }();
  return i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb::rpc;
  if (size < 2) return 0;
  static const char* kPipes[] = {"srvsvc", "wkssvc", "lsarpc", "samr"};
  auto ep = PipeEndpoint::create(kPipes[data[0] % 4], info(), {"bench", "FUZZ", false});
  size_t chunk = size_t{data[1]} + 1;
  xsmb::ByteSpan rest(data + 2, size - 2);
  while (!rest.empty()) {
    size_t n = std::min(chunk, rest.size());
    xsmb::Bytes out = ep->write(rest.first(n));
    rest = rest.subspan(n);
    size_t off = 0;
    while (off < out.size()) {
      auto pdu = decodePdu(xsmb::ByteSpan(out).subspan(
          off, std::min<size_t>(out.size() - off, xsmb::loadU16(out.data() + off + 8))));
      if (!pdu.ok()) abort();  // the server produced a malformed PDU
      off += pdu->header.frag_length;
    }
  }
  return 0;
}
