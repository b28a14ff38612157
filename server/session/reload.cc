// ServerContext::reloadShares: the share side of a SIGHUP reload (docs/operations.md).
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/unicode.h"
#include "server/session/server_context.h"

namespace xsmb::session {
namespace {

// Two share definitions serve alike when they differ at most in their smb.conf line.
bool sameShare(const config::ShareConfig& a, const config::ShareConfig& b) {
  config::ShareConfig x = a, y = b;
  x.line = y.line = 0;
  return x == y;
}

const config::ShareConfig* findIn(const std::vector<config::ShareConfig>& list,
                                  std::string_view name) {
  for (const auto& sc : list) {
    if (equalsIgnoreCase(sc.name, name)) return &sc;
  }
  return nullptr;
}

}  // namespace

std::vector<Share*> ServerContext::liveShares() const {
  std::shared_lock lock(shares_mu_);
  std::vector<Share*> out;
  for (const auto& s : shares) {
    if (!s->removed.load(std::memory_order_relaxed)) out.push_back(s.get());
  }
  return out;
}

std::string ServerContext::reloadShares(const std::vector<config::ShareConfig>& next,
                                        const ShareOpener& open_share) {
  int added = 0, removed_count = 0, changed = 0;
  {
    std::unique_lock lock(shares_mu_);
    for (auto& s : shares) {  // gone or changed: no new tree connects
      if (s->removed) continue;
      const config::ShareConfig* sc = findIn(next, s->cfg.name);
      if (sc && sameShare(*sc, s->cfg)) continue;
      s->removed = true;
      if (sc) {
        ++changed;
        XLOG(WARNING) << "reload: share [" << s->cfg.name << "] changed";
      } else {
        ++removed_count;
        XLOG(WARNING) << "reload: share [" << s->cfg.name << "] removed";
      }
    }
    for (const auto& sc : next) {  // new or changed: opened now
      bool live = false;
      for (const auto& s : shares) {
        live = live || (!s->removed && equalsIgnoreCase(s->cfg.name, sc.name));
      }
      if (live) continue;
      XLOG(WARNING) << "reload: share [" << sc.name << "] serves " << sc.path;
      std::unique_ptr<Share> sh = open_share(sc);
      const auto index = static_cast<uint32_t>(shares.size());
      sh->limit_slot =
          limits->slot(XSMB_LIMIT_SHARE, sc.name, index, sc.bandwidth_limit, sc.request_rate_limit);
      if (sh->limit_slot >= 0) {
        limits->setLimits(sh->limit_slot, sc.bandwidth_limit, sc.request_rate_limit);
      }
      shares.push_back(std::move(sh));
      ++added;
    }
  }
  added -= changed;  // a changed share was opened anew, but is not a new one
  {
    std::lock_guard<std::mutex> lock(users_mu_);
    users_loaded_ = false;  // re-read even when the file's time did not move
  }
  findUser("");  // loads the user database and updates the RPC helper when it changed
  if (rpcd) rpcd->updateServerInfo(rpcServerInfo());
  return absl::StrCat("shares: ", added, " added, ", removed_count, " removed, ", changed,
                      " changed");
}

}  // namespace xsmb::session
