// Input: the input buffer of an IOCTL request (untrusted), byte 0 choosing which FSCTL structure
// parser of common/smb2/fsctl.h reads the rest. Accepted structures are checked against the
// rules their decoders promise.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "common/smb2/fsctl.h"

namespace {

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  using namespace xsmb::smb2;
  if (size == 0) return 0;
  const ByteSpan in(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      CopyChunkCopy cc;
      if (decodeCopyChunkCopy(in, &cc) == STATUS_SUCCESS) {
        check(cc.chunks.size() == cc.chunk_count);
        check(in.size() >= kCopyChunkCopyHeaderSize + kCopyChunkSize * cc.chunks.size());
        check(encodeCopyChunkResponse({cc.chunk_count, 0, 0}).size() == kCopyChunkResponseSize);
      }
      break;
    }
    case 1: {
      ZeroDataInformation z;
      if (decodeZeroDataInformation(in, &z) == STATUS_SUCCESS)
        check(z.file_offset <= z.beyond_final_zero && z.beyond_final_zero <= kInt64Max);
      break;
    }
    case 2: {
      AllocatedRange r;
      if (decodeAllocatedRange(in, &r) == STATUS_SUCCESS) {
        check(r.file_offset + r.length <= kInt64Max);
        Bytes out;
        const uint32_t max_output = static_cast<uint32_t>(r.length & 0xFFFF);
        NtStatus st = encodeAllocatedRanges({r, r}, max_output, &out);
        check(out.size() <= max_output);
        check(st != STATUS_SUCCESS || out.size() == 2 * kAllocatedRangeSize);
      }
      break;
    }
    case 3: {
      DuplicateExtentsData d;
      if (decodeDuplicateExtentsData(in, &d) == STATUS_SUCCESS)
        check(in.size() >= kDuplicateExtentsDataSize && d.byte_count <= kInt64Max);
      break;
    }
    case 4:
      decodeSetSparse(in);
      break;
    default: {
      Bytes out;
      const std::string_view target(reinterpret_cast<const char*>(in.data()), in.size());
      if (encodeSymlinkReparseBuffer(target, &out) == STATUS_SUCCESS) {
        check(out.size() >= 20);
        check(out.size() - 8 == static_cast<size_t>(out[4] | (out[5] << 8)));
      }
      break;
    }
  }
  return 0;
}
