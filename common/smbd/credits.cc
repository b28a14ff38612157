#include "common/smbd/credits.h"

#include <algorithm>

namespace xsmb::smbd {

Credits::Credits(uint16_t receive_credit_max, uint16_t send_credits,
                 uint16_t receive_credit_target, uint16_t granted)
    : max_(receive_credit_max),
      send_(send_credits),
      receive_(granted),
      target_(std::min(receive_credit_target, receive_credit_max)) {}

bool Credits::onReceive(const DataTransfer& m) {
  if (receive_ == 0) return false;  // the peer sent without a credit
  --receive_;
  send_ += m.credits_granted;
  if (send_ > UINT16_MAX) return false;
  target_ = std::min(m.credits_requested, max_);
  if (m.flags & SMB_DIRECT_RESPONSE_REQUESTED) response_requested_ = true;
  return true;
}

uint16_t Credits::receivesToPost(bool queue_waiting) const {
  const uint32_t posted_or_pending = static_cast<uint32_t>(receive_) + pending_grant_;
  if (posted_or_pending >= max_) return 0;
  uint32_t want = posted_or_pending < target_ ? target_ - posted_or_pending : 0;
  // The peer must always be able to answer: one receive when it has none, or when our last
  // send credit is about to go.
  if (want == 0 && (posted_or_pending == 0 || (send_ == 1 && queue_waiting))) want = 1;
  return static_cast<uint16_t>(std::min<uint32_t>(want, max_ - posted_or_pending));
}

void Credits::posted(uint16_t n) { pending_grant_ = static_cast<uint16_t>(pending_grant_ + n); }

void Credits::onSend(DataTransfer* header, uint16_t send_credit_target) {
  header->credits_granted = pending_grant_;
  header->credits_requested = std::max<uint16_t>(send_credit_target, 1);
  receive_ = static_cast<uint16_t>(receive_ + pending_grant_);
  pending_grant_ = 0;
  if (send_ > 0) --send_;
  response_requested_ = false;
}

}  // namespace xsmb::smbd
