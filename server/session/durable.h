// Durable opens that lost their connection (MS-SMB2 3.3.1.10 Open.IsDurable, 3.3.7.1): the
// server-wide table that owns them until a client reclaims them (3.3.5.9.7, 3.3.5.9.12) or their
// timeout passes (the scavenger: MS-SMB2 3.3.2, Durable Open Scavenger Timer), and the index of
// CreateGuids that replay detection and SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 consult
// (3.3.5.9.10).
//
// A disconnected open keeps everything of its Open: descriptor, position, delete-on-close, and
// its file table entry (share modes, oplock, byte-range locks), whose owner (vfs::OpenOwner)
// becomes this table. A break that the file table sends to this owner closes the open instead
// (MS-SMB2 3.3.4.6: a disconnected durable open is discarded rather than broken), on the
// scavenger's thread, so the waiting CREATE finds the file free.
//
// FileIds: a durable open keeps its FileId on reconnect, persistent and volatile halves both.
// ConnState gives every connection its own range of volatile ids (the high 32 bits are a
// connection serial), so an id reclaimed on another connection never collides there.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/vfs/file_table.h"

namespace xsmb::session {

struct Open;
struct ServerContext;

// Open.IsDurable and what reconnecting checks (MS-SMB2 3.3.1.10); set on an Open when a durable
// handle was granted, never changed afterwards.
struct DurableState {
  bool v2 = false;             // granted through SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2
  uint32_t timeout_ms = 0;     // Open.DurableOpenTimeout: how long it outlives its connection
  smb2::Guid create_guid{};    // Open.CreateGuid (v2; zero for v1)
  smb2::Guid client_guid{};    // Open.ClientGuid: the opening connection's ClientGuid
  std::string user, domain;    // the session's user: only the same user may reclaim it
  uint32_t create_action = 0;  // the CREATE's CreateAction, for a replayed CREATE
  bool lease = false;          // durable through a lease with handle caching (not an oplock)
  smb2::Guid lease_key{};      // that lease's LeaseKey
  // Made resilient by FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9: Open.IsResilient, not
  // IsDurable): kept for Open.ResiliencyTimeout after its connection drops, like a v1 handle.
  bool resilient = false;
};

// MS-SMB2 3.3.5.9.6 leaves v1's timeout to the server; 16 minutes as Samba (and Windows for
// durable v1) keep them. v2: the client's Timeout, 0 meaning 60 s, at most 300 s (3.3.5.9.10;
// Windows Server 2012's values).
inline constexpr uint32_t kDurableV1TimeoutMs = 16 * 60 * 1000;
inline constexpr uint32_t kDurableV2DefaultTimeoutMs = 60 * 1000;
inline constexpr uint32_t kDurableV2MaxTimeoutMs = 300 * 1000;
uint32_t durableV2Timeout(uint32_t requested_ms);

class DurableTable : public vfs::OpenOwner, public std::enable_shared_from_this<DurableTable> {
 public:
  // `close_file` performs a close's effects on the file of an open being discarded (file table
  // removal, delete-on-close); tests may replace it.
  using CloseFile = std::function<void(Open&)>;
  DurableTable(vfs::FileTable* files, CloseFile close_file);
  ~DurableTable() override;  // stops the scavenger; held opens are closed
  DurableTable(const DurableTable&) = delete;
  DurableTable& operator=(const DurableTable&) = delete;

  // Takes a durable open whose connection dropped or whose session ended (MS-SMB2 3.3.7.1,
  // 3.3.5.6): from now on it belongs to this table, which becomes its file table owner, and it
  // is closed when `durable->timeout_ms` passes without a reconnect.
  void preserve(std::unique_ptr<Open> open);
  // Removes and returns the disconnected open `persistent_id` when `check` accepts it
  // (STATUS_SUCCESS); `check`'s status otherwise, or STATUS_OBJECT_NAME_NOT_FOUND when no
  // disconnected open has that id. While a closed connection's teardown is still to come (see
  // connectionClosing), waits for it up to `grace` first: a client that reconnects at once may
  // be quicker than the server's teardown of its old connection. The caller names the new owner
  // in the file table.
  NtStatus reclaim(uint64_t persistent_id, const std::function<NtStatus(const Open&)>& check,
                   std::unique_ptr<Open>* out,
                   std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  // The transport of a connection closed; its ConnState (and the preserve() of its durable
  // opens) follows when the requests still running on it end. connectionGone() after that.
  void connectionClosing();
  void connectionGone();

  // CreateGuids of v2 durable opens, connected or not (MS-SMB2 3.3.5.9.10): `state` is the
  // Open's; the entry lapses when the open is gone.
  void noteCreateGuid(uint64_t persistent_id, const std::shared_ptr<const DurableState>& state);
  // The persistent id of a live open that `client_guid` created with `create_guid`.
  std::optional<uint64_t> findCreateGuid(const smb2::Guid& client_guid,
                                         const smb2::Guid& create_guid);

  size_t disconnectedCount();
  // Closes every disconnected open whose timeout has passed at `now`; returns how many. The
  // scavenger calls it; tests call it with a chosen time.
  size_t expire(std::chrono::steady_clock::time_point now);

  // vfs::OpenOwner: only disconnected opens are owned here; a break closes the open.
  void sendOplockBreak(uint64_t volatile_id, uint8_t new_level) override;
  // A lease break closes every disconnected open of that lease (MS-SMB2 3.3.4.7: the server
  // closes a durable open without a connection rather than wait for an acknowledgment).
  void sendLeaseBreak(const smb2::LeaseBreakNotification& n) override;
  uint32_t loopIndex() const override { return kNoLoop; }
  static constexpr uint32_t kNoLoop = ~0u;

 private:
  struct Held {
    std::unique_ptr<Open> open;
    std::chrono::steady_clock::time_point expires;
  };
  void startScavengerLocked();
  void scavenge();
  void closeAll(std::vector<std::unique_ptr<Open>> opens);

  vfs::FileTable* files_;
  CloseFile close_file_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable preserved_;  // a preserve() or connectionGone() happened
  int closing_ = 0;                    // connections closed and not yet torn down
  std::map<uint64_t, Held> held_;      // by persistent id
  std::vector<uint64_t> doomed_;       // broken while disconnected: closed by the scavenger
  std::map<std::pair<smb2::Guid, smb2::Guid>,
           std::pair<uint64_t, std::weak_ptr<const DurableState>>>
      create_guids_;  // (ClientGuid, CreateGuid) -> persistent id
  bool stopping_ = false;
  std::thread scavenger_;
};

}  // namespace xsmb::session
