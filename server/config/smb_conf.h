// smb.conf parsing for xsmbd: the Samba file syntax and the subset of Samba's parameter
// names (same meaning, same spelling) that xsmbd implements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bpf/include/xsmb_abi.h"
#include "server/config/smb_conf_hardening.h"
#include "server/config/smb_conf_ops.h"
#include "server/config/smb_conf_quic.h"
#include "server/config/smb_conf_smbdirect.h"

namespace xsmb::config {

// "server signing": disabled|no|off|false|0 -> kDisabled; auto|default|yes|enabled|
// if_required|desired -> kAuto; mandatory|required|force|forced|enforced -> kMandatory.
enum class SigningPolicy { kDisabled, kAuto, kMandatory };
// "map to guest": Never|Bad User|Bad Password (case-insensitive, spaces optional).
enum class MapToGuest { kNever, kBadUser, kBadPassword };
// "server smb encrypt" (alias "smb encrypt"), with Samba's words: off|no|false|0|disabled ->
// kOff; if_required|default|yes|true|1|on|enabled|auto -> kIfRequired (offer encryption, do not
// turn it on); desired -> kDesired (encrypt when the client can); required|mandatory|force|forced|
// enforced -> kRequired (refuse clients that cannot encrypt).
enum class EncryptPolicy { kOff, kIfRequired, kDesired, kRequired };  // Samba "server smb encrypt"

// One word of "socket options" (Samba's parameter): setsockopt(level, name, &value,
// sizeof(int)) on every accepted connection. `text` is the word as it reads back, upper-cased
// ("SO_RCVBUF=262144").
struct SocketOption {
  int level = 0;
  int name = 0;
  int value = 0;
  std::string text;
  bool operator==(const SocketOption&) const = default;
};

// TCP_NODELAY on, the default of "socket options".
SocketOption defaultSocketOption();

struct ShareConfig {
  std::string name;  // as written in [section]
  std::string path;
  std::string comment;
  bool read_only = true;  // "read only" / inverse "writeable", "writable", "write ok"
  bool guest_ok = false;  // "guest ok" / "public"
  std::vector<std::string> valid_users, invalid_users;  // comma/space separated
  bool browseable = true;                               // "browseable" / "browsable"
  uint32_t create_mask = 0744;                          // octal
  uint32_t directory_mask = 0755;
  std::string force_user, force_group;
  EncryptPolicy smb_encrypt = EncryptPolicy::kIfRequired;  // per-share "server smb encrypt"
  // "share bandwidth limit" (READ + WRITE payload bytes/s) and "share request rate limit"
  // (requests/s) of all sessions on the share together; 0 = none. The live values are in the
  // BPF limits map (xsmbctl limit share NAME ...); these are the starting ones.
  uint64_t bandwidth_limit = 0;
  uint64_t request_rate_limit = 0;
  // "use sendfile": large READs of cached file data without signing or encryption go from the
  // page cache to the socket (sendfile) instead of through a user-space buffer. Off by default,
  // as in Samba: on loopback the copy path measured faster (docs/performance.md).
  bool use_sendfile = false;
  bool is_ipc = false;  // the IPC$ share (always present, added if not configured)
  int line = 0;         // line of its [section], 0 if implicit

  bool operator==(const ShareConfig&) const = default;
};

inline constexpr uint32_t kMaxBusyPollUsecs = 10000;  // "busy poll" upper bound

// "smb direct" (xsmbd's; Samba has no SMB Direct parameter): no|off|false -> kNo (never
// tried); auto -> kAuto; yes|on|true -> kYes. Both kAuto and kYes listen for SMB Direct
// (MS-SMBD) where an RDMA device exists and fall back to TCP with one log line where none
// does; kYes logs that as a warning, kAuto as a notice (docs/smbdirect.md).
enum class SmbDirectMode { kNo, kAuto, kYes };

struct GlobalConfig {
  std::string workgroup = "WORKGROUP";
  std::string netbios_name;  // default: upper-cased short hostname
  std::string server_string = "xsmbd";
  std::vector<uint16_t> smb_ports = {445};  // "smb ports" (space separated)
  std::vector<std::string> interfaces;      // "interfaces": IPs, CIDRs, or iface names
  bool bind_interfaces_only = false;
  // "server multi channel support": session binding over several connections and
  // SMB2_GLOBAL_CAP_MULTI_CHANNEL in NEGOTIATE (MS-SMB2 3.3.5.4, 3.3.5.5.2; IsMultiChannelCapable,
  // 3.3.1.5). Default yes, as Samba 4.15+ on Linux.
  bool server_multi_channel_support = true;
  // "smb2 disable oplock break retry" (Samba's name and meaning): an oplock break of a
  // multichannel session goes to its newest channel only and is not sent again on another when
  // that channel fails, as Windows Server does; by default (no) it goes to the oldest live
  // channel and, when that one fails, to the next (MS-SMB2 3.3.4.6). Lease breaks always retry.
  bool smb2_disable_oplock_break_retry = false;
  // "bpf": use the BPF data plane (maps pinned by xsmb-loader; the socket programs are loaded
  // by xsmbd itself). "bpf pin dir": where the maps are pinned.
  bool bpf = false;
  // "bpf sockmap": also frame messages in the kernel (sk_skb stream parser). Experimental.
  bool bpf_sockmap = false;
  std::string bpf_pin_dir = XSMB_PIN_DIR_DEFAULT;  // where xsmb-loader pins by default
  // "control socket": the Unix socket xsmbctl status reads ("" = none).
  std::string control_socket;
  uint16_t server_min_protocol = 0x0202;  // SMB2_02 ... SMB3_11 as dialect numbers
  uint16_t server_max_protocol = 0x0311;
  SigningPolicy server_signing = SigningPolicy::kAuto;
  MapToGuest map_to_guest = MapToGuest::kNever;
  std::string guest_account = "nobody";
  // "max connections": TCP connections of all clients together, 0 = unlimited. The default
  // bounds what idle connections can hold (docs/hardening.md).
  uint32_t max_connections = 4096;
  // "busy poll": microseconds an event loop keeps polling its sockets (epoll_wait with no
  // timeout) after its last event before it sleeps, 0 to 10,000 (0 = always sleep). A client
  // whose next request arrives within the window then need not wake the loop: on a loaded
  // loopback or VM the wake-up (an inter-processor interrupt to an idle CPU) costs the sender
  // more than the request itself (docs/performance.md, Session 3). At most half the CPUs' loops
  // poll at once (none on a single CPU). Costs up to that much CPU after each burst of
  // requests, none while idle.
  uint32_t busy_poll_usecs = 50;
  // "worker cpus": the CPUs the event-loop threads are pinned to, one worker per CPU listed
  // (worker i on the i-th), as taskset -c writes them ("0-3,8"). Empty (the default): every
  // CPU in the process's affinity mask. A worker's CPU is the home CPU of its connections,
  // to which the BPF data plane steers their packets (xsmb-loader load --steer).
  std::vector<int> worker_cpus;
  // "takeover drain time": seconds an xsmbd whose place a newer one took (xsmbd --takeover)
  // keeps serving its connections before it exits; each closes earlier once idle (2 s with no
  // request). 0 to 86,400.
  uint32_t takeover_drain_secs = 300;
  // "user bandwidth limit" (READ + WRITE payload bytes/s) and "user request rate limit"
  // (requests/s) of each user, all their sessions together; 0 = none. Starting values of the
  // user's entry in the limits map (xsmbctl limit user NAME ... changes them live).
  uint64_t user_bandwidth_limit = 0;
  uint64_t user_request_rate_limit = 0;
  // "socket options": NAME or NAME=value words, case-insensitive, separated by spaces or commas
  // (Samba's syntax), applied to every accepted TCP connection: TCP_NODELAY, SO_KEEPALIVE,
  // TCP_QUICKACK (0 or 1 when given a value), SO_SNDBUF=bytes, SO_RCVBUF=bytes (the kernel
  // doubles both and stops autotuning that direction), TCP_KEEPIDLE=s, TCP_KEEPINTVL=s,
  // TCP_KEEPCNT=n, TCP_USER_TIMEOUT=ms, IPTOS_LOWDELAY, IPTOS_THROUGHPUT (IP_TOS, or the IPv6
  // traffic class). Samba's SO_REUSEADDR, SO_REUSEPORT and SO_BROADCAST are accepted with a
  // warning (no effect on a connection); SO_RCVLOWAT (xsmbd sets it itself), SO_SNDLOWAT,
  // SO_SNDTIMEO and SO_RCVTIMEO (no meaning on xsmbd's non-blocking sockets) are errors.
  // Samba's default: TCP_NODELAY.
  std::vector<SocketOption> socket_options = {defaultSocketOption()};
  std::string smb_passwd_file = "/var/lib/xsmbd/users.db";  // "smb passwd file": our user database
  int log_level = 1;                                        // "log level"
  // "server smb encrypt" in [global]; it is also the default of every ShareConfig::smb_encrypt.
  EncryptPolicy server_smb_encrypt = EncryptPolicy::kIfRequired;
  // MS-SMB2 2.2.3.1.2 cipher ids in preference order: aes-128-gcm=2, aes-128-ccm=1,
  // aes-256-gcm=4, aes-256-ccm=3 (Samba's "server smb3 encryption algorithms")
  std::vector<uint16_t> server_smb3_encryption_algorithms = {2, 1, 4, 3};
  // MS-SMB2 2.2.3.1.7 ids: aes-128-gmac=2, aes-128-cmac=1, hmac-sha-256=0
  // (Samba's "server smb3 signing algorithms")
  std::vector<uint16_t> server_smb3_signing_algorithms = {2, 1, 0};
  // "kerberos keytab file" (alias "dedicated keytab file"); "" = no Kerberos
  std::string kerberos_keytab_file;
  std::string realm;  // "realm", upper-cased like Samba
  SmbDirectConfig smbdirect;  // "smb direct ..." (smb_conf_smbdirect.h)
  // "smb3 directory leases" (Samba's name): offer SMB2_GLOBAL_CAP_DIRECTORY_LEASING on SMB 3.x
  // connections and grant read/handle leases on directories (MS-SMB2 2.2.4, 3.3.5.9.11).
  bool smb3_directory_leases = true;
  SmbDirectMode smb_direct = SmbDirectMode::kNo;  // "smb direct"
  // "smb direct port": the RDMA CM port SMB Direct listens on; 0 (also "auto") = by the
  // devices' kind, 5445 for iWARP and 445 for InfiniBand/RoCE (MS-SMBD 2.1).
  uint16_t smb_direct_port = 0;
  HardeningConfig hardening;  // limits under abuse, "restrict anonymous" (smb_conf_hardening.h)
  OpsConfig ops;  // "metrics address", "shutdown timeout" (smb_conf_ops.h)
  QuicConfig quic;  // SMB over QUIC: transports, TLS files, port (smb_conf_quic.h)

  bool operator==(const GlobalConfig&) const = default;
};

struct Config {
  GlobalConfig global;
  std::vector<ShareConfig> shares;  // includes IPC$
  // Case-insensitive lookup by share name; nullptr if absent.
  const ShareConfig* findShare(std::string_view name) const;

  bool operator==(const Config&) const = default;
};

struct Problem {
  enum class Severity { kWarning, kError };
  Severity severity;
  int line;             // 1-based, 0 for problems not tied to a line
  std::string message;  // e.g. "unknown parameter \"foo bar\""
};

struct ParseResult {
  Config config;
  std::vector<Problem> problems;  // ordered by line
  bool hasErrors() const;
};

// Parses smb.conf text (sections, `name = value`, ';'/'#' comments, '\' line continuation,
// case-insensitive parameter names with spaces/underscores ignored like Samba, yes/no/true/false/
// 1/0 booleans). Unknown parameters and malformed lines are reported with their line number;
// a share whose path does not exist (or is not a directory) is reported as an error and kept.
// Protocol names: SMB2, SMB2_02, SMB2_10, SMB3, SMB3_00, SMB3_02, SMB3_11 (NT1/LANMAN*/CORE
// for "server min protocol" -> warning, treated as SMB2_02). A parameter given in the wrong
// section (share parameter in [global] is fine as Samba's default for shares; a global-only
// parameter inside a share is a warning). "server smb encrypt" is both: in [global] it sets
// GlobalConfig::server_smb_encrypt and every share's default. "server smb3 encryption/signing
// algorithms" take comma/space separated names (see encryptionAlgorithmFromName), "default", or
// Samba's edit syntax "-AES-128-CCM +AES-256-GCM" (remove from / append to the value so far);
// an unknown name or an empty result is an error and leaves the list unchanged.
ParseResult parseSmbConf(std::string_view text);

// Reads and parses a file; IO failure -> NotFound/PermissionDenied status.
absl::StatusOr<ParseResult> loadSmbConf(const std::string& path);

// The effective configuration in smb.conf syntax, every parameter listed (like testparm -sv).
// parseSmbConf(renderConfig(c)) yields c again (apart from ShareConfig::line).
std::string renderConfig(const Config& config);

// The embedded default used when xsmbd starts without --config: share [demo] at `demo_dir`
// (writeable, guest ok), listening on 127.0.0.1 port `port` (bind interfaces only), map to
// guest = Bad User, user database `passwd_file`.
Config embeddedDefault(const std::string& demo_dir, uint16_t port, const std::string& passwd_file);

// The MS-SMB2 id of an SMB3 cipher / signing algorithm name as Samba spells it in "server smb3
// encryption algorithms" / "server smb3 signing algorithms" (case-insensitive: "AES-128-GCM" -> 2,
// "HMAC-SHA256" or "HMAC-SHA-256" -> 0); nullopt if unknown.
std::optional<uint16_t> encryptionAlgorithmFromName(std::string_view name);
std::optional<uint16_t> signingAlgorithmFromName(std::string_view name);
// Samba's spelling of an id ("AES-128-GCM", "HMAC-SHA256"); other ids as "0x%04x".
std::string encryptionAlgorithmName(uint16_t id);
std::string signingAlgorithmName(uint16_t id);

// Dialect number for a protocol name ("SMB3_11" -> 0x0311, MS-SMB2 2.2.3); nullopt if unknown.
// Case-insensitive; like Samba, "SMB2" selects SMB2_10 and "SMB3" selects SMB3_11.
std::optional<uint16_t> dialectFromProtocolName(std::string_view name);
// "SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"; other values as "0x%04x".
std::string protocolNameFromDialect(uint16_t dialect);

// The IPv4/IPv6 addresses to listen on: every address of `interfaces` entries (interface names
// resolved with getifaddrs, CIDR "a.b.c.d/n" -> its address) when bind_interfaces_only, else
// {"0.0.0.0", "::"}. Empty interfaces + bind only -> InvalidArgument; an entry that is neither
// an address nor an interface with an address -> NotFound. IPv6 link-local gets "%iface".
// Options after ';' in an entry (Samba's "eth0;speed=1000000000,capability=RSS") are ignored.
absl::StatusOr<std::vector<std::string>> listenAddresses(const GlobalConfig& global);

// The default NetBIOS name: the host name up to its first '.', upper-cased, at most 15 bytes.
std::string defaultNetbiosName();

// A CPU list as taskset -c and /sys/devices/system/cpu/online write it: numbers and ranges
// ("0-3,8", also space separated), each CPU below kMaxCpuNumber, in the order given, no
// repeats. An empty result with *error set when malformed.
inline constexpr int kMaxCpuNumber = 4096;

// A rate as "bandwidth limit" takes it: a number with an optional K, M, G or T suffix (powers
// of 1024, "50M" = 50 MiB/s; a trailing "B", "iB" or "/s" is accepted). nullopt when malformed.
std::optional<uint64_t> parseRate(std::string_view text);
std::vector<int> parseCpuList(std::string_view text, std::string* error);

}  // namespace xsmb::config
