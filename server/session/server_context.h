// The server-wide context (MS-SMB2 3.3.1.5 Global): configuration, shares, identities, the
// file table shared by all connections, the registry of sessions and connections, counters, and
// the clients of the BPF data plane and the RPC helper. Immutable after start, except what is
// guarded by its own mutex or atomic.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/smb2/messages.h"
#include "loader/xsmb_bpf.h"
#include "rpc/rpcd_client.h"
#include "rpc/server_info.h"
#include "server/config/smb_conf.h"
#include "server/config/user_db.h"
#include "server/metrics/request_metrics.h"
#include "server/session/limits.h"
#include "server/vfs/fd.h"
#include "server/vfs/file_table.h"
#include "server/vfs/identity.h"
#include "server/vfs/notify.h"

namespace xsmb::session {

struct ConnState;
class DurableTable;
struct ServerContext;
// The server's table of disconnected durable opens (durable.cc).
std::shared_ptr<DurableTable> makeDurableTable(ServerContext* server);

// Counters exported in the log and (later) to the BPF maps / metrics.
struct Stats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> bad_signatures{0};
  std::atomic<uint64_t> decrypt_failures{0};
  std::atomic<uint64_t> malformed_frames{0};
  std::atomic<uint64_t> oversized_frames{0};
  std::atomic<uint64_t> logon_failures{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> sendfile_reads{0};  // READs answered from the page cache by sendfile
  std::atomic<uint64_t> engine_ios{0};      // READ/WRITE/FLUSH I/O run by a worker's I/O engine
};

struct Share {
  config::ShareConfig cfg;
  vfs::UniqueFd root;  // O_PATH|O_DIRECTORY of cfg.path; invalid for IPC$
  uint32_t volume_serial = 0;
  uint64_t creation_time = 0;
  // "force user" / "force group": every request on this share uses this identity.
  std::optional<vfs::UnixIdentity> force_identity;
  std::optional<gid_t> force_gid;
  int limit_slot = -1;  // its entry in `limits` (share bandwidth / request rate), -1 = none
  // Taken out of the configuration by a reload (or replaced by a changed one): new TREE_CONNECTs
  // do not find it; tree connects and opens made before keep using it.
  std::atomic<bool> removed{false};
};

struct ServerContext {
  config::Config config;
  std::vector<std::unique_ptr<Share>> shares;
  vfs::UnixIdentity guest_identity;
  bool run_as_root = false;
  smb2::Guid server_guid{};
  uint64_t start_time = 0;  // FILETIME
  vfs::FileTable files;
  std::unique_ptr<vfs::NotifyHub> notify_hub = std::make_unique<vfs::NotifyHub>();
  // The BPF data plane's maps (sessions, counters, latency), or nullptr in plain socket mode.
  std::unique_ptr<bpf::DataPlane> dataplane;
  // The sandboxed DCE/RPC helper behind the IPC$ named pipes (nullptr when it cannot start).
  std::unique_ptr<rpc::RpcdClient> rpcd;
  std::string domain_sid;  // "S-1-5-21-a-b-c", stable across restarts (see main.cc)
  // MaxReadSize / MaxWriteSize / MaxTransactSize offered to 2.1+ clients (bytes).
  uint32_t max_io_size = 8 * 1024 * 1024;
  // What the RPC services report: shares, users (with stable RIDs), names.
  rpc::ServerInfo rpcServerInfo();
  std::string io_engine;  // the workers' file I/O engine: "io_uring" or "threads"
  // Live limits per user and share (the pinned limits map with bpf = yes, else private).
  std::unique_ptr<Limits> limits = std::make_unique<Limits>();
  // Worker i's CPU ("worker cpus"; XSMB_CPU_NONE when not pinned): its connections' home CPU.
  std::vector<uint32_t> worker_cpus;
  Stats stats;
  // The Prometheus endpoint's request counters and lifecycle flags (docs/operations.md).
  metrics::ServerMetrics metrics;
  std::atomic<uint64_t> next_session_id{1};
  std::atomic<uint64_t> next_open_token{1};

  // Durable opens whose connection is gone, waiting to be reclaimed (durable.h). Declared after
  // `files`, so it is destroyed first.
  std::shared_ptr<DurableTable> durable = makeDurableTable(this);

  // The share a TREE_CONNECT names (case-insensitive), nullptr when none or removed by a reload.
  Share* findShare(std::string_view name) const;
  // The shares new TREE_CONNECTs can reach, in configuration order.
  std::vector<Share*> liveShares() const;
  // SIGHUP reload (reload.cc, docs/operations.md): makes `next` (an error-free smb.conf's shares,
  // IPC$ included) the served set. A new or changed share is opened with `open_share`; a removed
  // or changed one is marked removed, never freed (tree connects and opens made before keep it);
  // an unchanged one stays as it is. Then re-reads the user database and hands the RPC helper
  // the new share and user lists. [global] is left alone (the caller reports what needs a
  // restart). Returns a summary ("shares: +a -b ~c").
  using ShareOpener = std::function<std::unique_ptr<Share>(const config::ShareConfig&)>;
  std::string reloadShares(const std::vector<config::ShareConfig>& next,
                           const ShareOpener& open_share);

  // Every authenticated session of the server, for MS-SMB2 3.3.5.5.3's PreviousSessionId (a
  // reconnecting client ends its old session on another connection) and for status listings.
  struct SessionEntry {
    std::weak_ptr<ConnState> conn;  // the connection holding its trees and opens (its home)
    std::string user;
    // What binding a further channel checks (MS-SMB2 3.3.5.5.2, channels.h): the first
    // connection's Connection.Dialect, ClientGuid, signing algorithm and cipher (0: none), and
    // Session.SigningKey (empty: none). Set by setBindingInfo.
    uint16_t dialect = 0;
    smb2::Guid client_guid{};
    uint8_t signing_algorithm = 0;  // crypto::SigningAlgorithm
    uint16_t cipher = 0;
    Bytes signing_key;
    bool guest_or_anonymous = false;
    // The other connections bound to it (Session.ChannelList without the home).
    std::vector<std::weak_ptr<ConnState>> channels;
  };
  // Registers (or, on re-authentication, updates) a session; its channels stay.
  void registerSession(uint64_t id, std::weak_ptr<ConnState> conn, const std::string& user);
  // Multichannel (channels.cc): binding facts, channel list and home of a registered session.
  // Each is a no-op for an unknown id; addChannel returns false then.
  void setBindingInfo(uint64_t id, const SessionEntry& info);
  bool addChannel(uint64_t id, std::weak_ptr<ConnState> conn);
  void removeChannel(uint64_t id, const ConnState* conn);
  // Makes `conn` the session's home and removes it from the channel list.
  void setHome(uint64_t id, std::weak_ptr<ConnState> conn);
  // The connection holding the session's trees and opens (expired: none, or unknown id).
  std::weak_ptr<ConnState> sessionHome(uint64_t id);
  // Connections for status listings (registered at accept; closed ones drop out).
  void registerConnection(std::weak_ptr<ConnState> conn);
  std::vector<std::shared_ptr<ConnState>> liveConnections();
  void unregisterSession(uint64_t id);
  std::optional<SessionEntry> lookupSession(uint64_t id);
  // The user database entry for `name` (case-insensitive); the file named by "smb passwd file"
  // is re-read when its modification time changed, so xsmbctl changes apply to new logons.
  std::optional<config::UserEntry> findUser(std::string_view name);
  // Loads the user database if it changed (call with users_mu_ held).
  std::optional<config::UserEntry> findUserLocked(std::string_view name, bool* reloaded);

 private:
  // Guards `shares` (the vector, not the Shares) against a reload adding to it.
  mutable std::shared_mutex shares_mu_;
  std::mutex registry_mu_;
  std::vector<std::weak_ptr<ConnState>> connections_;  // guarded by registry_mu_
  std::unordered_map<uint64_t, SessionEntry> registry_;
  std::mutex users_mu_;
  config::UserDb users_;
  struct timespec users_mtime_ {};
  bool users_loaded_ = false;
};

}  // namespace xsmb::session
