/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xsmb_abi.h - the one description of everything the BPF programs and the C++ side
 * (loader/, server/) share: map names, key and value structs, enums, and the counter
 * list as an X-macro. Included by BPF C (clang -target bpf) and by C++20.
 *
 * Byte order: every multi-byte field says "net" (big-endian, as on the wire of
 * Ethernet/IP/TCP), "host" (the CPU's order; BPF runs in host order) or "le"
 * (little-endian as SMB2 carries it). Addresses are 16 bytes: IPv6 as is, IPv4 as
 * the v4-mapped address ::ffff:a.b.c.d, both net order.
 *
 * Changing a struct changes the ABI: the static_asserts at the end and the BTF
 * layout test (tests/bpf/abi_btf_test.cc) must be updated with it.
 */
#ifndef XSMB_ABI_H
#define XSMB_ABI_H

#include <linux/types.h>

#include "common/smb2/smb2_wire.h"

/* ---- map names: pinned as PIN_DIR/<name without "xsmb_"> (e.g. /sys/fs/bpf/xsmb/sessions).
 * The one definition of the default PIN_DIR: xsmb-loader, xsmbd's "bpf pin dir" default and
 * the tests use it. */
#define XSMB_BPFFS_ROOT "/sys/fs/bpf" /* where bpffs is mounted (libxdp keeps its state there) */
#define XSMB_PIN_DIR_DEFAULT XSMB_BPFFS_ROOT "/xsmb"

/* ---- sizes */
#define XSMB_MAX_PORTS 4          /* SMB ports the XDP/TC programs look at */
#define XSMB_MAX_CPUS 128         /* cpumap slots */
#define XSMB_MAX_WORKERS 64       /* reuseport slots per listening address (group) */
#define XSMB_MAX_RP_GROUPS 16     /* listening addresses (reuseport groups) xsmbd registers */
#define XSMB_GENERATIONS 2        /* xsmbd generations side by side (the serving one, the next) */
#define XSMB_HIST_BUCKETS 32      /* log2(ns) buckets */
/* bytes read at a header position: NetBIOS(4) + TRANSFORM(52), the longer of the two headers */
#define XSMB_HDR_NEED (XSMB_NETBIOS_HEADER_SIZE + XSMB_TRANSFORM_HEADER_SIZE)
#define XSMB_CARRY_SIZE 128       /* carry buffer (power of two >= 2 * 64, see stream value) */
#define XSMB_CPU_NONE 0xffffffffu /* home_cpu: no steering */

/* ---- SMB2 command slots: one per MS-SMB2 2.2.1.2 command (0x00..0x12, from the shared list in
 * common/smb2/smb2_wire.h), then two extra slots. */
#define XSMB_COMMANDS(X)                                                                       \
	XSMB_SMB2_COMMANDS(X)                                                                  \
	X(OTHER, XSMB_SMB2_NUM_COMMANDS)         /* a Command value above 0x12 */              \
	X(TRANSFORM, XSMB_SMB2_NUM_COMMANDS + 1) /* encrypted (0xFD 'SMB'): command not visible */

enum xsmb_cmd_slot {
#define XSMB_X_CMD(name, value) XSMB_CMD_##name = value,
	XSMB_COMMANDS(XSMB_X_CMD)
#undef XSMB_X_CMD
	XSMB_CMD_SLOTS
};

/*
 * ---- Per-CPU counters (map xsmb_counters: one struct xsmb_counters per CPU, whose field
 * number enum xsmb_counter gives; bpftool prints the fields by name).
 * Every XDP packet adds one to XDP_PACKETS and to exactly one verdict counter:
 * the XDP_PASS_* / XDP_DROP_* / XDP_REDIRECT_* group below ("reason").
 * The other counters are events that may happen several times per packet.
 */
#define XSMB_COUNTERS(X)                                                                 \
	X(XDP_PACKETS, "packets seen by the XDP program")                                    \
	/* XDP verdicts: exactly one per packet */                                           \
	X(XDP_PASS_TRUNC_L2, "pass: Ethernet/VLAN header cut short")                         \
	X(XDP_PASS_NOT_IP, "pass: not IPv4/IPv6")                                            \
	X(XDP_PASS_TRUNC_L3, "pass: IP header cut short or malformed")                       \
	X(XDP_PASS_IP_FRAGMENT, "pass: IPv4 fragment")                                       \
	X(XDP_PASS_IPV6_EXT, "pass: IPv6 extension header before TCP")                       \
	X(XDP_PASS_NOT_TCP, "pass: not TCP")                                                 \
	X(XDP_PASS_TRUNC_L4, "pass: TCP header cut short or malformed")                      \
	X(XDP_PASS_OTHER_PORT, "pass: TCP to a port that is not an SMB port")                \
	X(XDP_PASS_SYN, "pass: SYN within the source's rate")                                \
	X(XDP_PASS_NO_PAYLOAD, "pass: TCP segment without payload")                          \
	X(XDP_PASS_NOT_SMB, "pass: untracked connection, payload is no NetBIOS+SMB2 header") \
	X(XDP_PASS_MID_MESSAGE, "pass: segment inside a message (no header starts in it)")   \
	X(XDP_PASS_OUT_OF_WINDOW, "pass: retransmission or segment after a gap")            \
	X(XDP_PASS_HDR_CUT, "pass: a header starts here and ends in the next segment")       \
	X(XDP_PASS_DESYNC, "pass: no SMB2/TRANSFORM header where one was due")               \
	X(XDP_PASS_SMB, "pass: SMB2/TRANSFORM headers read and counted")                     \
	X(XDP_REDIRECT_CPU, "redirect: steered to the connection's home CPU")                \
	X(XDP_DROP_BLOCKED, "drop: source in the blocklist")                                 \
	X(XDP_DROP_SYN_RATE, "drop: SYN beyond the source's rate")                           \
	/* XDP events */                                                                     \
	X(SMB2_HEADERS, "SMB2 headers read (compound elements included)")                    \
	X(TRANSFORM_HEADERS, "TRANSFORM headers read")                                       \
	X(COMPRESSED_HEADERS, "compression transform headers (0xFC) skipped")                \
	X(COMPOUND_HEADERS, "SMB2 headers after the first of a compound")                    \
	X(NETBIOS_OTHER, "NetBIOS messages other than session messages (keep-alive...)")     \
	X(BAD_SMB2_HEADER, "SMB2 header with a wrong StructureSize")                         \
	X(HDR_CARRIED, "headers assembled from two segments")                                \
	X(STREAMS_OPENED, "connections tracked from their first SMB header")                 \
	X(STREAMS_CLOSED, "tracked connections ended by FIN/RST")                            \
	X(STREAM_RESYNC, "streams restarted at a header after an unrecoverable gap")         \
	X(SESSION_HITS, "headers whose SessionId is in the sessions map")                    \
	X(STEER_FAILED, "steering wanted but the cpumap slot was empty")                     \
	X(INFLIGHT_FULL, "request arrival time not recorded (map full)")                     \
	/* TC egress */                                                                      \
	X(TC_PACKETS, "packets seen by the TC egress program")                               \
	X(TC_RESPONSES, "SMB2 response headers read at egress")                              \
	X(TC_INTERIM, "interim (STATUS_PENDING) responses: the sample waits for the final")  \
	X(LAT_SAMPLES, "wire latency samples recorded")                                      \
	X(LAT_NO_REQUEST, "responses whose request arrival was not recorded")                \
	/* sockmap stream parser / verdict */                                                \
	X(SK_MESSAGES, "NetBIOS messages whose header the sockmap verdict read and passed")  \
	X(SK_SKBS, "skbs the sockmap verdict passed")                                        \
	X(SK_DROP_OVERSIZE, "messages refused: longer than the negotiated maximum")          \
	X(SK_DROP_BAD_HEADER, "messages refused: no SMB2/TRANSFORM header")                  \
	X(SK_CUT_SKBS, "skbs dropped after a refused message (the connection is cut)")      \
	X(SK_HDR_CARRIED, "headers assembled from two skbs")                                 \
	X(SK_SESSION_HITS, "messages accounted to a session in the sessions map")            \
	X(SK_LOST, "connections whose framing the verdict gave up (all data passes)")       \
	X(SK_NO_FRAME_STATE, "skbs passed without framing state (map full)")                \
	/* sk_reuseport */                                                                   \
	X(RP_SELECT_LOAD, "new connections given to the least loaded worker")                \
	X(RP_SELECT_HASH, "new connections placed by the kernel's hash")                     \
	X(RP_SELECT_FAILED, "worker selection failed (socket missing), kernel hash used")    \
	X(RP_NO_GROUP, "listening address not registered by xsmbd, kernel hash used")        \
	X(STEER_CSUM_FIXED, "redirected frames whose partial TCP checksum XDP completed")    \
	X(STEER_CSUM_SKIPPED, "not redirected: a partial checksum XDP could not complete")

enum xsmb_counter {
#define XSMB_X_COUNTER(name, doc) XSMB_CNT_##name,
	XSMB_COUNTERS(XSMB_X_COUNTER)
#undef XSMB_X_COUNTER
	XSMB_CNT_MAX
};

/* The value of map xsmb_counters (PERCPU_ARRAY, 1 entry): one __u64 event count per counter,
 * in enum xsmb_counter order, named as in XSMB_COUNTERS. */
struct xsmb_counters {
#define XSMB_X_COUNTER_FIELD(name, doc) __u64 name;
	XSMB_COUNTERS(XSMB_X_COUNTER_FIELD)
#undef XSMB_X_COUNTER_FIELD
};

/* ---- config (map xsmb_config: ARRAY, 1 entry, mmapable) */
#define XSMB_CFG_STEER (1u << 0)   /* redirect a session's packets to its home CPU */
#define XSMB_CFG_LATENCY (1u << 1) /* record request arrival times for wire latency */

struct xsmb_config {
	__u16 ports[XSMB_MAX_PORTS]; /* host; 0 = unused; all zero means 445 */
	__u32 syn_rate;              /* host; SYNs per second per source, 0 = no limit */
	__u32 syn_burst;             /* host; token bucket depth in SYNs */
	__u32 max_msg_size;          /* host; largest NetBIOS payload in bytes, 0 = no limit */
	__u32 flags;                 /* host; XSMB_CFG_* */
	__u32 nworkers;              /* host; workers of the serving generation in each group (<= 64) */
	__u32 generation;            /* host; the xsmbd generation new connections go to (takeover
				      * raises it); its sockets and loads use slot generation & 1 */
};

/* ---- addresses and connections */
struct xsmb_addr {
	__u8 b[16]; /* net; IPv6, or ::ffff:a.b.c.d for IPv4 */
};

/* A TCP connection seen from the server: client and server endpoints. */
struct xsmb_conn_key {
	struct xsmb_addr client; /* net */
	struct xsmb_addr server; /* net */
	__u16 client_port;       /* net */
	__u16 server_port;       /* net */
	__u8 dir;                /* XSMB_DIR_*: which stream of the connection (streams map) */
	__u8 pad[3];
};
#define XSMB_DIR_IN 0  /* client -> server (XDP) */
#define XSMB_DIR_OUT 1 /* server -> client (TC egress) */

/* ---- sessions (map xsmb_sessions: HASH, key = SessionId) */
/* Key: __u64 SessionId, host order (the wire carries it le; MS-SMB2 2.2.1). */
struct xsmb_session {
	__u32 uid;        /* host; Unix uid of the session user */
	__u16 dialect;    /* host; MS-SMB2 2.2.3 dialect, e.g. 0x0311 */
	__u8 signing;     /* 1 = messages are signed */
	__u8 encryption;  /* 1 = messages are encrypted */
	__u32 home_cpu;   /* host; CPU of the worker the session was set up on (XSMB_CPU_NONE: not pinned); steering is per connection (conn_cpu) */
	__u32 reserved;
	__u64 last_seen_ns;             /* host; bpf_ktime_get_ns() of the last header */
	__u64 ops[XSMB_CMD_SLOTS];      /* host; headers seen at XDP, per command slot */
	__u64 bytes[XSMB_CMD_SLOTS];    /* host; message bytes (NetBIOS payload) per slot */
	__u64 sk_messages;              /* host; messages passed by the sockmap verdict */
	__u64 rate_bps;     /* host; READ/WRITE bytes per second over the last second (xsmbd) */
	__u64 throttled_ns; /* host; time xsmbd held this session's replies back (limits) */
};

/* ---- live limits (map xsmb_limits: mmapable ARRAY of XSMB_MAX_LIMITS; xsmbd's look-aside
 * state, read on every READ/WRITE and request, changed live by operators: xsmbctl limit or
 * bpftool map update). One entry per user or share xsmbd has met; kind 0 = free. */
#define XSMB_MAX_LIMITS 1024
#define XSMB_LIMIT_FREE 0
#define XSMB_LIMIT_USER 1  /* name = SMB user name (lower case), id = Unix uid */
#define XSMB_LIMIT_SHARE 2 /* name = share name (lower case), id = its index in smb.conf */
#define XSMB_LIMIT_NAME 32
struct xsmb_limit {
	__u32 kind;             /* XSMB_LIMIT_* */
	__u32 id;               /* host */
	__u64 bytes_per_sec;    /* host; READ + WRITE payload bytes per second, 0 = no limit */
	__u64 requests_per_sec; /* host; SMB2 requests per second, 0 = no limit */
	__u64 rate_bps;         /* host; measured over the last second (xsmbd writes it) */
	__u64 throttled_ns;     /* host; total time replies were held back (xsmbd writes it) */
	char name[XSMB_LIMIT_NAME]; /* NUL-terminated */
};

/* ---- per-command traffic (map xsmb_cmd_stats: PERCPU_ARRAY, index = xsmb_cmd_slot) */
struct xsmb_cmd_stat {
	__u64 msgs;  /* host; request headers */
	__u64 bytes; /* host; bytes of those requests (compound element or whole message) */
};

/* ---- sources (map xsmb_sources: LRU_HASH, key = struct xsmb_addr) */
struct xsmb_source {
	__u64 tokens_milli; /* host; SYN tokens x 1000 */
	__u64 last_ns;      /* host; bpf_ktime_get_ns() of the last refill */
	__u64 syns;         /* host; SYNs seen */
	__u64 drops;        /* host; SYNs dropped by the rate limit */
};

/* ---- blocklist (map xsmb_blocklist: LPM_TRIE) */
struct xsmb_lpm_key {
	__u32 prefixlen;       /* host; bits of addr that must match (IPv4: 96 + prefix) */
	struct xsmb_addr addr; /* net */
};
struct xsmb_block {
	__u64 drops; /* host; packets dropped for this entry */
};

/* ---- request arrival times: in the client stream's xsmb_stream (pending[]), and in map
 * xsmb_inflight (LRU_HASH) for what does not fit there */
struct xsmb_inflight_key {
	struct xsmb_conn_key conn; /* dir = XSMB_DIR_IN */
	__u64 message_id;          /* host; MS-SMB2 2.2.1 MessageId */
};
struct xsmb_inflight {
	__u64 arrival_ns; /* host; bpf_ktime_get_ns() at XDP */
	__u16 command;    /* host; xsmb_cmd_slot */
	__u16 pad[3];
};

/* ---- per-direction TCP stream state (map xsmb_streams: LRU_HASH, key = xsmb_conn_key) */
#define XSMB_NEXT_NETBIOS 0  /* next_seq is a NetBIOS header */
#define XSMB_NEXT_COMPOUND 1 /* next_seq is an SMB2 header inside the message ending at msg_end */
/* Requests waiting for their response, kept in the client stream's entry (which XDP has
 * already looked up and TC looks up instead of a separate map): no map update or delete per
 * request. A slot is free while arrival_ns is 0; XDP fills only free slots, TC frees only
 * the slot whose message_id its response carries, so the two never write one slot at once.
 * Requests that find no free slot (more than XSMB_PENDING_SLOTS outstanding, or ones that may
 * wait long, like CHANGE_NOTIFY) go to xsmb_inflight. */
#define XSMB_PENDING_SLOTS 8
struct xsmb_pending {
	__u64 message_id; /* host; MS-SMB2 2.2.1 MessageId */
	__u64 arrival_ns; /* host; bpf_ktime_get_ns() at XDP; 0 = slot free */
};

struct xsmb_stream {
	__u32 next_seq;  /* host; TCP sequence number where the next header starts */
	__u32 msg_end;   /* host; sequence number where the current NetBIOS message ends */
	__u8 kind;       /* XSMB_NEXT_* */
	__u8 carry_len;  /* bytes at next_seq held in carry (header cut by a segment end) */
	__u16 pad;
	__u32 home_cpu;  /* host; CPU the connection is steered to, XSMB_CPU_NONE = none */
	__u8 carry[XSMB_CARRY_SIZE]; /* raw bytes from next_seq on; first carry_len valid */
	__u8 pending_cmd[XSMB_PENDING_SLOTS]; /* xsmb_cmd_slot of pending[i] (client stream) */
	struct xsmb_pending pending[XSMB_PENDING_SLOTS]; /* client stream only (dir IN) */
};

/* ---- sockhash framing state (map xsmb_skframe: LRU_HASH, key = __u64 socket cookie) */
/* The sockhash runs the verdict alone, on each skb as TCP queues it (no kernel stream parser:
 * see docs/bpf.md, "Why no stream parser"), so the verdict follows the NetBIOS framing itself:
 * where in the byte stream the next header starts, and the first bytes of a header that an
 * skb cut short. */
#define XSMB_SKF_TRACK 0    /* following the framing */
#define XSMB_SKF_CUT 1      /* a message was refused: everything after it is dropped */
#define XSMB_SKF_LOST 2     /* framing given up (too many headers in one skb): all passes */
struct xsmb_skframe {
	__u32 need;      /* host; bytes of the current message still to come before a header */
	__u8 carry_len;  /* bytes of a cut header held in hdr[0..carry_len) */
	__u8 state;      /* XSMB_SKF_* */
	__u16 pad;
	__u8 hdr[128];   /* raw header bytes (cut header carried over, or scratch); 128 so that
	                  * the verifier sees carry_len + the rest in bounds */
};

/* ---- latency histograms (xsmb_wire_lat: PERCPU_ARRAY, index = xsmb_cmd_slot; xsmb_srv_lat:
 * ARRAY, index = stripe * XSMB_CMD_SLOTS + xsmb_cmd_slot) */
/* xsmbd's threads each add to their own stripe of xsmb_srv_lat (thread i: stripe i mod
 * XSMB_SRV_LAT_STRIPES), so workers do not bounce one histogram's cache lines between them;
 * a reader sums the stripes of a slot. */
#define XSMB_SRV_LAT_STRIPES 16
/* Bucket i holds samples with 2^i <= ns < 2^(i+1) (bucket 0 also 0 ns, the last is open). */
struct xsmb_hist {
	__u64 count;                      /* host; samples */
	__u64 sum_ns;                     /* host; sum of the samples in ns */
	__u64 buckets[XSMB_HIST_BUCKETS]; /* host */
};

/* ---- reuseport worker load (map xsmb_wload: ARRAY, index = worker) */
/* A listening address (reuseport group) of one xsmbd generation, as the listener's bpf_sock
 * shows it: key of the rp_groups map, whose value is the group's index g; worker i's socket of
 * that group is slot XSMB_WORKER_SLOT(gen, g, i) of the workers map. */
#define XSMB_WORKER_SLOT(gen, g, i) \
	((((gen) & 1) * XSMB_MAX_RP_GROUPS + (g)) * XSMB_MAX_WORKERS + (i))
struct xsmb_rp_key {
	__u16 family;         /* AF_INET or AF_INET6 */
	__u16 gen;            /* generation & 1 of the xsmbd that registered it */
	__u32 port;           /* host */
	struct xsmb_addr addr; /* net; IPv4 as ::ffff:a.b.c.d */
};

struct xsmb_wload {
	__u32 load;     /* host; connections the worker reports it holds (xsmbd writes it) */
	__u32 cpu;      /* host; the CPU the worker's thread is pinned to, XSMB_CPU_NONE if not */
	__u64 selected; /* host; connections the program gave it */
};

/* ---- layout checks */
#ifdef __cplusplus
#define XSMB_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define XSMB_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
XSMB_STATIC_ASSERT(XSMB_CMD_SLOTS == 21, "command slots");
XSMB_STATIC_ASSERT(XSMB_CMD_OPLOCK_BREAK + 1 == XSMB_SMB2_NUM_COMMANDS, "last SMB2 command");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_counters) == 8 * XSMB_CNT_MAX, "xsmb_counters");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_config) == 32, "xsmb_config");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_addr) == 16, "xsmb_addr");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_conn_key) == 40, "xsmb_conn_key");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_session) == 24 + 2 * 8 * XSMB_CMD_SLOTS + 24, "session");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_limit) == 40 + XSMB_LIMIT_NAME, "xsmb_limit");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_cmd_stat) == 16, "xsmb_cmd_stat");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_source) == 32, "xsmb_source");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_lpm_key) == 20, "xsmb_lpm_key");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_inflight_key) == 48, "xsmb_inflight_key");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_inflight) == 16, "xsmb_inflight");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_pending) == 16, "xsmb_pending");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_stream) == 16 + XSMB_CARRY_SIZE + 17 * XSMB_PENDING_SLOTS,
		   "xsmb_stream");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_skframe) == 136, "xsmb_skframe");
XSMB_STATIC_ASSERT(2 * 64 <= 128 && XSMB_HDR_NEED < 64, "hdr holds carry + rest (masked)");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_hist) == 16 + 8 * XSMB_HIST_BUCKETS, "xsmb_hist");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_wload) == 16, "xsmb_wload");
XSMB_STATIC_ASSERT(sizeof(struct xsmb_rp_key) == 24, "xsmb_rp_key");
XSMB_STATIC_ASSERT(XSMB_HDR_NEED * 2 <= XSMB_CARRY_SIZE, "carry holds a header twice");

#endif /* XSMB_ABI_H */
