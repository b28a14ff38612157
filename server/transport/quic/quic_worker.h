// The QUIC transport's event loop behind transport::Connection (MS-SMB2 2.1: SMB 3.1.1 over
// QUIC, UDP, one bidirectional stream per SMB connection). One QuicWorker per worker index: a
// thread with its own epoll set and one UDP socket per listening address, all bound with
// SO_REUSEPORT to the same port, so the kernel (or a sk_reuseport program reading the
// connection ID, quic_cid.h) spreads clients over the workers. The worker owns its QUIC
// connections (QuicSession), cuts their streams into SMB2 messages (StreamFramer) and hands
// each to the connection's ConnectionCallbacks on the I/O pool, one at a time and in order, as
// SMB Direct's worker does; replies go back on the stream behind their Direct TCP header. A
// message the protocol layer can answer without blocking (ConnectionCallbacks::
// onMessageInline: ECHO, READ/WRITE with their file I/O on the acceptor's engine, the
// CREATE/CLOSE chains) is answered on the loop itself, as the TCP loops do, when nothing else
// of its connection is in flight.
//
// A packet that reaches another worker's socket (the kernel's reuseport hash follows the
// 4-tuple, which changes when a client migrates, RFC 9000 9) is handed to the worker its
// destination connection ID names, so a migrated connection stays where its state is.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "common/base/unique_fd.h"
#include "server/transport/connection.h"
#include "server/transport/quic/quic_session.h"
#include "server/transport/quic/quic_tls.h"
#include "server/vfs/io_pool.h"

namespace xsmb::transport::quic {

// Settings of the QUIC transport (smb.conf, server/config/smb_conf_quic.h).
struct QuicOptions {
  std::vector<std::string> hosts;          // addresses to listen on ("interfaces")
  uint16_t port = 443;                     // "quic port" (UDP)
  QuicSession::Params session;             // windows and idle timeout
  uint32_t max_connections = 0;            // per worker; 0 = no limit
  uint64_t max_pending_bytes = 32u << 20;  // received messages waiting, per connection
  // "session setup timeout": a connection without an authenticated session this long after
  // its handshake is closed (Reply::established ends the wait); 0 = never.
  std::chrono::seconds setup_timeout{0};
};

// A datagram that reached the worker outside its UDP sockets (the AF_XDP mode: an XSK frame
// already read down to its UDP payload): the payload and both ends as the frame names them.
struct ExternalDatagram {
  ByteSpan payload;  // valid during the callback only
  sockaddr_storage from{};
  socklen_t from_len = 0;
  sockaddr_storage to{};  // the server's address and port the client sent to
  socklen_t to_len = 0;
};

// Where a worker reads datagrams besides its UDP sockets (quic_steering_link.h, AF_XDP mode:
// the worker's XSK on one receive queue). Used on the worker's thread only.
class DatagramSource {
 public:
  virtual ~DatagramSource() = default;
  // Readable (EPOLLIN) while datagrams wait; stays open while the source lives.
  virtual int fd() const = 0;
  // Hands up to `max` waiting datagrams to `fn`; never blocks. Returns the frames taken (a
  // frame that is no UDP datagram counts, but is not handed over).
  virtual size_t receive(size_t max, const std::function<void(const ExternalDatagram&)>& fn) = 0;
};

// Told, on the worker's thread, of each connection ID of ours (quic_cid.h layout, 16 bytes)
// that starts naming a connection of the worker (RFC 9000 5.1.1: the first Source Connection
// ID, NEW_CONNECTION_ID) and of each that stops (retired, 5.1.2, or the connection ended).
// The AF_XDP mode keeps the XDP program's connection-ID map in step with it.
class CidListener {
 public:
  virtual ~CidListener() = default;
  virtual void cidIssued(ByteSpan cid) = 0;
  virtual void cidRetired(ByteSpan cid) = 0;
};

// Counters of one worker (xsmbctl status). Relaxed atomics: read from any thread.
struct QuicStats {
  std::atomic<uint64_t> datagrams_in{0}, datagrams_out{0}, bytes_in{0}, bytes_out{0};
  std::atomic<uint64_t> undecodable{0};  // not a QUIC packet ngtcp2 could read a header of
  std::atomic<uint64_t> unknown_cid{0};  // no connection here or at the worker it names
  std::atomic<uint64_t> forwarded{0};    // handed to the worker the connection ID names
  std::atomic<uint64_t> version_negotiations{0};
  std::atomic<uint64_t> handshakes{0}, handshake_failures{0}, alpn_refusals{0};
  std::atomic<uint64_t> migrations{0}, framing_errors{0}, refused{0}, setup_timeouts{0};
  std::atomic<uint64_t> open{0};
  // AF_XDP mode: datagrams read from the DatagramSources (also in datagrams_in), those whose
  // connection ID names another worker (the XDP program placed them wrongly: 0 expected),
  // and those sent to an address no UDP socket of the worker listens on (dropped).
  std::atomic<uint64_t> xsk_in{0}, xsk_not_owner{0}, xsk_no_address{0};
};

class QuicWorker {
 public:
  // `peers` lists every worker of the group by index (this one included), for handing over
  // packets; it must outlive the worker.
  // `index` is the worker's place in `peers` and in its connection IDs; `loop_index` is what
  // its connections report as Connection::loopIndex (distinct from the TCP loops').
  QuicWorker(Acceptor* acceptor, vfs::IoPool* pool, const QuicOptions* options,
             const TlsServerContext* tls, uint8_t index, uint32_t loop_index,
             const std::vector<QuicWorker*>* peers);
  ~QuicWorker();  // stops the loop; open connections are closed (onClose)
  // Binds the UDP sockets (SO_REUSEPORT); an error names the address.
  absl::Status listen();
  // AF_XDP mode, before start(): another source of datagrams (polled with the sockets;
  // replies still leave through the UDP socket of the address the client sent to), and the
  // listener of this worker's connection IDs (must outlive the worker's loop).
  void addSource(std::unique_ptr<DatagramSource> source);
  void setCidListener(CidListener* listener) { cid_listener_ = listener; }
  // Before start(): the loop also waits for `fd` and runs `on_readable` on its thread when it
  // is readable (the acceptor's file-I/O completions, vfs::IoEngine::eventFd).
  void watch(int fd, std::function<void()> on_readable);
  // `on_start` runs first on the loop's thread.
  void start(std::function<void()> on_start = nullptr);
  void stop();
  const QuicStats& stats() const { return stats_; }
  // The UDP port the first socket is bound to (QuicOptions::port 0: the kernel's choice).
  uint16_t boundPort() const;
  // The UDP sockets' descriptors, one per listening address in QuicOptions::hosts order (for
  // the BPF reuseport steering); valid until the worker is destroyed.
  std::vector<int> socketFds() const;

 private:
  class Handle;
  struct Conn;
  struct Datagram {
    Bytes data;
    sockaddr_storage remote{};
    socklen_t remote_len = 0;
    size_t socket = 0;
  };
  struct Socket {
    UniqueFd fd;
    sockaddr_storage local{};
    socklen_t local_len = 0;
  };
  struct Work {
    Message msg;
    std::function<Reply()> task;
  };

  void run();
  void post(std::function<void()> task);  // runs `task` on the loop (any thread)
  void runPosted();
  void receive(size_t socket);
  void receiveSource(size_t source);
  // The index of the UDP socket that listens on `to` (its address, or a wildcard of its
  // family, and its port); an IPv4 `from` is mapped to ::ffff:a.b.c.d for an IPv6 socket.
  std::optional<size_t> socketFor(const sockaddr_storage& to, sockaddr_storage* from,
                                  socklen_t* from_len) const;
  void retireCids(const std::vector<std::string>& keys);
  void flushTouched();
  // `from_source`: read from a DatagramSource (counts xsk_not_owner).
  void dispatch(Datagram& d, bool from_source = false);
  void acceptInitial(Datagram& d, const ngtcp2_pkt_hd& hd);
  void sendVersionNegotiation(const Datagram& d, const ngtcp2_version_cid& vc);
  // One datagram, or datagrams of `segment` bytes sent with UDP GSO (falls back to one
  // sendto per datagram where the kernel refuses GSO).
  void sendTo(size_t socket, const sockaddr* to, socklen_t to_len, ByteSpan data,
              size_t segment = 0);
  bool sendGso(int fd, const sockaddr* to, socklen_t to_len, ByteSpan data, size_t segment);
  ngtcp2_path pathOf(Datagram& d);
  void afterEvent(Conn& c, QuicSession::State st);
  void flush(Conn& c);
  void deliver(Conn& c);
  void submitNext(Conn& c);
  void applyReply(uint64_t id, Reply r);
  // The connection's state after a reply: held back (paced; false), or sent and acted on.
  bool takeReply(Conn& c, Reply r);
  void releaseHeld(std::chrono::steady_clock::time_point now);
  void sendOut(Conn& c, OutMessage m);
  void extendWindow(Conn& c);
  void maybeFinish(Conn& c);
  void closeConn(uint64_t id, const std::string& why);
  void runTimers();
  void closeUnestablished(std::chrono::steady_clock::time_point now);
  Conn* find(uint64_t id);
  int waitMillis() const;

  Acceptor* acceptor_;
  vfs::IoPool* pool_;
  const QuicOptions* options_;
  const TlsServerContext* tls_;
  const uint8_t index_;
  const uint32_t loop_index_;
  const std::vector<QuicWorker*>* peers_;
  std::vector<Socket> sockets_;
  std::vector<std::unique_ptr<DatagramSource>> sources_;
  std::vector<std::function<void()>> watches_;  // by epoll tag kWatchTag | index
  CidListener* cid_listener_ = nullptr;
  bool gso_ = true;  // cleared when the kernel refuses UDP_SEGMENT
  // While receive() dispatches one recvmmsg batch, afterEvent() leaves the flush (ACKs, replies)
  // to the end of the batch: the connections it touched are flushed once each there.
  bool batching_ = false;
  std::vector<uint64_t> touched_;
  UniqueFd epfd_, eventfd_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, uint64_t> cids_;  // our connection IDs and clients' first
  uint64_t next_id_ = 1;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  QuicStats stats_;
};

}  // namespace xsmb::transport::quic
