// The credits of one SMB Direct connection, both ways (MS-SMBD 3.1.1.1 Connection: SendCredits,
// ReceiveCredits, ReceiveCreditTarget, ReceiveCreditMax, KeepaliveRequested; 3.1.5.8 on receipt,
// 3.1.5.9 before sending). A send credit is a receive the peer has posted for us; a receive
// credit is one we have posted for the peer and told it about. Each data transfer message uses
// one credit of its sender and carries the credits its sender grants and asks for. Pure
// bookkeeping: the transport posts the receives and sends the messages it is told to.
#pragma once

#include <cstdint>

#include "common/smbd/smbd.h"

namespace xsmb::smbd {

class Credits {
 public:
  // After negotiation: `receive_credit_max` receives we are willing to post, the peer's initial
  // grant `send_credits` (its CreditsGranted) and ask `receive_credit_target` (CreditsRequested),
  // and the receives posted and granted in the negotiate response (`granted`).
  Credits(uint16_t receive_credit_max, uint16_t send_credits, uint16_t receive_credit_target,
          uint16_t granted);

  // A data transfer message arrived (already checked by decodeDataTransfer). False: the peer
  // broke the protocol (sent with no credit of ours left, or granted us more than 65,535
  // credits): terminate the connection. Otherwise its grant is added to our send credits, its
  // request becomes the receive target (capped at our maximum), and a keep-alive it asks for is
  // remembered (responseRequested()).
  bool onReceive(const DataTransfer& m);

  // Receives to post now to bring the peer's credits to its target (MS-SMBD 3.1.5.9), at least
  // one when the peer has none left or we are about to use our last send credit with messages
  // waiting (`queue_waiting`), so that it can always answer. Call posted() with what was posted.
  uint16_t receivesToPost(bool queue_waiting) const;
  void posted(uint16_t n);

  // Whether a message may be sent now: it needs a send credit, and our last one only goes to a
  // message that grants the peer credits (else neither side could send again).
  bool canSend() const { return send_ > 1 || (send_ == 1 && pending_grant_ > 0); }
  // Fills the credit fields of the message about to be sent (CreditsGranted: what was posted
  // since the last message; CreditsRequested: our target) and uses one send credit. Call only
  // when canSend(). Clears responseRequested(): any message answers a keep-alive.
  void onSend(DataTransfer* header, uint16_t send_credit_target);

  // The peer set SMB_DIRECT_RESPONSE_REQUESTED: a message must go out promptly (3.1.5.8).
  bool responseRequested() const { return response_requested_; }
  uint16_t sendCredits() const { return send_; }
  uint16_t receiveCredits() const { return receive_; }
  uint16_t receiveCreditTarget() const { return target_; }

 private:
  uint16_t max_;
  uint32_t send_ = 0;     // credits we hold (kept wide so an overflow is seen, not wrapped)
  uint16_t receive_ = 0;  // receives posted and granted to the peer, not yet used
  uint16_t target_ = 0;   // what the peer asked for, capped at max_
  uint16_t pending_grant_ = 0;  // posted since our last message: granted by the next one
  bool response_requested_ = false;
};

}  // namespace xsmb::smbd
