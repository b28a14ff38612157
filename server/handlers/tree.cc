// TREE_CONNECT (MS-SMB2 3.3.5.7) and TREE_DISCONNECT (3.3.5.8), with Samba's share access
// parameters: guest ok, valid users, invalid users, read only, and restrict anonymous = 2 (no
// IPC$ for guest or anonymous sessions).
#include <grp.h>

#include "absl/strings/str_split.h"
#include "common/base/log.h"
#include "common/base/unicode.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

// True when `list` (Samba syntax: names, "@group" / "+group" for Unix groups) names the user.
bool listNames(const std::vector<std::string>& list, const session::Session& s) {
  for (const std::string& item : list) {
    if (item.empty()) continue;
    if (item[0] == '@' || item[0] == '+' || item[0] == '&') {
      std::string group = item.substr(item[0] == '@' && item.size() > 1 && item[1] == '+' ? 2 : 1);
      struct group* g = getgrnam(group.c_str());  // called at tree connect only
      if (!g) continue;
      for (gid_t gid : s.identity.groups) {
        if (gid == g->gr_gid) return true;
      }
      if (s.identity.gid == g->gr_gid) return true;
    } else if (equalsIgnoreCase(item, s.user)) {
      return true;
    }
  }
  return false;
}

}  // namespace

NtStatus handleTreeConnect(RequestContext& ctx, ResponseBody& out) {
  TreeConnectRequest req;
  if (NtStatus st = decodeTreeConnectRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  // Path is "\\server\share".
  std::string_view path = req.path;
  auto pos = path.find_last_of('\\');
  std::string_view name = pos == std::string_view::npos ? path : path.substr(pos + 1);
  if (path.size() < 3 || path.substr(0, 2) != "\\\\" || name.empty()) {
    return STATUS_BAD_NETWORK_NAME;
  }
  session::Share* share = ctx.server->findShare(name);
  if (!share) return STATUS_BAD_NETWORK_NAME;
  session::Session& s = *ctx.session;
  const config::ShareConfig& cfg = share->cfg;
  bool ipc = cfg.is_ipc;
  // "restrict anonymous = 2" (Samba's values): IPC$ refuses guest and anonymous sessions.
  if (ipc && (s.guest || s.anonymous) &&
      ctx.server->config.global.hardening.restrict_anonymous >= 2) {
    XLOG(INFO) << ctx.conn->peer << ": IPC$ refused to a guest or anonymous session "
               << "(restrict anonymous = 2)";
    return STATUS_ACCESS_DENIED;
  }
  if (!ipc) {
    if ((s.guest || s.anonymous) && !cfg.guest_ok) return STATUS_ACCESS_DENIED;
    if (!s.guest && !s.anonymous) {
      if (listNames(cfg.invalid_users, s)) return STATUS_ACCESS_DENIED;
      if (!cfg.valid_users.empty() && !listNames(cfg.valid_users, s)) return STATUS_ACCESS_DENIED;
    }
    if (!share->root) return STATUS_BAD_NETWORK_NAME;
  }
  session::TreeConnect t;
  t.id = s.next_tree_id++;
  t.share = share;
  t.ipc = ipc;
  t.read_only = ipc || cfg.read_only;
  t.maximal_access = t.read_only ? (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE) : FILE_ALL_ACCESS;
  if (ipc) t.maximal_access = FILE_GENERIC_READ | FILE_GENERIC_WRITE;
  uint32_t share_flags = SMB2_SHAREFLAG_MANUAL_CACHING;
  const auto policy =  // MS-SMB2 3.3.5.7: QUIC's TLS encrypts (AcceptTransportSecurity)
      ctx.conn->accept_transport_security ? config::EncryptPolicy::kOff : cfg.smb_encrypt;
  if (!ipc && !applyEncryptPolicy(policy, !s.encryption_key.empty(), &t.encrypt_data,
                                  &t.encrypt_required)) {
    return STATUS_ACCESS_DENIED;
  }
  if (t.encrypt_data) share_flags |= SMB2_SHAREFLAG_ENCRYPT_DATA;
  s.trees[t.id] = t;
  ctx.response_tree_id = t.id;
  out = TreeConnectResponse{ipc ? SMB2_SHARE_TYPE_PIPE : SMB2_SHARE_TYPE_DISK, share_flags, 0,
                            t.maximal_access};
  return STATUS_SUCCESS;
}

NtStatus handleTreeDisconnect(RequestContext& ctx, ResponseBody& out) {
  if (NtStatus st = decodeEmptyRequest(ctx.message, 4); st != STATUS_SUCCESS) return st;
  uint32_t id = ctx.tree->id;
  ctx.conn->closeOpensOf(ctx.session->id, id);
  ctx.session->trees.erase(id);
  ctx.tree = nullptr;
  out = TreeDisconnectResponse{};
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
