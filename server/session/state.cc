#include "server/session/server_context.h"
#include "server/session/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "common/base/unicode.h"
#include "common/smb2/constants.h"
#include "server/session/break_delivery.h"
#include "server/session/channels.h"
#include "server/session/replies.h"
#include "server/vfs/dir_lease.h"
#include "server/vfs/path.h"

namespace xsmb::session {
namespace {

using namespace smb2;

// Removes `disk_path` (relative to `root`) without following anything outside the share.
void unlinkBeneath(int root, const std::string& disk_path, bool directory) {
  if (disk_path.empty()) return;  // never the share root
  auto slash = disk_path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : disk_path.substr(0, slash);
  std::string base = slash == std::string::npos ? disk_path : disk_path.substr(slash + 1);
  vfs::UniqueFd parent(vfs::openBeneath(root, dir.c_str(), O_PATH | O_DIRECTORY));
  if (!parent) return;
  unlinkat(parent.get(), base.c_str(), directory ? AT_REMOVEDIR : 0);
}

// What the last close of a delete-pending file removes: a named stream only, or the file (once
// the last of its open named streams closes).
std::function<void()> deleteOnClose(const Open& o) {
  if (o.stream) return [s = o.stream] { s->remove(); };
  if (!o.share || !o.share->root) return nullptr;
  return [root = o.share->root.get(), key = o.key, path = o.disk_path, dir = o.directory] {
    auto unlink = [root, path, dir] { unlinkBeneath(root, path, dir); };
    if (!vfs::deferDeleteWhileStreamsOpen(key.dev, key.ino, unlink)) unlink();
  };
}

}  // namespace

Share* ServerContext::findShare(std::string_view name) const {
  std::shared_lock lock(shares_mu_);
  for (const auto& s : shares) {
    if (!s->removed.load(std::memory_order_relaxed) && equalsIgnoreCase(s->cfg.name, name)) {
      return s.get();
    }
  }
  return nullptr;
}

std::optional<config::UserEntry> ServerContext::findUser(std::string_view name) {
  bool reloaded = false;
  std::optional<config::UserEntry> found;
  {
    std::lock_guard<std::mutex> lock(users_mu_);
    found = findUserLocked(name, &reloaded);
  }
  // New users become visible to the RPC services (samr, lsarpc) too.
  if (reloaded && rpcd) rpcd->updateServerInfo(rpcServerInfo());
  return found;
}

std::optional<config::UserEntry> ServerContext::findUserLocked(std::string_view name,
                                                               bool* reloaded_out) {
  bool reloaded = false;
  const std::string& path = config.global.smb_passwd_file;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (!users_loaded_ || st.st_mtim.tv_sec != users_mtime_.tv_sec ||
        st.st_mtim.tv_nsec != users_mtime_.tv_nsec) {
      auto db = config::UserDb::load(path);
      if (db.ok()) {
        users_ = std::move(*db);
        users_mtime_ = st.st_mtim;
        users_loaded_ = true;
        reloaded = true;
      }
    }
  }
  *reloaded_out = reloaded;
  const config::UserEntry* e = users_.find(name);
  if (!e || e->disabled) return std::nullopt;
  return *e;
}

void ServerContext::registerSession(uint64_t id, std::weak_ptr<ConnState> conn,
                                    const std::string& user) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  SessionEntry& e = registry_[id];
  e.conn = std::move(conn);
  e.user = user;
}

void ServerContext::registerConnection(std::weak_ptr<ConnState> conn) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  // Dead entries are dropped as new connections come, so the list stays as long as the live set.
  std::erase_if(connections_, [](const std::weak_ptr<ConnState>& w) { return w.expired(); });
  connections_.push_back(std::move(conn));
}

std::vector<std::shared_ptr<ConnState>> ServerContext::liveConnections() {
  std::lock_guard<std::mutex> lock(registry_mu_);
  std::vector<std::shared_ptr<ConnState>> out;
  for (const auto& w : connections_) {
    if (auto c = w.lock()) out.push_back(std::move(c));
  }
  return out;
}

void ServerContext::unregisterSession(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    if (registry_.erase(id) == 0) return;
  }
  if (dataplane) dataplane->sessionDown(id);
}

std::optional<ServerContext::SessionEntry> ServerContext::lookupSession(uint64_t id) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(id);
  if (it == registry_.end()) return std::nullopt;
  return it->second;
}

rpc::ServerInfo ServerContext::rpcServerInfo() {
  rpc::ServerInfo info;
  info.netbios_name = config.global.netbios_name;
  info.workgroup = config.global.workgroup;
  info.server_string = config.global.server_string;
  info.domain_sid = domain_sid;
  for (const Share* sh : liveShares()) {
    rpc::ShareInfo si;
    si.name = sh->cfg.name;
    si.comment = sh->cfg.comment;
    si.path = sh->cfg.path;
    si.type = sh->cfg.is_ipc ? (rpc::kStypeIpc | rpc::kStypeSpecial) : rpc::kStypeDisktree;
    si.browseable = sh->cfg.browseable;
    info.shares.push_back(std::move(si));
  }
  std::lock_guard<std::mutex> lock(users_mu_);
  for (const auto& u : users_.users()) {
    if (u.disabled) continue;
    // A stable RID per user name (FNV-1a of the upper-cased name), above the well-known range.
    uint32_t h = 2166136261u;
    for (char c : upcaseUtf8(u.name)) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
    info.users.push_back({u.name, 1000 + h % 0x3FFFFC00u, u.name});
  }
  return info;
}

ConnState::ConnState(ServerContext* s) : server(s) {
  static std::atomic<uint64_t> next_serial{1};
  serial = next_serial.fetch_add(1);
  next_volatile_id = (serial << 32) + 1;
  next_async_id = (serial << 32) + 1;
}

ConnState::~ConnState() {
  destroying = true;  // nothing is answered any more: the connection is gone
  // Sessions with another live channel continue there; this connection leaves the others.
  handOverSessions(*this);
  // A dropped connection's delete-on-close files are removed with the daemon's rights (the
  // deletion was authorized when it was asked for); the thread running this may still carry
  // whichever user's identity its last request assumed.
  preserveDurableOpens(0);
  if (server->run_as_root && !opens.empty()) vfs::assumeIdentity(vfs::UnixIdentity{0, 0, {0}});
  std::vector<uint64_t> ids;
  for (auto& [id, o] : opens) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) closeOpen(id);
  endAllAsync();
  for (auto& [id, s] : sessions) server->unregisterSession(id);
}

void ConnState::sendOplockBreak(uint64_t volatile_id, uint8_t new_level) {
  sendUnsolicited(buildOplockBreakNotification(volatile_id, new_level));
}

void ConnState::sendLeaseBreak(const smb2::LeaseBreakNotification& n) {
  sendUnsolicited(buildLeaseBreakNotification(n));
}

void ConnState::sendOplockBreakOf(uint64_t session_id, uint64_t channel, uint64_t volatile_id,
                                  uint8_t new_level) {
  const bool newest_only = server->config.global.smb2_disable_oplock_break_retry;
  deliverBreak(*this, session_id, buildOplockBreakNotification(volatile_id, new_level),
               newest_only ? BreakChannels::kNewestOnly : BreakChannels::kOpenersFirst, channel);
}

void ConnState::sendLeaseBreakOf(uint64_t session_id, const smb2::LeaseBreakNotification& n) {
  deliverBreak(*this, session_id, buildLeaseBreakNotification(n), BreakChannels::kOldestFirst);
}

Session* ConnState::findSession(uint64_t id) {
  auto it = sessions.find(id);
  return it == sessions.end() ? nullptr : it->second.get();
}

void ConnState::closeOpen(uint64_t volatile_id) {
  auto it = opens.find(volatile_id);
  if (it == opens.end()) return;
  // Requests waiting on the open end first: a waiting lock with STATUS_RANGE_NOT_LOCKED, a
  // CHANGE_NOTIFY with STATUS_NOTIFY_CLEANUP (MS-SMB2 3.3.5.10).
  endAsync(0, 0, volatile_id, destroying ? AsyncEnd::kDisconnect : AsyncEnd::kClosed);
  std::unique_ptr<Open> o = std::move(it->second);
  opens.erase(it);
  if (o->notify) server->notify_hub->unwatch(o->notify->watch_id);
  if (o->pipe_id) {
    if (server->rpcd) server->rpcd->closePipe(o->pipe_id);
    return;
  }
  // A delete, or a close after writes, changes the directory (MS-SMB2 3.3.4.7 directory leases).
  vfs::FileTable::ParentLease exempt;
  const bool dir_leases = server->files.anyDirectoryLeases() && o->share && o->share->root;
  if (dir_leases) exempt = server->files.parentLeaseOf(o->key, o->token);
  const bool remove_now =
      server->files.remove(o->key, o->token, o->delete_on_close, deleteOnClose(*o));
  o->fd.reset();
  if (dir_leases && (remove_now || o->archive_marked))
    vfs::breakParentDirectoryLeases(server->files, o->share->root.get(), o->disk_path, exempt);
}

void closeDetachedOpen(ServerContext* server, Open& o) {
  server->files.remove(o.key, o.token, o.delete_on_close, deleteOnClose(o));
  o.fd.reset();
  o.io_fd.reset();
}

void ConnState::closeOpensOf(uint64_t session_id, uint32_t tree_id) {
  std::vector<uint64_t> ids;
  for (auto& [id, o] : opens) {
    if (o->session_id == session_id && (tree_id == 0 || o->tree_id == tree_id)) ids.push_back(id);
  }
  // In the order they were opened: a lock request waiting on an older open's lock is granted
  // before its own open goes (as smb2.lock.cancel-tdis expects).
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) closeOpen(id);
  endAsync(session_id, tree_id, 0, destroying ? AsyncEnd::kDisconnect : AsyncEnd::kClosed);
}

void ConnState::removeSession(uint64_t session_id) {
  auto it = sessions.find(session_id);
  if (it != sessions.end() && (it->second->binding || it->second->bound_channel)) {
    sessions.erase(it);  // a channel entry only: the session lives on at its home
    server->removeChannel(session_id, this);
    return;
  }
  preserveDurableOpens(session_id);
  closeOpensOf(session_id, 0);
  sessions.erase(session_id);
  dropChannelEntries(*server, session_id, this);  // MS-SMB2 3.3.5.6: LOGOFF ends every channel
  server->unregisterSession(session_id);
}

}  // namespace xsmb::session
