#include "common/smb2/durable.h"

#include <algorithm>

namespace xsmb::smb2 {
namespace {

Guid readGuid(ByteReader& r) {
  Guid g{};
  ByteSpan b = r.bytes(g.size());
  if (b.size() == g.size()) std::copy(b.begin(), b.end(), g.begin());
  return g;
}

FileId readFileId(ByteReader& r) {
  FileId id;
  id.persistent = r.u64();
  id.volatile_id = r.u64();
  return id;
}

// One context's data into the field it fills; a context of a kind already seen is refused.
NtStatus parseOne(const CreateContext& c, DurableContexts* out) {
  ByteReader r(c.data);
  if (c.name == kDurableRequestTag) {
    if (c.data.size() != 16 || out->request_v1) return STATUS_INVALID_PARAMETER;
    out->request_v1 = true;
  } else if (c.name == kDurableReconnectTag) {
    if (c.data.size() != 16 || out->reconnect_v1) return STATUS_INVALID_PARAMETER;
    out->reconnect_v1 = readFileId(r);
  } else if (c.name == kDurableRequestV2Tag) {
    if (c.data.size() != 32 || out->request_v2) return STATUS_INVALID_PARAMETER;
    DurableRequestV2 q;
    q.timeout_ms = r.u32();
    q.flags = r.u32();
    r.skip(8);  // Reserved
    q.create_guid = readGuid(r);
    out->request_v2 = q;
  } else if (c.name == "RqLs") {
    if (c.data.size() >= 32 && !out->lease_key) out->lease_key = readGuid(r);
  } else if (c.name == kDurableReconnectV2Tag) {
    if (c.data.size() != 36 || out->reconnect_v2) return STATUS_INVALID_PARAMETER;
    DurableReconnectV2 q;
    q.file_id = readFileId(r);
    q.create_guid = readGuid(r);
    q.flags = r.u32();
    out->reconnect_v2 = q;
  }
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

}  // namespace

NtStatus parseDurableContexts(std::span<const CreateContext> contexts, DurableContexts* out) {
  *out = DurableContexts{};
  for (const CreateContext& c : contexts) {
    if (NtStatus st = parseOne(c, out); st != STATUS_SUCCESS) return st;
  }
  return STATUS_SUCCESS;
}

Bytes encodeDurableResponse() { return Bytes(8, 0); }

Bytes encodeDurableResponseV2(uint32_t timeout_ms, uint32_t flags) {
  ByteWriter w;
  w.u32(timeout_ms);
  w.u32(flags);
  return w.take();
}

}  // namespace xsmb::smb2
