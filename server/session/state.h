// Protocol state per connection: its sessions, tree connects and opens (MS-SMB2 3.3.1); the
// server-wide context is in server_context.h. Every record is reached through an id looked up in
// its owner's table, never through a pointer kept across requests, so a closed session or open
// cannot be used.
//
// Threading: all of one connection's requests are processed one after another (on the I/O
// pool), so ConnState needs no lock. What several connections share (ServerContext, FileTable)
// is either immutable after start or guarded by its own mutex.
#pragma once

#include <fcntl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/crypto/signing.h"
#include "common/smb2/messages.h"
#include "common/smbd/rdma_channel.h"
#include "server/auth/ntlmssp.h"
#include "server/session/credits.h"
#include "server/session/durable.h"
#include "server/session/limits.h"
#include "server/session/resource_limits.h"
#include "server/vfs/fd.h"
#include "server/vfs/file_table.h"
#include "server/vfs/identity.h"
#include "server/vfs/notify.h"
#include "server/vfs/streams.h"

namespace xsmb::session {

struct ConnState;

// What an asynchronous final response needs (MS-SMB2 3.3.4.2), captured when the request went
// async, so it can be built later on another thread without touching the session.
struct AsyncReply {
  uint64_t message_id = 0;
  uint64_t async_id = 0;
  uint64_t session_id = 0;
  uint16_t command = 0;
  uint16_t credit_charge = 0;
  bool sign = false;
  Bytes signing_key;
  crypto::SigningAlgorithm signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  bool seal = false;
  uint16_t cipher = 0;
  Bytes encryption_key;
  // Multichannel: the connection the request came in on when it is not the one that holds the
  // session (MS-SMB2 3.3.4.1: a response goes out on the request's channel). Empty: this one.
  std::function<void(Bytes)> send_on_channel;
};

// Why a request that went async ends before its operation completed.
enum class AsyncEnd {
  kCancel,      // SMB2 CANCEL named it (MS-SMB2 3.3.5.16)
  kClosed,      // the open, tree connect or session it works in was closed (CLOSE,
                // TREE_DISCONNECT, LOGOFF)
  kDisconnect,  // the connection is gone: no final response is sent
};

// One request answered with an interim STATUS_PENDING and not completed yet (MS-SMB2 3.3.4.2):
// CHANGE_NOTIFY, a byte-range lock that waits, a CREATE waiting for an oplock or lease break.
// ConnState::async_ops holds it by AsyncId for CANCEL and for cleanup; whatever will complete it
// (a notify watch, a FileTable waiter) holds the same shared_ptr. Its final response is sent
// exactly once, by ConnState::completeAsync on the connection's strand.
//
// The life of one: the handler calls ConnState::beginAsync (AsyncId assigned, registered), sets
// its `withdraw`, puts the op where its completion will come from, sets RequestContext::async_id
// and returns STATUS_PENDING. Completion, from any thread: ConnState::completeAsyncFrom (it
// queues the response on the connection's strand, so it follows the interim response). CANCEL,
// a close of its open, tree connect or session, or the connection's end call `withdraw` on the
// strand. Nothing here keeps the connection alive.
struct AsyncOp {
  AsyncReply reply;          // MessageId, AsyncId, SessionId, signing/sealing of the final reply
  uint32_t tree_id = 0;      // the tree connect it works in; 0: none
  uint64_t volatile_id = 0;  // the open it works on (FileId.Volatile); 0: none
  // Takes the request back from where it waits, on the connection's strand. Returns the status
  // of its final response (sent with an ERROR body, or the status alone for a warning such as
  // STATUS_NOTIFY_CLEANUP), or std::nullopt when it completed meanwhile: its completion is then
  // already on its way and sends the response. Must not block.
  std::function<std::optional<NtStatus>(AsyncEnd why)> withdraw;
  // The connection's ConnState::run_in_strand, copied at beginAsync: completeAsyncFrom reaches
  // the strand through it without holding the ConnState (a no-op once the connection is gone).
  // Replaced when the op moves with its session to another channel (channels.h); guarded by
  // strand_mu.
  std::function<void(std::function<void(ConnState&)>)> run_in_strand;
  std::mutex strand_mu;
  bool done = false;  // the final response was sent or is not to be sent (strand only)
};

// CHANGE_NOTIFY state of one directory open: its watch, the changes not reported yet, and the
// requests waiting for changes. Shared with the notify hub's thread, hence the mutex.
struct NotifyState {
  std::mutex mu;
  uint64_t watch_id = 0;
  uint32_t filter = 0;
  std::vector<vfs::NotifyEvent> queued;
  bool overflow = false;  // more changes than we keep: the client must re-read the directory
  struct Waiting {
    std::shared_ptr<AsyncOp> op;
    uint32_t buffer_size = 0;
  };
  std::vector<Waiting> waiting;
  std::weak_ptr<ConnState> conn;
};

struct Share;
struct ServerContext;

struct Open {
  uint64_t volatile_id = 0;
  Share* share = nullptr;  // shares live as long as the server
  uint64_t session_id = 0;
  uint32_t tree_id = 0;
  // Data fd (O_RDONLY/O_WRONLY/O_RDWR), dir fd, or O_PATH; for an open of the share root for
  // its attributes only, the share's root descriptor itself, borrowed (Share::root outlives it).
  vfs::MaybeOwnedFd fd;
  bool has_read = false, has_write = false;
  bool directory = false;
  // The file system refused a non-blocking write (RWF_NOWAIT: EOPNOTSUPP, as ext4 does for
  // every buffered write): WRITEs go straight to the I/O engine without asking again.
  bool nowait_write_refused = false;
  std::string disk_path;  // relative to the share root, '/'-separated, "" = root
  std::string smb_path;   // as the client named it, '\'-separated, no leading '\'
  uint32_t granted_access = 0;
  uint32_t share_access = 0;
  uint32_t create_options = 0;
  bool delete_on_close = false;
  uint64_t position = 0;  // FilePositionInformation
  uint32_t mode = 0;      // FileModeInformation
  // ChangeTime was set (or frozen with -1) through this handle: the handle's own later changes
  // keep it (MS-FSA 2.1.5.14.2 Open.UserSetChangeTime); -2 clears it.
  bool user_set_change_time = false;
  // The same for LastWriteTime (Open.UserSetModificationTime): the write time its WRITEs put
  // back, as the kernel moves mtime on every write. ARCHIVE is set once, at its first WRITE.
  std::optional<struct timespec> user_set_write_time;
  bool archive_marked = false;
  vfs::FileTable::Key key;
  uint64_t token = 0;  // FileTable identity of this open
  // QUERY_DIRECTORY state: the sorted snapshot of matching names and the cursor.
  bool dir_listed = false;
  std::string dir_pattern;
  std::vector<std::string> dir_names;
  size_t dir_next = 0;
  std::shared_ptr<NotifyState> notify;  // set by the first CHANGE_NOTIFY
  // Set when a durable handle was granted (MS-SMB2 3.3.1.10): the open then outlives its
  // connection or session in the server's DurableTable (durable.h).
  std::shared_ptr<const DurableState> durable;
  // Open.LockSequenceArray (MS-SMB2 3.3.1.10): the last LockSequenceNumber (0-15) that
  // succeeded per LockSequenceIndex 1-64 (entry index - 1), kNoLockSequence where none is valid.
  // Allocated by the first LOCK that verifies sequences (handlers/lock.cc).
  static constexpr uint8_t kNoLockSequence = 0xFF;
  std::unique_ptr<std::array<uint8_t, 64>> lock_sequences;
  // Who opened it: metadata changes through the handle act with the opener's rights, as access
  // on Windows is granted once, at open (a re-authenticated session keeps its handles' rights).
  std::optional<vfs::UnixIdentity> opener;
  // A named pipe on IPC$ (MS-SMB2 3.3.5.9 with a pipe share): its helper pipe id, and reply
  // bytes the client has not read yet (message-mode reads may take them in pieces).
  uint64_t pipe_id = 0;
  Bytes pipe_out;
  // A second descriptor of the file for I/O that runs off the connection's strand: it stays
  // open while such I/O runs, even if the client closes the handle meanwhile.
  std::shared_ptr<vfs::UniqueFd> io_fd;
  // A named data stream (MS-FSCC 2.1.5.3): `fd` is then its data (a memfd) and the file's own
  // descriptor, for metadata, is metaFd(). Null for the file itself.
  std::shared_ptr<vfs::OpenStream> stream;
  OpenFileCount counted;  // the opens of the process, for the open-file budget
  int metaFd() const { return stream ? stream->baseFd() : fd.get(); }
  std::shared_ptr<vfs::UniqueFd> sharedFd() {
    if (!io_fd) io_fd = std::make_shared<vfs::UniqueFd>(fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    return io_fd;
  }
};

struct TreeConnect {
  uint32_t id = 0;
  Share* share = nullptr;  // shares live as long as the server
  bool ipc = false;
  bool read_only = true;
  uint32_t maximal_access = 0;
  bool encrypt_data = false;      // SMB2_SHAREFLAG_ENCRYPT_DATA was granted
  bool encrypt_required = false;  // "server smb encrypt = required" on the share
};

struct Session {
  enum class State { kInProgress, kValid };
  uint64_t id = 0;
  State state = State::kInProgress;
  std::unique_ptr<auth::NtlmServer> ntlm;  // the exchange in progress
  Bytes mech_types_der;                    // the client's SPNEGO MechTypeList (for mechListMIC)
  std::string user;                        // SMB user name ("" for anonymous)
  std::string domain;
  bool guest = false;
  bool anonymous = false;
  vfs::UnixIdentity identity;  // whose rights the requests use (when root)
  Bytes session_key;           // 16 bytes
  Bytes signing_key;           // Session.SigningKey; empty: the session cannot sign
  // Channel.SigningKey of this connection when it differs from Session.SigningKey (a channel
  // bound with SMB2_SESSION_FLAG_BINDING, MS-SMB2 3.3.5.5.3); see channels.h.
  Bytes channel_signing_key;
  // Multichannel (channels.h): `binding` while a SESSION_SETUP with SMB2_SESSION_FLAG_BINDING
  // authenticates this connection for a session another connection holds; `bound_channel` once
  // it did: this entry then only carries the channel's keys, and the session's requests are
  // processed by the connection that holds its trees and opens (its home).
  bool binding = false;
  bool bound_channel = false;
  crypto::SigningAlgorithm signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  bool signing_required = false;
  Bytes encryption_key;           // server-to-client; empty: no encryption
  Bytes decryption_key;           // client-to-server
  bool encrypt_data = false;      // responses are encrypted (Session.EncryptData)
  bool encrypt_required = false;  // unencrypted requests are refused
  std::array<uint8_t, 64> preauth_hash{};
  std::map<uint32_t, TreeConnect> trees;
  uint32_t next_tree_id = 1;
  // Live limits: the user's entry in ServerContext::limits (kLimitUnset until first needed,
  // -1 = none) and this session's traffic for its sessions map entry.
  static constexpr int kLimitUnset = -2;
  int limit_slot = kLimitUnset;
  RateMeter meter;
};

// What a connection's transport says of the data it sent, relative to a point in time
// (transport::Connection::AckCheck, in the same order).
enum class ChannelAck {
  kAcknowledged,  // nothing is unacknowledged
  kProgress,      // something is, and the peer acknowledged some since then
  kSilent,        // something is, and the peer acknowledged nothing since then
  kClosed,        // the connection is closed (or was reset by the check)
};

struct ConnState : std::enable_shared_from_this<ConnState>, vfs::OpenOwner {
  // Takes the next connection serial: volatile FileIds are (serial << 32) + n (see durable.h).
  explicit ConnState(ServerContext* s);
  ~ConnState() override;

  // vfs::OpenOwner: oplock breaks of this connection's opens. Those of a session with other
  // channels go to one of its channels (break_delivery.h).
  void sendOplockBreak(uint64_t volatile_id, uint8_t new_level) override;
  void sendLeaseBreak(const smb2::LeaseBreakNotification& n) override;
  void sendOplockBreakOf(uint64_t session_id, uint64_t channel, uint64_t volatile_id,
                         uint8_t new_level) override;
  void sendLeaseBreakOf(uint64_t session_id, const smb2::LeaseBreakNotification& n) override;
  uint32_t loopIndex() const override { return worker; }

  // Queues a complete SMB2 message (without transport framing) that no request asked for, such
  // as an oplock break notification. Callable from any thread; set by the owning connection.
  std::function<void(Bytes)> send_unsolicited;
  void sendUnsolicited(Bytes message) {
    if (send_unsolicited) send_unsolicited(std::move(message));
  }
  // Runs `task` on this connection's serialized request path (after the request in progress).
  // Callable from any thread; set by the layer that owns the connection (server/core).
  std::function<void(std::function<void(ConnState&)>)> run_in_strand;
  // transport::Connection::setUnackedTimeout of this connection (multichannel: a channel whose
  // peer stops acknowledging is closed, and its session moves to a live channel). Callable
  // from any thread; may be empty.
  std::function<void(std::chrono::milliseconds)> set_unacked_timeout;
  // transport::Connection::checkAcknowledgment of this connection (break delivery on a
  // multichannel session, break_delivery.h): `done` gets the state and the transport's
  // retransmission timeout. Callable from any thread; may be empty.
  std::function<void(std::chrono::steady_clock::time_point since, bool reset_if_silent,
                     std::function<void(ChannelAck state, std::chrono::microseconds rto)> done)>
      check_acknowledgment;
  // Traffic of this connection, which is one channel of each of its sessions (xsmbctl status):
  // SMB2 messages received (a compound counts once) and their bytes, and the bytes of the
  // responses sent (transport framing not counted; a READ's file data counted). Any thread.
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};
  void countReceived(size_t bytes) {
    messages_received.fetch_add(1, std::memory_order_relaxed);
    bytes_received.fetch_add(bytes, std::memory_order_relaxed);
  }
  void countSent(size_t bytes) { bytes_sent.fetch_add(bytes, std::memory_order_relaxed); }
  // Accepted connections are numbered in order (from 1): a multichannel session's channels are
  // tried oldest first (break_delivery.h). Also the high half of volatile FileIds.
  uint64_t serial = 0;

  ServerContext* server;
  std::string peer;     // "ip:port" for logs
  uint32_t worker = 0;  // index of the worker (and CPU) that owns the connection
  // The transport can send a READ's data from the file by reference (sendfile); otherwise only
  // data already in memory may follow a response (transport::Connection::sendsFileByReference).
  bool file_by_reference = true;
  // The RDMA channel of an SMB Direct connection (READ/WRITE with SMB2_CHANNEL_RDMA_V1*);
  // nullptr on TCP. Set by the layer that owns the connection (server/core).
  std::shared_ptr<smbd::RdmaChannel> rdma;
  // SMB over QUIC (MS-SMB2 2.1): only 3.1.1 is negotiated. accept_transport_security is
  // Connection.AcceptTransportSecurity (MS-SMB2 3.3.5.4, SMB2_TRANSPORT_CAPABILITIES): QUIC's
  // TLS protects the connection, so SMB3 encryption is neither required nor applied.
  bool over_quic = false;
  bool accept_transport_security = false;
  bool negotiated = false;
  uint16_t dialect = 0;
  uint16_t client_security_mode = 0;
  uint32_t client_capabilities = 0;
  uint32_t server_capabilities = 0;
  smb2::Guid client_guid{};
  std::vector<uint16_t> client_dialects;
  uint16_t server_security_mode = 0;
  crypto::SigningAlgorithm signing_algorithm = crypto::SigningAlgorithm::kHmacSha256;
  uint16_t cipher = 0;  // negotiated crypto::Cipher id, 0 = none (MS-SMB2 3.3.5.4)
  std::array<uint8_t, 64> preauth_hash{};
  uint32_t max_transact_size = 65536, max_read_size = 65536, max_write_size = 65536;
  CreditWindow credits;
  // Guards `credits`: a bound channel's requests are admitted on its session's home strand
  // (channels.h) while this connection's own requests may run on its strand.
  std::mutex credits_mu;
  std::map<uint64_t, std::unique_ptr<Session>> sessions;
  std::unordered_map<uint64_t, std::unique_ptr<Open>> opens;
  uint64_t next_volatile_id = 1;
  // Requests answered STATUS_PENDING and not completed, by AsyncId (MS-SMB2 3.3.1.1
  // Connection.AsyncCommandList), for CANCEL (3.3.5.16) and for cleanup on close, tree
  // disconnect, logoff and the connection's end.
  std::map<uint64_t, std::shared_ptr<AsyncOp>> async_ops;
  // AsyncIds are unique server-wide ((serial << 32) + n): a request waiting at a multichannel
  // session's home moves with the session, keeping its AsyncId (channels.h).
  uint64_t next_async_id = 1;
  bool destroying = false;  // ~ConnState runs: requests that end now get no response
  bool disconnect = false;  // set by a handler: close after sending the response
  // Live limits: the replies of what was processed may not leave before this (the epoch:
  // at once); taken and reset by the layer that sends them.
  std::chrono::steady_clock::time_point hold_until{};

  Session* findSession(uint64_t id);
  // Closes an open: share-mode bookkeeping, delete-on-close. Removes it from `opens`.
  void closeOpen(uint64_t volatile_id);
  // Closes every open of a tree (tree_id != 0) or of a session (tree_id == 0).
  void closeOpensOf(uint64_t session_id, uint32_t tree_id);
  void removeSession(uint64_t session_id);
  // MS-SMB2 3.3.7.1, 3.3.5.6: the durable opens of `session_id` (0: of every session) leave
  // `opens` for the server's DurableTable instead of being closed (durable.cc).
  void preserveDurableOpens(uint64_t session_id);
  // Called by the layer that owns the connection when its transport closed (any thread): a
  // reconnect may then wait for this connection's teardown (DurableTable::reclaim).
  void markTransportClosed();
  std::atomic<bool> transport_closed{false};

  // Async requests (AsyncOp). All but completeAsyncFrom run on the connection's strand.
  // Registers a request going async: a new AsyncId in the copy of `reply`, bound to the tree
  // connect `tree_id` and the open `volatile_id` (0: none) for cleanup. The caller sets its
  // `withdraw` (which may capture the AsyncId, never the op itself: that would be a cycle).
  std::shared_ptr<AsyncOp> beginAsync(const AsyncReply& reply, uint32_t tree_id,
                                      uint64_t volatile_id);
  // Sends the final response of `op` (MS-SMB2 3.3.4.2: async header, its AsyncId) with `status`
  // and `body` (std::monostate: an ERROR body), once; forgets it.
  void completeAsync(const std::shared_ptr<AsyncOp>& op, NtStatus status,
                     const smb2::ResponseBody& body);
  // Forgets `op` without a response (a handler that registered it and then answered at once).
  void dropAsync(const std::shared_ptr<AsyncOp>& op);
  // Any thread: completes `op` on its connection's strand; nothing when the connection is gone.
  static void completeAsyncFrom(std::shared_ptr<AsyncOp> op, NtStatus status,
                                smb2::ResponseBody body);
  // MS-SMB2 3.3.5.16: the request a CANCEL names, by AsyncId when `async` (the CANCEL's
  // SMB2_FLAGS_ASYNC_COMMAND) else by MessageId, is withdrawn and answered (STATUS_CANCELLED
  // for the kinds so far). False when no such request waits.
  bool cancelAsync(bool async, uint64_t async_id, uint64_t message_id);
  // Ends the requests bound to the open `volatile_id` (non-zero), or else those of the tree
  // connect `tree_id` (non-zero) or of the session `session_id`, for `why`.
  void endAsync(uint64_t session_id, uint32_t tree_id, uint64_t volatile_id, AsyncEnd why);
  // The connection's end: every request still registered is withdrawn, none answered.
  void endAllAsync();
};

// A close's effects on the file of an open that no connection holds (a discarded durable open):
// its file table entry (share modes, oplock, byte-range locks) goes, and delete-on-close applies
// when it was the file's last open. With the daemon's rights.
void closeDetachedOpen(ServerContext* server, Open& o);

}  // namespace xsmb::session
