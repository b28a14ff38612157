// Byte-range locks and waiting lock requests (server/vfs/byte_range_locks.h), alone and through
// FileTable (grants after unlock and close, cancel, callbacks run with no mutex held).
#include "server/vfs/byte_range_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "server/vfs/file_table.h"

namespace xsmb::vfs {
namespace {

constexpr uint64_t kA = 1, kB = 2;  // two opens' tokens

// An open for reading and writing that shares everything (FileTable::add).
FileTable::OpenInfo openInfo(uint64_t token, uint64_t volatile_id) {
  FileTable::OpenInfo info;
  info.token = token;
  info.access = 0x3;        // FILE_READ_DATA | FILE_WRITE_DATA
  info.share_access = 0x7;  // FILE_SHARE_READ | WRITE | DELETE
  info.volatile_id = volatile_id;
  return info;
}

struct ConflictCase {
  const char* description;
  uint64_t held_token;
  LockRange held;
  uint64_t token;
  LockRange wanted;
  NtStatus expected;
};

TEST(ByteRangeLocks, ConflictTable) {
  // clang-format off: one case a line
  const std::vector<ConflictCase> cases = {
      {"disjoint exclusive ranges", kA, {0, 10, true}, kB, {10, 10, true}, STATUS_SUCCESS},
      {"overlapping exclusive, other open",
       kA,
       {0, 10, true},
       kB,
       {9, 2, true},
       STATUS_LOCK_NOT_GRANTED},
      {"overlapping exclusive, same open",
       kA,
       {0, 10, true},
       kA,
       {5, 1, true},
       STATUS_LOCK_NOT_GRANTED},
      {"shared on shared, other open", kA, {0, 10, false}, kB, {5, 10, false}, STATUS_SUCCESS},
      {"shared on exclusive, other open",
       kA,
       {0, 10, true},
       kB,
       {5, 1, false},
       STATUS_LOCK_NOT_GRANTED},
      {"shared stacks on own exclusive", kA, {0, 10, true}, kA, {0, 10, false}, STATUS_SUCCESS},
      {"exclusive on own shared", kA, {0, 10, false}, kA, {0, 10, true}, STATUS_LOCK_NOT_GRANTED},
      {"zero length inside a range", kA, {0, 10, true}, kB, {5, 0, true}, STATUS_LOCK_NOT_GRANTED},
      {"zero length at a range's start", kA, {5, 10, true}, kB, {5, 0, true}, STATUS_SUCCESS},
      {"zero length on zero length", kA, {5, 0, true}, kB, {5, 0, true}, STATUS_SUCCESS},
      {"range to the end of the offsets",
       kA,
       {~0ULL, 1, true},
       kB,
       {~0ULL - 1, 2, true},
       STATUS_LOCK_NOT_GRANTED},
  };
  // clang-format on
  for (const auto& c : cases) {
    ByteRangeLocks locks;
    const LockRange held[] = {c.held};
    ASSERT_EQ(locks.lock(c.held_token, held), STATUS_SUCCESS) << c.description;
    const LockRange wanted[] = {c.wanted};
    EXPECT_EQ(locks.lock(c.token, wanted), c.expected) << c.description;
  }
}

TEST(ByteRangeLocks, ManyRangesAreAllOrNothing) {
  ByteRangeLocks locks;
  const LockRange other[] = {{100, 10, true}};
  ASSERT_EQ(locks.lock(kB, other), STATUS_SUCCESS);
  const LockRange request[] = {{0, 10, true}, {20, 10, true}, {105, 1, false}};
  EXPECT_EQ(locks.lock(kA, request), STATUS_LOCK_NOT_GRANTED);
  EXPECT_EQ(locks.lockCount(), 1u);  // neither of the first two stayed
  EXPECT_EQ(locks.unlock(kA, 0, 10), STATUS_RANGE_NOT_LOCKED);
  // The elements of one request conflict with each other too.
  const LockRange twice[] = {{0, 10, true}, {5, 10, true}};
  EXPECT_EQ(locks.lock(kA, twice), STATUS_LOCK_NOT_GRANTED);
  EXPECT_EQ(locks.lockCount(), 1u);
  // A check that is not applied takes nothing.
  const LockRange free_ranges[] = {{0, 10, true}, {20, 10, true}};
  EXPECT_EQ(locks.lock(kA, free_ranges, /*apply=*/false), STATUS_SUCCESS);
  EXPECT_EQ(locks.lockCount(), 1u);
  EXPECT_EQ(locks.lock(kA, free_ranges), STATUS_SUCCESS);
  EXPECT_EQ(locks.lockCount(), 3u);
}

TEST(ByteRangeLocks, UnlockTakesExclusiveBeforeShared) {
  ByteRangeLocks locks;
  const LockRange ex[] = {{0, 10, true}};
  const LockRange sh[] = {{0, 10, false}};
  ASSERT_EQ(locks.lock(kA, ex), STATUS_SUCCESS);
  ASSERT_EQ(locks.lock(kA, sh), STATUS_SUCCESS);
  EXPECT_TRUE(locks.ioConflicts(kB, 0, 1, false));
  ASSERT_EQ(locks.unlock(kA, 0, 10), STATUS_SUCCESS);
  EXPECT_FALSE(locks.ioConflicts(kB, 0, 1, false));  // the shared one is left
  EXPECT_TRUE(locks.ioConflicts(kB, 0, 1, true));
  ASSERT_EQ(locks.unlock(kA, 0, 10), STATUS_SUCCESS);
  EXPECT_EQ(locks.unlock(kA, 0, 10), STATUS_RANGE_NOT_LOCKED);
  EXPECT_EQ(locks.unlock(kA, 0, 9), STATUS_RANGE_NOT_LOCKED);  // only the exact range
}

TEST(ByteRangeLocks, IoConflicts) {
  ByteRangeLocks locks;
  const LockRange r[] = {{10, 10, false}};
  ASSERT_EQ(locks.lock(kA, r), STATUS_SUCCESS);
  EXPECT_FALSE(locks.ioConflicts(kB, 0, 100, false)) << "reads pass shared locks";
  EXPECT_TRUE(locks.ioConflicts(kB, 0, 11, true)) << "writes hit others' shared locks";
  EXPECT_TRUE(locks.ioConflicts(kA, 15, 1, true)) << "and the writer's own shared lock";
  EXPECT_FALSE(locks.ioConflicts(kB, 20, 5, true)) << "past the end of the range";
  EXPECT_FALSE(locks.ioConflicts(kB, 15, 0, true)) << "zero-length I/O";
}

TEST(ByteRangeLocks, WaitersAreGrantedInOrderWhenTheRangeFrees) {
  ByteRangeLocks locks;
  std::vector<std::string> granted;
  const LockRange held[] = {{0, 100, true}};
  ASSERT_EQ(locks.lock(kA, held), STATUS_SUCCESS);
  // Two exclusive waiters on the same range and a shared one elsewhere in it.
  EXPECT_EQ(locks.lockOrWait(kB, 1, {10, 10, true}, [&] { granted.push_back("B1"); }),
            STATUS_PENDING);
  EXPECT_EQ(locks.lockOrWait(3, 2, {15, 10, true}, [&] { granted.push_back("C2"); }),
            STATUS_PENDING);
  EXPECT_EQ(locks.lockOrWait(4, 3, {50, 1, false}, [&] { granted.push_back("D3"); }),
            STATUS_PENDING);
  EXPECT_EQ(locks.waiterCount(), 3u);
  EXPECT_TRUE(locks.grantWaiters().empty()) << "nothing freed yet";
  ASSERT_EQ(locks.unlock(kA, 0, 100), STATUS_SUCCESS);
  for (auto& g : locks.grantWaiters()) g();
  // B1 came first and now blocks C2; D3 does not overlap B1.
  EXPECT_EQ(granted, (std::vector<std::string>{"B1", "D3"}));
  EXPECT_EQ(locks.waiterCount(), 1u);
  ASSERT_EQ(locks.unlock(kB, 10, 10), STATUS_SUCCESS);
  for (auto& g : locks.grantWaiters()) g();
  EXPECT_EQ(granted, (std::vector<std::string>{"B1", "D3", "C2"}));
  EXPECT_EQ(locks.waiterCount(), 0u);
}

TEST(ByteRangeLocks, FreeRangeIsTakenWithoutWaiting) {
  ByteRangeLocks locks;
  bool called = false;
  EXPECT_EQ(locks.lockOrWait(kA, 1, {0, 10, true}, [&] { called = true; }), STATUS_SUCCESS);
  EXPECT_EQ(locks.lockCount(), 1u);
  EXPECT_EQ(locks.waiterCount(), 0u);
  EXPECT_FALSE(called);
}

TEST(ByteRangeLocks, CancelAndRemoveOpenDropWaiters) {
  ByteRangeLocks locks;
  int calls = 0;
  const LockRange held[] = {{0, 10, true}};
  ASSERT_EQ(locks.lock(kA, held), STATUS_SUCCESS);
  ASSERT_EQ(locks.lockOrWait(kB, 7, {0, 10, true}, [&] { ++calls; }), STATUS_PENDING);
  ASSERT_EQ(locks.lockOrWait(kB, 8, {5, 1, false}, [&] { ++calls; }), STATUS_PENDING);
  EXPECT_FALSE(locks.cancelWait(kA, 7)) << "another open's waiter";
  EXPECT_TRUE(locks.cancelWait(kB, 7));
  EXPECT_FALSE(locks.cancelWait(kB, 7)) << "only once";
  locks.removeOpen(kB);  // the waiting open closes: its other waiter goes too
  EXPECT_EQ(locks.waiterCount(), 0u);
  locks.removeOpen(kA);  // the holder closes
  EXPECT_TRUE(locks.grantWaiters().empty());
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(locks.empty());
}

TEST(ByteRangeLocks, OwnExclusiveLockBlocksAWaiterOfTheSameOpen) {
  ByteRangeLocks locks;
  bool granted = false;
  const LockRange held[] = {{0, 10, true}};
  ASSERT_EQ(locks.lock(kA, held), STATUS_SUCCESS);
  EXPECT_EQ(locks.lockOrWait(kA, 1, {0, 10, true}, [&] { granted = true; }), STATUS_PENDING);
  ASSERT_EQ(locks.unlock(kA, 0, 10), STATUS_SUCCESS);
  for (auto& g : locks.grantWaiters()) g();
  EXPECT_TRUE(granted);
  EXPECT_EQ(locks.lockCount(), 1u);
}

// Through FileTable: a waiting lock is granted by the unlock or close of the holder, on the
// thread that freed the range, with the shard's mutex released (the callback may use the table).
TEST(FileTableLocks, WaiterGrantedByUnlockAndByClose) {
  FileTable files;
  const FileTable::Key k{1, 42};
  ASSERT_EQ(files.add(k, openInfo(kA, 1)), STATUS_SUCCESS);
  ASSERT_EQ(files.add(k, openInfo(kB, 2)), STATUS_SUCCESS);
  const LockRange held[] = {{100, 50, true}};
  ASSERT_EQ(files.lock(k, kA, held), STATUS_SUCCESS);
  int granted = 0;
  ASSERT_EQ(files.lockOrWait(k, kB, 1, {100, 50, true},
                             [&] {
                               ++granted;
                               // The table is usable here: no mutex is held.
                               EXPECT_TRUE(files.ioConflicts(k, kA, 100, 1, false));
                             }),
            STATUS_PENDING);
  EXPECT_EQ(files.unlock(k, kA, 100, 50), STATUS_SUCCESS);
  EXPECT_EQ(granted, 1);
  EXPECT_EQ(files.lock(k, kA, held), STATUS_LOCK_NOT_GRANTED) << "B holds it now";

  // B waits for A's new lock elsewhere; A's open closes.
  const LockRange other[] = {{0, 10, true}};
  ASSERT_EQ(files.lock(k, kA, other), STATUS_SUCCESS);
  ASSERT_EQ(files.lockOrWait(k, kB, 2, {0, 10, false}, [&] { ++granted; }), STATUS_PENDING);
  EXPECT_FALSE(files.remove(k, kA, false));
  EXPECT_EQ(granted, 2);
  EXPECT_FALSE(files.cancelLockWait(k, kB, 2)) << "already granted";
  EXPECT_EQ(files.fileCount(), 1u);
  files.remove(k, kB, false);
  EXPECT_EQ(files.fileCount(), 0u) << "the last close frees the file's record";
}

TEST(FileTableLocks, CancelledWaiterIsNeverGranted) {
  FileTable files;
  const FileTable::Key k{1, 43};
  ASSERT_EQ(files.add(k, openInfo(kA, 1)), STATUS_SUCCESS);
  ASSERT_EQ(files.add(k, openInfo(kB, 2)), STATUS_SUCCESS);
  const LockRange held[] = {{0, 1, true}};
  ASSERT_EQ(files.lock(k, kA, held), STATUS_SUCCESS);
  bool granted = false;
  ASSERT_EQ(files.lockOrWait(k, kB, 9, {0, 1, true}, [&] { granted = true; }), STATUS_PENDING);
  EXPECT_TRUE(files.cancelLockWait(k, kB, 9));
  EXPECT_EQ(files.unlock(k, kA, 0, 1), STATUS_SUCCESS);
  EXPECT_FALSE(granted);
  EXPECT_EQ(files.lock(k, kB, held), STATUS_SUCCESS);
}

// Unlocks and cancels racing on several threads: every waiter ends exactly once, granted or
// cancelled, and nothing is left behind.
TEST(FileTableLocks, RacingUnlockAndCancelEndEachWaiterOnce) {
  FileTable files;
  const FileTable::Key k{1, 44};
  constexpr int kRounds = 2000;
  ASSERT_EQ(files.add(k, openInfo(kA, 1)), STATUS_SUCCESS);
  ASSERT_EQ(files.add(k, openInfo(kB, 2)), STATUS_SUCCESS);
  std::atomic<int> granted{0};
  int cancelled = 0;
  const LockRange held[] = {{0, 10, true}};
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(files.lock(k, kA, held), STATUS_SUCCESS);
    ASSERT_EQ(files.lockOrWait(k, kB, i, {0, 10, true}, [&] { granted++; }), STATUS_PENDING);
    std::thread unlocker([&] { EXPECT_EQ(files.unlock(k, kA, 0, 10), STATUS_SUCCESS); });
    bool was_waiting = files.cancelLockWait(k, kB, i);
    unlocker.join();
    if (was_waiting) {
      ++cancelled;
    } else {
      ASSERT_EQ(files.unlock(k, kB, 0, 10), STATUS_SUCCESS) << "granted: B holds it";
    }
  }
  EXPECT_EQ(granted.load() + cancelled, kRounds);
  files.remove(k, kA, false);
  files.remove(k, kB, false);
  EXPECT_EQ(files.fileCount(), 0u);
}

}  // namespace
}  // namespace xsmb::vfs
