// Input: an SMB2 message or compound chain (no NetBIOS header). Walks the chain by NextCommand as
// the dispatcher does (MS-SMB2 3.3.5.2.7) and runs every request decoder on every message.
// Checks: the header re-encodes to its own bytes; every span a decoder returns lies inside the
// message it was given; counts match what the wire said.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/smb2/header.h"
#include "common/smb2/messages.h"

namespace {

using namespace xsmb;
using namespace xsmb::smb2;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(ByteSpan s, ByteSpan msg) {
  if (s.empty()) return true;
  return s.data() >= msg.data() && s.data() + s.size() <= msg.data() + msg.size();
}

void decodeAll(ByteSpan msg) {
  NegotiateRequest neg;
  if (decodeNegotiateRequest(msg, &neg) == STATUS_SUCCESS) {
    check(!neg.dialects.empty());
    for (const NegotiateContext& c : neg.contexts) check(inside(c.data, msg));
  }
  SessionSetupRequest ss;
  if (decodeSessionSetupRequest(msg, &ss) == STATUS_SUCCESS) check(inside(ss.security_buffer, msg));
  TreeConnectRequest tc;
  (void)decodeTreeConnectRequest(msg, &tc);
  CreateRequest cr;
  if (decodeCreateRequest(msg, &cr) == STATUS_SUCCESS) {
    for (const CreateContext& c : cr.contexts) {
      check(!c.name.empty());
      check(inside(c.data, msg));
    }
  }
  CloseRequest cl;
  (void)decodeCloseRequest(msg, &cl);
  FileId fid;
  (void)decodeFlushRequest(msg, &fid);
  ReadRequest rd;
  (void)decodeReadRequest(msg, &rd);
  WriteRequest wr;
  if (decodeWriteRequest(msg, &wr) == STATUS_SUCCESS) check(inside(wr.data, msg));
  LockRequest lk;
  if (decodeLockRequest(msg, &lk) == STATUS_SUCCESS) {
    check(!lk.locks.empty());
    check(msg.size() >= kHeaderSize + 24 + 24 * lk.locks.size());
  }
  IoctlRequest io;
  if (decodeIoctlRequest(msg, &io) == STATUS_SUCCESS) check(inside(io.input, msg));
  QueryDirectoryRequest qd;
  (void)decodeQueryDirectoryRequest(msg, &qd);
  ChangeNotifyRequest cn;
  (void)decodeChangeNotifyRequest(msg, &cn);
  QueryInfoRequest qi;
  if (decodeQueryInfoRequest(msg, &qi) == STATUS_SUCCESS) check(inside(qi.input, msg));
  SetInfoRequest si;
  if (decodeSetInfoRequest(msg, &si) == STATUS_SUCCESS) check(inside(si.buffer, msg));
  (void)decodeEmptyRequest(msg, 4);
  uint8_t level;
  (void)decodeOplockBreakAck(msg, &level, &fid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan payload(data, size);
  size_t off = 0;
  for (int i = 0; i < 64 && off < payload.size(); ++i) {
    ByteSpan rest = payload.subspan(off);
    Header h;
    if (!decodeHeader(rest, &h)) break;
    ByteWriter w;
    encodeHeader(h, w);
    check(w.size() == kHeaderSize && std::memcmp(w.buf().data(), rest.data(), kHeaderSize) == 0);
    size_t len = rest.size();
    if (h.next_command) {
      if (h.next_command < kHeaderSize || h.next_command > rest.size() || h.next_command % 8) {
        break;
      }
      len = h.next_command;
    }
    decodeAll(rest.first(len));
    if (!h.next_command) break;
    off += len;
  }
  return 0;
}
