#include "server/vfs/notify.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

namespace xsmb::vfs {
namespace {

uint32_t inotifyMask(uint32_t filter) {
  uint32_t m = 0;
  if (filter & (FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME)) {
    m |= IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
  }
  if (filter & (FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SECURITY |
                FILE_NOTIFY_CHANGE_EA | FILE_NOTIFY_CHANGE_CREATION)) {
    m |= IN_ATTRIB;
  }
  if (filter & (FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE)) m |= IN_MODIFY;
  if (filter & FILE_NOTIFY_CHANGE_LAST_ACCESS) m |= IN_ACCESS;
  return m;
}

// Whether an event of kind `in_mask` on an entry (`is_dir`) matches the client's filter.
bool wanted(uint32_t filter, uint32_t in_mask, bool is_dir) {
  if (in_mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) {
    return filter & (is_dir ? FILE_NOTIFY_CHANGE_DIR_NAME : FILE_NOTIFY_CHANGE_FILE_NAME);
  }
  if (in_mask & IN_ATTRIB) {
    return filter & (FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SECURITY |
                     FILE_NOTIFY_CHANGE_EA | FILE_NOTIFY_CHANGE_CREATION);
  }
  if (in_mask & IN_MODIFY)
    return filter & (FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE);
  if (in_mask & IN_ACCESS) return filter & FILE_NOTIFY_CHANGE_LAST_ACCESS;
  return false;
}

uint32_t actionOf(uint32_t in_mask) {
  if (in_mask & IN_CREATE) return FILE_ACTION_ADDED;
  if (in_mask & IN_DELETE) return FILE_ACTION_REMOVED;
  if (in_mask & IN_MOVED_FROM) return FILE_ACTION_RENAMED_OLD_NAME;
  if (in_mask & IN_MOVED_TO) return FILE_ACTION_RENAMED_NEW_NAME;
  return FILE_ACTION_MODIFIED;
}

}  // namespace

NotifyHub::NotifyHub() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ >= 0 && stop_fd_ >= 0) thread_ = std::thread([this] { run(); });
}

NotifyHub::~NotifyHub() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

uint64_t NotifyHub::watch(int dir_fd, uint32_t filter, Callback cb) {
  if (inotify_fd_ < 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t mask = inotifyMask(filter);
  if (mask == 0) return 0;
  // Several watches of one directory share its inotify wd (IN_MASK_ADD widens its mask).
  std::string path = "/proc/self/fd/" + std::to_string(dir_fd);
  int wd = inotify_add_watch(inotify_fd_, path.c_str(), mask | IN_MASK_ADD | IN_ONLYDIR);
  if (wd < 0) return 0;
  uint64_t id = next_id_++;
  watches_[id] = Watch{wd, filter, std::move(cb)};
  return id;
}

void NotifyHub::unwatch(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  int wd = it->second.wd;
  watches_.erase(it);
  for (const auto& [other, w] : watches_) {
    if (w.wd == wd) return;  // still watched by someone else
  }
  inotify_rm_watch(inotify_fd_, wd);
}

void NotifyHub::run() {
  alignas(struct inotify_event) char buf[64 * 1024];
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->len == 0) continue;  // an event on the directory itself
      NotifyEvent e{actionOf(ev->mask), std::string(ev->name, strnlen(ev->name, ev->len))};
      bool is_dir = ev->mask & IN_ISDIR;
      for (auto& [id, w] : watches_) {
        if (w.wd == ev->wd && wanted(w.mask, ev->mask, is_dir)) w.cb(e);
      }
    }
  }
}

}  // namespace xsmb::vfs
