// Input and output structures of the FSCTLs served on files (MS-SMB2 2.2.31.1, 2.2.32.x;
// MS-FSCC 2.3). All fields little-endian. The decoders take the IOCTL request's input buffer
// (untrusted bytes) and return STATUS_INVALID_PARAMETER for anything that is short or out of
// range; bytes after a structure are ignored, as Windows does.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::smb2 {

// MS-SMB2 2.2.32.3 SRV_REQUEST_RESUME_KEY: ResumeKey (24 bytes, opaque), ContextLength (4, 0),
// Context (4 reserved zero bytes, as Windows and Samba send them): 32 bytes.
constexpr size_t kResumeKeySize = 24;
using ResumeKey = std::array<uint8_t, kResumeKeySize>;
Bytes encodeResumeKeyResponse(const ResumeKey& key);

// MS-SMB2 2.2.31.1.1 SRV_COPYCHUNK: SourceOffset (8), TargetOffset (8), Length (4), Reserved (4).
struct CopyChunk {
  uint64_t source_offset = 0;
  uint64_t target_offset = 0;
  uint32_t length = 0;
};
// MS-SMB2 2.2.31.1 SRV_COPYCHUNK_COPY: SourceKey (24), ChunkCount (4), Reserved (4), then
// ChunkCount SRV_COPYCHUNK entries (24 bytes each). STATUS_INVALID_PARAMETER when the input is
// shorter than 32 bytes or than ChunkCount entries, or ChunkCount exceeds kMaxCopyChunkDecode
// (so a huge count allocates nothing).
struct CopyChunkCopy {
  ResumeKey source_key{};
  uint32_t chunk_count = 0;  // as sent
  std::vector<CopyChunk> chunks;
};
constexpr size_t kCopyChunkCopyHeaderSize = 32;
constexpr size_t kCopyChunkSize = 24;
constexpr uint32_t kMaxCopyChunkDecode = 65536;
NtStatus decodeCopyChunkCopy(ByteSpan input, CopyChunkCopy* out);

// MS-SMB2 2.2.32.1 SRV_COPYCHUNK_RESPONSE: ChunksWritten, ChunkBytesWritten, TotalBytesWritten
// (4 bytes each, 12 in all).
struct CopyChunkResponse {
  uint32_t chunks_written = 0;
  uint32_t chunk_bytes_written = 0;
  uint32_t total_bytes_written = 0;
};
constexpr size_t kCopyChunkResponseSize = 12;
Bytes encodeCopyChunkResponse(const CopyChunkResponse& r);

// MS-FSCC 2.3.64 FILE_SET_SPARSE_BUFFER: SetSparse (1 byte, boolean). An empty input means TRUE
// (MS-FSCC 2.3.63); longer input is accepted, only the first byte counts. Never fails.
bool decodeSetSparse(ByteSpan input);

// MS-FSCC 2.3.85 FILE_ZERO_DATA_INFORMATION: FileOffset (8, signed), BeyondFinalZero (8, signed).
// STATUS_INVALID_PARAMETER when shorter than 16 bytes, either is negative, or FileOffset >
// BeyondFinalZero (MS-FSA 2.1.5.9.38).
struct ZeroDataInformation {
  uint64_t file_offset = 0;
  uint64_t beyond_final_zero = 0;
};
NtStatus decodeZeroDataInformation(ByteSpan input, ZeroDataInformation* out);

// MS-FSCC 2.3.46 FILE_ALLOCATED_RANGE_BUFFER: FileOffset (8, signed), Length (8, signed).
// STATUS_INVALID_PARAMETER when shorter than 16 bytes, either is negative, or FileOffset +
// Length exceeds INT64_MAX (MS-FSA 2.1.5.9.22).
struct AllocatedRange {
  uint64_t file_offset = 0;
  uint64_t length = 0;
};
constexpr size_t kAllocatedRangeSize = 16;
NtStatus decodeAllocatedRange(ByteSpan input, AllocatedRange* out);
// The FSCTL_QUERY_ALLOCATED_RANGES output: as many 16-byte entries of `ranges` as fit in
// `max_output` bytes. STATUS_SUCCESS when all fit, STATUS_BUFFER_OVERFLOW when some were left
// out, STATUS_BUFFER_TOO_SMALL (nothing written) when not even one fits but one is due
// (MS-FSA 2.1.5.9.22).
NtStatus encodeAllocatedRanges(const std::vector<AllocatedRange>& ranges, uint32_t max_output,
                               Bytes* out);

// MS-FSCC 2.3.8 DUPLICATE_EXTENTS_DATA (SMB2 form): FileHandle (16: Persistent, Volatile),
// SourceFileOffset (8), TargetFileOffset (8), ByteCount (8); 40 bytes. STATUS_INVALID_PARAMETER
// when shorter, or when an offset or the count exceeds INT64_MAX.
struct DuplicateExtentsData {
  uint64_t source_persistent = 0;
  uint64_t source_volatile = 0;
  uint64_t source_offset = 0;
  uint64_t target_offset = 0;
  uint64_t byte_count = 0;
};
constexpr size_t kDuplicateExtentsDataSize = 40;
NtStatus decodeDuplicateExtentsData(ByteSpan input, DuplicateExtentsData* out);

// MS-FSCC 2.1.2.4 Symbolic Link Reparse Data Buffer for a POSIX symlink `target` (UTF-8, '/'):
// ReparseTag IO_REPARSE_TAG_SYMLINK (0xA000000C), ReparseDataLength, Reserved, then
// SubstituteNameOffset/Length, PrintNameOffset/Length (bytes, from PathBuffer), Flags
// (SYMLINK_FLAG_RELATIVE = 1 unless the target starts with '/'), and PathBuffer: the substitute
// name and the print name, both the target in UTF-16LE with '\' separators.
// Invalid UTF-8 becomes U+FFFD; STATUS_INVALID_PARAMETER when the names do not fit 16-bit lengths.
constexpr uint32_t IO_REPARSE_TAG_SYMLINK = 0xA000000C;
constexpr uint32_t SYMLINK_FLAG_RELATIVE = 0x00000001;
NtStatus encodeSymlinkReparseBuffer(std::string_view target, Bytes* out);

}  // namespace xsmb::smb2
