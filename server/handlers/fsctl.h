// FSCTLs on files and their data (MS-SMB2 3.3.5.15, MS-FSCC 2.3, MS-FSA 2.1.5.9): server-side
// copy (fsctl_copy.cc) and sparse files, zeroing, allocated ranges and reparse points
// (fsctl_sparse.cc). Each takes the decoded IOCTL request, fills `out` with the FSCTL's output
// buffer and returns the status of the response. handleIoctl (ioctl.cc) dispatches to them.
#pragma once

#include "common/base/bytes.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {

// Server-side copy limits (MS-SMB2 3.3.3.1 ServerSideCopyMaxNumberofChunks,
// ServerSideCopyMaxChunkSize, ServerSideCopyMaxDataSize; Windows' values, MS-SMB2 <283>).
constexpr uint32_t kCopyChunkMaxChunks = 256;
constexpr uint32_t kCopyChunkMaxChunkSize = 1024 * 1024;
constexpr uint32_t kCopyChunkMaxTotalSize = 16 * 1024 * 1024;

// FSCTL_SRV_REQUEST_RESUME_KEY (MS-SMB2 3.3.5.15.5): a 24-byte key naming the open, for use as
// SourceKey of a later copy on this connection (SRV_REQUEST_RESUME_KEY, 32 bytes).
NtStatus fsctlRequestResumeKey(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE (MS-SMB2 3.3.5.15.6): copies the chunks from
// the open named by SourceKey to the request's open with copy_file_range (a buffer where that
// cannot), honouring byte-range locks of other opens on both sides. Output SRV_COPYCHUNK_RESPONSE.
// A request over the limits returns STATUS_INVALID_PARAMETER *with* the limits as output; an
// error while copying (STATUS_INVALID_VIEW_SIZE: a chunk past the source's end,
// STATUS_FILE_LOCK_CONFLICT, errno statuses) returns what was copied before it as output: the
// response is sent with that body. Errors without output: STATUS_INVALID_PARAMETER (malformed),
// STATUS_OBJECT_NAME_NOT_FOUND (no such source), STATUS_ACCESS_DENIED.
NtStatus fsctlCopyChunk(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_DUPLICATE_EXTENTS_TO_FILE (MS-FSCC 2.3.8, MS-FSA 2.1.5.9.4): FICLONERANGE from the open
// named in the input to the request's open. STATUS_NOT_SUPPORTED where the file system cannot
// share extents (ext4), STATUS_INVALID_HANDLE for an unknown source, STATUS_ACCESS_DENIED.
NtStatus fsctlDuplicateExtents(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);

// FSCTL_SET_SPARSE (MS-FSA 2.1.5.9.33): sets or clears FILE_ATTRIBUTE_SPARSE_FILE. No output.
NtStatus fsctlSetSparse(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_SET_ZERO_DATA (MS-FSA 2.1.5.9.38): zeroes [FileOffset, BeyondFinalZero) within the
// file's size: a hole (FALLOC_FL_PUNCH_HOLE) in a sparse file, else FALLOC_FL_ZERO_RANGE (zeros
// written where the file system has neither). No output.
NtStatus fsctlSetZeroData(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_QUERY_ALLOCATED_RANGES (MS-FSA 2.1.5.9.22): the ranges holding data within the queried
// one and the file's size, from SEEK_DATA/SEEK_HOLE for a sparse file, the whole range
// otherwise. STATUS_BUFFER_OVERFLOW with the ranges that fit (the response is sent with them).
NtStatus fsctlQueryAllocatedRanges(RequestContext& ctx, const smb2::IoctlRequest& req,
                                   Bytes* out);
// FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9): input NETWORK_RESILIENCY_REQUEST (2.2.31.3:
// uint32 Timeout in milliseconds, uint32 Reserved; little-endian). The open becomes resilient:
// it outlives its connection for Timeout (0: kDefaultResiliencyTimeoutMs) and its LOCKs verify
// lock sequences (3.3.5.14). No output. STATUS_INVALID_DEVICE_REQUEST on SMB 2.0.2,
// STATUS_INVALID_PARAMETER for a short input or a Timeout above kMaxResiliencyTimeoutMs,
// STATUS_FILE_CLOSED for an unknown open.
inline constexpr uint32_t kDefaultResiliencyTimeoutMs = 120 * 1000;
inline constexpr uint32_t kMaxResiliencyTimeoutMs = 300 * 1000;  // MaxResiliencyTimeout (3.3.3)
NtStatus fsctlRequestResiliency(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_GET_COMPRESSION (MS-FSA 2.1.5.9.7): the shared file systems store no compressed files,
// so the output is a 2-byte little-endian COMPRESSION_FORMAT_NONE, as Windows answers on a
// volume without compression. STATUS_INVALID_PARAMETER when MaxOutputResponse < 2.
NtStatus fsctlGetCompression(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_SET_COMPRESSION (MS-FSA 2.1.5.9.27): input a 2-byte little-endian CompressionState.
// COMPRESSION_FORMAT_NONE succeeds without effect; any other format is STATUS_NOT_SUPPORTED
// (FILE_FILE_COMPRESSION is not advertised). STATUS_INVALID_PARAMETER for a short input,
// STATUS_ACCESS_DENIED without FILE_WRITE_DATA or FILE_WRITE_ATTRIBUTES. No output.
NtStatus fsctlSetCompression(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);
// FSCTL_GET_REPARSE_POINT (MS-FSCC 2.3.29): the symbolic link reparse buffer (MS-FSCC 2.1.2.4)
// for an open of a symlink; STATUS_NOT_A_REPARSE_POINT for anything else.
NtStatus fsctlGetReparsePoint(RequestContext& ctx, const smb2::IoctlRequest& req, Bytes* out);

}  // namespace xsmb::handlers
