// faultForRequest (rpc/rpcd_fault.h) on arbitrary bytes, as a client writes them to a pipe: it
// must never read past the input, and every fault it builds must decode (rpc/pdu.h) as one
// 32-byte fault PDU with the request's call_id and p_cont_id and the status asked for.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "rpc/pdu.h"
#include "rpc/rpcd_fault.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb::rpc;
  auto fault = faultForRequest(xsmb::ByteSpan(data, size), kNcaFaultRemoteCommFailure);
  if (!fault) return 0;
  if (size < 24 || fault->size() != 32) abort();  // a whole request header was read
  auto pdu = decodePdu(*fault);
  if (!pdu.ok() || pdu->header.ptype != PType::kFault) abort();
  const auto* f = std::get_if<FaultPdu>(&pdu->body);
  if (f == nullptr) abort();
  const uint32_t call_id = data[12] | data[13] << 8 | data[14] << 16 | uint32_t{data[15]} << 24;
  const uint16_t context_id = static_cast<uint16_t>(data[20] | data[21] << 8);
  if (pdu->header.call_id != call_id || f->context_id != context_id) abort();
  if (f->status != kNcaFaultRemoteCommFailure) abort();
  return 0;
}
