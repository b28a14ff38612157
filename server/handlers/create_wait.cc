#include "server/handlers/create_wait.h"

#include <memory>
#include <optional>

#include "common/smb2/header.h"
#include "server/session/replies.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// What a CREATE needs to run again later, without anything of the request's first run.
struct PendingCreate {
  Bytes message;  // the request: 64-byte header + body
  uint64_t session_id = 0;
  uint32_t tree_id = 0;
  session::AsyncReply reply;  // with its AsyncId
  std::optional<vfs::UnixIdentity> identity;
};

void resumeCreate(session::ConnState& conn, const std::shared_ptr<PendingCreate>& p) {
  smb2::Header h;
  if (!smb2::decodeHeader(p->message, &h)) return;
  smb2::ResponseBody body;
  NtStatus st = STATUS_SUCCESS;
  session::Session* s = conn.findSession(p->session_id);
  session::TreeConnect* tree = nullptr;
  if (s) {
    auto t = s->trees.find(p->tree_id);
    if (t != s->trees.end()) tree = &t->second;
  }
  if (!s) {
    st = STATUS_USER_SESSION_DELETED;
  } else if (!tree) {
    st = STATUS_NETWORK_NAME_DELETED;
  } else {
    RequestContext ctx{conn.server, &conn, &h, p->message};
    smb2::FileId file_id;
    ctx.compound_file_id = &file_id;
    ctx.session = s;
    ctx.tree = tree;
    ctx.async_reply = p->reply;
    ctx.async_id = p->reply.async_id;
    ctx.create_retry = true;
    if (p->identity) {
      if (!vfs::assumeIdentity(*p->identity)) st = STATUS_ACCESS_DENIED;
      ctx.identity = &*p->identity;
    }
    if (st == STATUS_SUCCESS) st = handleCreate(ctx, body);
    if (st == STATUS_PENDING) return;  // waiting again, under the same AsyncId
  }
  conn.sendUnsolicited(session::buildAsyncResponse(p->reply, st, body));
}

}  // namespace

NtStatus goAsyncForBreak(RequestContext& ctx, const vfs::FileTable::Key& k) {
  if (!ctx.async_id) ctx.async_id = ctx.conn->next_async_id++;
  auto p = std::make_shared<PendingCreate>();
  p->message.assign(ctx.message.begin(), ctx.message.end());
  p->session_id = ctx.session->id;
  p->tree_id = ctx.tree->id;
  p->reply = ctx.async_reply;
  p->reply.async_id = ctx.async_id;
  if (ctx.identity) p->identity = *ctx.identity;
  std::weak_ptr<session::ConnState> weak = ctx.conn->weak_from_this();
  ctx.server->files.whenBreakProgresses(k, [weak, p] {
    auto conn = weak.lock();
    if (!conn || !conn->run_in_strand) return;
    conn->run_in_strand([p](session::ConnState& c) { resumeCreate(c, p); });
  });
  return STATUS_PENDING;
}

}  // namespace xsmb::handlers
