// Oplock and lease break notifications of a multichannel session: which channel carries one,
// and another channel when that one went dark (MS-SMB2 3.3.4.6, 3.3.4.7: the connection is
// selected from Open.Session.ChannelList as 3.3.4.1.6 leaves to the implementation, and a
// notification that cannot be delivered on it is sent on another).
//
// A session without bound channels: the notification goes out on its connection, as ever.
// Otherwise it goes out on one of the session's live connections (its home and its bound
// channels; older means accepted earlier), and its delivery is watched: one check right after sending learns the connection's
// retransmission timeout (RTO, clamped to 200 ms .. 1 s), and 6 RTOs later (1.2 s on an idle
// LAN) a second check asks whether the peer acknowledged it (transport AckCheck):
//  - nothing unacknowledged: delivered;
//  - unacknowledged but the peer acknowledged something meanwhile (a busy channel): checked
//    again after another 6 RTOs (at most kMaxBusyChecks times, then taken as delivered);
//  - the peer acknowledged nothing: the connection is reset (TCP RST, so the client's requests
//    on it fail at once and it knows to use its other channels) and closes, its session moving
//    to another channel if it was the home (channels.h); the notification then goes out on the
//    next channel (kOldestFirst) or nowhere (kNewestOnly), each attempt watched the same way.
// Oplock breaks go first to the connection the open was made on (the pre-3.x Open.Connection),
// lease breaks (a lease belongs to the client, not to one open) to the oldest connection; with
// "smb2 disable oplock break retry" (Samba's parameter) oplock breaks go to the newest
// connection only, as Windows Server sends them. smbtorture's smb2.multichannel tests expect
// these: oplocks.test3_specification and leases.test4 a retry on each channel in the order they
// were bound, oplocks.test2 no second break while the channel the open was made on is alive,
// leases.test2 a reset of the dark channel that fails the client's acknowledgment sent there,
// oplocks.test3_windows (with the parameter) the newest channel only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/base/bytes.h"

namespace xsmb::session {

struct ConnState;

enum class BreakChannels {
  kOldestFirst,   // the oldest live connection, then on failure the next oldest, and so on
  kOpenersFirst,  // the connection the open was made on when live, then as kOldestFirst
  kNewestOnly,    // the newest live connection; nothing more when it fails
};

// Checks of a busy channel (see above) before its notification is taken as delivered.
constexpr int kMaxBusyChecks = 8;

// The delay between sending and judging a notification: 6 times `rto` clamped to [200 ms, 1 s].
std::chrono::milliseconds deliveryTimeout(std::chrono::microseconds rto);

// Sends `notification` (an SMB2 OPLOCK_BREAK notification, MS-SMB2 2.2.23) for an open of the
// session `session_id` that `home` holds, as described above; `opener` is the number
// (ConnState::serial) of the connection the open was made on (kOpenersFirst). Any thread; does
// not block.
void deliverBreak(ConnState& home, uint64_t session_id, Bytes notification, BreakChannels how,
                  uint64_t opener = 0);

// Runs tasks after a delay on a thread of its own (started at the first task); the break
// deliveries of every server in the process wait on one (tasks hold connections weakly).
// Destroying it drops the tasks not run yet.
class DelayedTasks {
 public:
  DelayedTasks();
  ~DelayedTasks();
  void after(std::chrono::steady_clock::duration delay, std::function<void()> task);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xsmb::session
