// xsmbd's side of xsmb-rpcd: starts the helper with a socketpair as its fd 3, sends it the
// ServerInfo snapshot, multiplexes pipe calls from many threads over the one socket, and
// supervises it: when the helper dies it is restarted with the last ServerInfo, 50 ms later
// (backing off up to max_restart_delay while it keeps dying within a second of its start).
// Its end is logged as a warning (exit status or signal, calls in flight), its return as
// information.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/rpcd_protocol.h"
#include "rpc/server_info.h"
#include "common/base/bytes.h"
#include "common/base/unique_fd.h"

namespace xsmb::rpc {

struct RpcdOptions {
  std::string user = "nobody";  // the helper drops to this account when xsmbd runs as root
  absl::Duration call_timeout = absl::Seconds(10);      // per request; the helper is then killed
  absl::Duration start_timeout = absl::Seconds(5);      // helper start / restart wait per call
  absl::Duration max_restart_delay = absl::Seconds(2);  // backoff cap between restarts
};

// Errors of the pipe calls:
//   Unavailable       the helper died or was restarted (pipes opened before the restart);
//                     the SMB layer fails the request and the client reopens the pipe. A
//                     transact whose request the helper held when it died (or hung and was
//                     killed) instead succeeds with a DCE/RPC fault PDU for that request
//                     (rpcd_fault.h), and the pipe is gone afterwards
//   NotFound          openPipe: not one of srvsvc/wkssvc/lsarpc/samr; transact: unknown pipe
//   Aborted           transact: the pipe's DCE/RPC stream is broken; disconnect the pipe
//   DeadlineExceeded  no answer within call_timeout (the helper is killed and restarted)
class RpcdClient {
 public:
  // Starts `rpcd_path` and waits until it accepted `info`. Thread-safe afterwards.
  static absl::StatusOr<std::unique_ptr<RpcdClient>> start(std::string rpcd_path, ServerInfo info,
                                                           RpcdOptions opts = {});
  ~RpcdClient();
  RpcdClient(const RpcdClient&) = delete;
  RpcdClient& operator=(const RpcdClient&) = delete;

  // New snapshot (shares/users changed); pipes opened afterwards see it. Kept for restarts.
  void updateServerInfo(ServerInfo info);
  // Opens a pipe by name (case-insensitive, "\PIPE\" prefix optional); returns its id.
  absl::StatusOr<uint64_t> openPipe(std::string_view name, const CallerInfo& caller);
  // Feeds one client write to the pipe; returns the bytes the client reads next.
  absl::StatusOr<Bytes> transact(uint64_t pipe_id, ByteSpan client_bytes);
  void closePipe(uint64_t pipe_id);
  // The running helper's pid (0 while it is being restarted).
  pid_t helperPid() const;
  // Number of restarts after crashes so far.
  uint64_t restarts() const;

  // Test hook: sends a test-only message (kTestOpenFile, kTestHold) and waits for the reply.
  absl::StatusOr<Frame> testCall(MsgType type, Bytes payload);

 private:
  struct Call {
    bool done = false;
    absl::StatusOr<Frame> result = absl::UnknownError("pending");
  };

  RpcdClient(std::string path, ServerInfo info, RpcdOptions opts);
  absl::Status spawn(UniqueFd* fd, pid_t* pid);
  // Sends f and waits for its reply; *generation (if given) = the helper it went to, *sent (if
  // given) = true once f was written to the helper (a failure after that lost it in flight).
  absl::StatusOr<Frame> roundTrip(Frame f, uint64_t* generation = nullptr, bool* sent = nullptr);
  bool sendFrame(uint64_t generation, const Frame& f);
  // The supervisor thread: reads replies, and when the helper's socket ends, fails the calls
  // in flight, reaps the helper (logging how it ended) and starts a new one.
  void supervise();
  // Reads replies from fd until it ends: true at EOF, false on a malformed frame.
  bool readLoop(int fd);
  // Clears the ended helper's state and reaps it; false when the client is stopping.
  bool helperEnded();
  // Starts a new helper after *delay (doubled for the next attempt) and hands it the last
  // ServerInfo; retries until it runs. False when the client is stopping.
  bool restart(absl::Duration* delay);

  const std::string path_;
  const RpcdOptions opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  UniqueFd fd_;  // socket to the running helper, none while restarting
  pid_t pid_ = 0;
  uint64_t generation_ = 0;  // incremented at every (re)start
  uint64_t restarts_ = 0;
  bool stopping_ = false;
  Bytes config_;  // serialized last ServerInfo
  uint64_t next_request_ = 1;
  uint64_t next_pipe_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;
  std::unordered_map<uint64_t, uint64_t> pipes_;  // pipe id -> generation it was opened in

  std::mutex write_mu_;  // taken before mu_; serializes frames and fd teardown
  std::thread supervisor_;
};

}  // namespace xsmb::rpc
