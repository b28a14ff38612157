// A worker: one thread with an epoll event loop that owns its own SO_REUSEPORT listening
// sockets and the connections accepted on them. It frames NetBIOS messages, hands each complete
// message of a connection, one at a time and in order, to the I/O pool, and writes the responses
// back with vectored sends. An idle connection holds no buffer.
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
#include "server/net/io_engine.h"
#include "server/net/io_pool.h"
#include "server/session/state.h"

namespace xsmb::net {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6
  uint16_t port;
};

// Creates a non-blocking SO_REUSEPORT listening socket; -1 with errno on failure.
int listenOn(const ListenAddress& a);

class Worker {
 public:
  Worker(session::ServerContext* server, IoPool* pool, std::atomic<int>* connection_count,
         uint32_t index = 0);
  // This worker's file I/O engine: "io_uring" where the kernel allows it, else "threads"
  // (XSMBD_IO_ENGINE=threads forces the latter).
  std::string_view ioEngine() const { return io_->name(); }
  // The listening sockets (for the BPF reuseport group).
  const std::vector<int>& listeners() const { return listeners_; }
  ~Worker();
  // Opens this worker's listening sockets (one per address); false if any fails (logged).
  bool listen(const std::vector<ListenAddress>& addresses);
  void start();
  void stop();  // asks the loop to end and joins it

 private:
  // A received message. Not zero-filled when allocated: it is about to be overwritten by the
  // socket, and clearing megabytes per WRITE would cost as much as a copy.
  struct MsgBuf {
    std::shared_ptr<uint8_t[]> data;  // shared: work items travel in copyable std::functions
    size_t size = 0;
    static MsgBuf make(size_t n) { return {std::make_shared_for_overwrite<uint8_t[]>(n), n}; }
    ByteSpan span() const { return {data.get(), size}; }
    bool empty() const { return size == 0; }
  };
  // One unit of a connection's serialized work: a complete message, or a task another
  // connection asked to run on this one's state (e.g. expiring a previous session).
  struct Work {
    MsgBuf msg;
    std::function<void(session::ConnState&)> task;
  };
  // A response frame, and the file data that follows it on the wire when it is sent from the
  // page cache (a READ answered by sendfile).
  struct OutFrame {
    Bytes bytes;
    session::FileSegment file;
  };
  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    std::shared_ptr<session::ConnState> state;
    uint8_t head[4] = {};  // a NetBIOS header cut by a read boundary
    size_t head_len = 0;
    MsgBuf inflight;  // a message whose length is known, being read into place
    size_t inflight_got = 0;
    size_t max_frame = 0;
    bool busy = false;         // a message of this connection is on the pool
    std::deque<Work> pending;  // complete messages (or strand tasks) waiting their turn
    std::deque<OutFrame> wq;   // response frames to write
    size_t woff = 0;           // bytes of wq.front() already written (its data included)
    bool close_after_write = false;
    bool reading = true;
    bool flush_pending = false;  // replies queued on the event loop, not yet written
                                 // (the connection is then also listed in to_flush_)
    uint32_t events = 0;         // the epoll events registered for fd
    bool lowat = false;          // SO_RCVLOWAT is raised for the message being read
    // The last message was large (a WRITE stream): the next read asks for a header's worth
    // only, so the next large message lands in its own buffer instead of the scratch buffer
    // (saving a copy of up to kScratchSize of its data).
    bool large_stream = false;
  };
  struct Completion {
    uint64_t conn_id;
    Bytes response;
    bool disconnect;
    uint32_t max_frame;
    bool unsolicited = false;  // not the answer to the connection's running request
    std::function<void(session::ConnState&)> task;  // to queue on the connection's strand
  };
  void post(Completion c);

  void run();
  void acceptOn(int lfd);
  void onReadable(Conn& c);
  void readAvailable(Conn& c);  // reads and frames what the socket has (may close it)
  bool consume(Conn& c, const uint8_t* data, size_t n);  // false: close
  void awaitRest(Conn& c);  // the socket ran dry inside c.inflight: wake when the rest is there
  bool deliver(Conn& c, MsgBuf msg);  // false: the connection was closed
  void submitNext(Conn& c);
  void flush(Conn& c);
  void updateEvents(Conn& c);
  void closeConn(uint64_t id);
  void drainCompletions();
  // Out of descriptors with no spare: the listening sockets leave the epoll set for 100 ms.
  void pauseListeners();
  void resumeListeners();
  void logRefusal(const sockaddr_storage* peer, uint64_t refused, const std::string& why);
  // Queues a frame that answers no running request of connection `id`; it is written with
  // the connection's other replies when the current batch of events has been handled.
  void sendUnsolicited(uint64_t id, Bytes frame);
  // Marks `c` as having replies to write once this batch of events is handled, so replies
  // finished together (eight WRITEs whose io_uring completions are reaped at once) leave in
  // one sendmsg rather than one each.
  void markFlush(Conn& c);
  void flushMarked();

  session::ServerContext* server_;
  IoPool* pool_;
  std::atomic<int>* connection_count_;
  uint32_t index_ = 0;
  uint32_t my_connections_ = 0;
  int epfd_ = -1;
  int eventfd_ = -1;
  std::unique_ptr<IoEngine> io_;  // this loop's file I/O (io_uring, or the pool's threads)
  int reserve_fd_ = -1;           // spare descriptor, given up to refuse a connection at EMFILE
  std::chrono::steady_clock::time_point last_refusal_log_{};
  bool listeners_paused_ = false;
  std::chrono::steady_clock::time_point resume_listeners_at_{};
  std::vector<int> listeners_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<uint64_t> to_flush_;  // connections with flush_pending set (see markFlush)
  uint64_t next_id_ = 1;
  std::mutex completions_mu_;
  std::vector<Completion> completions_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Bytes scratch_;
};

}  // namespace xsmb::net
