// The DCE/RPC fault xsmbd answers in place of xsmb-rpcd when the helper died (or hung and was
// killed) while it held a client's request, so that the client's call ends with an RPC fault
// rather than a hang or a torn pipe: a fault PDU (C706 12.6.4.7, MS-RPCE 2.2.2.11) with the
// request's call_id and p_cont_id. The request is untrusted client input: only its common
// header (C706 12.6.3.1, through rpc/pdu.h's decodeHeader) and p_cont_id (C706 12.6.4.9) are
// read, bounds-checked.
#pragma once

#include <cstdint>
#include <optional>

#include "common/base/bytes.h"

namespace xsmb::rpc {

// nca_s_fault_remote_comm_failure (C706 appendix E; the DCE reference ncastat.idl, Samba's
// DCERPC_NCA_S_FAULT_REMOTE_COMM_FAILURE): the server side failed while communicating on the
// call's behalf (here: with its RPC helper); whether the call executed is not known.
constexpr uint32_t kNcaFaultRemoteCommFailure = 0x1C000013;

// A 32-byte fault PDU (first and last fragment, little-endian NDR, no auth verifier,
// alloc_hint 0, cancel_count 0) carrying `status`, answering the request PDU that `request`
// starts with: same rpc_vers_minor, call_id and p_cont_id.
// nullopt when `request` does not start with the 24-byte header of a version 5.0/5.1
// little-endian request PDU (C706 12.6.4.9: common header, alloc_hint, p_cont_id, opnum);
// a bind, alter_context or any other PDU is not answered with a fault (the client's bind
// fails as the pipe does).
std::optional<Bytes> faultForRequest(ByteSpan request, uint32_t status);

}  // namespace xsmb::rpc
