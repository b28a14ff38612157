// The SMB2 client transport of xsmb-bench: Direct-TCP (NetBIOS) framing, MessageId allocation
// and matching of replies that arrive in any order, credit accounting (MS-SMB2 3.2.4.1.5 /
// 3.2.5.1.4), pipelining of requests up to what the granted credits allow, request signing,
// and liveness (an ECHO probe after a soft timeout, the connection declared dead after a hard
// timeout). Single-threaded: one Transport is driven by one thread (its own poll loop or an
// epoll Reactor shared by many transports).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/bytes.h"
#include "common/crypto/signing.h"
#include "common/smb2/header.h"

namespace xsmb::bench {

using Clock = std::chrono::steady_clock;

struct TransportOptions {
  uint16_t credit_target = 512;  // credits the client asks to hold (granted + in flight)
  // A request unanswered this long triggers an ECHO probe (counted as a soft timeout); 0 = off.
  std::chrono::milliseconds soft_timeout{2000};
  // A request (or probe) unanswered this long: the connection is closed as dead; 0 = off.
  std::chrono::milliseconds hard_timeout{30000};
  // An idle connection (nothing in flight) sends an ECHO after this long; 0 = never.
  std::chrono::milliseconds echo_interval{0};
  size_t max_frame = 16u << 20;  // largest accepted NetBIOS payload, bytes
};

// One SMB2 request. The Transport fills MessageId, CreditCharge, CreditRequest, SessionId and
// the signature; the caller gives the command, TreeId and the body after the 64-byte header.
struct Request {
  uint16_t command = 0;
  uint32_t tree_id = 0;
  uint32_t flags = 0;  // extra SMB2 header flags (SIGNED is added by the transport)
  Bytes body;
  ByteSpan payload;           // appended after `body` without a copy; must outlive the send
  uint32_t payload_size = 0;  // bytes the request moves (READ Length, WRITE Length): credits
  bool keep_request = false;  // keep the sent message for Reply::request (preauth hashing)
  bool sign = false;          // sign this request even when setSigning(.., all=false)
};

struct Reply {
  absl::Status status;  // transport outcome: OK, Unavailable (connection lost), ...
  smb2::Header header;  // valid when status.ok(); header.status is the NTSTATUS
  ByteSpan message;     // the whole SMB2 reply (header + body); valid during the callback only
  ByteSpan request;     // the sent request when Request::keep_request was set
  Clock::duration latency{};
  ByteSpan body() const { return message.size() >= 64 ? message.subspan(64) : ByteSpan(); }
  uint32_t ntStatus() const { return header.status; }
};
using Completion = std::function<void(const Reply&)>;

struct TransportStats {
  uint64_t requests = 0, replies = 0, interim = 0;
  uint64_t out_of_order = 0;  // replies whose MessageId was not the oldest in flight
  uint64_t soft_timeouts = 0, hard_timeouts = 0, probes = 0;
  uint64_t bad_signatures = 0, unmatched = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  // The server ended the connection (EOF, ECONNRESET or EPIPE), as opposed to a local close, a
  // timeout or a protocol error; a refused connection shows this with replies == 0.
  uint64_t peer_closes = 0;
};

// A resolved server address (IPv4 or IPv6), so thousands of connects resolve the name once.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
// Resolves `host` (address or name) and `port`; InvalidArgument when it does not resolve.
absl::StatusOr<Endpoint> resolveEndpoint(const std::string& host, uint16_t port);

class Transport {
 public:
  explicit Transport(TransportOptions opts = {});
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Blocking TCP connect to an IPv4 address or host name, then non-blocking with TCP_NODELAY.
  // Resets the SMB2 state (credits 1, MessageId 0, no session, no signing).
  absl::Status connect(const std::string& host, uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Starts a non-blocking TCP connect (TCP_NODELAY) and returns at once, resetting the SMB2
  // state. Requests submitted meanwhile wait for it. `done` runs exactly once, from
  // handleEvents() or close() (it must not destroy the transport): OK when the connection is
  // established, else the connect error (Unavailable; the transport is then closed and its requests
  // fail with that error). A synchronous failure (socket(2) or connect(2) other than EINPROGRESS)
  // is returned instead.
  absl::Status connectAsync(const Endpoint& to, std::function<void(const absl::Status&)> done);
  bool connecting() const { return connecting_; }
  // Adopts an already connected stream socket (tests use a socketpair), resetting state.
  void adopt(int fd);
  // Closes the socket; every request in flight or waiting completes with `reason`.
  void close(absl::Status reason);
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Queues a request; it is sent once the granted credits cover its CreditCharge. `done` runs
  // exactly once: with the final reply (interim STATUS_PENDING replies only add credits), or
  // with a non-OK status when the connection is lost first.
  void submit(Request req, Completion done);

  // Reads what the socket has, completes matched replies, writes what is queued. Non-OK when
  // the connection broke (it is then closed and its requests completed with the error).
  absl::Status handleEvents(bool readable, bool writable);
  // Soft/hard timeouts and idle echo; call periodically (every ~100 ms).
  absl::Status checkTimeouts(Clock::time_point now);
  // Drives this transport alone with poll(2) until `done()` or `timeout` (DeadlineExceeded).
  absl::Status runUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  // Flushes queued output now (after submits made outside handleEvents).
  absl::Status flush();
  // Output is queued, or a connect waits for writability.
  bool wantsWrite() const { return !out_.empty() || connecting_; }

  // Registers with an epoll instance (data.ptr = this); the transport keeps EPOLLOUT interest
  // in step with its queue. -1 detaches.
  void setEpoll(int epoll_fd);

  void setSessionId(uint64_t id) { session_id_ = id; }
  uint64_t sessionId() const { return session_id_; }
  // Installs the session's signing key (MS-SMB2 3.2.4.1.1): with `all`, every following
  // request is signed; otherwise only those with Request::sign. Signed replies are verified.
  void setSigning(crypto::SigningAlgorithm alg, const crypto::Key16& key, bool all = true);
  // Multi-credit requests (MS-SMB2 3.2.4.1.5): CreditCharge = ceil(payload_size / 64 KiB);
  // without it (SMB 2.0.2) CreditCharge is 0 and one credit is used.
  void setMultiCredit(bool on) { multi_credit_ = on; }

  uint32_t credits() const { return credits_; }  // granted, not yet used
  uint64_t nextMessageId() const { return next_message_id_; }
  size_t inFlight() const { return pending_.size(); }
  size_t waiting() const { return waiting_.size(); }
  const TransportStats& stats() const { return stats_; }

 private:
  struct Pending {
    Completion done;
    Clock::time_point sent;
    Bytes request;
    bool probe = false;
    bool async = false;  // an interim STATUS_PENDING arrived: no hard timeout
  };
  struct Waiting {
    Request req;
    Completion done;
  };
  struct Outgoing {
    Bytes frame;       // NetBIOS header + SMB2 header + body
    ByteSpan payload;  // WRITE data, sent after `frame`
    size_t sent = 0;
  };

  void reset();
  uint16_t chargeOf(const Request& r) const;
  void pump();  // moves waiting requests to the wire while credits allow
  void send(Request& req, Completion done, bool probe);
  absl::Status readSome();
  absl::Status dispatch(ByteSpan frame);
  absl::Status writeSome();
  void updateInterest();
  void sendProbe();
  absl::Status finishConnect();

  TransportOptions opts_;
  int fd_ = -1;
  int epoll_fd_ = -1;
  bool epoll_out_ = false;
  bool connecting_ = false;
  std::function<void(const absl::Status&)> on_connect_;
  uint64_t session_id_ = 0;
  std::optional<crypto::SigningAlgorithm> sign_alg_;
  crypto::Key16 sign_key_{};
  bool sign_all_ = false;
  bool multi_credit_ = true;
  uint32_t credits_ = 1;  // MS-SMB2 3.2.4.1.5: one credit before NEGOTIATE
  uint64_t next_message_id_ = 0;
  uint64_t outstanding_charge_ = 0;
  std::map<uint64_t, Pending> pending_;  // by MessageId: begin() is the oldest
  std::deque<Waiting> waiting_;
  std::deque<Outgoing> out_;
  Bytes rbuf_;
  size_t rstart_ = 0, rend_ = 0;
  bool probe_outstanding_ = false;
  bool in_handler_ = false;
  Clock::time_point last_activity_{};
  TransportStats stats_;
};

}  // namespace xsmb::bench
