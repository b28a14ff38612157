// IOCTL (MS-SMB2 3.3.5.15) and ECHO (3.3.5.17).
#include <algorithm>

#include "server/handlers/fsctl.h"
#include "server/handlers/handler.h"
#include "server/session/network_interfaces.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// MS-SMB2 3.3.5.15.12: the client repeats what it sent in NEGOTIATE; any difference means a
// man in the middle rewrote it, and the connection is dropped.
NtStatus validateNegotiateInfo(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::ConnState& c = *ctx.conn;
  if (c.dialect == SMB2_DIALECT_311) {
    c.disconnect = true;  // 3.1.1 clients rely on preauth integrity instead
    return STATUS_ACCESS_DENIED;
  }
  ByteReader r(req.input);
  uint32_t caps = r.u32();
  ByteSpan guid = r.bytes(16);
  uint16_t mode = r.u16();
  uint16_t count = r.u16();
  std::vector<uint16_t> dialects;
  for (uint16_t i = 0; i < count && r.ok(); ++i) dialects.push_back(r.u16());
  if (!r.ok()) {
    c.disconnect = true;
    return STATUS_INVALID_PARAMETER;
  }
  if (caps != c.client_capabilities ||
      !std::equal(guid.begin(), guid.end(), c.client_guid.begin()) ||
      mode != c.client_security_mode || dialects != c.client_dialects) {
    c.disconnect = true;
    return STATUS_ACCESS_DENIED;
  }
  if (req.max_output_response < 24) return STATUS_BUFFER_TOO_SMALL;
  ByteWriter w;
  w.u32(c.server_capabilities);
  w.bytes(ctx.server->server_guid.data(), 16);
  w.u16(c.server_security_mode);
  w.u16(c.dialect);
  *out = w.take();
  return STATUS_SUCCESS;
}

// MS-FSCC 2.3.49 FSCTL_PIPE_TRANSCEIVE: write the request, read the reply; a reply larger than
// the client's buffer is cut and the rest read with READ (STATUS_BUFFER_OVERFLOW).
NtStatus pipeTransceive(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  if (!o->pipe_id) return STATUS_INVALID_DEVICE_REQUEST;
  if (NtStatus st = pipeTransact(ctx, *o, req.input); st != STATUS_SUCCESS) return st;
  size_t n = std::min<size_t>(o->pipe_out.size(), req.max_output_response);
  out->assign(o->pipe_out.begin(), o->pipe_out.begin() + static_cast<ptrdiff_t>(n));
  o->pipe_out.erase(o->pipe_out.begin(), o->pipe_out.begin() + static_cast<ptrdiff_t>(n));
  return o->pipe_out.empty() ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
}

// MS-FSCC 2.3.7 FILE_OBJECTID_BUFFER of FSCTL_CREATE_OR_GET_OBJECT_ID: no object ids are stored,
// so the id is derived from the file's identity (inode and device), which is stable for the
// file's lifetime.
NtStatus objectId(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  ByteWriter w(out);
  w.u64(o->key.ino);
  w.u64(o->key.dev);
  w.u32(o->share->volume_serial);  // BirthVolumeId
  w.zeros(12);
  w.u64(o->key.ino);  // BirthObjectId
  w.u64(o->key.dev);
  w.zeros(16);  // DomainId
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.15.11: the server's interfaces (session/network_interfaces.h) for a client
// looking for further channels; FileId must be all ones. Answered only with multichannel on.
NtStatus networkInterfaceInfo(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  const auto& g = ctx.server->config.global;
  if (!g.server_multi_channel_support) return STATUS_NOT_SUPPORTED;
  if (req.file_id.persistent != ~0ULL || req.file_id.volatile_id != ~0ULL) {
    return STATUS_INVALID_PARAMETER;
  }
  *out = encodeNetworkInterfaceInfo(session::collectNetworkInterfaces(g));
  return STATUS_SUCCESS;
}

NtStatus fileFsctl(RequestContext& ctx, const IoctlRequest& req, Bytes* out) {
  switch (req.ctl_code) {
    case FSCTL_SRV_REQUEST_RESUME_KEY:
      return fsctlRequestResumeKey(ctx, req, out);
    case FSCTL_SRV_COPYCHUNK:
    case FSCTL_SRV_COPYCHUNK_WRITE:
      return fsctlCopyChunk(ctx, req, out);
    case FSCTL_DUPLICATE_EXTENTS_TO_FILE:
      return fsctlDuplicateExtents(ctx, req, out);
    case FSCTL_SET_SPARSE:
      return fsctlSetSparse(ctx, req, out);
    case FSCTL_SET_ZERO_DATA:
      return fsctlSetZeroData(ctx, req, out);
    case FSCTL_QUERY_ALLOCATED_RANGES:
      return fsctlQueryAllocatedRanges(ctx, req, out);
    case FSCTL_GET_COMPRESSION:
      return fsctlGetCompression(ctx, req, out);
    case FSCTL_SET_COMPRESSION:
      return fsctlSetCompression(ctx, req, out);
    default:
      return fsctlGetReparsePoint(ctx, req, out);
  }
}

}  // namespace

NtStatus handleIoctl(RequestContext& ctx, ResponseBody& out) {
  IoctlRequest req;
  if (NtStatus st = decodeIoctlRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  if (!(req.flags & SMB2_0_IOCTL_IS_FSCTL)) return STATUS_NOT_SUPPORTED;
  IoctlResponse resp{req.ctl_code, req.file_id, {}};
  NtStatus st;
  switch (req.ctl_code) {
    case FSCTL_VALIDATE_NEGOTIATE_INFO:
      st = validateNegotiateInfo(ctx, req, &resp.output);
      break;
    case FSCTL_DFS_GET_REFERRALS:
    case FSCTL_DFS_GET_REFERRALS_EX:
      // No DFS namespace is served (the DFS capability is not advertised).
      st = STATUS_NOT_FOUND;
      break;
    case FSCTL_PIPE_TRANSCEIVE:
      st = pipeTransceive(ctx, req, &resp.output);
      // A reply cut to the client's buffer is sent with STATUS_BUFFER_OVERFLOW.
      if (st == STATUS_BUFFER_OVERFLOW) {
        out = std::move(resp);
        return st;
      }
      break;
    case FSCTL_QUERY_NETWORK_INTERFACE_INFO:
      st = networkInterfaceInfo(ctx, req, &resp.output);
      break;
    case FSCTL_CREATE_OR_GET_OBJECT_ID:
      st = objectId(ctx, req, &resp.output);
      break;
    case FSCTL_LMR_REQUEST_RESILIENCY:
      st = fsctlRequestResiliency(ctx, req, &resp.output);
      break;
    case FSCTL_SRV_REQUEST_RESUME_KEY:
    case FSCTL_SRV_COPYCHUNK:
    case FSCTL_SRV_COPYCHUNK_WRITE:
    case FSCTL_DUPLICATE_EXTENTS_TO_FILE:
    case FSCTL_SET_SPARSE:
    case FSCTL_SET_ZERO_DATA:
    case FSCTL_QUERY_ALLOCATED_RANGES:
    case FSCTL_GET_COMPRESSION:
    case FSCTL_SET_COMPRESSION:
    case FSCTL_GET_REPARSE_POINT:
      st = fileFsctl(ctx, req, &resp.output);
      // Sent with their output: a copy's limits or progress (MS-SMB2 3.3.5.15.6) and the
      // allocated ranges that fit (MS-FSA 2.1.5.9.22).
      if ((st != STATUS_SUCCESS && !resp.output.empty()) || st == STATUS_BUFFER_OVERFLOW) {
        out = std::move(resp);
        return st;
      }
      break;
    default: {
      // Everything else names an open of this tree.
      session::Open* o = findOpen(ctx, req.file_id);
      st = o ? STATUS_NOT_SUPPORTED : STATUS_FILE_CLOSED;
      if (req.file_id.persistent == ~0ULL && req.file_id.volatile_id == ~0ULL &&
          !ctx.compound_file_id)
        st = STATUS_NOT_SUPPORTED;
    }
  }
  if (st != STATUS_SUCCESS) return st;
  if (resp.output.size() > req.max_output_response) return STATUS_BUFFER_TOO_SMALL;
  out = std::move(resp);
  return STATUS_SUCCESS;
}

NtStatus handleEcho(RequestContext& ctx, ResponseBody& out) {
  if (NtStatus st = decodeEmptyRequest(ctx.message, 4); st != STATUS_SUCCESS) return st;
  out = EchoResponse{};
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
