// xsmbd's side of xsmb-rpcd: starts the helper with a socketpair as its fd 3, sends it the
// ServerInfo snapshot, multiplexes pipe calls from many threads over the one socket, and
// supervises it: when the helper dies it is restarted with the last ServerInfo.
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
//   Unavailable       the helper died or was restarted (calls in flight, and pipes opened
//                     before the restart); the SMB layer fails the request and the client
//                     reopens the pipe
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
  // Sends f and waits for its reply; *generation (if given) = the helper it went to.
  absl::StatusOr<Frame> roundTrip(Frame f, uint64_t* generation = nullptr);
  bool sendFrame(uint64_t generation, const Frame& f);
  void supervise();
  void readLoop(int fd);

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
