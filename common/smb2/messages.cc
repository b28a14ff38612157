#include "common/smb2/messages.h"

#include <algorithm>

#include "common/base/unicode.h"
#include "common/smb2/header.h"

namespace xsmb::smb2 {
namespace {

// A reader positioned at the body, after checking StructureSize. `fixed` is the body size
// without the variable buffer; the body must hold at least that many bytes.
bool openBody(ByteSpan msg, uint16_t structure_size, size_t fixed, ByteReader* r) {
  if (msg.size() < kHeaderSize + fixed) return false;
  *r = ByteReader(msg);
  r->seek(kHeaderSize);
  return r->u16() == structure_size;
}

// The variable buffer [offset, offset+length) of the message, offsets from the header start.
// A zero length is always valid (and empty); otherwise the range must lie after the header
// inside the message.
bool bufferAt(ByteSpan msg, uint32_t offset, uint32_t length, ByteSpan* out) {
  if (length == 0) {
    *out = {};
    return true;
  }
  if (offset < kHeaderSize || offset > msg.size() || length > msg.size() - offset) return false;
  *out = msg.subspan(offset, length);
  return true;
}

bool utf16At(ByteSpan msg, uint32_t offset, uint32_t length, std::string* out) {
  ByteSpan s;
  if (!bufferAt(msg, offset, length, &s)) return false;
  auto str = utf16leToUtf8(s);
  if (!str) return false;
  *out = std::move(*str);
  return true;
}

// Pads to a multiple of 8 bytes counted from `base` (the body start, itself 64 bytes after the
// header start), so alignment holds relative to the SMB2 header wherever the buffer began.
void padFrom(ByteWriter& w, size_t base) { w.zeros((8 - (w.size() - base) % 8) % 8); }

// A variable buffer, or the single pad byte StructureSize counts when the buffer is empty.
void bufferOrPad(ByteWriter& w, ByteSpan b) {
  if (b.empty()) {
    w.u8(0);
  } else {
    w.bytes(b);
  }
}

FileId readFileId(ByteReader& r) {
  FileId f;
  f.persistent = r.u64();
  f.volatile_id = r.u64();
  return f;
}

void writeFileId(const FileId& f, ByteWriter& w) {
  w.u64(f.persistent);
  w.u64(f.volatile_id);
}

}  // namespace

size_t putCreateContexts(const std::vector<std::pair<std::string, Bytes>>& contexts, size_t base,
                         ByteWriter& w) {
  padFrom(w, base);
  size_t chain_start = w.size();
  size_t prev = 0;
  for (size_t i = 0; i < contexts.size(); ++i) {
    padFrom(w, base);
    size_t start = w.size();
    if (i) w.patchU32(prev, static_cast<uint32_t>(start - prev));
    prev = start;
    const auto& [name, data] = contexts[i];
    w.u32(0);                                   // Next
    w.u16(16);                                  // NameOffset
    w.u16(static_cast<uint16_t>(name.size()));  // NameLength
    w.u16(0);                                   // Reserved
    size_t data_off = (16 + name.size() + 7) & ~size_t{7};
    w.u16(data.empty() ? 0 : static_cast<uint16_t>(data_off));
    w.u32(static_cast<uint32_t>(data.size()));
    w.bytes(name.data(), name.size());
    if (!data.empty()) {
      w.zeros(start + data_off - w.size());
      w.bytes(data);
    }
  }
  return chain_start;
}

NtStatus decodeNegotiateRequest(ByteSpan msg, NegotiateRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 36, 36, &r)) return STATUS_INVALID_PARAMETER;
  uint16_t dialect_count = r.u16();
  out->security_mode = r.u16();
  r.skip(2);
  out->capabilities = r.u32();
  ByteSpan guid = r.bytes(16);
  std::copy(guid.begin(), guid.end(), out->client_guid.begin());
  uint32_t ctx_offset = r.u32();
  uint16_t ctx_count = r.u16();
  r.skip(2);
  if (dialect_count == 0) return STATUS_INVALID_PARAMETER;
  out->dialects.clear();
  for (uint16_t i = 0; i < dialect_count; ++i) out->dialects.push_back(r.u16());
  if (!r.ok()) return STATUS_INVALID_PARAMETER;
  out->contexts.clear();
  bool has_311 = std::find(out->dialects.begin(), out->dialects.end(), SMB2_DIALECT_311) !=
                 out->dialects.end();
  if (has_311 && ctx_count > 0) {
    ByteReader c(msg);
    c.seek(ctx_offset);
    for (uint16_t i = 0; i < ctx_count && c.ok(); ++i) {
      c.seek((c.offset() + 7) & ~size_t{7});
      NegotiateContext nc;
      nc.type = c.u16();
      uint16_t len = c.u16();
      c.skip(4);
      nc.data = c.bytes(len);
      if (c.ok()) out->contexts.push_back(nc);
    }
    if (!c.ok()) return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

NtStatus decodeSessionSetupRequest(ByteSpan msg, SessionSetupRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 25, 24, &r)) return STATUS_INVALID_PARAMETER;
  out->flags = r.u8();
  out->security_mode = r.u8();
  out->capabilities = r.u32();
  r.skip(4);  // Channel
  uint16_t off = r.u16();
  uint16_t len = r.u16();
  out->previous_session_id = r.u64();
  if (!r.ok() || !bufferAt(msg, off, len, &out->security_buffer)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeTreeConnectRequest(ByteSpan msg, TreeConnectRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 9, 8, &r)) return STATUS_INVALID_PARAMETER;
  out->flags = r.u16();
  uint16_t off = r.u16();
  uint16_t len = r.u16();
  if (!r.ok() || !utf16At(msg, off, len, &out->path)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeCreateRequest(ByteSpan msg, CreateRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 57, 56, &r)) return STATUS_INVALID_PARAMETER;
  r.skip(1);  // SecurityFlags
  out->requested_oplock_level = r.u8();
  out->impersonation_level = r.u32();
  r.skip(16);  // SmbCreateFlags, Reserved
  out->desired_access = r.u32();
  out->file_attributes = r.u32();
  out->share_access = r.u32();
  out->create_disposition = r.u32();
  out->create_options = r.u32();
  uint16_t name_off = r.u16();
  uint16_t name_len = r.u16();
  uint32_t ctx_off = r.u32();
  uint32_t ctx_len = r.u32();
  if (!r.ok()) return STATUS_INVALID_PARAMETER;
  if (!utf16At(msg, name_off, name_len, &out->name)) return STATUS_INVALID_PARAMETER;
  out->contexts.clear();
  ByteSpan ctx_buf;
  if (!bufferAt(msg, ctx_off, ctx_len, &ctx_buf)) return STATUS_INVALID_PARAMETER;
  size_t pos = 0;
  while (!ctx_buf.empty()) {
    ByteReader c(ctx_buf.subspan(pos));
    uint32_t next = c.u32();
    uint16_t noff = c.u16();
    uint16_t nlen = c.u16();
    c.skip(2);
    uint16_t doff = c.u16();
    uint32_t dlen = c.u32();
    if (!c.ok()) return STATUS_INVALID_PARAMETER;
    ByteSpan name = c.slice(noff, nlen);
    CreateContext cc;
    cc.data = c.slice(doff, dlen);
    if (!c.ok() || nlen == 0) return STATUS_INVALID_PARAMETER;
    cc.name.assign(name.begin(), name.end());
    out->contexts.push_back(std::move(cc));
    if (next == 0) break;
    if (next % 8 || next > ctx_buf.size() - pos) return STATUS_INVALID_PARAMETER;
    pos += next;
  }
  return STATUS_SUCCESS;
}

NtStatus decodeCloseRequest(ByteSpan msg, CloseRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 24, 24, &r)) return STATUS_INVALID_PARAMETER;
  out->flags = r.u16();
  r.skip(4);
  out->file_id = readFileId(r);
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NtStatus decodeFlushRequest(ByteSpan msg, FileId* out) {
  ByteReader r(msg);
  if (!openBody(msg, 24, 24, &r)) return STATUS_INVALID_PARAMETER;
  r.skip(6);
  *out = readFileId(r);
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NtStatus decodeReadRequest(ByteSpan msg, ReadRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 49, 48, &r)) return STATUS_INVALID_PARAMETER;
  out->padding = r.u8();
  out->flags = r.u8();
  out->length = r.u32();
  out->offset = r.u64();
  out->file_id = readFileId(r);
  out->minimum_count = r.u32();
  out->channel = r.u32();
  out->remaining_bytes = r.u32();
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NtStatus decodeWriteRequest(ByteSpan msg, WriteRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 49, 48, &r)) return STATUS_INVALID_PARAMETER;
  uint16_t data_off = r.u16();
  uint32_t length = r.u32();
  out->offset = r.u64();
  out->file_id = readFileId(r);
  out->channel = r.u32();
  out->remaining_bytes = r.u32();
  r.skip(4);  // WriteChannelInfoOffset/Length
  out->flags = r.u32();
  if (!r.ok() || !bufferAt(msg, data_off, length, &out->data)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeLockRequest(ByteSpan msg, LockRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 48, 24, &r)) return STATUS_INVALID_PARAMETER;
  uint16_t count = r.u16();
  out->lock_sequence = r.u32();
  out->file_id = readFileId(r);
  if (count == 0) return STATUS_INVALID_PARAMETER;
  out->locks.clear();
  for (uint16_t i = 0; i < count && r.ok(); ++i) {
    LockElement e;
    e.offset = r.u64();
    e.length = r.u64();
    e.flags = r.u32();
    r.skip(4);
    if (r.ok()) out->locks.push_back(e);
  }
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NtStatus decodeIoctlRequest(ByteSpan msg, IoctlRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 57, 56, &r)) return STATUS_INVALID_PARAMETER;
  r.skip(2);
  out->ctl_code = r.u32();
  out->file_id = readFileId(r);
  uint32_t in_off = r.u32();
  uint32_t in_count = r.u32();
  out->max_input_response = r.u32();
  r.skip(8);  // OutputOffset, OutputCount
  out->max_output_response = r.u32();
  out->flags = r.u32();
  if (!r.ok() || !bufferAt(msg, in_off, in_count, &out->input)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeQueryDirectoryRequest(ByteSpan msg, QueryDirectoryRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 33, 32, &r)) return STATUS_INVALID_PARAMETER;
  out->file_information_class = r.u8();
  out->flags = r.u8();
  out->file_index = r.u32();
  out->file_id = readFileId(r);
  uint16_t off = r.u16();
  uint16_t len = r.u16();
  out->output_buffer_length = r.u32();
  if (!r.ok() || !utf16At(msg, off, len, &out->pattern)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeChangeNotifyRequest(ByteSpan msg, ChangeNotifyRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 32, 32, &r)) return STATUS_INVALID_PARAMETER;
  out->flags = r.u16();
  out->output_buffer_length = r.u32();
  out->file_id = readFileId(r);
  out->completion_filter = r.u32();
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NtStatus decodeQueryInfoRequest(ByteSpan msg, QueryInfoRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 41, 40, &r)) return STATUS_INVALID_PARAMETER;
  out->info_type = r.u8();
  out->file_info_class = r.u8();
  out->output_buffer_length = r.u32();
  uint16_t in_off = r.u16();
  r.skip(2);
  uint32_t in_len = r.u32();
  out->additional_information = r.u32();
  out->flags = r.u32();
  out->file_id = readFileId(r);
  if (!r.ok() || !bufferAt(msg, in_off, in_len, &out->input)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeSetInfoRequest(ByteSpan msg, SetInfoRequest* out) {
  ByteReader r(msg);
  if (!openBody(msg, 33, 32, &r)) return STATUS_INVALID_PARAMETER;
  out->info_type = r.u8();
  out->file_info_class = r.u8();
  uint32_t len = r.u32();
  uint16_t off = r.u16();
  r.skip(2);
  out->additional_information = r.u32();
  out->file_id = readFileId(r);
  if (!r.ok() || !bufferAt(msg, off, len, &out->buffer)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeEmptyRequest(ByteSpan msg, uint16_t structure_size) {
  ByteReader r(msg);
  if (!openBody(msg, structure_size, 4, &r)) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

NtStatus decodeOplockBreakAck(ByteSpan msg, uint8_t* oplock_level, FileId* file_id) {
  ByteReader r(msg);
  if (!openBody(msg, 24, 24, &r)) return STATUS_INVALID_PARAMETER;
  *oplock_level = r.u8();
  r.skip(5);
  *file_id = readFileId(r);
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

// ---- Responses: one put() per body of ResponseBody, all reached through encodeResponse. ----

namespace {

// MS-SMB2 2.2.2. Also what std::monostate encodes to.
void put(const ErrorResponse& r, ByteWriter& w) {
  w.u16(9);
  w.u8(0);                                            // ErrorContextCount
  w.u8(0);                                            // Reserved
  w.u32(static_cast<uint32_t>(r.error_data.size()));  // ByteCount
  bufferOrPad(w, r.error_data);
}

// The bodies that are StructureSize 4 and Reserved (2.2.8, 2.2.12, 2.2.18, 2.2.27, 2.2.29).
void putStructureSize4(ByteWriter& w) {
  w.u16(4);
  w.u16(0);
}

// MS-SMB2 2.2.4.
void put(const NegotiateResponse& r, ByteWriter& w) {
  size_t base = w.size();  // body start == header offset 64
  w.u16(65);
  w.u16(r.security_mode);
  w.u16(r.dialect);
  w.u16(r.dialect == SMB2_DIALECT_311 ? static_cast<uint16_t>(r.contexts.size()) : 0);
  w.bytes(r.server_guid.data(), r.server_guid.size());
  w.u32(r.capabilities);
  w.u32(r.max_transact_size);
  w.u32(r.max_read_size);
  w.u32(r.max_write_size);
  w.u64(r.system_time);
  w.u64(r.server_start_time);
  w.u16(static_cast<uint16_t>(kHeaderSize + 64));  // SecurityBufferOffset
  w.u16(static_cast<uint16_t>(r.security_buffer.size()));
  size_t ctx_offset_pos = w.size();
  w.u32(0);  // NegotiateContextOffset, patched below
  w.bytes(r.security_buffer);
  if (r.dialect == SMB2_DIALECT_311 && !r.contexts.empty()) {
    padFrom(w, base);
    w.patchU32(ctx_offset_pos, static_cast<uint32_t>(kHeaderSize + (w.size() - base)));
    for (size_t i = 0; i < r.contexts.size(); ++i) {
      if (i) padFrom(w, base);
      w.u16(r.contexts[i].first);
      w.u16(static_cast<uint16_t>(r.contexts[i].second.size()));
      w.u32(0);
      w.bytes(r.contexts[i].second);
    }
  }
  if (r.security_buffer.empty() && r.contexts.empty()) w.u8(0);
}

// MS-SMB2 2.2.6.
void put(const SessionSetupResponse& r, ByteWriter& w) {
  w.u16(9);
  w.u16(r.session_flags);
  w.u16(r.security_buffer.empty() ? 0 : static_cast<uint16_t>(kHeaderSize + 8));
  w.u16(static_cast<uint16_t>(r.security_buffer.size()));
  bufferOrPad(w, r.security_buffer);
}

// MS-SMB2 2.2.10.
void put(const TreeConnectResponse& r, ByteWriter& w) {
  w.u16(16);
  w.u8(r.share_type);
  w.u8(0);
  w.u32(r.share_flags);
  w.u32(r.capabilities);
  w.u32(r.maximal_access);
}

// MS-SMB2 2.2.14.
void put(const CreateResponse& r, ByteWriter& w) {
  size_t base = w.size();
  w.u16(89);
  w.u8(r.oplock_level);
  w.u8(0);
  w.u32(r.create_action);
  w.u64(r.creation_time);
  w.u64(r.last_access_time);
  w.u64(r.last_write_time);
  w.u64(r.change_time);
  w.u64(r.allocation_size);
  w.u64(r.end_of_file);
  w.u32(r.file_attributes);
  w.u32(0);
  writeFileId(r.file_id, w);
  size_t ctx_hdr = w.size();
  w.u32(0);  // CreateContextsOffset
  w.u32(0);  // CreateContextsLength
  if (r.contexts.empty()) {
    w.u8(0);
    return;
  }
  size_t chain_start = putCreateContexts(r.contexts, base, w);
  w.patchU32(ctx_hdr, static_cast<uint32_t>(kHeaderSize + (chain_start - base)));
  w.patchU32(ctx_hdr + 4, static_cast<uint32_t>(w.size() - chain_start));
}

// MS-SMB2 2.2.16.
void put(const CloseResponse& r, ByteWriter& w) {
  w.u16(60);
  w.u16(r.flags);
  w.u32(0);
  w.u64(r.creation_time);
  w.u64(r.last_access_time);
  w.u64(r.last_write_time);
  w.u64(r.change_time);
  w.u64(r.allocation_size);
  w.u64(r.end_of_file);
  w.u32(r.file_attributes);
}

// MS-SMB2 2.2.20: the fixed part at `at`, patched in place.
void patchReadFixed(const ReadResponse& r, uint32_t data_length, size_t at, ByteWriter& w) {
  w.patchU16(at, 17);
  w.patchU16(at + 2, static_cast<uint16_t>(kHeaderSize + ReadResponse::kFixedSize));  // DataOffset
  w.patchU32(at + 4, data_length);
  w.patchU32(at + 8, r.data_remaining);
  w.patchU32(at + 12, r.flags);
}

void put(const ReadResponse& r, ByteWriter& w) {
  switch (r.placement) {
    case ReadResponse::Placement::kBuffer: {
      size_t at = w.size();
      w.zeros(ReadResponse::kFixedSize);
      patchReadFixed(r, static_cast<uint32_t>(r.buffer.size()), at, w);
      bufferOrPad(w, r.buffer);
      return;
    }
    case ReadResponse::Placement::kInPlace:
      // The data is already there: only the room in front of it is written.
      patchReadFixed(r, r.data_length, w.size() - r.data_length - ReadResponse::kFixedSize, w);
      if (r.data_length == 0) w.u8(0);
      return;
    case ReadResponse::Placement::kSegment: {
      size_t at = w.size();
      w.zeros(ReadResponse::kFixedSize);
      patchReadFixed(r, r.data_length, at, w);
      return;
    }
  }
}

// MS-SMB2 2.2.22.
void put(const WriteResponse& r, ByteWriter& w) {
  w.u16(17);
  w.u16(0);  // Reserved
  w.u32(r.count);
  w.u32(r.remaining);
  w.u16(0);  // WriteChannelInfoOffset
  w.u16(0);  // WriteChannelInfoLength
}

// MS-SMB2 2.2.25.1.
void put(const OplockBreakResponse& r, ByteWriter& w) {
  w.u16(24);
  w.u8(r.oplock_level);
  w.u8(0);   // Reserved
  w.u32(0);  // Reserved2
  writeFileId(r.file_id, w);
}

// MS-SMB2 2.2.25.2.
void put(const LeaseBreakResponse& r, ByteWriter& w) {
  w.u16(36);
  w.u16(0);  // Reserved
  w.u32(0);  // Flags
  w.bytes(r.lease_key);
  w.u32(r.lease_state);
  w.u64(0);  // LeaseDuration
}

// MS-SMB2 2.2.32.
void put(const IoctlResponse& r, ByteWriter& w) {
  w.u16(49);
  w.u16(0);
  w.u32(r.ctl_code);
  writeFileId(r.file_id, w);
  w.u32(static_cast<uint32_t>(kHeaderSize + 48));  // InputOffset
  w.u32(0);                                        // InputCount
  w.u32(static_cast<uint32_t>(kHeaderSize + 48));  // OutputOffset
  w.u32(static_cast<uint32_t>(r.output.size()));
  w.u32(r.flags);
  w.u32(0);  // Reserved2
  w.bytes(r.output);
}

// MS-SMB2 2.2.34, 2.2.36 and 2.2.38: StructureSize 9, OutputBufferOffset 0x48, Length, Buffer.
void putOutputBuffer(const Bytes& output, ByteWriter& w) {
  w.u16(9);
  w.u16(static_cast<uint16_t>(kHeaderSize + 8));
  w.u32(static_cast<uint32_t>(output.size()));
  bufferOrPad(w, output);
}

struct PutBody {
  ByteWriter& w;
  void operator()(std::monostate) const { put(ErrorResponse{}, w); }
  void operator()(const LogoffResponse&) const { putStructureSize4(w); }
  void operator()(const TreeDisconnectResponse&) const { putStructureSize4(w); }
  void operator()(const FlushResponse&) const { putStructureSize4(w); }
  void operator()(const LockResponse&) const { putStructureSize4(w); }
  void operator()(const EchoResponse&) const { putStructureSize4(w); }
  void operator()(const SetInfoResponse&) const { w.u16(2); }
  void operator()(const QueryDirectoryResponse& r) const { putOutputBuffer(r.output_buffer, w); }
  void operator()(const ChangeNotifyResponse& r) const { putOutputBuffer(r.output_buffer, w); }
  void operator()(const QueryInfoResponse& r) const { putOutputBuffer(r.output_buffer, w); }
  template <typename R>
  void operator()(const R& r) const {
    put(r, w);
  }
};

}  // namespace

void encodeResponse(const ResponseBody& body, ByteWriter& w) { std::visit(PutBody{w}, body); }

void encodeNegotiateResponse(const NegotiateResponse& r, ByteWriter& w) { encodeResponse(r, w); }

void encodeSessionSetupResponse(uint16_t session_flags, ByteSpan security_buffer, ByteWriter& w) {
  encodeResponse(
      SessionSetupResponse{session_flags, Bytes(security_buffer.begin(), security_buffer.end())},
      w);
}

void encodeTreeConnectResponse(uint8_t share_type, uint32_t share_flags, uint32_t capabilities,
                               uint32_t maximal_access, ByteWriter& w) {
  encodeResponse(TreeConnectResponse{share_type, share_flags, capabilities, maximal_access}, w);
}

}  // namespace xsmb::smb2
