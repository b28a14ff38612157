#include "server/session/credits.h"

namespace xsmb::session {

bool CreditWindow::consume(uint64_t message_id, uint16_t charge) {
  if (charge == 0) charge = 1;
  if (message_id < low_ || message_id > granted_end_ || charge > granted_end_ - message_id) {
    return false;
  }
  uint64_t first = message_id - low_;
  if (used_.size() < first + charge) used_.resize(first + charge, false);
  for (uint64_t i = first; i < first + charge; ++i) {
    if (used_[i]) return false;
  }
  for (uint64_t i = first; i < first + charge; ++i) used_[i] = true;
  used_above_low_ += charge;
  while (!used_.empty() && used_.front()) {
    used_.pop_front();
    ++low_;
    --used_above_low_;
  }
  return true;
}

}  // namespace xsmb::session
