#include "server/vfs/change_time.h"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

namespace xsmb::vfs {
namespace {

struct Entry {
  int64_t ctime_sec = 0;
  uint32_t ctime_nsec = 0;
  uint64_t nt_time = 0;
};

using Key = std::pair<uint64_t, uint64_t>;  // dev, ino

struct Table {
  std::mutex mu;
  std::map<Key, Entry> entries;
  std::deque<Key> order;  // insertion order, for eviction (may name entries already gone)
  std::atomic<size_t> size{0};  // entries.size(), read without the lock: most lookups stop here
};

Table& table() {
  static Table* t = new Table;  // never destroyed: workers may still query at exit
  return *t;
}

}  // namespace

void recordChangeTime(uint64_t dev, uint64_t ino, const struct statx_timestamp& ctime,
                      uint64_t nt_time) {
  Table& t = table();
  std::lock_guard lock(t.mu);
  const Key key{dev, ino};
  while (t.entries.size() >= kMaxChangeTimes && !t.order.empty()) {
    t.entries.erase(t.order.front());
    t.order.pop_front();
  }
  if (t.order.size() >= 2 * kMaxChangeTimes) {  // drop names of entries that went stale
    std::deque<Key> live;
    for (const Key& k : t.order)
      if (t.entries.count(k)) live.push_back(k);
    t.order.swap(live);
  }
  auto [it, inserted] = t.entries.insert_or_assign(key, Entry{ctime.tv_sec, ctime.tv_nsec, nt_time});
  if (inserted) t.order.push_back(key);
  t.size.store(t.entries.size(), std::memory_order_relaxed);
}

std::optional<uint64_t> lookupChangeTime(uint64_t dev, uint64_t ino,
                                         const struct statx_timestamp& ctime) {
  Table& t = table();
  if (t.size.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::lock_guard lock(t.mu);
  auto it = t.entries.find(Key{dev, ino});
  if (it == t.entries.end()) return std::nullopt;
  if (it->second.ctime_sec != ctime.tv_sec || it->second.ctime_nsec != ctime.tv_nsec) {
    t.entries.erase(it);
    t.size.store(t.entries.size(), std::memory_order_relaxed);
    return std::nullopt;
  }
  return it->second.nt_time;
}

}  // namespace xsmb::vfs
