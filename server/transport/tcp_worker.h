// The TCP transport: a worker is one thread with an epoll event loop that owns its own
// SO_REUSEPORT listening sockets and the connections accepted on them. It frames NetBIOS
// messages (MS-SMB2 2.1 Direct TCP), hands each complete message of a connection to its
// ConnectionCallbacks (on the loop when they take it there, else one at a time and in order on
// the pool), and writes the replies back with vectored sends, file data by sendfile. An idle
// connection holds no buffer.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/base/bytes.h"
#include "server/config/smb_conf.h"
#include "server/transport/connection.h"
#include "server/transport/tcp_socket.h"
#include "server/vfs/io_pool.h"

namespace xsmb::transport {

// Settings of the TCP transport (from smb.conf [global]).
struct TcpOptions {
  uint32_t busy_poll_usecs = 0;                      // "busy poll"
  uint32_t max_connections = 0;                      // "max connections", 0 = no limit
  std::vector<config::SocketOption> socket_options;  // "socket options"
  // Raise SO_RCVLOWAT while a large message arrives (not with the BPF sockhash, whose psock
  // queue decides readiness).
  bool use_rcvlowat = true;
  // Limits under abuse (config::HardeningConfig): a connection without an established session
  // (Reply::established) this long after accept is closed (0: never); a connection is not read
  // while its waiting messages or its unsent replies (held in memory) reach these many bytes
  // (0: no bound).
  uint32_t setup_timeout_secs = 0;     // "session setup timeout"
  uint64_t max_pending_bytes = 0;      // "max pending request bytes"
  uint64_t max_unsent_bytes = 0;       // "max unsent reply bytes"
};

class Worker {
 public:
  // `pool` runs the messages the callbacks do not take on the loop; `connection_count` counts
  // the connections of all workers (for max connections).
  Worker(Acceptor* acceptor, vfs::IoPool* pool, const TcpOptions* options,
         std::atomic<int>* connection_count, uint32_t index = 0);
  ~Worker();
  // The listening sockets (for the BPF reuseport group).
  const std::vector<int>& listeners() const { return listeners_; }
  // Opens this worker's listening sockets (one per address); false if any fails (logged).
  bool listen(const std::vector<ListenAddress>& addresses);
  // Calls `on_readable` on the loop whenever `fd` is readable (level-triggered); before start().
  void watch(int fd, std::function<void()> on_readable);
  // `on_start` runs first on the loop's thread.
  void start(std::function<void()> on_start = nullptr);
  void stop();  // asks the loop to end and joins it
  // Takeover (a newer xsmbd now gets the new connections): accepts what is queued on the
  // listening sockets, closes them, then closes each connection once it has been idle
  // (nothing being read, run or written) for `idle`. Any thread; returns at once.
  void drain(std::chrono::milliseconds idle);

 private:
  class TcpConnection;
  // One unit of a connection's serialized work: a complete message, or a task run on its strand.
  struct Work {
    Message msg;
    std::function<Reply()> task;
  };
  // A message to send with its NetBIOS header, and the file data that follows it on the wire.
  struct OutFrame {
    uint8_t head[4] = {};
    Bytes bytes;
    vfs::FileSegment file;
    size_t size() const { return sizeof(head) + bytes.size() + file.length; }
  };
  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    std::string peer;
    std::shared_ptr<TcpConnection> handle;
    std::shared_ptr<ConnectionCallbacks> cb;
    uint8_t head[4] = {};  // a NetBIOS header cut by a read boundary
    size_t head_len = 0;
    Message inflight;  // a message whose length is known, being read into place
    size_t inflight_got = 0;
    bool inflight_keepalive = false;  // inflight is a keep-alive's payload: read, then dropped
    size_t max_frame = 0;
    bool busy = false;         // a message of this connection is on the pool
    std::deque<Work> pending;  // complete messages (or strand tasks) waiting their turn
    std::deque<OutFrame> wq;   // frames to write
    size_t woff = 0;           // bytes of wq.front() already written (its data included)
    bool close_after_write = false;
    bool reading = true;
    bool flush_pending = false;  // replies queued on the event loop, not yet written
                                 // (the connection is then also listed in to_flush_)
    uint32_t events = 0;         // the epoll events registered for fd
    int rcvlowat = 1;            // the socket's SO_RCVLOWAT, as last set (setReadMark)
    // The last message was large (a WRITE stream): the next read asks for a header's worth
    // only, so the next large message lands in its own buffer instead of the scratch buffer
    // (saving a copy of up to kScratchSize of its data).
    bool large_stream = false;
    std::chrono::steady_clock::time_point last_active{};  // last read, reply or write
    // Pacing: nothing is written before this (Reply::not_before); the epoch = no hold.
    std::chrono::steady_clock::time_point hold_until{};
    bool established = false;  // a reply said the connection has a session (Reply::established)
    size_t pending_bytes = 0;  // bytes of the messages in `pending`
    size_t unsent_bytes = 0;   // bytes of `wq` held in memory (file data sent by reference not)
  };
  struct Completion {
    uint64_t conn_id;
    Reply reply;
    bool unsolicited = false;     // not the answer to the connection's running work
    std::function<Reply()> task;  // to queue on the connection's strand
    std::function<void(int fd)> on_socket;  // to run on the loop with the connection's socket
  };
  void post(Completion c);
  // `m` with its NetBIOS session header.
  static OutFrame frameOf(OutMessage m);

  void run();
  void acceptOn(int lfd);
  void onReadable(Conn& c);
  void readAvailable(Conn& c);  // reads and frames what the socket has (may close it)
  // readAvailable's reading: true when it stopped because the socket ran dry, false when the
  // connection was closed or it stopped for another reason (reading paused, 16 rounds).
  bool readSocket(Conn& c);
  bool consume(Conn& c, const uint8_t* data, size_t n);  // false: close
  // Sets SO_RCVLOWAT for the loop's next wait: the rest of c.inflight when the socket ran dry
  // inside a large message, else 1.
  void setReadMark(Conn& c, bool drained);
  bool deliver(Conn& c, Message msg);  // false: the connection was closed
  // Queues a reply's message and applies its limits; false when the connection was closed.
  bool applyReply(Conn& c, Reply r);
  void submitNext(Conn& c);
  void flush(Conn& c);
  void updateEvents(Conn& c);
  void closeConn(uint64_t id);
  void drainCompletions();
  // Out of descriptors with no spare: the listening sockets leave the epoll set for 100 ms.
  void pauseListeners();
  void resumeListeners();
  void logRefusal(const sockaddr_storage* peer, uint64_t refused, const std::string& why);
  void closeListeners();  // drain: accept what is queued, then close them
  void closeIdle();       // drain: close connections idle for drain_idle_
  // Pacing: the loop's wait ends when the earliest held connection may write (ms, or
  // `timeout` when nothing is held); releaseHeld() writes the ones whose time came.
  int holdTimeout(int timeout) const;
  void releaseHeld();
  // Queues a message that answers no running work of connection `id`; it is written with
  // the connection's other replies when the current batch of events has been handled.
  void sendUnsolicited(uint64_t id, OutMessage m);
  // Marks `c` as having replies to write once this batch of events is handled, so replies
  // finished together (eight WRITEs whose io_uring completions are reaped at once) leave in
  // one sendmsg rather than one each.
  void markFlush(Conn& c);
  void flushMarked();
  // Limits (tcp_worker_limits.cc). Queues `f` on c's write queue, counting its memory.
  void enqueue(Conn& c, OutFrame f);
  static size_t frameMemory(const OutFrame& f);
  // The unsent replies of `c` reach max_unsent_bytes: no message of it is processed (inline or
  // on the pool) until the client takes some.
  bool unsentFull(const Conn& c) const;
  // Stops reading `c` while its waiting messages (count or bytes) or unsent replies reach their
  // bounds, and reads it again once all are below half of them.
  void updateReading(Conn& c);
  // After replies of `c` were written: messages held back by unsentFull may run again.
  void afterSent(Conn& c);
  // Closes the connections whose "session setup timeout" passed without a session.
  void expireSetups();
  bool onLoopThread() const { return std::this_thread::get_id() == loop_thread_; }

  Acceptor* acceptor_;
  vfs::IoPool* pool_;
  const TcpOptions* options_;
  std::atomic<int>* connection_count_;
  uint32_t index_ = 0;
  int epfd_ = -1;
  int eventfd_ = -1;
  int reserve_fd_ = -1;  // spare descriptor, given up to refuse a connection at EMFILE
  std::chrono::steady_clock::time_point last_refusal_log_{};
  bool listeners_paused_ = false;
  std::chrono::steady_clock::time_point resume_listeners_at_{};
  std::vector<int> listeners_;
  std::unordered_map<uint64_t, std::function<void()>> watched_;  // by epoll tag
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint64_t> to_flush_;  // connections with flush_pending set (see markFlush)
  std::vector<std::pair<std::chrono::steady_clock::time_point, uint64_t>> held_;  // (until, id)
  // (deadline, id) of connections in accept order, for the session setup timeout.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> setup_deadlines_;
  uint64_t next_id_ = 1;
  std::mutex completions_mu_;
  std::vector<Completion> completions_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> drain_{false};  // drain() was called
  bool draining_ = false;           // the loop has closed its listeners
  std::atomic<int64_t> drain_idle_ms_{0};
  std::thread thread_;
  std::thread::id loop_thread_;
  Bytes scratch_;
};

}  // namespace xsmb::transport
