#include "server/session/durable.h"

#include <algorithm>

#include "common/base/log.h"
#include "server/session/server_context.h"
#include "server/session/state.h"

namespace xsmb::session {

using Clock = std::chrono::steady_clock;

uint32_t durableV2Timeout(uint32_t requested_ms) {
  if (requested_ms == 0) return kDurableV2DefaultTimeoutMs;
  return std::min(requested_ms, kDurableV2MaxTimeoutMs);
}

DurableTable::DurableTable(vfs::FileTable* files, CloseFile close_file)
    : files_(files), close_file_(std::move(close_file)) {}

DurableTable::~DurableTable() {
  std::vector<std::unique_ptr<Open>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, h] : held_) left.push_back(std::move(h.open));
    held_.clear();
  }
  wake_.notify_all();
  if (scavenger_.joinable()) scavenger_.join();
  closeAll(std::move(left));
}

void DurableTable::preserve(std::unique_ptr<Open> open) {
  if (!open || !open->durable) return;
  const uint64_t id = open->volatile_id;
  // Breaks of this open come here from now on (and close it); one already under way, which
  // nobody will acknowledge now, closes it at once.
  bool breaking = files_->setOwner(open->key, open->token, weak_from_this(), id);
  XLOG(DEBUG) << "durable open " << id << " '" << open->smb_path << "' kept for "
              << open->durable->timeout_ms << " ms";
  std::lock_guard<std::mutex> lock(mu_);
  Held h;
  h.expires = Clock::now() + std::chrono::milliseconds(open->durable->timeout_ms);
  h.open = std::move(open);
  held_[id] = std::move(h);
  if (breaking) doomed_.push_back(id);
  startScavengerLocked();
  wake_.notify_all();
  preserved_.notify_all();
}

void DurableTable::connectionClosing() {
  std::lock_guard<std::mutex> lock(mu_);
  ++closing_;
}

void DurableTable::connectionGone() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_ > 0) --closing_;
  preserved_.notify_all();
}

NtStatus DurableTable::reclaim(uint64_t persistent_id,
                               const std::function<NtStatus(const Open&)>& check,
                               std::unique_ptr<Open>* out, std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lock(mu_);
  preserved_.wait_for(lock, grace, [&] { return closing_ == 0 || held_.count(persistent_id); });
  auto it = held_.find(persistent_id);
  if (it == held_.end()) return STATUS_OBJECT_NAME_NOT_FOUND;
  // One that a break doomed is as good as closed.
  if (std::find(doomed_.begin(), doomed_.end(), persistent_id) != doomed_.end())
    return STATUS_OBJECT_NAME_NOT_FOUND;
  if (NtStatus st = check(*it->second.open); st != STATUS_SUCCESS) return st;
  *out = std::move(it->second.open);
  held_.erase(it);
  return STATUS_SUCCESS;
}

void DurableTable::noteCreateGuid(uint64_t persistent_id,
                                  const std::shared_ptr<const DurableState>& state) {
  std::lock_guard<std::mutex> lock(mu_);
  // Entries of closed opens go as new ones come, so the map stays as long as the live set.
  std::erase_if(create_guids_, [](const auto& e) { return e.second.second.expired(); });
  create_guids_[{state->client_guid, state->create_guid}] = {persistent_id, state};
}

std::optional<uint64_t> DurableTable::findCreateGuid(const smb2::Guid& client_guid,
                                                     const smb2::Guid& create_guid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = create_guids_.find({client_guid, create_guid});
  if (it == create_guids_.end() || it->second.second.expired()) return std::nullopt;
  return it->second.first;
}

size_t DurableTable::disconnectedCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

size_t DurableTable::expire(Clock::time_point now) {
  std::vector<std::unique_ptr<Open>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = held_.begin(); it != held_.end();) {
      bool doomed = std::find(doomed_.begin(), doomed_.end(), it->first) != doomed_.end();
      if (doomed || it->second.expires <= now) {
        gone.push_back(std::move(it->second.open));
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    doomed_.clear();
  }
  size_t n = gone.size();
  closeAll(std::move(gone));
  return n;
}

void DurableTable::sendOplockBreak(uint64_t volatile_id, uint8_t /*new_level*/) {
  // Called with the file table's shard locked: the close (which takes that lock) runs on the
  // scavenger's thread.
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_.count(volatile_id)) return;
  doomed_.push_back(volatile_id);
  startScavengerLocked();
  wake_.notify_all();
}

void DurableTable::sendLeaseBreak(const smb2::LeaseBreakNotification& n) {
  // As sendOplockBreak: under the file table's shard lock, so the scavenger closes them. The
  // notification names the lease by key only; keys are the client's random GUIDs, so opens of
  // another client with the same key are not told apart.
  std::lock_guard<std::mutex> lock(mu_);
  bool any = false;
  for (const auto& [id, h] : held_) {
    const DurableState& d = *h.open->durable;
    if (!d.lease || d.lease_key != n.key) continue;
    doomed_.push_back(id);
    any = true;
  }
  if (!any) return;
  startScavengerLocked();
  wake_.notify_all();
}

void DurableTable::startScavengerLocked() {
  if (!scavenger_.joinable() && !stopping_) scavenger_ = std::thread([this] { scavenge(); });
}

void DurableTable::scavenge() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto next = Clock::time_point::max();
    for (const auto& [id, h] : held_) next = std::min(next, h.expires);
    if (doomed_.empty()) {
      if (next == Clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, next);
      }
    }
    if (stopping_) break;
    lock.unlock();
    expire(Clock::now());
    lock.lock();
  }
}

void DurableTable::closeAll(std::vector<std::unique_ptr<Open>> opens) {
  for (auto& o : opens) {
    XLOG(DEBUG) << "durable open " << o->volatile_id << " '" << o->smb_path << "' closed";
    close_file_(*o);
  }
}

std::shared_ptr<DurableTable> makeDurableTable(ServerContext* server) {
  return std::make_shared<DurableTable>(&server->files,
                                        [server](Open& o) { closeDetachedOpen(server, o); });
}

void ConnState::markTransportClosed() {
  if (!transport_closed.exchange(true)) server->durable->connectionClosing();
}

void ConnState::preserveDurableOpens(uint64_t session_id) {
  for (auto it = opens.begin(); it != opens.end();) {
    if (!it->second->durable || (session_id != 0 && it->second->session_id != session_id)) {
      ++it;
      continue;
    }
    std::unique_ptr<Open> o = std::move(it->second);
    it = opens.erase(it);
    server->durable->preserve(std::move(o));
  }
  // The teardown (session_id 0, from ~ConnState) of a connection whose transport closed.
  if (session_id == 0 && transport_closed.load()) server->durable->connectionGone();
}

}  // namespace xsmb::session
