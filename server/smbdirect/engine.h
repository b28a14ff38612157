// The MS-SMBD protocol engine of one SMB Direct connection, over the verbs operations of
// verbs.h: the negotiate exchange (MS-SMBD 3.1.5.2-3.1.5.7; listener or initiator), data
// transfer messages with credits both ways (common/smbd/credits.h), fragmentation of the
// upper-layer messages it sends and reassembly of those it receives (3.1.4.1, 3.1.5.8), the
// answer to a keep-alive, and termination on any protocol violation. Single-threaded: the
// transport's loop calls process() when the completion queue has work.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/smbd/credits.h"
#include "common/smbd/smbd.h"
#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

// The timers of MS-SMBD 3.1.2 (values are this implementation's; smb.conf sets them).
struct Timeouts {
  // Negotiation: a peer that has not completed the negotiate exchange by then is dropped.
  std::chrono::milliseconds negotiate{5000};
  // Idle Connection Timer (3.1.2.2, 3.1.6.2): after this long without a message from the peer a
  // keep-alive (SMB_DIRECT_RESPONSE_REQUESTED) is sent. 0: never.
  std::chrono::milliseconds idle{120000};
  // Keep-alive response (3.1.6.3): no message from the peer within this after the keep-alive
  // ends the connection.
  std::chrono::milliseconds keepalive{5000};
};

class Engine {
 public:
  enum class Role { kListener, kInitiator };
  enum class State { kNegotiating, kConnected, kFailed };
  using Clock = std::chrono::steady_clock;

  Engine(Verbs* verbs, const smbd::Limits& limits, Role role, const Timeouts& timeouts = {});

  // Posts the receive for the peer's negotiate message; an initiator also sends its request.
  bool start();
  // Reaps a batch of completions and acts on them, then posts receives and sends what credits
  // allow. False once the connection has failed (state() says why it stopped: kFailed).
  bool process();
  // Queues an upper-layer message (one SMB2 message or compound) for sending. False when it is
  // larger than the peer reassembles or the connection has failed.
  bool send(Bytes message);
  // As send(); the message's last fragment goes with Send with Invalidate of the peer's
  // registration `invalidate_token` (MS-SMB2 3.3.5.12 SMB2_CHANNEL_RDMA_V1_INVALIDATE).
  bool send(Bytes message, uint32_t invalidate_token);

  // The timers (MS-SMBD 3.1.6): sends the keep-alive when the connection has been idle, fails
  // it when a keep-alive went unanswered or negotiation took too long. Returns when the next
  // timer is due (for the caller's wait). False once the connection has failed.
  bool onTimer(Clock::time_point now);
  Clock::time_point nextTimer() const;
  uint64_t keepalivesSent() const { return keepalives_sent_; }

  // RDMA Write of `local` (inside memory registered with this engine's verbs) to the peer's
  // registered memory at `remote_offset` / `remote_token`, or RDMA Read of local.size() bytes
  // from it; `done(ok)` runs from process() when it completes. False: not posted (failed).
  bool rdmaWrite(ByteSpan local, uint64_t remote_offset, uint32_t remote_token,
                 std::function<void(bool)> done);
  bool rdmaRead(std::span<uint8_t> local, uint64_t remote_offset, uint32_t remote_token,
                std::function<void(bool)> done);
  // Why the connection failed (for the log line), empty while it has not.
  const std::string& failure() const { return failure_; }
  // Ends the connection from this side (the transport closes it): state kFailed.
  void abort(std::string why) { fail(std::move(why)); }
  Verbs* verbs() const { return verbs_; }
  // Upper-layer messages received whole, oldest first; the caller takes them.
  std::deque<Bytes>& received() { return received_; }

  State state() const { return state_; }
  // Nothing queued or in flight to send (a closing connection may go).
  bool sendQueueEmpty() const { return queue_.empty() && in_flight_.empty(); }
  const smbd::Negotiated& negotiated() const { return params_; }
  const smbd::Credits* credits() const { return credits_ ? &*credits_ : nullptr; }
  // Counters for xsmbctl status (and the tests): data transfer messages each way.
  uint64_t messagesSent() const { return sent_; }
  uint64_t messagesReceived() const { return received_messages_; }

 private:
  void fail(std::string why = "protocol violation");
  bool postReceive();
  bool postReceives(uint16_t n);
  bool sendRaw(Bytes message, uint32_t invalidate_token = 0);
  void onReceive(uint64_t wr_id, uint32_t len);
  void onNegotiateRequest(ByteSpan msg);
  void onNegotiateResponse(ByteSpan msg);
  void onDataTransfer(ByteSpan msg);
  size_t reap();  // handles every completion ready; returns how many
  void pump();    // receives to post, queued fragments to send, grants and keep-alive answers

  Verbs* verbs_;
  smbd::Limits limits_;
  Role role_;
  State state_ = State::kNegotiating;
  smbd::Negotiated params_;
  std::optional<smbd::Credits> credits_;
  std::optional<smbd::Reassembler> reassembler_;
  std::vector<Bytes> buffers_;  // receive buffers; a posted receive's wr_id indexes them
  std::vector<uint32_t> free_buffers_;
  std::map<uint64_t, Bytes> in_flight_;  // sends not completed, by wr_id
  uint64_t next_send_id_ = 1;
  struct Outgoing {
    Bytes message;
    uint32_t offset = 0;
    uint32_t invalidate_token = 0;
  };
  bool sendFragment(Outgoing& o);
  void onRdmaDone(uint64_t wr_id, bool ok);
  Timeouts timeouts_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_receive_ = started_;
  std::optional<Clock::time_point> keepalive_deadline_;
  bool send_keepalive_ = false;
  uint64_t keepalives_sent_ = 0;
  std::map<uint64_t, std::function<void(bool)>> rdma_ops_;  // by wr_id
  std::string failure_;
  std::deque<Outgoing> queue_;
  std::deque<Bytes> received_;
  uint64_t sent_ = 0, received_messages_ = 0;
};

}  // namespace xsmb::smbdirect
