// Helpers for the rpc unit tests: capture fixtures, PDU builders and a client-side view of
// the bytes a PipeEndpoint returns.
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/pdu.h"
#include "rpc/pipe.h"
#include "rpc/service.h"

namespace xsmb::rpc::testing {

inline Bytes loadFixture(const std::string& name) {
  std::ifstream f(std::string(XSMB_RPC_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The stub of a captured request or response PDU (after its 24-byte header).
inline Bytes fixtureStub(const std::string& name) {
  auto pdu = decodePdu(loadFixture(name));
  EXPECT_TRUE(pdu.ok()) << name;
  if (!pdu.ok()) return {};
  if (auto* q = std::get_if<RequestPdu>(&pdu->body)) return q->stub;
  if (auto* p = std::get_if<ResponsePdu>(&pdu->body)) return p->stub;
  return {};
}

inline Bytes bindBytes(uint32_t call_id, const SyntaxId& abstract,
                       std::vector<SyntaxId> transfers = {ndr20Syntax()}, uint16_t max_frag = 4280,
                       PType type = PType::kBind, uint16_t context_id = 0) {
  PduHeader h;
  h.ptype = type;
  h.call_id = call_id;
  BindPdu b;
  b.max_xmit_frag = max_frag;
  b.max_recv_frag = max_frag;
  b.contexts.push_back(ContextElem{context_id, abstract, std::move(transfers)});
  return encodePdu(h, b);
}

inline Bytes requestBytes(uint32_t call_id, uint16_t opnum, ByteSpan stub, uint16_t ctx = 0,
                          uint8_t flags = kPfcFirstFrag | kPfcLastFrag) {
  PduHeader h;
  h.ptype = PType::kRequest;
  h.call_id = call_id;
  h.pfc_flags = flags;
  RequestPdu q;
  q.alloc_hint = static_cast<uint32_t>(stub.size());
  q.context_id = ctx;
  q.opnum = opnum;
  q.stub.assign(stub.begin(), stub.end());
  return encodePdu(h, q);
}

// Splits server output into PDUs (each must decode).
inline std::vector<Pdu> splitPdus(const Bytes& out, std::vector<Bytes>* storage) {
  std::vector<Pdu> pdus;
  size_t off = 0;
  storage->clear();
  storage->reserve(out.size() / 16 + 1);
  while (off < out.size()) {
    auto h = decodeHeader(ByteSpan(out).subspan(off));
    EXPECT_TRUE(h.ok());
    if (!h.ok() || off + h->frag_length > out.size()) break;
    storage->emplace_back(out.begin() + off, out.begin() + off + h->frag_length);
    auto p = decodePdu(storage->back());
    EXPECT_TRUE(p.ok());
    if (p.ok()) pdus.push_back(*p);
    off += h->frag_length;
  }
  EXPECT_EQ(off, out.size());
  return pdus;
}

// Reassembles the response fragments in `out`; fails the test on a fault.
inline Bytes responseStub(const Bytes& out, uint32_t* fault = nullptr) {
  std::vector<Bytes> storage;
  Bytes stub;
  for (const Pdu& p : splitPdus(out, &storage)) {
    if (auto* f = std::get_if<FaultPdu>(&p.body)) {
      if (fault)
        *fault = f->status;
      else
        ADD_FAILURE() << "fault 0x" << std::hex << f->status;
      return {};
    }
    auto* r = std::get_if<ResponsePdu>(&p.body);
    EXPECT_NE(r, nullptr);
    if (r) stub.insert(stub.end(), r->stub.begin(), r->stub.end());
  }
  return stub;
}

inline std::shared_ptr<const ServerInfo> testServerInfo() {
  auto info = std::make_shared<ServerInfo>();
  info->netbios_name = "SAMBABARS";
  info->workgroup = "WORKGROUP";
  info->server_string = "xsmbd test";
  info->domain_sid = "S-1-5-21-3956432685-3068663317-851033068";
  info->shares = {{"data", "Data share", "/srv/data", kStypeDisktree, true},
                  {"secret", "Hidden share", "/srv/secret", kStypeDisktree, false},
                  {"public", "Public files", "/srv/public", kStypeDisktree, true}};
  info->users = {{"bench", 1000, "Bench User"}, {"alice", 1003, "Alice A"}};
  return info;
}

}  // namespace xsmb::rpc::testing
