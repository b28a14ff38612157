// The transport seam (in the manner of Envoy's Network::Connection and its read filters): a
// transport (TCP now; SMB Direct and QUIC later) receives complete SMB2 messages, hands them to
// the protocol layer through ConnectionCallbacks, and sends what that layer returns, adding its
// own framing (NetBIOS session header on TCP, MS-SMB2 2.1). Nothing here knows SMB2 commands;
// the protocol layer knows nothing of sockets or framing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/bytes.h"
#include "common/smbd/rdma_channel.h"
#include "server/vfs/file_io.h"

namespace xsmb::transport {

// A complete received message (what one NetBIOS frame carried), in a buffer of its own. Not
// zero-filled when allocated: it is about to be overwritten by the socket, and clearing
// megabytes per WRITE would cost as much as a copy. Shared, so that work on it may outlive the
// call that delivered it (deferred I/O keeps a WRITE's data alive).
struct Message {
  std::shared_ptr<uint8_t[]> data;
  size_t size = 0;
  static Message make(size_t n) { return {std::make_shared_for_overwrite<uint8_t[]>(n), n}; }
  ByteSpan span() const { return {data.get(), size}; }
  bool empty() const { return size == 0; }
};

// A message to send, without framing: SMB2 message(s) (or a TRANSFORM message), and file data
// that follows them on the wire as part of the same message (a READ's Buffer).
struct OutMessage {
  Bytes bytes;
  vfs::FileSegment file;
};

// What the protocol layer answers to a message or a strand task.
struct Reply {
  OutMessage out;          // empty bytes: nothing to send
  bool close = false;      // close the connection once `out` (and what precedes it) is sent
  size_t max_message = 0;  // the largest message accepted from now on (0: unchanged)
  // Pacing (live limits): nothing more is sent on the connection before this time; `out` and
  // what follows it wait, in order. The epoch (default): send at once.
  std::chrono::steady_clock::time_point not_before{};
  // The connection has an authenticated session (its setup is over): the transport stops
  // timing it for "session setup timeout".
  bool established = false;
};

enum class TransportKind { kTcp, kRdma, kQuic };

// A connection as the protocol layer sees it. Its methods may be called from any thread, also
// after the connection closed (they then do nothing).
class Connection {
 public:
  virtual ~Connection() = default;
  virtual TransportKind kind() const = 0;
  virtual const std::string& peer() const = 0;  // "ip:port" for logs
  virtual uint32_t loopIndex() const = 0;       // the event loop (worker) that owns it
  // Queues `m` behind what is already queued (a message no running request answers, or the
  // completion of deferred I/O).
  virtual void send(OutMessage m) = 0;
  // Runs `task` on the connection's strand: after the message being processed, before the next
  // one; its Reply is handled as a message's.
  virtual void runInStrand(std::function<Reply()> task) = 0;
  // Closes the connection once what is queued now has been sent; messages not yet processed
  // are dropped.
  virtual void close() = 0;
  // Whether a FileSegment without `data` (sent from the file by reference, e.g. sendfile) may
  // follow a message; a transport that cannot returns false and gets data in memory only.
  virtual bool sendsFileByReference() const = 0;
  // The RDMA channel of an SMB Direct connection (READ/WRITE with SMB2_CHANNEL_RDMA_V1*,
  // common/smbd/rdma_channel.h); nullptr on a transport without one (TCP, QUIC).
  virtual std::shared_ptr<smbd::RdmaChannel> rdmaChannel() { return nullptr; }
  // Gives up on the peer once data it was sent stays unacknowledged for `timeout` (TCP:
  // TCP_USER_TIMEOUT, tcp(7)); the connection then closes as if the peer had gone. Used for
  // the channels of a multichannel session, so that a channel that went dark is noticed and
  // its session's breaks move to a live one. A transport with its own liveness checks (SMB
  // Direct's keep-alive) ignores it.
  virtual void setUnackedTimeout(std::chrono::milliseconds /*timeout*/) {}
  // Whether the peer acknowledged what it was sent (multichannel break delivery, MS-SMB2
  // 3.3.4.6/3.3.4.7: a notification sent on a channel that went dark is sent again on another).
  // `done` runs once, on the connection's event loop, with the connection's state relative to
  // `since`: see AckCheck. With `reset_if_silent`, a connection found kSilent is reset first
  // (TCP: RST, so that the peer's requests on it fail at once rather than wait) and closes as
  // if the peer had gone. A connection that is closed (or closes before the check runs)
  // reports kClosed. A transport with its own liveness checks (SMB Direct's keep-alive, QUIC)
  // reports kAcknowledged.
  enum class AckCheck {
    kAcknowledged,  // nothing sent is unacknowledged
    kProgress,      // data is unacknowledged, and the peer acknowledged some since `since`
    kSilent,        // data is unacknowledged, and the peer acknowledged nothing since `since`
    kClosed,        // the connection is closed (or was reset by this check)
  };
  struct AckStatus {
    AckCheck state = AckCheck::kAcknowledged;
    // The transport's retransmission timeout estimate (TCP: tcpi_rto); 0 when it has none.
    std::chrono::microseconds rto{0};
  };
  virtual void checkAcknowledgment(std::chrono::steady_clock::time_point /*since*/,
                                   bool /*reset_if_silent*/,
                                   std::function<void(AckStatus)> done) {
    done(AckStatus{});
  }
};

// The protocol layer's side of one connection.
class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // On the event loop, for a message that arrives while nothing else of the connection is in
  // flight: answers it here and returns true (must not block), or returns false to have
  // onMessage() process it on a pool thread.
  virtual bool onMessageInline(const Message& msg, Reply* reply) = 0;
  // On a pool thread; a connection's messages one at a time and in order.
  virtual Reply onMessage(const Message& msg) = 0;
  // The connection is closed (event loop thread); no callback follows.
  virtual void onClose() = 0;
};

// Creates the protocol side of each accepted connection.
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  // `socket_fd` is the connected socket (for the BPF sockhash); the returned callbacks live as
  // long as the connection. The first message may be at most `*max_message` bytes.
  virtual std::shared_ptr<ConnectionCallbacks> onAccept(std::shared_ptr<Connection> conn,
                                                        int socket_fd, size_t* max_message) = 0;
  // A connection refused (max connections, out of descriptors); returns the refusals so far.
  virtual uint64_t onRefused() = 0;
  // A connection closed for a framing error: a frame over the size limit (`oversized`), or not
  // a NetBIOS session message; for counters.
  virtual void onFramingError(bool oversized) = 0;
};

}  // namespace xsmb::transport
