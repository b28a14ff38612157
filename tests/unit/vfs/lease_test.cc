// The lease/oplock state machine (server/vfs/lease.h) and its use by the file table
// (server/vfs/file_table.h): grants, breaks on conflicting opens, acknowledgments, breaks in
// steps, write breaks to none, records freed with their last open.
#include "server/vfs/lease.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/smb2/constants.h"
#include "server/vfs/file_table.h"

namespace xsmb::vfs {
namespace {

using namespace smb2;

constexpr uint32_t R = kLeaseR, H = kLeaseH, W = kLeaseW;

TEST(LeaseRules, ValidRequests) {
  struct {
    uint32_t requested, granted;
  } cases[] = {{0, 0},         {R, R},         {H, 0},     {W, 0},
               {R | H, R | H}, {R | W, R | W}, {H | W, 0}, {R | H | W, R | H | W}};
  for (const auto& c : cases) {
    EXPECT_EQ(grantLease(c.requested, {}), c.granted) << c.requested;
  }
}

TEST(LeaseRules, GrantLimits) {
  GrantLimits others;
  others.other_opens = true;
  EXPECT_EQ(grantLease(R | H | W, others), R | H);
  GrantLimits oplock = others;
  oplock.other_oplock = true;
  EXPECT_EQ(grantLease(R | H | W, oplock), R);
  GrantLimits locks;
  locks.byte_range_locks = true;
  EXPECT_EQ(grantLease(R | H | W, locks), 0u);  // RW -> no R -> nothing
  GrantLimits writer;
  writer.other_write = true;
  EXPECT_EQ(grantLease(R, writer), 0u);
  EXPECT_EQ(grantOplock(SMB2_OPLOCK_LEVEL_BATCH, {}), SMB2_OPLOCK_LEVEL_BATCH);
  EXPECT_EQ(grantOplock(SMB2_OPLOCK_LEVEL_BATCH, others), SMB2_OPLOCK_LEVEL_II);
  GrantLimits handle = others;
  handle.other_handle = true;
  EXPECT_EQ(grantOplock(SMB2_OPLOCK_LEVEL_II, handle), SMB2_OPLOCK_LEVEL_NONE);
}

TEST(LeaseRules, OpenBreaks) {
  struct {
    const char* description;
    uint32_t held;
    bool is_lease, sharing_violation, overwrite;
    uint32_t break_to;
    bool send, wait;
  } cases[] = {
      {"lease RWH, plain open: loses W, waits", R | H | W, true, false, false, R | H, true, true},
      {"lease RH, plain open: nothing", R | H, true, false, false, R | H, false, false},
      {"lease RH, sharing violation: loses H, waits", R | H, true, true, false, R, true, true},
      {"lease RH, overwrite: to none, no wait", R | H, true, false, true, 0, true, false},
      {"batch, plain open: to LEVEL_II, waits", R | H | W, false, false, false, R, true, true},
      {"batch, sharing violation: to LEVEL_II", R | H | W, false, true, false, R, true, true},
      {"exclusive, overwrite: to none, waits", R | W, false, false, true, 0, true, true},
      {"level II, plain open: nothing", R, false, false, false, R, false, false},
  };
  for (const auto& c : cases) {
    Caching holder;
    holder.state = c.held;
    OpenBreak b = planOpenBreak(holder, c.is_lease, c.sharing_violation, c.overwrite, true);
    EXPECT_EQ(b.break_to, c.break_to) << c.description;
    EXPECT_EQ(b.send, c.send) << c.description;
    EXPECT_EQ(b.wait, c.wait) << c.description;
  }
}

TEST(LeaseRules, AcknowledgmentInSteps) {
  Caching c;
  c.state = R | H | W;
  c.breaking = true;
  c.breaking_to = R | H;
  c.breaking_to_required = 0;  // an overwrite arrived meanwhile
  uint32_t next = 0;
  EXPECT_EQ(acknowledgeLeaseBreak(&c, R | H | W, &next), STATUS_REQUEST_NOT_ACCEPTED);
  EXPECT_EQ(acknowledgeLeaseBreak(&c, R | H, &next), STATUS_SUCCESS);
  EXPECT_EQ(c.state, R | H);
  EXPECT_EQ(next, R);                                                   // read caching goes last
  EXPECT_EQ(acknowledgeLeaseBreak(&c, R, &next), STATUS_UNSUCCESSFUL);  // not breaking now
}

// Records what the table sends.
class FakeOwner : public OpenOwner {
 public:
  void sendOplockBreak(uint64_t volatile_id, uint8_t level) override {
    oplock_breaks.push_back({volatile_id, level});
  }
  void sendLeaseBreak(const LeaseBreakNotification& n) override { lease_breaks.push_back(n); }
  uint32_t loopIndex() const override { return 0; }
  std::vector<std::pair<uint64_t, uint8_t>> oplock_breaks;
  std::vector<LeaseBreakNotification> lease_breaks;
};

class FileTableLeaseTest : public ::testing::Test {
 protected:
  FileTable::OpenRequest request(const std::shared_ptr<FakeOwner>& owner, uint64_t token,
                                 const LeaseContext* lease, uint8_t key_byte) {
    FileTable::OpenRequest r;
    r.info.token = token;
    r.info.access = FILE_READ_DATA | FILE_WRITE_DATA;
    r.info.share_access = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    r.info.owner = owner;
    r.info.volatile_id = token;
    r.info.client_guid[0] = 1;
    if (lease) {
      r.info.has_lease = true;
      r.info.lease_key = lease->key;
      r.info.lease_key[0] = key_byte;
      r.lease = lease;
      r.oplock = SMB2_OPLOCK_LEVEL_LEASE;
    }
    return r;
  }
  static LeaseContext lease(uint32_t state, uint8_t key_byte) {
    LeaseContext c;
    c.state = state;
    c.key[0] = key_byte;
    return c;
  }
  FileTable table;
  const FileTable::Key file{1, 100};
  std::shared_ptr<FakeOwner> a = std::make_shared<FakeOwner>();
  std::shared_ptr<FakeOwner> b = std::make_shared<FakeOwner>();
};

TEST_F(FileTableLeaseTest, ConflictingOpenWaitsForTheAcknowledgment) {
  LeaseContext l1 = lease(R | H | W, 1), l2 = lease(R | H | W, 2);
  FileTable::OpenGrant g;
  ASSERT_EQ(table.open(file, request(a, 1, &l1, 1), &g), STATUS_SUCCESS);
  EXPECT_EQ(g.oplock_level, SMB2_OPLOCK_LEVEL_LEASE);
  EXPECT_EQ(g.lease_response.state, R | H | W);
  EXPECT_TRUE(table.anyStrongOplocks());

  ASSERT_EQ(table.open(file, request(b, 2, &l2, 2), &g), STATUS_PENDING);
  ASSERT_EQ(a->lease_breaks.size(), 1u);
  EXPECT_EQ(a->lease_breaks[0].current_state, R | H | W);
  EXPECT_EQ(a->lease_breaks[0].new_state, R | H);
  EXPECT_EQ(a->lease_breaks[0].flags, SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED);
  bool resumed = false;
  table.whenBreakProgresses(file, [&] { resumed = true; });
  EXPECT_FALSE(resumed);
  EXPECT_EQ(table.acknowledgeLease(Guid{}, l1.key, R | H),
            STATUS_OBJECT_NAME_NOT_FOUND);  // another client's GUID
  Guid client{};
  client[0] = 1;
  EXPECT_EQ(table.acknowledgeLease(client, l1.key, R | H | W), STATUS_REQUEST_NOT_ACCEPTED);
  EXPECT_EQ(table.acknowledgeLease(client, l1.key, R | H), STATUS_SUCCESS);
  EXPECT_TRUE(resumed);

  auto retry = request(b, 2, &l2, 2);
  retry.first_attempt = false;
  ASSERT_EQ(table.open(file, retry, &g), STATUS_SUCCESS);
  EXPECT_EQ(g.lease_response.state, R | H);
  EXPECT_EQ(table.acknowledgeLease(client, l1.key, R), STATUS_UNSUCCESSFUL);
}

TEST_F(FileTableLeaseTest, SharingViolationAfterHandleBreak) {
  LeaseContext l1 = lease(R | H, 1);
  FileTable::OpenGrant g;
  ASSERT_EQ(table.open(file, request(a, 1, &l1, 1), &g), STATUS_SUCCESS);
  auto exclusive = request(b, 2, nullptr, 0);
  exclusive.info.share_access = 0;
  ASSERT_EQ(table.open(file, exclusive, &g), STATUS_PENDING);  // H must go first
  ASSERT_EQ(a->lease_breaks.size(), 1u);
  EXPECT_EQ(a->lease_breaks[0].new_state, R);
  Guid client{};
  client[0] = 1;
  ASSERT_EQ(table.acknowledgeLease(client, l1.key, R), STATUS_SUCCESS);
  exclusive.first_attempt = false;
  // The holder kept its handle open: the share modes still refuse.
  EXPECT_EQ(table.open(file, exclusive, &g), STATUS_SHARING_VIOLATION);
  // It closes it: now the open gets in.
  table.remove(file, 1, false);
  EXPECT_EQ(table.open(file, exclusive, &g), STATUS_SUCCESS);
}

TEST_F(FileTableLeaseTest, OneKeyOneFile) {
  LeaseContext l1 = lease(R, 1);
  FileTable::OpenGrant g;
  ASSERT_EQ(table.open(file, request(a, 1, &l1, 1), &g), STATUS_SUCCESS);
  const FileTable::Key other{1, 101};
  EXPECT_EQ(table.open(other, request(a, 2, &l1, 1), &g), STATUS_INVALID_PARAMETER);
  table.remove(file, 1, false);
  // The lease went with its last open: the key is free again, and nothing is left to ack.
  Guid client{};
  client[0] = 1;
  EXPECT_EQ(table.acknowledgeLease(client, l1.key, 0), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(table.open(other, request(a, 2, &l1, 1), &g), STATUS_SUCCESS);
  table.remove(other, 2, false);
  EXPECT_FALSE(table.anyStrongOplocks());
}

TEST_F(FileTableLeaseTest, WriteBreaksReadCachingToNone) {
  LeaseContext l1 = lease(R, 1);
  FileTable::OpenGrant g;
  ASSERT_EQ(table.open(file, request(a, 1, &l1, 1), &g), STATUS_SUCCESS);
  auto level2 = request(b, 2, nullptr, 0);
  level2.oplock = SMB2_OPLOCK_LEVEL_II;
  ASSERT_EQ(table.open(file, level2, &g), STATUS_SUCCESS);
  EXPECT_EQ(g.oplock_level, SMB2_OPLOCK_LEVEL_II);
  table.breakToNone(file, 2);  // the LEVEL_II holder writes
  ASSERT_EQ(a->lease_breaks.size(), 1u);
  EXPECT_EQ(a->lease_breaks[0].new_state, 0u);
  EXPECT_EQ(a->lease_breaks[0].flags, 0u);  // R -> none needs no acknowledgment
  ASSERT_EQ(b->oplock_breaks.size(), 1u);   // its own LEVEL_II goes too
  EXPECT_EQ(b->oplock_breaks[0].second, SMB2_OPLOCK_LEVEL_NONE);
  uint8_t level = 0;
  EXPECT_EQ(table.acknowledgeBreak(file, 2, SMB2_OPLOCK_LEVEL_NONE, &level),
            STATUS_INVALID_OPLOCK_PROTOCOL);
}

TEST_F(FileTableLeaseTest, BatchBreakAndAcknowledgment) {
  FileTable::OpenGrant g;
  auto batch = request(a, 1, nullptr, 0);
  batch.oplock = SMB2_OPLOCK_LEVEL_BATCH;
  ASSERT_EQ(table.open(file, batch, &g), STATUS_SUCCESS);
  EXPECT_EQ(g.oplock_level, SMB2_OPLOCK_LEVEL_BATCH);
  auto second = request(b, 2, nullptr, 0);
  second.oplock = SMB2_OPLOCK_LEVEL_BATCH;
  ASSERT_EQ(table.open(file, second, &g), STATUS_PENDING);
  ASSERT_EQ(a->oplock_breaks.size(), 1u);
  EXPECT_EQ(a->oplock_breaks[0].second, SMB2_OPLOCK_LEVEL_II);
  uint8_t level = 0;
  EXPECT_EQ(table.acknowledgeBreak(file, 1, SMB2_OPLOCK_LEVEL_II, &level), STATUS_SUCCESS);
  second.first_attempt = false;
  ASSERT_EQ(table.open(file, second, &g), STATUS_SUCCESS);
  EXPECT_EQ(g.oplock_level, SMB2_OPLOCK_LEVEL_II);
  EXPECT_FALSE(table.anyStrongOplocks());
}

}  // namespace
}  // namespace xsmb::vfs
