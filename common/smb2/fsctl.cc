#include "common/smb2/fsctl.h"

#include <algorithm>
#include <limits>

#include "common/base/unicode.h"

namespace xsmb::smb2 {
namespace {

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

}  // namespace

Bytes encodeResumeKeyResponse(const ResumeKey& key) {
  ByteWriter w;
  w.bytes(key.data(), key.size());
  w.u32(0);  // ContextLength
  w.u32(0);  // Context: reserved, 4 zero bytes as Windows sends (MS-SMB2 2.2.32.3)
  return w.take();
}

NtStatus decodeCopyChunkCopy(ByteSpan input, CopyChunkCopy* out) {
  ByteReader r(input);
  ByteSpan key = r.bytes(kResumeKeySize);
  out->chunk_count = r.u32();
  r.u32();  // Reserved
  if (!r.ok()) return STATUS_INVALID_PARAMETER;
  std::copy(key.begin(), key.end(), out->source_key.begin());
  if (out->chunk_count > kMaxCopyChunkDecode ||
      r.remaining() / kCopyChunkSize < out->chunk_count) {
    return STATUS_INVALID_PARAMETER;
  }
  out->chunks.clear();
  out->chunks.reserve(out->chunk_count);
  for (uint32_t i = 0; i < out->chunk_count; ++i) {
    CopyChunk c;
    c.source_offset = r.u64();
    c.target_offset = r.u64();
    c.length = r.u32();
    r.u32();  // Reserved
    out->chunks.push_back(c);
  }
  return r.ok() ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

Bytes encodeCopyChunkResponse(const CopyChunkResponse& rsp) {
  ByteWriter w;
  w.u32(rsp.chunks_written);
  w.u32(rsp.chunk_bytes_written);
  w.u32(rsp.total_bytes_written);
  return w.take();
}

bool decodeSetSparse(ByteSpan input) { return input.empty() || input[0] != 0; }

NtStatus decodeZeroDataInformation(ByteSpan input, ZeroDataInformation* out) {
  ByteReader r(input);
  out->file_offset = r.u64();
  out->beyond_final_zero = r.u64();
  if (!r.ok() || out->file_offset > kInt64Max || out->beyond_final_zero > kInt64Max ||
      out->file_offset > out->beyond_final_zero) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

NtStatus decodeAllocatedRange(ByteSpan input, AllocatedRange* out) {
  ByteReader r(input);
  out->file_offset = r.u64();
  out->length = r.u64();
  if (!r.ok() || out->file_offset > kInt64Max || out->length > kInt64Max ||
      out->length > kInt64Max - out->file_offset) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

NtStatus encodeAllocatedRanges(const std::vector<AllocatedRange>& ranges, uint32_t max_output,
                               Bytes* out) {
  out->clear();
  const size_t fit = max_output / kAllocatedRangeSize;
  if (!ranges.empty() && fit == 0) return STATUS_BUFFER_TOO_SMALL;
  ByteWriter w(out);
  const size_t n = std::min(fit, ranges.size());
  for (size_t i = 0; i < n; ++i) {
    w.u64(ranges[i].file_offset);
    w.u64(ranges[i].length);
  }
  return n < ranges.size() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

NtStatus decodeDuplicateExtentsData(ByteSpan input, DuplicateExtentsData* out) {
  ByteReader r(input);
  out->source_persistent = r.u64();
  out->source_volatile = r.u64();
  out->source_offset = r.u64();
  out->target_offset = r.u64();
  out->byte_count = r.u64();
  if (!r.ok() || out->source_offset > kInt64Max || out->target_offset > kInt64Max ||
      out->byte_count > kInt64Max) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

NtStatus encodeSymlinkReparseBuffer(std::string_view target, Bytes* out) {
  std::string windows(target);
  std::replace(windows.begin(), windows.end(), '/', '\\');
  const Bytes name = utf8ToUtf16le(windows);
  // ReparseDataLength covers the 12 bytes of offsets, lengths and flags plus PathBuffer.
  const size_t data_length = 12 + 2 * name.size();
  if (name.size() > 0xFFFF || data_length > 0xFFFF) return STATUS_INVALID_PARAMETER;
  const auto len = static_cast<uint16_t>(name.size());
  ByteWriter w(out);
  out->clear();
  w.u32(IO_REPARSE_TAG_SYMLINK);
  w.u16(static_cast<uint16_t>(data_length));
  w.u16(0);    // Reserved
  w.u16(0);    // SubstituteNameOffset
  w.u16(len);  // SubstituteNameLength
  w.u16(len);  // PrintNameOffset
  w.u16(len);  // PrintNameLength
  w.u32(!target.empty() && target[0] == '/' ? 0 : SYMLINK_FLAG_RELATIVE);
  w.bytes(name);
  w.bytes(name);
  return STATUS_SUCCESS;
}

}  // namespace xsmb::smb2
