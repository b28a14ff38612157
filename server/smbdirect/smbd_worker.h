// The SMB Direct transport behind transport::Connection: one thread with an event loop that
// runs the MS-SMBD engines (engine.h) of the connections it owns, waits on their completion
// channels and timers, hands each reassembled SMB2 message to the connection's
// ConnectionCallbacks (always on the pool, one at a time and in order: a READ or WRITE with an
// RDMA channel waits there for its RDMA transfers, which this loop completes), and sends the
// replies as data transfer messages. The SMB2 layer sees the same Connection as over TCP, plus
// an smbd::RdmaChannel for the READ/WRITE channels (connection()->rdmaChannel()).
//
// A connection is adopted once its queue pair is connected (the rdma-core listener's job, or a
// test's loopback pair); the peer initiates the negotiate exchange, and the Acceptor hears of
// the connection once it is negotiated. The loop owns every engine: other threads post to it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/smbd/smbd.h"
#include "server/config/smb_conf_smbdirect.h"
#include "server/smbdirect/buffer_pool.h"
#include "server/smbdirect/engine.h"
#include "server/smbdirect/verbs.h"
#include "server/transport/connection.h"
#include "server/vfs/io_pool.h"

namespace xsmb::smbdirect {

// Settings of the SMB Direct transport (smb.conf [global], see docs/smbdirect.md).
struct SmbdOptions {
  smbd::Limits limits;      // credits and sizes offered (MS-SMBD 3.1.1.1)
  Timeouts timeouts;        // negotiate, idle (keep-alive) and keep-alive response
  size_t rdma_buffers = 8;  // registered buffers of max_read_write_size per connection
  // A connection without an authenticated session (transport::Reply::established) this long
  // after it was adopted is closed, as over TCP (smb.conf "session setup timeout"); 0 = never.
  std::chrono::seconds setup_timeout{0};
};

// The options smb.conf's "smb direct ..." parameters set (server/config/smb_conf_smbdirect.h).
SmbdOptions smbdOptionsFrom(const config::SmbDirectConfig& c);

// Counters of all connections of one worker (xsmbctl status; MS-SMBD has no counters of its
// own). Relaxed atomics: read from any thread.
struct SmbdStats {
  std::atomic<uint64_t> connections{0}, negotiate_failures{0}, protocol_errors{0};
  std::atomic<uint64_t> rdma_reads{0}, rdma_read_bytes{0};    // RDMA Read (WRITE channels)
  std::atomic<uint64_t> rdma_writes{0}, rdma_write_bytes{0};  // RDMA Write (READ channels)
  std::atomic<uint64_t> keepalives_sent{0}, send_invalidates{0};
};

class SmbdWorker {
 public:
  SmbdWorker(transport::Acceptor* acceptor, vfs::IoPool* pool, const SmbdOptions* options,
             uint32_t index = 0);
  ~SmbdWorker();  // stops the loop; connections still open are closed (onClose)
  // `on_start` runs first on the loop's thread.
  void start(std::function<void()> on_start = nullptr);
  void stop();
  // Any thread: takes a connected queue pair whose peer sends the negotiate request, posting
  // the receive for that request before it returns (the backend then accepts the connection).
  // `peer` names it in logs ("ip:port").
  void adopt(std::unique_ptr<Verbs> verbs, std::string peer);
  const SmbdStats& stats() const { return stats_; }
  uint32_t index() const { return index_; }

 private:
  class SmbdConnection;
  struct Work {
    transport::Message msg;
    std::function<transport::Reply()> task;
  };
  struct Conn {
    uint64_t id = 0;
    std::string peer;
    std::shared_ptr<Verbs> verbs;
    std::unique_ptr<Engine> engine;
    std::shared_ptr<SmbdConnection> handle;
    std::shared_ptr<transport::ConnectionCallbacks> cb;  // set once negotiated
    size_t max_message = 0;
    bool busy = false;  // a message or task of this connection is on the pool
    std::deque<Work> pending;
    bool closing = false;  // close once the engine has sent what is queued
    // Pacing (Reply::not_before): a reply held back until `hold_until`; the connection's next
    // message waits behind it (busy stays set), as its replies do over TCP.
    std::optional<transport::Reply> held;
    uint32_t held_invalidate = 0;
    Engine::Clock::time_point hold_until{};
    bool established = false;  // a reply said it has a session (Reply::established)
    Engine::Clock::time_point setup_deadline = Engine::Clock::time_point::max();
  };

  void run();
  void post(std::function<void()> task);  // runs `task` on the loop (any thread)
  void runPosted();
  void service(Conn& c);  // completions, newly negotiated, received messages, close
  void deliver(Conn& c);
  void submitNext(Conn& c);
  void applyReply(uint64_t id, transport::Reply r, uint32_t invalidate_token);
  void releaseHeld(Engine::Clock::time_point now);  // the held replies whose time came
  void expireSetups(Engine::Clock::time_point now);  // "session setup timeout"
  void sendOut(Conn& c, transport::OutMessage m, uint32_t invalidate_token);
  void closeConn(uint64_t id, const std::string& why);
  Conn* find(uint64_t id);
  int waitMillis() const;  // until the earliest engine timer
  bool onLoopThread() const { return std::this_thread::get_id() == loop_thread_; }

  transport::Acceptor* acceptor_;
  vfs::IoPool* pool_;
  const SmbdOptions* options_;
  uint32_t index_;
  int epfd_ = -1, eventfd_ = -1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::thread::id loop_thread_;
  SmbdStats stats_;
};

}  // namespace xsmb::smbdirect
