// The server's view of the client's MessageId window (MS-SMB2 3.3.1.1, 3.3.5.2.3): which
// MessageIds the client may use next, given the credits granted so far. Ids may be consumed out
// of order (smb2.credits.skipped_mid) but never twice.
#pragma once

#include <cstdint>
#include <deque>

namespace xsmb::session {

class CreditWindow {
 public:
  // The window starts at MessageId 0 with one credit (MS-SMB2 3.3.1.1).
  CreditWindow() = default;

  // Consumes ids [message_id, message_id + charge). False (and nothing consumed) when any of
  // them is outside the granted window or already used. `charge` >= 1.
  bool consume(uint64_t message_id, uint16_t charge);
  // Grants `credits` more ids at the top of the window.
  void grant(uint16_t credits) { granted_end_ += credits; }
  // Credits the client holds now: granted ids not yet used.
  uint64_t outstanding() const { return granted_end_ - low_ - used_above_low_; }
  uint64_t low() const { return low_; }

 private:
  uint64_t low_ = 0;          // lowest id not yet used
  uint64_t granted_end_ = 1;  // one past the highest id the client may use
  std::deque<bool> used_;     // used_[i]: id low_ + i already consumed (i >= 1 only matters)
  uint64_t used_above_low_ = 0;
};

}  // namespace xsmb::session
