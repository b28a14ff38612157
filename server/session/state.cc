#include "server/session/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "server/common/unicode.h"
#include "server/smb2/constants.h"
#include "server/vfs/path.h"

namespace xsmb::session {
namespace {

using namespace smb2;

bool conflicts(uint32_t access, uint32_t share_access_of_other) {
  if ((access & (FILE_READ_DATA | FILE_EXECUTE)) && !(share_access_of_other & FILE_SHARE_READ))
    return true;
  if ((access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) && !(share_access_of_other & FILE_SHARE_WRITE))
    return true;
  if ((access & DELETE) && !(share_access_of_other & FILE_SHARE_DELETE)) return true;
  return false;
}

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

}  // namespace

NtStatus FileTable::add(const Key& k, uint64_t token, uint32_t access, uint32_t share_access) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = files_[k];
  if (e.delete_pending) return STATUS_DELETE_PENDING;
  // Only data and delete access take part in sharing (MS-FSA 2.1.5.1.2.1).
  const uint32_t relevant = FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA |
                            DELETE;
  if (access & relevant) {
    for (const OpenRef& o : e.opens) {
      if (conflicts(access, o.share_access) || conflicts(o.access, share_access)) {
        if (e.opens.empty()) files_.erase(k);
        return STATUS_SHARING_VIOLATION;
      }
    }
  }
  e.opens.push_back({token, access, share_access});
  return STATUS_SUCCESS;
}

bool FileTable::remove(const Key& k, uint64_t token, bool delete_on_close) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(k);
  if (it == files_.end()) return false;
  Entry& e = it->second;
  if (delete_on_close) e.delete_pending = true;
  e.opens.erase(std::remove_if(e.opens.begin(), e.opens.end(),
                               [&](const OpenRef& o) { return o.token == token; }),
                e.opens.end());
  if (!e.opens.empty()) return false;
  bool pending = e.delete_pending;
  files_.erase(it);
  return pending;
}

void FileTable::setDeletePending(const Key& k, bool pending) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(k);
  if (it != files_.end()) it->second.delete_pending = pending;
}

bool FileTable::deletePending(const Key& k) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(k);
  return it != files_.end() && it->second.delete_pending;
}

Share* ServerContext::findShare(std::string_view name) const {
  for (const auto& s : shares) {
    if (equalsIgnoreCase(s->cfg.name, name)) return s.get();
  }
  return nullptr;
}

std::optional<config::UserEntry> ServerContext::findUser(std::string_view name) {
  std::lock_guard<std::mutex> lock(users_mu_);
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
      }
    }
  }
  const config::UserEntry* e = users_.find(name);
  if (!e || e->disabled) return std::nullopt;
  return *e;
}

ConnState::~ConnState() {
  std::vector<uint64_t> ids;
  for (auto& [id, o] : opens) ids.push_back(id);
  for (uint64_t id : ids) closeOpen(id);
}

Session* ConnState::findSession(uint64_t id) {
  auto it = sessions.find(id);
  return it == sessions.end() ? nullptr : it->second.get();
}

void ConnState::closeOpen(uint64_t volatile_id) {
  auto it = opens.find(volatile_id);
  if (it == opens.end()) return;
  std::unique_ptr<Open> o = std::move(it->second);
  opens.erase(it);
  bool remove_now = server->files.remove(o->key, o->token, o->delete_on_close);
  o->fd.reset();
  if (remove_now && o->share && o->share->root) {
    unlinkBeneath(o->share->root.get(), o->disk_path, o->directory);
  }
}

void ConnState::closeOpensOf(uint64_t session_id, uint32_t tree_id) {
  std::vector<uint64_t> ids;
  for (auto& [id, o] : opens) {
    if (o->session_id == session_id && (tree_id == 0 || o->tree_id == tree_id)) ids.push_back(id);
  }
  for (uint64_t id : ids) closeOpen(id);
}

void ConnState::removeSession(uint64_t session_id) {
  closeOpensOf(session_id, 0);
  sessions.erase(session_id);
}

}  // namespace xsmb::session
