#include "rpc/rpcd_fault.h"

#include "rpc/pdu.h"

namespace xsmb::rpc {

std::optional<Bytes> faultForRequest(ByteSpan request, uint32_t status) {
  auto header = decodeHeader(request);
  if (!header.ok() || header->ptype != PType::kRequest) return std::nullopt;
  ByteReader r(request);
  r.skip(kHeaderSize);
  r.u32();  // alloc_hint
  const uint16_t context_id = r.u16();
  r.u16();  // opnum: the 24-byte request header is complete
  if (!r.ok()) return std::nullopt;
  PduHeader h;
  h.rpc_vers_minor = header->rpc_vers_minor;
  h.ptype = PType::kFault;
  h.call_id = header->call_id;
  FaultPdu f;
  f.context_id = context_id;
  f.status = status;
  return encodePdu(h, f);
}

}  // namespace xsmb::rpc
