// One open named pipe on IPC$ (MS-SMB2 3.3.5.9 named pipes, MS-RPCE 2.1.1.2 ncacn_np): the
// connection-oriented DCE/RPC association state machine for one client and the services it
// bound. The SMB layer feeds it the bytes the client WRITEs (or sends in
// FSCTL_PIPE_TRANSCEIVE) and hands back what write() returns as the client's next READ data.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "rpc/pdu.h"
#include "rpc/server_info.h"
#include "rpc/service.h"
#include "common/base/bytes.h"

namespace xsmb::rpc {

class PipeEndpoint {
 public:
  // The fragment size this server sends and asks for (what Windows and Samba use).
  static constexpr uint16_t kMaxFragment = 4280;
  // Largest request stub accepted after reassembly of fragments.
  static constexpr size_t kMaxRequestStub = 1 << 20;

  // pipe_name: "srvsvc", "wkssvc", "lsarpc" or "samr", case-insensitive, with or without a
  // leading "\PIPE\" or "\". Returns nullptr for any other name (-> the SMB layer answers
  // STATUS_OBJECT_NAME_NOT_FOUND). `info` must not be null.
  static std::unique_ptr<PipeEndpoint> create(std::string_view pipe_name,
                                              std::shared_ptr<const ServerInfo> info,
                                              CallerInfo caller);

  // Canonical name without prefix ("srvsvc").
  static std::optional<std::string> canonicalName(std::string_view pipe_name);

  // Consumes one client write (any split of PDUs: partial PDUs and request fragments are
  // held until complete) and returns the bytes the client reads next: zero or more complete
  // PDUs (bind_ack, bind_nak, response fragments, faults). Protocol errors inside a
  // well-framed PDU produce a fault or bind_nak; undecodable framing (bad version, data
  // representation, frag_length) sets broken(), after which every write returns nothing and
  // the caller disconnects the pipe. Never crashes on any input.
  Bytes write(ByteSpan client_bytes);

  bool broken() const { return broken_; }
  const std::string& name() const { return name_; }

 private:
  struct Reassembly {
    bool active = false;
    uint32_t call_id = 0;
    uint16_t context_id = 0;
    uint16_t opnum = 0;
    Bytes stub;
  };

  PipeEndpoint(std::string name, std::shared_ptr<const ServerInfo> info, CallerInfo caller);

  void handlePdu(ByteSpan pdu_bytes, Bytes* out);
  void handleBind(const PduHeader& h, const BindPdu& b, bool has_auth, Bytes* out);
  void handleRequest(const PduHeader& h, RequestPdu& q, bool has_auth, Bytes* out);
  void dispatch(uint32_t call_id, uint16_t context_id, uint16_t opnum, ByteSpan stub, Bytes* out);
  void appendFault(uint32_t call_id, uint16_t context_id, uint32_t status, bool did_not_execute,
                   Bytes* out);
  void appendBindNak(uint32_t call_id, uint16_t reason, Bytes* out);
  // The service for an abstract syntax this pipe offers (created on first use), or null.
  Service* serviceFor(const SyntaxId& abstract);

  std::string name_;
  CallContext ctx_;
  Bytes in_;
  bool broken_ = false;
  bool bound_ = false;
  uint16_t max_xmit_ = kMaxFragment;
  uint32_t assoc_group_ = 0;
  std::map<uint16_t, Service*> contexts_;                     // presentation context id -> service
  std::map<std::string, std::unique_ptr<Service>> services_;  // interface uuid -> instance
  Reassembly pending_;
};

}  // namespace xsmb::rpc
