// Every service's request decoders on arbitrary stub data. Input: byte 0 picks the service,
// bytes 1-2 the opnum (little-endian, taken modulo 80 so unknown opnums are hit too), the rest
// is the stub. Before the fuzzed call the service gets the handles a client would hold
// (policy, SAM server/domain/user), whose values are deterministic so the fuzzer can reach
// the code behind the handle checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rpc/ndr.h"
#include "rpc/service.h"

namespace {

using namespace xsmb::rpc;

CallContext context() {
  auto s = std::make_shared<ServerInfo>();
  s->netbios_name = "FUZZ";
  s->workgroup = "WORKGROUP";
  s->server_string = "fuzz";
  s->domain_sid = "S-1-5-21-1-2-3";
  s->shares = {{"data", "Data", "/srv/data", 0, true}, {"hidden", "H", "/h", 0, false}};
  s->users = {{"bench", 1000, "Bench"}, {"alice", 1001, "Alice"}};
  return CallContext{s, {"bench", "FUZZ", false}};
}

xsmb::Bytes handleFrom(const xsmb::Bytes& stub, size_t off) {
  return xsmb::Bytes(stub.begin() + off, stub.begin() + off + 20);
}

void prime(Service& svc, int kind) {
  if (kind == 2) {  // lsarpc: OpenPolicy2
    NdrWriter w;
    w.pointer(false);
    w.u32(24);
    for (int i = 0; i < 4; ++i) w.u32(0);
    w.pointer(false);
    w.u32(0x02000000);
    svc.call(44, w.take());
  } else if (kind == 3) {  // samr: Connect2, OpenDomain, OpenUser(1000)
    NdrWriter c;
    c.pointer(false);
    c.u32(0x02000000);
    xsmb::Bytes server = svc.call(57, c.take()).stub;
    if (server.size() < 20) abort();
    NdrWriter d;
    d.bytes(handleFrom(server, 0));
    d.u32(0x02000000);
    d.sid(*Sid::parse("S-1-5-21-1-2-3"));
    xsmb::Bytes domain = svc.call(7, d.take()).stub;
    if (domain.size() < 20) abort();
    NdrWriter u;
    u.bytes(handleFrom(domain, 0));
    u.u32(0x02000000);
    u.u32(1000);
    svc.call(34, u.take());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  int kind = data[0] % 4;
  uint16_t opnum = static_cast<uint16_t>((data[1] | (data[2] << 8)) % 80);
  std::unique_ptr<Service> svc;
  switch (kind) {
    case 0:
      svc = makeSrvsvc(context());
      break;
    case 1:
      svc = makeWkssvc(context());
      break;
    case 2:
      svc = makeLsarpc(context());
      break;
    default:
      svc = makeSamr(context());
      break;
  }
  prime(*svc, kind);
  CallResult r = svc->call(opnum, xsmb::ByteSpan(data + 3, size - 3));
  if (r.fault == 0 && r.stub.size() < 4) abort();  // every reply ends in a status
  return 0;
}
