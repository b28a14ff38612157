// The table of disconnected durable opens (server/session/durable.h): reclaim, timeouts, the
// close a break causes, the CreateGuid index.
#include "server/session/durable.h"

#include <atomic>
#include <thread>

#include "common/smb2/constants.h"
#include "gtest/gtest.h"
#include "server/session/state.h"

namespace xsmb::session {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class DurableTableTest : public ::testing::Test {
 protected:
  // Declared before the table, so that they outlive it: its destructor closes the opens it
  // still holds through the close function below.
  vfs::FileTable files_;
  std::vector<uint64_t> closed_;
  std::atomic<int> closes_{0};
  // The close records the open and takes it out of the file table, as closeDetachedOpen does.
  std::shared_ptr<DurableTable> table_ = std::make_shared<DurableTable>(&files_, [this](Open& o) {
    closed_.push_back(o.volatile_id);
    ++closes_;  // before the removal, which wakes whoever waits for the break
    files_.remove(o.key, o.token, o.delete_on_close);
  });

  // A durable open of file `ino` with a batch oplock, registered in the file table.
  std::unique_ptr<Open> durableOpen(uint64_t id, uint64_t ino, uint32_t timeout_ms) {
    auto o = std::make_unique<Open>();
    o->volatile_id = id;
    o->key = {1, ino};
    o->token = id;
    auto d = std::make_shared<DurableState>();
    d->timeout_ms = timeout_ms;
    d->user = "alice";
    o->durable = d;
    vfs::FileTable::OpenInfo info;
    info.token = o->token;
    info.access = smb2::FILE_READ_DATA | smb2::FILE_WRITE_DATA;
    info.share_access = 0;
    info.volatile_id = id;
    vfs::FileTable::OpenRequest req;
    req.info = info;
    req.oplock = smb2::SMB2_OPLOCK_LEVEL_BATCH;
    vfs::FileTable::OpenGrant grant;
    EXPECT_EQ(files_.open(o->key, req, &grant), STATUS_SUCCESS);
    EXPECT_EQ(grant.oplock_level, smb2::SMB2_OPLOCK_LEVEL_BATCH);
    return o;
  }

  // A durable open of file `ino` holding an RWH lease with key {key_byte, 0...}.
  std::unique_ptr<Open> durableLeaseOpen(uint64_t id, uint64_t ino, uint8_t key_byte,
                                         std::shared_ptr<vfs::OpenOwner> owner = nullptr) {
    auto o = std::make_unique<Open>();
    o->volatile_id = id;
    o->key = {1, ino};
    o->token = id;
    auto d = std::make_shared<DurableState>();
    d->timeout_ms = 60000;
    d->lease = true;
    d->lease_key[0] = key_byte;
    o->durable = d;
    smb2::LeaseContext lease;
    lease.key = d->lease_key;
    lease.state = vfs::kLeaseR | vfs::kLeaseH | vfs::kLeaseW;
    vfs::FileTable::OpenRequest req;
    req.info.token = o->token;
    req.info.access = smb2::FILE_READ_DATA | smb2::FILE_WRITE_DATA;
    req.info.share_access = 7;
    req.info.volatile_id = id;
    req.info.owner = owner;
    req.info.has_lease = true;
    req.info.lease_key = lease.key;
    req.oplock = smb2::SMB2_OPLOCK_LEVEL_LEASE;
    req.lease = &lease;
    vfs::FileTable::OpenGrant grant;
    EXPECT_EQ(files_.open(o->key, req, &grant), STATUS_SUCCESS);
    EXPECT_EQ(grant.lease_response.state, lease.state);
    return o;
  }

  // Opens file `ino` without sharing (which the lease's write and handle caching must be broken
  // for), retrying as a CREATE does; returns its status and how long it took.
  std::pair<NtStatus, Clock::duration> conflictingOpen(uint64_t ino) {
    auto t0 = Clock::now();
    vfs::FileTable::OpenRequest req;
    req.info.token = 1000 + ino;
    req.info.access = smb2::FILE_READ_DATA | smb2::FILE_WRITE_DATA;
    vfs::FileTable::OpenGrant grant;
    NtStatus st = files_.open({1, ino}, req, &grant);
    for (int i = 0; i < 3 && st == STATUS_PENDING; ++i) {
      files_.waitBreakProgress({1, ino});
      req.first_attempt = false;
      st = files_.open({1, ino}, req, &grant);
    }
    return {st, Clock::now() - t0};
  }

};

TEST_F(DurableTableTest, ReclaimReturnsTheOpenOnceAndOnlyWhenTheCheckAccepts) {
  table_->preserve(durableOpen(7, 100, 60000));
  EXPECT_EQ(table_->disconnectedCount(), 1u);
  std::unique_ptr<Open> out;
  auto deny = [](const Open&) { return STATUS_ACCESS_DENIED; };
  auto accept = [](const Open& o) {
    return o.durable->user == "alice" ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
  };
  EXPECT_EQ(table_->reclaim(8, accept, &out), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(table_->reclaim(7, deny, &out), STATUS_ACCESS_DENIED);
  EXPECT_EQ(table_->disconnectedCount(), 1u);
  ASSERT_EQ(table_->reclaim(7, accept, &out), STATUS_SUCCESS);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->volatile_id, 7u);
  EXPECT_EQ(table_->disconnectedCount(), 0u);
  EXPECT_EQ(table_->reclaim(7, accept, &out), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(closes_.load(), 0);
}

// A client may reconnect before the server tore its old connection down: the reclaim waits for
// the teardown of closed connections, and not longer than its grace.
TEST_F(DurableTableTest, ReclaimWaitsForTheTeardownOfAClosedConnection) {
  auto accept = [](const Open&) { return STATUS_SUCCESS; };
  std::unique_ptr<Open> out;
  table_->connectionClosing();
  auto o = durableOpen(9, 100, 60000);
  std::thread teardown([&] {
    std::this_thread::sleep_for(50ms);
    table_->preserve(std::move(o));
    table_->connectionGone();
  });
  EXPECT_EQ(table_->reclaim(9, accept, &out), STATUS_SUCCESS);
  teardown.join();
  ASSERT_TRUE(out);
  table_->connectionClosing();
  auto t0 = Clock::now();
  EXPECT_EQ(table_->reclaim(10, accept, &out, 30ms), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_GE(Clock::now() - t0, 30ms);
  table_->connectionGone();
  t0 = Clock::now();
  EXPECT_EQ(table_->reclaim(10, accept, &out), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_LT(Clock::now() - t0, 1s);  // nothing closing: no wait
}

TEST_F(DurableTableTest, ExpireClosesOnlyWhatOutlivedItsTimeout) {
  table_->preserve(durableOpen(1, 100, 60000));
  table_->preserve(durableOpen(2, 101, 120000));
  auto now = Clock::now();
  EXPECT_EQ(table_->expire(now), 0u);
  EXPECT_EQ(table_->expire(now + 90s), 1u);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0], 1u);
  EXPECT_FALSE(files_.hasOtherOpens({1, 100}, 0));  // gone from the file table
  EXPECT_TRUE(files_.hasOtherOpens({1, 101}, 0));
  EXPECT_EQ(table_->expire(now + 150s), 1u);
  EXPECT_EQ(table_->disconnectedCount(), 0u);
}

TEST_F(DurableTableTest, TheScavengerClosesWhenTheTimeoutPasses) {
  table_->preserve(durableOpen(3, 100, 50));
  for (int i = 0; i < 200 && closes_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closes_.load(), 1);
  EXPECT_EQ(table_->disconnectedCount(), 0u);
}

// MS-SMB2 3.3.4.6: a conflicting open breaks the disconnected open's batch oplock; the table,
// now its owner in the file table, closes it instead, and the waiting break ends at once.
TEST_F(DurableTableTest, ABreakClosesTheDisconnectedOpen) {
  table_->preserve(durableOpen(4, 100, 60000));
  auto t0 = Clock::now();
  vfs::FileTable::OpenRequest req;
  req.info.token = 99;
  req.info.access = smb2::FILE_READ_DATA | smb2::FILE_WRITE_DATA;
  vfs::FileTable::OpenGrant grant;
  NtStatus st = files_.open({1, 100}, req, &grant);
  if (st == STATUS_PENDING) {  // the break went to the table, which closes the open
    files_.waitBreakProgress({1, 100});
    req.first_attempt = false;
    st = files_.open({1, 100}, req, &grant);
  }
  EXPECT_EQ(st, STATUS_SUCCESS);  // no sharing violation once the durable open is gone
  EXPECT_LT(Clock::now() - t0, 5s);
  for (int i = 0; i < 200 && closes_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closes_.load(), 1);
  EXPECT_EQ(table_->disconnectedCount(), 0u);
}

// MS-SMB2 3.3.4.7: the same for a lease with handle caching: its disconnected open is closed,
// and a reconnect finds nothing.
TEST_F(DurableTableTest, ALeaseBreakClosesTheDisconnectedLeaseOpen) {
  table_->preserve(durableLeaseOpen(5, 100, 0x5A));
  auto [st, took] = conflictingOpen(100);
  EXPECT_EQ(st, STATUS_SUCCESS);
  EXPECT_LT(took, 5s);
  for (int i = 0; i < 200 && closes_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closes_.load(), 1);
  std::unique_ptr<Open> out;
  EXPECT_EQ(table_->reclaim(5, [](const Open&) { return STATUS_SUCCESS; }, &out),
            STATUS_OBJECT_NAME_NOT_FOUND);
}

// Another lease's disconnected open is left alone by a break of this one.
TEST_F(DurableTableTest, ALeaseBreakClosesOnlyThatLeasesOpens) {
  table_->preserve(durableLeaseOpen(6, 100, 0x01));
  table_->preserve(durableLeaseOpen(7, 101, 0x02));
  EXPECT_EQ(conflictingOpen(100).first, STATUS_SUCCESS);
  for (int i = 0; i < 200 && closes_.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_, std::vector<uint64_t>{6});
  EXPECT_EQ(table_->disconnectedCount(), 1u);
}

// A break that comes while the holder's connection is torn down (its owner gone, the open not
// yet preserved) stays in progress; preserve() then closes the open, which ends the wait.
TEST_F(DurableTableTest, ABreakDuringTeardownClosesTheOpenWhenPreserved) {
  struct DeadOwner : vfs::OpenOwner {
    void sendOplockBreak(uint64_t, uint8_t) override {}
    uint32_t loopIndex() const override { return 0; }
  };
  auto owner = std::make_shared<DeadOwner>();
  auto o = durableLeaseOpen(8, 100, 0x03, owner);
  owner.reset();  // the connection is gone; its open is not in the table yet
  vfs::FileTable::OpenRequest req;
  req.info.token = 2000;
  req.info.access = smb2::FILE_READ_DATA | smb2::FILE_WRITE_DATA;
  vfs::FileTable::OpenGrant grant;
  ASSERT_EQ(files_.open({1, 100}, req, &grant), STATUS_PENDING);
  std::thread teardown([&] {
    std::this_thread::sleep_for(50ms);
    table_->preserve(std::move(o));
  });
  auto [st, took] = conflictingOpen(100);
  teardown.join();
  EXPECT_EQ(st, STATUS_SUCCESS);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(closed_, std::vector<uint64_t>{8});
}

TEST_F(DurableTableTest, CreateGuidsLapseWithTheirOpen) {
  auto d = std::make_shared<DurableState>();
  d->client_guid[0] = 1;
  d->create_guid[0] = 2;
  table_->noteCreateGuid(42, d);
  smb2::Guid other{};
  EXPECT_EQ(table_->findCreateGuid(d->client_guid, d->create_guid), 42u);
  EXPECT_FALSE(table_->findCreateGuid(other, d->create_guid));
  const smb2::Guid client = d->client_guid, create = d->create_guid;
  d.reset();
  EXPECT_FALSE(table_->findCreateGuid(client, create));
}

TEST(DurableTimeoutTest, V2TimeoutDefaultsAndCap) {
  EXPECT_EQ(durableV2Timeout(0), kDurableV2DefaultTimeoutMs);
  EXPECT_EQ(durableV2Timeout(1000), 1000u);
  EXPECT_EQ(durableV2Timeout(UINT32_MAX), kDurableV2MaxTimeoutMs);
  EXPECT_EQ(kDurableV1TimeoutMs, 16u * 60 * 1000);
}

}  // namespace
}  // namespace xsmb::session
