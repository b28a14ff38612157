// The MS-SMBD protocol engine of one SMB Direct connection, over the verbs operations of
// verbs.h: the negotiate exchange (MS-SMBD 3.1.5.2-3.1.5.7; listener or initiator), data
// transfer messages with credits both ways (common/smbd/credits.h), fragmentation of the
// upper-layer messages it sends and reassembly of those it receives (3.1.4.1, 3.1.5.8), the
// answer to a keep-alive, and termination on any protocol violation. Single-threaded: the
// transport's loop calls process() when the completion queue has work.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "common/smbd/credits.h"
#include "common/smbd/smbd.h"
#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

class Engine {
 public:
  enum class Role { kListener, kInitiator };
  enum class State { kNegotiating, kConnected, kFailed };

  Engine(Verbs* verbs, const smbd::Limits& limits, Role role);

  // Posts the receive for the peer's negotiate message; an initiator also sends its request.
  bool start();
  // Reaps a batch of completions and acts on them, then posts receives and sends what credits
  // allow. False once the connection has failed (state() says why it stopped: kFailed).
  bool process();
  // Queues an upper-layer message (one SMB2 message or compound) for sending. False when it is
  // larger than the peer reassembles or the connection has failed.
  bool send(Bytes message);
  // Upper-layer messages received whole, oldest first; the caller takes them.
  std::deque<Bytes>& received() { return received_; }

  State state() const { return state_; }
  const smbd::Negotiated& negotiated() const { return params_; }
  const smbd::Credits* credits() const { return credits_ ? &*credits_ : nullptr; }
  // Counters for xsmbctl status (and the tests): data transfer messages each way.
  uint64_t messagesSent() const { return sent_; }
  uint64_t messagesReceived() const { return received_messages_; }

 private:
  void fail() { state_ = State::kFailed; }
  bool postReceive();
  bool postReceives(uint16_t n);
  bool sendRaw(Bytes message);
  void onReceive(uint64_t wr_id, uint32_t len);
  void onNegotiateRequest(ByteSpan msg);
  void onNegotiateResponse(ByteSpan msg);
  void onDataTransfer(ByteSpan msg);
  void pump();  // receives to post, queued fragments to send, grants and keep-alive answers

  Verbs* verbs_;
  smbd::Limits limits_;
  Role role_;
  State state_ = State::kNegotiating;
  smbd::Negotiated params_;
  std::optional<smbd::Credits> credits_;
  std::optional<smbd::Reassembler> reassembler_;
  std::vector<Bytes> buffers_;          // receive buffers; a posted receive's wr_id indexes them
  std::vector<uint32_t> free_buffers_;
  std::map<uint64_t, Bytes> in_flight_;  // sends not completed, by wr_id
  uint64_t next_send_id_ = 1;
  struct Outgoing {
    Bytes message;
    uint32_t offset = 0;
  };
  std::deque<Outgoing> queue_;
  std::deque<Bytes> received_;
  uint64_t sent_ = 0, received_messages_ = 0;
};

}  // namespace xsmb::smbdirect
