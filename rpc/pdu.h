// Connection-oriented DCE/RPC PDUs (C706 chapter 12.6, MS-RPCE 2.2.2): the 16-byte common
// header and the bodies of bind, bind_ack, bind_nak, alter_context, alter_context_resp,
// request, response and fault. Only little-endian / ASCII / IEEE data representation is
// decoded (what every Windows and Samba client sends); anything else is rejected.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"

namespace xsmb::rpc {

enum class PType : uint8_t {
  kRequest = 0,
  kResponse = 2,
  kFault = 3,
  kBind = 11,
  kBindAck = 12,
  kBindNak = 13,
  kAlterContext = 14,
  kAlterContextResp = 15,
  kAuth3 = 16,
  kShutdown = 17,
  kCoCancel = 18,
  kOrphaned = 19,
};

// pfc_flags (C706 12.6.3.1).
constexpr uint8_t kPfcFirstFrag = 0x01;
constexpr uint8_t kPfcLastFrag = 0x02;
constexpr uint8_t kPfcPendingCancel = 0x04;
constexpr uint8_t kPfcConcMpx = 0x10;
constexpr uint8_t kPfcDidNotExecute = 0x20;
constexpr uint8_t kPfcMaybe = 0x40;
constexpr uint8_t kPfcObjectUuid = 0x80;

constexpr size_t kHeaderSize = 16;
constexpr uint32_t kDrepLittleEndian = 0x00000010;  // drep bytes 10 00 00 00

// Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11 / 3.1.1.5.5).
constexpr uint32_t kNcaOpRangeError = 0x1C010002;      // nca_s_op_rng_error: unknown opnum
constexpr uint32_t kNcaUnknownInterface = 0x1C010003;  // nca_s_unknown_if: unbound context
constexpr uint32_t kNcaProtoError = 0x1C01000B;        // nca_proto_error
constexpr uint32_t kNcaUnsupportedType = 0x1C00000F;   // nca_unsupported_type
constexpr uint32_t kNcaAccessDenied = 0x00000005;      // nca_s_fault_access_denied

// bind_nak provider_reject_reason (C706 12.6.3.2 p_reject_reason_t).
constexpr uint16_t kRejectNotSpecified = 0;
constexpr uint16_t kRejectLocalLimitExceeded = 2;
constexpr uint16_t kRejectProtocolVersionNotSupported = 4;
constexpr uint16_t kRejectAuthTypeNotRecognized = 8;

// p_cont_def_result_t and p_provider_reason_t (C706 12.6.3.1, MS-RPCE 2.2.2.4).
constexpr uint16_t kResultAcceptance = 0;
constexpr uint16_t kResultProviderRejection = 2;
constexpr uint16_t kResultNegotiateAck = 3;  // bind time feature negotiation (MS-RPCE 3.3.1.5.3)
constexpr uint16_t kReasonAbstractSyntaxNotSupported = 1;
constexpr uint16_t kReasonTransferSyntaxesNotSupported = 2;

// A UUID as DCE encodes it on the wire: time_low, time_mid, time_hi little-endian, then
// clock_seq and node as bytes (MS-DTYP 2.3.4.2).
struct Uuid {
  std::array<uint8_t, 16> bytes{};
  // "8a885d04-1ceb-11c9-9fe8-08002b104860" -> wire order; nullopt if malformed.
  static std::optional<Uuid> parse(std::string_view text);
  std::string toString() const;
  bool operator==(const Uuid&) const = default;
};

// p_syntax_id_t: interface or transfer syntax UUID plus version (major in the low 16 bits).
struct SyntaxId {
  Uuid uuid;
  uint16_t major = 0;
  uint16_t minor = 0;
  bool operator==(const SyntaxId&) const = default;
};

const SyntaxId& ndr20Syntax();  // 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0
const SyntaxId& ndr64Syntax();  // 71710533-beba-4937-8319-b5dbef9ccc36 v1.0
// Bind time feature negotiation syntaxes start 6cb71c2c-9812-4540- (MS-RPCE 2.2.2.14).
bool isBindTimeFeatureSyntax(const SyntaxId& s);

struct PduHeader {
  uint8_t rpc_vers = 5;
  uint8_t rpc_vers_minor = 0;
  PType ptype = PType::kRequest;
  uint8_t pfc_flags = kPfcFirstFrag | kPfcLastFrag;
  uint32_t drep = kDrepLittleEndian;
  uint16_t frag_length = 0;  // whole PDU incl. header and auth trailer
  uint16_t auth_length = 0;  // auth_value bytes (0 = no verifier)
  uint32_t call_id = 0;
};

struct ContextElem {
  uint16_t context_id = 0;
  SyntaxId abstract_syntax;
  std::vector<SyntaxId> transfer_syntaxes;
};

// bind and alter_context (C706 12.6.4.3 / 12.6.4.1).
struct BindPdu {
  uint16_t max_xmit_frag = 0;
  uint16_t max_recv_frag = 0;
  uint32_t assoc_group_id = 0;
  std::vector<ContextElem> contexts;
};

struct ContextResult {
  uint16_t result = kResultAcceptance;
  uint16_t reason = 0;
  SyntaxId transfer_syntax;  // all zero for rejections
};

// bind_ack and alter_context_resp (C706 12.6.4.4 / 12.6.4.2).
struct BindAckPdu {
  uint16_t max_xmit_frag = 0;
  uint16_t max_recv_frag = 0;
  uint32_t assoc_group_id = 0;
  std::string secondary_address;  // e.g. "\PIPE\srvsvc"; "" in alter_context_resp
  std::vector<ContextResult> results;
};

// bind_nak (C706 12.6.4.5).
struct BindNakPdu {
  uint16_t reject_reason = kRejectNotSpecified;
  std::vector<std::pair<uint8_t, uint8_t>> versions = {{5, 0}};
};

// request (C706 12.6.4.9).
struct RequestPdu {
  uint32_t alloc_hint = 0;
  uint16_t context_id = 0;
  uint16_t opnum = 0;
  std::optional<Uuid> object;  // present iff PFC_OBJECT_UUID
  Bytes stub;
};

// response (C706 12.6.4.10).
struct ResponsePdu {
  uint32_t alloc_hint = 0;
  uint16_t context_id = 0;
  uint8_t cancel_count = 0;
  Bytes stub;
};

// fault (C706 12.6.4.7).
struct FaultPdu {
  uint32_t alloc_hint = 0;
  uint16_t context_id = 0;
  uint8_t cancel_count = 0;
  uint32_t status = 0;
};

// PDUs with no body that this server reads (auth3, shutdown, co_cancel, orphaned).
struct EmptyPdu {};

using PduBody =
    std::variant<EmptyPdu, BindPdu, BindAckPdu, BindNakPdu, RequestPdu, ResponsePdu, FaultPdu>;

struct Pdu {
  PduHeader header;
  PduBody body;
  ByteSpan auth_value;  // the auth verifier's credentials (into the decoded buffer); empty if none
};

// Decodes the 16-byte common header; fails on rpc_vers != 5, minor > 1, a non-little-endian
// drep, frag_length < 16 or an auth_length that does not fit.
absl::StatusOr<PduHeader> decodeHeader(ByteSpan data);

// Decodes one complete PDU (data.size() must equal frag_length). Unknown ptypes fail.
// BindPdu is used for both bind and alter_context; BindAckPdu for both acks.
absl::StatusOr<Pdu> decodePdu(ByteSpan data);

// Encodes one PDU; frag_length (and auth_length = 0) are filled in from the body.
Bytes encodePdu(PduHeader header, const PduBody& body);

// Splits a response stub into response PDUs of at most `max_frag` bytes each (first/last
// flags, alloc_hint = stub bytes left); max_frag is clamped to at least 32.
std::vector<Bytes> fragmentResponse(uint32_t call_id, uint16_t context_id, ByteSpan stub,
                                    uint16_t max_frag);

}  // namespace xsmb::rpc
