#include "server/handlers/create_durable.h"

#include "common/base/log.h"
#include "common/base/unicode.h"
#include "common/smb2/constants.h"
#include "common/smb2/lease.h"
#include "server/session/durable.h"
#include "server/vfs/attributes.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// MS-SMB2 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12: which contexts may come together. A v1
// request beside a v1 reconnect is ignored (the reconnect wins).
NtStatus checkCombination(const DurableContexts& dc) {
  if (dc.reconnect_v1 && (dc.request_v2 || dc.reconnect_v2)) return STATUS_INVALID_PARAMETER;
  if (dc.reconnect_v2 && (dc.request_v1 || dc.request_v2)) return STATUS_INVALID_PARAMETER;
  if (dc.request_v1 && dc.request_v2) return STATUS_INVALID_PARAMETER;
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.9.7 / 3.3.5.9.12: whether this request may reclaim the disconnected open `o`. A
// v2 reconnect names the open's CreateGuid (zero for an open made durable by v1, as Samba and
// smbtorture's durable-open.reopen2-lease have it); a v1 reconnect may reclaim a v2 open. The
// ClientGuid is not compared for oplocks (a client may reconnect with a new one, as Windows
// allows).
NtStatus checkReclaim(const RequestContext& ctx, const DurableContexts& dc, const std::string& name,
                      const session::Open& o) {
  const session::DurableState& d = *o.durable;
  // A lease open is reclaimed with its lease (same key, same client) and its name; an oplock
  // open without one (MS-SMB2 3.3.5.9.7, 3.3.5.9.12).
  if (d.lease != dc.lease_key.has_value()) return STATUS_OBJECT_NAME_NOT_FOUND;
  if (d.lease) {
    if (*dc.lease_key != d.lease_key || d.client_guid != ctx.conn->client_guid)
      return STATUS_OBJECT_NAME_NOT_FOUND;
    if (!equalsIgnoreCase(name, o.smb_path)) return STATUS_INVALID_PARAMETER;
  }
  if (dc.reconnect_v2 && d.create_guid != dc.reconnect_v2->create_guid)
    return STATUS_OBJECT_NAME_NOT_FOUND;
  if (o.share != ctx.tree->share) return STATUS_OBJECT_NAME_NOT_FOUND;
  if (!equalsIgnoreCase(d.user, ctx.session->user) ||
      !equalsIgnoreCase(d.domain, ctx.session->domain)) {
    return STATUS_ACCESS_DENIED;
  }
  return STATUS_SUCCESS;
}

// The CREATE response for an open that already exists (reclaimed or replayed): its file's
// current times and sizes, the oplock or lease it holds now (a lease open answers with its
// lease's "RqLs" context, MS-SMB2 3.3.5.9.7 / 3.3.5.9.12), its FileId.
NtStatus answerWithOpen(RequestContext& ctx, const session::Open& o, uint32_t create_action,
                        CreateResponse* resp) {
  vfs::FileMeta m;
  if (NtStatus st = vfs::readFileMeta(o.fd.get(), &m); st != STATUS_SUCCESS) return st;
  resp->create_action = create_action;
  resp->oplock_level = ctx.server->files.oplockLevel(o.key, o.token);
  LeaseContext lease;
  if (resp->oplock_level == SMB2_OPLOCK_LEVEL_LEASE &&
      ctx.server->files.leaseOf(o.key, o.token, &lease)) {
    resp->contexts.emplace_back("RqLs", encodeLeaseContext(lease));
  }
  resp->creation_time = m.creation_time;
  resp->last_access_time = m.last_access_time;
  resp->last_write_time = m.last_write_time;
  resp->change_time = m.change_time;
  resp->allocation_size = m.allocation_size;
  resp->end_of_file = m.end_of_file;
  resp->file_attributes = m.attributes;
  resp->file_id = {o.volatile_id, o.volatile_id};
  if (ctx.compound_file_id) *ctx.compound_file_id = resp->file_id;
  return STATUS_SUCCESS;
}

// Moves the disconnected open `persistent_id` into this connection, session and tree connect
// (MS-SMB2 3.3.5.9.7 / 3.3.5.9.12) and answers the CREATE with it.
NtStatus reclaim(RequestContext& ctx, const DurableContexts& dc, const std::string& name,
                 uint64_t persistent_id, CreateResponse* resp) {
  std::unique_ptr<session::Open> o;
  NtStatus st = ctx.server->durable->reclaim(
      persistent_id, [&](const session::Open& c) { return checkReclaim(ctx, dc, name, c); }, &o);
  if (st != STATUS_SUCCESS) return st;
  o->session_id = ctx.session->id;
  o->tree_id = ctx.tree->id;
  ctx.server->files.setOwner(o->key, o->token, ctx.conn->weak_from_this(), o->volatile_id,
                             false, o->session_id);
  const uint64_t id = o->volatile_id;
  XLOG(DEBUG) << ctx.conn->peer << ": durable open " << id << " '" << o->smb_path << "' reclaimed";
  session::Open& ref = *o;
  ctx.conn->opens[id] = std::move(o);
  if (st = answerWithOpen(ctx, ref, FILE_OPENED, resp); st != STATUS_SUCCESS) {
    ctx.conn->closeOpen(id);
    return st;
  }
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.9.10: a DH2Q whose CreateGuid a live open of this client carries. Replayed
// (SMB2_FLAGS_REPLAY_OPERATION), it is answered with that open: the one of this session, or a
// disconnected one, reclaimed. Otherwise the CreateGuid is in use: STATUS_DUPLICATE_OBJECTID.
NtStatus replayOrRefuse(RequestContext& ctx, const DurableContexts& dc, const std::string& name,
                        uint64_t persistent_id, CreateResponse* resp) {
  if (!(ctx.header->flags & SMB2_FLAGS_REPLAY_OPERATION)) return STATUS_DUPLICATE_OBJECTID;
  auto it = ctx.conn->opens.find(persistent_id);
  if (it != ctx.conn->opens.end() && it->second->session_id == ctx.session->id &&
      it->second->durable) {
    const session::Open& o = *it->second;
    if (NtStatus st = answerWithOpen(ctx, o, o.durable->create_action, resp); st != STATUS_SUCCESS)
      return st;
    resp->contexts.emplace_back(kDurableRequestV2Tag,
                                encodeDurableResponseV2(o.durable->timeout_ms, 0));
    return STATUS_SUCCESS;
  }
  DurableContexts as_reconnect = dc;
  as_reconnect.reconnect_v2 =
      DurableReconnectV2{{persistent_id, persistent_id}, dc.request_v2->create_guid, 0};
  as_reconnect.request_v2.reset();
  if (reclaim(ctx, as_reconnect, name, persistent_id, resp) == STATUS_SUCCESS)
    return STATUS_SUCCESS;
  return STATUS_FILE_NOT_AVAILABLE;
}

}  // namespace

NtStatus durableBeforeCreate(RequestContext& ctx, const CreateRequest& req, DurableContexts* dc,
                             ResponseBody& out, bool* answered) {
  *answered = false;
  if (NtStatus st = parseDurableContexts(req.contexts, dc); st != STATUS_SUCCESS) return st;
  if (!dc->any()) return STATUS_SUCCESS;
  if (NtStatus st = checkCombination(*dc); st != STATUS_SUCCESS) return st;
  CreateResponse resp;
  NtStatus st = STATUS_SUCCESS;
  if (dc->reconnect()) {
    // Only the reconnect context counts: name, disposition, access and the rest are ignored.
    uint64_t id =
        dc->reconnect_v1 ? dc->reconnect_v1->persistent : dc->reconnect_v2->file_id.persistent;
    st = reclaim(ctx, *dc, req.name, id, &resp);
  } else if (dc->request_v2) {
    auto id =
        ctx.server->durable->findCreateGuid(ctx.conn->client_guid, dc->request_v2->create_guid);
    if (!id) return STATUS_SUCCESS;  // a new open: handleCreate goes on
    st = replayOrRefuse(ctx, *dc, req.name, *id, &resp);
  } else {
    return STATUS_SUCCESS;
  }
  *answered = true;
  if (st == STATUS_SUCCESS) out = std::move(resp);
  return st;
}

void grantDurable(RequestContext& ctx, const DurableContexts& dc, session::Open& o,
                  uint32_t create_action, uint8_t oplock_level, bool handle_lease,
                  CreateResponse* resp) {
  if (!(dc.request_v1 || dc.request_v2) || dc.reconnect() || o.directory) return;
  if (oplock_level != SMB2_OPLOCK_LEVEL_BATCH && !handle_lease) return;
  auto d = std::make_shared<session::DurableState>();
  d->v2 = dc.request_v2.has_value();
  // A persistent handle (SMB2_DHANDLE_FLAG_PERSISTENT) is never granted: no share here is
  // continuously available (MS-SMB2 3.3.5.9.10); the handle is durable only.
  d->timeout_ms =
      d->v2 ? session::durableV2Timeout(dc.request_v2->timeout_ms) : session::kDurableV1TimeoutMs;
  if (d->v2) d->create_guid = dc.request_v2->create_guid;
  d->client_guid = ctx.conn->client_guid;
  d->user = ctx.session->user;
  d->domain = ctx.session->domain;
  d->create_action = create_action;
  if (handle_lease && dc.lease_key) {
    d->lease = true;
    d->lease_key = *dc.lease_key;
  }
  o.durable = d;
  if (d->v2) {
    ctx.server->durable->noteCreateGuid(o.volatile_id, d);
    resp->contexts.emplace_back(kDurableRequestV2Tag, encodeDurableResponseV2(d->timeout_ms, 0));
  } else {
    resp->contexts.emplace_back(kDurableRequestTag, encodeDurableResponse());
  }
}

}  // namespace xsmb::handlers
