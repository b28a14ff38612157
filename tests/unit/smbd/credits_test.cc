// SMB Direct credit bookkeeping (common/smbd/credits.h): starvation and recovery, a peer that
// sends beyond its credits, keep-alives, targets capped at our maximum, and a grant overflow.
#include "common/smbd/credits.h"

#include <gtest/gtest.h>

namespace xsmb::smbd {
namespace {

DataTransfer fromPeer(uint16_t requested, uint16_t granted, uint16_t flags = 0) {
  DataTransfer m;
  m.credits_requested = requested;
  m.credits_granted = granted;
  m.flags = flags;
  return m;
}

TEST(SmbdCredits, TheLastSendCreditOnlyGoesWithAGrantAndAGrantRestoresSending) {
  Credits c(/*receive_credit_max=*/255, /*send_credits=*/2, /*target=*/10, /*granted=*/10);
  DataTransfer h;
  ASSERT_TRUE(c.canSend());
  c.onSend(&h, 255);
  EXPECT_EQ(h.credits_granted, 0);
  EXPECT_EQ(h.credits_requested, 255);
  EXPECT_EQ(c.sendCredits(), 1);
  // One credit left and nothing to grant: sending it would leave neither side able to send.
  EXPECT_FALSE(c.canSend());
  // With a message waiting, a receive is posted so that the last credit carries a grant.
  ASSERT_EQ(c.receivesToPost(/*queue_waiting=*/true), 1);
  EXPECT_EQ(c.receivesToPost(/*queue_waiting=*/false), 0);  // the peer holds its target of 10
  c.posted(1);
  ASSERT_TRUE(c.canSend());
  c.onSend(&h, 255);
  EXPECT_EQ(h.credits_granted, 1);
  EXPECT_EQ(c.sendCredits(), 0);
  EXPECT_EQ(c.receiveCredits(), 11);
  EXPECT_FALSE(c.canSend());  // starved ...
  ASSERT_TRUE(c.onReceive(fromPeer(10, 5)));
  EXPECT_EQ(c.sendCredits(), 5);  // ... until the peer grants again
  EXPECT_TRUE(c.canSend());
  EXPECT_EQ(c.receiveCredits(), 10);
}

TEST(SmbdCredits, APeerSendingBeyondItsCreditsBreaksTheProtocol) {
  Credits c(255, 1, 10, /*granted=*/2);
  EXPECT_TRUE(c.onReceive(fromPeer(10, 0)));
  EXPECT_TRUE(c.onReceive(fromPeer(10, 0)));
  EXPECT_FALSE(c.onReceive(fromPeer(10, 0)));
}

TEST(SmbdCredits, ThePeerNeverRunsDry) {
  Credits c(255, 5, 10, /*granted=*/1);
  ASSERT_TRUE(c.onReceive(fromPeer(1, 0)));  // its only credit used; it asks for 1
  EXPECT_EQ(c.receiveCredits(), 0);
  EXPECT_EQ(c.receivesToPost(false), 1);
  c.posted(1);
  EXPECT_EQ(c.receivesToPost(false), 0);  // posted, granted by the next message
}

TEST(SmbdCredits, AKeepAliveIsAnsweredByTheNextMessage) {
  Credits c(255, 5, 10, 10);
  ASSERT_TRUE(c.onReceive(fromPeer(10, 0, SMB_DIRECT_RESPONSE_REQUESTED)));
  EXPECT_TRUE(c.responseRequested());
  DataTransfer h;
  c.onSend(&h, 255);
  EXPECT_FALSE(c.responseRequested());
}

TEST(SmbdCredits, TheTargetIsCappedAtOurMaximum) {
  Credits c(/*receive_credit_max=*/16, 5, /*target=*/1000, /*granted=*/4);
  EXPECT_EQ(c.receiveCreditTarget(), 16);
  EXPECT_EQ(c.receivesToPost(false), 12);
  c.posted(12);
  EXPECT_EQ(c.receivesToPost(true), 0);  // at the maximum: none, whatever waits
  ASSERT_TRUE(c.onReceive(fromPeer(65535, 0)));
  EXPECT_EQ(c.receiveCreditTarget(), 16);
}

TEST(SmbdCredits, AGrantBeyond65535CreditsBreaksTheProtocol) {
  Credits c(255, 0, 10, 10);
  ASSERT_TRUE(c.onReceive(fromPeer(10, 65535)));
  EXPECT_FALSE(c.onReceive(fromPeer(10, 1)));
}

}  // namespace
}  // namespace xsmb::smbd
