// The client side of the PipeEndpoint and service tests (pipe_test.cc, srvsvc_test.cc,
// wkssvc_test.cc, lsarpc_test.cc, samr_test.cc): a pipe client that binds one interface and
// calls it, policy-handle helpers, and the client-side decoders more than one file uses.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/ndr.h"
#include "rpc/pipe.h"
#include "rpc_test_util.h"

namespace xsmb::rpc::testing {

// ---- a pipe client ------------------------------------------------------------------------

class Client {
 public:
  explicit Client(std::string_view pipe, const SyntaxId& iface,
                  CallerInfo caller = {"bench", "SAMBABARS", false})
      : ep_(PipeEndpoint::create(pipe, testServerInfo(), caller)) {
    EXPECT_NE(ep_, nullptr);
    Bytes out = ep_->write(bindBytes(1, iface));
    std::vector<Bytes> st;
    auto pdus = splitPdus(out, &st);
    EXPECT_EQ(pdus.size(), 1u);
    if (!pdus.empty()) {
      auto* ack = std::get_if<BindAckPdu>(&pdus[0].body);
      EXPECT_NE(ack, nullptr);
      if (ack) EXPECT_EQ(ack->results.at(0).result, kResultAcceptance);
    }
  }
  // Returns the response stub (empty + *fault on a fault).
  Bytes call(uint16_t opnum, ByteSpan stub, uint32_t* fault = nullptr) {
    return responseStub(ep_->write(requestBytes(++call_id_, opnum, stub)), fault);
  }
  PipeEndpoint& ep() { return *ep_; }

 private:
  std::unique_ptr<PipeEndpoint> ep_;
  uint32_t call_id_ = 1;
};

inline Bytes withHandle(Bytes stub, const PolicyHandle& h) {
  NdrWriter w;
  w.policyHandle(h);
  Bytes hb = w.take();
  std::copy(hb.begin(), hb.end(), stub.begin());
  return stub;
}

inline PolicyHandle handleAt(const Bytes& stub, size_t off) {
  NdrReader r(ByteSpan(stub).subspan(off));
  return r.policyHandle();
}

// ---- client-side response decoders ----------------------------------------------------------

inline std::string ustr(NdrReader& r, const UnicodeStringHeader& h) {
  return readUnicodeStringBody(r, h);
}

struct Share {
  std::string name, comment, path;
  uint32_t type = 0;
};
struct ShareEnumResult {
  std::vector<Share> shares;
  uint32_t total = 0, werr = 0;
};

inline ShareEnumResult decodeShareEnum(const Bytes& stub, uint32_t level) {
  NdrReader r(stub);
  ShareEnumResult res;
  EXPECT_EQ(r.u32(), level);
  EXPECT_EQ(r.u32(), level);
  EXPECT_NE(r.pointer(), 0u);
  uint32_t n = r.u32();
  EXPECT_NE(r.pointer(), 0u);
  EXPECT_EQ(r.conformance(4), n);
  std::vector<std::array<uint32_t, 4>> ptrs(n);
  res.shares.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ptrs[i][0] = r.pointer();
    if (level >= 1) {
      res.shares[i].type = r.u32();
      ptrs[i][1] = r.pointer();
    }
    if (level == 2) {
      r.u32();
      r.u32();
      r.u32();
      ptrs[i][2] = r.pointer();
      ptrs[i][3] = r.pointer();
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (ptrs[i][0]) res.shares[i].name = r.cvString();
    if (ptrs[i][1]) res.shares[i].comment = r.cvString();
    if (ptrs[i][2]) res.shares[i].path = r.cvString();
    if (ptrs[i][3]) r.cvString();
  }
  res.total = r.u32();
  if (r.pointer()) r.u32();
  res.werr = r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  return res;
}

inline Bytes serverGetInfoStub(uint32_t level) {
  NdrWriter w;
  w.pointer(true);
  w.cvString("\\\\127.0.0.1");
  w.u32(level);
  return w.take();
}

}  // namespace xsmb::rpc::testing
