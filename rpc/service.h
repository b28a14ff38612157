// The interface every DCE/RPC interface implementation (srvsvc, wkssvc, lsarpc, samr)
// offers PipeEndpoint, plus what they share: context-handle tables and account lookup in the
// ServerInfo snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "rpc/ndr.h"
#include "rpc/pdu.h"
#include "rpc/server_info.h"
#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::rpc {

// Outcome of one call: a fault status (C706 / MS-RPCE 2.2.2.11; the stub is then ignored)
// or the NDR20-encoded [out] parameters and return value.
struct CallResult {
  uint32_t fault = 0;
  Bytes stub;
};

struct CallContext {
  std::shared_ptr<const ServerInfo> info;
  CallerInfo caller;
};

class Service {
 public:
  virtual ~Service() = default;
  // Decodes the [in] parameters of `opnum` from `stub` (NDR20), runs the call and encodes
  // the response. Unknown opnum -> kNcaOpRangeError; undecodable stub -> kFaultBadStubData.
  virtual CallResult call(uint16_t opnum, ByteSpan stub) = 0;
};

// Interface identifiers (abstract syntaxes).
const SyntaxId& srvsvcSyntax();  // MS-SRVS: 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0
const SyntaxId& wkssvcSyntax();  // MS-WKST: 6bffd098-a112-3610-9833-46c3f87e345a v1.0
const SyntaxId& lsarpcSyntax();  // MS-LSAT: 12345778-1234-abcd-ef00-0123456789ab v0.0
const SyntaxId& samrSyntax();    // MS-SAMR: 12345778-1234-abcd-ef00-0123456789ac v1.0

std::unique_ptr<Service> makeSrvsvc(CallContext ctx);
std::unique_ptr<Service> makeWkssvc(CallContext ctx);
std::unique_ptr<Service> makeLsarpc(CallContext ctx);
std::unique_ptr<Service> makeSamr(CallContext ctx);

// Context handles of one service instance (one pipe); each maps to a small state value.
// Handles are never reused within the instance; at most kMaxHandles are open at once.
template <typename State>
class HandleTable {
 public:
  static constexpr size_t kMaxHandles = 1024;

  // Returns nullopt when the table is full.
  std::optional<PolicyHandle> add(State state, uint8_t kind) {
    if (table_.size() >= kMaxHandles) return std::nullopt;
    PolicyHandle h;
    uint64_t id = ++next_;
    h.uuid[0] = kind;
    for (int i = 0; i < 8; ++i) h.uuid[8 + i] = static_cast<uint8_t>(id >> (8 * i));
    table_.emplace(key(h), std::move(state));
    return h;
  }
  State* find(const PolicyHandle& h) {
    auto it = table_.find(key(h));
    return it == table_.end() ? nullptr : &it->second;
  }
  bool remove(const PolicyHandle& h) { return table_.erase(key(h)) > 0; }

 private:
  static std::array<uint8_t, 20> key(const PolicyHandle& h) {
    std::array<uint8_t, 20> k{};
    storeU32(k.data(), h.attributes);
    std::copy(h.uuid.begin(), h.uuid.end(), k.begin() + 4);
    return k;
  }
  std::map<std::array<uint8_t, 20>, State> table_;
  uint64_t next_ = 0;
};

// Account helpers over the snapshot.
const UserInfo* findUserByName(const ServerInfo& info, std::string_view name);
const UserInfo* findUserByRid(const ServerInfo& info, uint32_t rid);
// The snapshot's domain SID; a fixed placeholder when it does not parse (the core always
// supplies a valid one; this keeps a broken snapshot from crashing the helper).
Sid domainSidOf(const ServerInfo& info);
// Splits "DOMAIN\name" (or "name@DOMAIN" is not supported) into domain ("" if none) and name.
std::pair<std::string_view, std::string_view> splitAccountName(std::string_view full);

// NTSTATUS results are common/smb2/ntstatus.h's values (STATUS_SUCCESS, STATUS_NONE_MAPPED...).

// SID_NAME_USE (MS-LSAT 2.2.13, MS-SAMR 2.2.2.3): what kind of account a SID or name is.
constexpr uint16_t kSidTypeUser = 1;
constexpr uint16_t kSidTypeGroup = 2;
constexpr uint16_t kSidTypeDomain = 3;
constexpr uint16_t kSidTypeUnknown = 8;
// DOMAIN_GROUP_RID_USERS (MS-DTYP 2.4.2.4): "Domain Users", every user's primary group.
constexpr uint32_t kDomainUsersRid = 513;
// PLATFORM_ID_NT (MS-SRVS 2.2.2.6, MS-WKST 2.2.5.1): the platform srvsvc and wkssvc report.
constexpr uint32_t kPlatformIdNt = 500;

// WERROR values (MS-ERREF 2.2).
constexpr uint32_t kWerrOk = 0;
constexpr uint32_t kWerrAccessDenied = 5;        // ERROR_ACCESS_DENIED
constexpr uint32_t kWerrInvalidLevel = 124;      // ERROR_INVALID_LEVEL
constexpr uint32_t kWerrNetNameNotFound = 2310;  // NERR_NetNameNotFound
constexpr uint32_t kWerrInvalidParameter = 87;

}  // namespace xsmb::rpc
