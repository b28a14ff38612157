#include "rpc/pipe.h"

#include <atomic>

#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {

// MS-RPCE 3.3.1.5.6: fragments must be at least this large.
constexpr uint16_t kMinFragment = 1432;
// Contexts one association may hold (clients use 1-3).
constexpr size_t kMaxContexts = 32;

struct PipeKind {
  const char* name;
  // The interfaces the pipe serves. lsarpc and samr are both served by the LSA process on
  // Windows, and clients bind either interface on either pipe.
  std::vector<const SyntaxId*> interfaces;
};

const std::vector<PipeKind>& pipeKinds() {
  static const std::vector<PipeKind> kinds = {
      {"srvsvc", {&srvsvcSyntax()}},
      {"wkssvc", {&wkssvcSyntax()}},
      {"lsarpc", {&lsarpcSyntax(), &samrSyntax()}},
      {"samr", {&samrSyntax(), &lsarpcSyntax()}},
  };
  return kinds;
}

const PipeKind* findKind(std::string_view name) {
  for (const auto& k : pipeKinds()) {
    if (equalsIgnoreCase(k.name, name)) return &k;
  }
  return nullptr;
}

std::atomic<uint32_t> g_next_assoc_group{0x53F0};

}  // namespace

std::optional<std::string> PipeEndpoint::canonicalName(std::string_view n) {
  if (n.size() >= 6 && equalsIgnoreCase(n.substr(0, 6), "\\PIPE\\")) {
    n.remove_prefix(6);
  } else if (!n.empty() && n[0] == '\\') {
    n.remove_prefix(1);
  }
  const PipeKind* k = findKind(n);
  if (!k) return std::nullopt;
  return std::string(k->name);
}

std::unique_ptr<PipeEndpoint> PipeEndpoint::create(std::string_view pipe_name,
                                                   std::shared_ptr<const ServerInfo> info,
                                                   CallerInfo caller) {
  auto name = canonicalName(pipe_name);
  if (!name || !info) return nullptr;
  return std::unique_ptr<PipeEndpoint>(
      new PipeEndpoint(*std::move(name), std::move(info), std::move(caller)));
}

PipeEndpoint::PipeEndpoint(std::string name, std::shared_ptr<const ServerInfo> info,
                           CallerInfo caller)
    : name_(std::move(name)), ctx_{std::move(info), std::move(caller)} {}

Bytes PipeEndpoint::write(ByteSpan data) {
  Bytes out;
  if (broken_) return out;
  in_.insert(in_.end(), data.begin(), data.end());
  size_t off = 0;
  while (!broken_ && in_.size() - off >= kHeaderSize) {
    ByteSpan rest(in_.data() + off, in_.size() - off);
    auto h = decodeHeader(rest);
    if (!h.ok()) {
      broken_ = true;
      break;
    }
    if (rest.size() < h->frag_length) break;
    handlePdu(rest.first(h->frag_length), &out);
    off += h->frag_length;
  }
  in_.erase(in_.begin(), in_.begin() + static_cast<ptrdiff_t>(off));
  if (broken_) {
    in_.clear();
    pending_ = {};
  }
  return out;
}

void PipeEndpoint::handlePdu(ByteSpan bytes, Bytes* out) {
  auto pdu = decodePdu(bytes);
  if (!pdu.ok()) {
    // The framing was sound (decodeHeader passed), so answer in kind where a reply exists.
    auto h = decodeHeader(bytes);
    if (h->ptype == PType::kBind || h->ptype == PType::kAlterContext) {
      appendBindNak(h->call_id, kRejectNotSpecified, out);
    } else if (h->ptype == PType::kRequest) {
      appendFault(h->call_id, 0, kNcaProtoError, true, out);
    } else {
      broken_ = true;
    }
    return;
  }
  const PduHeader& h = pdu->header;
  bool has_auth = h.auth_length != 0;
  switch (h.ptype) {
    case PType::kBind:
    case PType::kAlterContext:
      handleBind(h, std::get<BindPdu>(pdu->body), has_auth, out);
      return;
    case PType::kRequest:
      handleRequest(h, std::get<RequestPdu>(pdu->body), has_auth, out);
      return;
    case PType::kAuth3:
    case PType::kShutdown:
      return;  // no security context exists; nothing to do
    case PType::kCoCancel:
    case PType::kOrphaned:
      // The client abandons the call being reassembled (C706 12.6.4.11/12).
      if (pending_.active && pending_.call_id == h.call_id) pending_ = {};
      return;
    default:
      // Server-to-client PDUs (response, fault, acks) coming from a client.
      broken_ = true;
      return;
  }
}

Service* PipeEndpoint::serviceFor(const SyntaxId& abstract) {
  const PipeKind* kind = findKind(name_);
  for (const SyntaxId* s : kind->interfaces) {
    if (s->uuid != abstract.uuid || s->major != abstract.major) continue;
    std::string key = s->uuid.toString();
    auto it = services_.find(key);
    if (it != services_.end()) return it->second.get();
    std::unique_ptr<Service> svc;
    if (s == &srvsvcSyntax()) svc = makeSrvsvc(ctx_);
    if (s == &wkssvcSyntax()) svc = makeWkssvc(ctx_);
    if (s == &lsarpcSyntax()) svc = makeLsarpc(ctx_);
    if (s == &samrSyntax()) svc = makeSamr(ctx_);
    Service* raw = svc.get();
    services_.emplace(key, std::move(svc));
    return raw;
  }
  return nullptr;
}

void PipeEndpoint::handleBind(const PduHeader& h, const BindPdu& b, bool has_auth, Bytes* out) {
  bool alter = h.ptype == PType::kAlterContext;
  // C706 12.6.4.3: one bind per association; alter_context only after it. Authentication
  // is not offered on pipes (the SMB session already authenticated the caller).
  if (has_auth) {
    appendBindNak(h.call_id, kRejectAuthTypeNotRecognized, out);
    return;
  }
  if (alter != bound_ || b.contexts.empty()) {
    appendBindNak(h.call_id, kRejectNotSpecified, out);
    return;
  }
  if (!alter && b.max_recv_frag < kMinFragment) {
    appendBindNak(h.call_id, kRejectLocalLimitExceeded, out);
    return;
  }
  BindAckPdu ack;
  std::vector<std::pair<uint16_t, Service*>> accepted;
  for (const ContextElem& c : b.contexts) {
    ContextResult res;
    bool btfn = !c.transfer_syntaxes.empty() && isBindTimeFeatureSyntax(c.transfer_syntaxes[0]);
    if (btfn) {
      // MS-RPCE 3.3.1.5.3: acknowledge the negotiation; no optional features are supported.
      res.result = kResultNegotiateAck;
      res.reason = 0;
    } else if (Service* svc = serviceFor(c.abstract_syntax); svc == nullptr) {
      res.result = kResultProviderRejection;
      res.reason = kReasonAbstractSyntaxNotSupported;
    } else {
      bool ndr20 = false;
      for (const SyntaxId& t : c.transfer_syntaxes) ndr20 = ndr20 || t == ndr20Syntax();
      auto existing = contexts_.find(c.context_id);
      if (!ndr20 || (existing != contexts_.end() && existing->second != svc) ||
          contexts_.size() + accepted.size() >= kMaxContexts) {
        // NDR64-only proposals land here: this server speaks NDR20 only.
        res.result = kResultProviderRejection;
        res.reason = kReasonTransferSyntaxesNotSupported;
      } else {
        res.transfer_syntax = ndr20Syntax();
        accepted.emplace_back(c.context_id, svc);
      }
    }
    ack.results.push_back(res);
  }
  for (auto [id, svc] : accepted) contexts_[id] = svc;
  if (!alter) {
    bound_ = true;
    max_xmit_ = std::min<uint16_t>(b.max_recv_frag, kMaxFragment);
    assoc_group_ = b.assoc_group_id ? b.assoc_group_id : g_next_assoc_group.fetch_add(1);
    ack.secondary_address = "\\PIPE\\" + name_;
  }
  ack.max_xmit_frag = max_xmit_;
  ack.max_recv_frag = kMaxFragment;
  ack.assoc_group_id = assoc_group_;
  PduHeader rh;
  rh.ptype = alter ? PType::kAlterContextResp : PType::kBindAck;
  rh.call_id = h.call_id;
  Bytes pdu = encodePdu(rh, ack);
  out->insert(out->end(), pdu.begin(), pdu.end());
}

void PipeEndpoint::handleRequest(const PduHeader& h, RequestPdu& q, bool has_auth, Bytes* out) {
  if (!bound_ || has_auth) {
    pending_ = {};
    appendFault(h.call_id, q.context_id, kNcaProtoError, true, out);
    return;
  }
  bool first = h.pfc_flags & kPfcFirstFrag;
  bool last = h.pfc_flags & kPfcLastFrag;
  if (first && last && !pending_.active) {
    dispatch(h.call_id, q.context_id, q.opnum, q.stub, out);
    return;
  }
  if (first) {
    if (pending_.active) {
      // A new call while one is being reassembled: the old one is abandoned.
      appendFault(pending_.call_id, pending_.context_id, kNcaProtoError, true, out);
    }
    pending_ = Reassembly{true, h.call_id, q.context_id, q.opnum, std::move(q.stub)};
  } else {
    if (!pending_.active || pending_.call_id != h.call_id || pending_.context_id != q.context_id ||
        pending_.opnum != q.opnum) {
      pending_ = {};
      appendFault(h.call_id, q.context_id, kNcaProtoError, true, out);
      return;
    }
    pending_.stub.insert(pending_.stub.end(), q.stub.begin(), q.stub.end());
  }
  if (pending_.stub.size() > kMaxRequestStub) {
    appendFault(pending_.call_id, pending_.context_id, kNcaProtoError, true, out);
    pending_ = {};
    return;
  }
  if (last) {
    Reassembly done = std::move(pending_);
    pending_ = {};
    dispatch(done.call_id, done.context_id, done.opnum, done.stub, out);
  }
}

void PipeEndpoint::dispatch(uint32_t call_id, uint16_t context_id, uint16_t opnum, ByteSpan stub,
                            Bytes* out) {
  auto it = contexts_.find(context_id);
  if (it == contexts_.end()) {
    appendFault(call_id, context_id, kNcaUnknownInterface, true, out);
    return;
  }
  CallResult res = it->second->call(opnum, stub);
  if (res.fault) {
    appendFault(call_id, context_id, res.fault, res.fault == kNcaOpRangeError, out);
    return;
  }
  for (Bytes& frag : fragmentResponse(call_id, context_id, res.stub, max_xmit_)) {
    out->insert(out->end(), frag.begin(), frag.end());
  }
}

void PipeEndpoint::appendFault(uint32_t call_id, uint16_t context_id, uint32_t status,
                               bool did_not_execute, Bytes* out) {
  PduHeader h;
  h.ptype = PType::kFault;
  h.call_id = call_id;
  if (did_not_execute) h.pfc_flags |= kPfcDidNotExecute;
  FaultPdu f;
  f.context_id = context_id;
  f.status = status;
  Bytes pdu = encodePdu(h, f);
  out->insert(out->end(), pdu.begin(), pdu.end());
}

void PipeEndpoint::appendBindNak(uint32_t call_id, uint16_t reason, Bytes* out) {
  PduHeader h;
  h.ptype = PType::kBindNak;
  h.call_id = call_id;
  BindNakPdu n;
  n.reject_reason = reason;
  Bytes pdu = encodePdu(h, n);
  out->insert(out->end(), pdu.begin(), pdu.end());
}

}  // namespace xsmb::rpc
