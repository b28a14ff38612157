#include "server/vfs/meta_cache.h"

#include <memory>

namespace xsmb::vfs::meta_cache {
namespace {

struct Slot {
  bool used = false;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t ino = 0;
  int64_t ctime_sec = 0;
  uint32_t ctime_nsec = 0;
  Record rec;
};

struct Table {
  std::unique_ptr<Slot[]> slots{new Slot[kSlots]};
  Stats stats;
};

Table& table() {
  thread_local Table t;
  return t;
}

constexpr uint32_t kNeeded = STATX_INO | STATX_CTIME;

bool usable(const struct statx& stx) { return (stx.stx_mask & kNeeded) == kNeeded; }

size_t slotOf(const struct statx& stx) {
  uint64_t h = stx.stx_ino * 0x9E3779B97F4A7C15ULL;
  h ^= (uint64_t{stx.stx_dev_major} << 32 | stx.stx_dev_minor) * 0xC2B2AE3D27D4EB4FULL;
  return static_cast<size_t>(h >> 32) % kSlots;
}

bool matches(const Slot& s, const struct statx& stx) {
  return s.used && s.ino == stx.stx_ino && s.dev_major == stx.stx_dev_major &&
         s.dev_minor == stx.stx_dev_minor && s.ctime_sec == stx.stx_ctime.tv_sec &&
         s.ctime_nsec == stx.stx_ctime.tv_nsec;
}

int64_t nanos(int64_t sec, int64_t nsec) { return sec * 1'000'000'000 + nsec; }

}  // namespace

struct timespec coarseNow() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return ts;
}

const Record* find(const struct statx& stx) {
  Table& t = table();
  if (!usable(stx)) return nullptr;
  Slot& s = t.slots[slotOf(stx)];
  if (!matches(s, stx)) {
    ++t.stats.misses;
    return nullptr;
  }
  ++t.stats.hits;
  return &s.rec;
}

void store(const struct statx& stx, const struct timespec& before, const Record& rec) {
  Table& t = table();
  if (!usable(stx)) return;
  if (nanos(stx.stx_ctime.tv_sec, stx.stx_ctime.tv_nsec) + kRacyMarginNs >=
      nanos(before.tv_sec, before.tv_nsec)) {
    ++t.stats.racy;
    return;
  }
  Slot& s = t.slots[slotOf(stx)];
  if (!matches(s, stx)) {
    s = Slot{};
    s.used = true;
    s.dev_major = stx.stx_dev_major;
    s.dev_minor = stx.stx_dev_minor;
    s.ino = stx.stx_ino;
    s.ctime_sec = stx.stx_ctime.tv_sec;
    s.ctime_nsec = stx.stx_ctime.tv_nsec;
  }
  if (rec.names) s.rec.names = rec.names;
  if (rec.dos_known) {
    s.rec.dos_known = true;
    s.rec.dos = rec.dos;
  }
  if (rec.ea_size) s.rec.ea_size = rec.ea_size;
  ++t.stats.stores;
}

bool sameInodeAndCtime(const struct statx& a, const struct statx& b) {
  return usable(a) && usable(b) && a.stx_ino == b.stx_ino &&
         a.stx_dev_major == b.stx_dev_major && a.stx_dev_minor == b.stx_dev_minor &&
         a.stx_ctime.tv_sec == b.stx_ctime.tv_sec && a.stx_ctime.tv_nsec == b.stx_ctime.tv_nsec;
}

Stats stats() { return table().stats; }

void clear() {
  Table& t = table();
  for (size_t i = 0; i < kSlots; ++i) t.slots[i] = Slot{};
}

}  // namespace xsmb::vfs::meta_cache
