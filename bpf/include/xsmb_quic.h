/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xsmb_quic.h - SMB over QUIC steering: the connection ID layout xsmbd issues and the maps
 * that the QUIC BPF programs (bpf/xsmb_quic.bpf.c) and the C++ side (common/quic/cid.h,
 * server/transport/xsk/) share. Included by BPF C (clang -target bpf) and by C++20.
 *
 * Byte order as in xsmb_abi.h: "net" = as on the wire, "host" = the CPU's order.
 * Changing a struct changes the ABI: the static_asserts at the end and the BTF layout test
 * (tests/bpf/abi_btf_test.cc) change with it.
 *
 * Connection IDs (RFC 9000 5.1): every connection ID xsmbd chooses (the Source Connection ID
 * of its long-header packets, NEW_CONNECTION_ID frames) is XSMB_QUIC_CID_LEN bytes:
 *   byte 0      layout version, XSMB_QUIC_CID_LAYOUT_V1
 *   byte 1      the owning worker's index (0..255)
 *   bytes 2..15 random (getrandom), so that IDs cannot be guessed or linked (RFC 9000 9.5)
 * A client then sends it as the Destination Connection ID of its short-header packets
 * (RFC 9000 17.3) and of its long-header packets after the server's first reply (17.2); the
 * client's first Initial (and 0-RTT) carries a DCID the client chose (RFC 9000 7.2), which
 * places nothing: those go to the socket path.
 */
#ifndef XSMB_QUIC_H
#define XSMB_QUIC_H

#include <linux/types.h>

/* ---- connection ID layout */
#define XSMB_QUIC_CID_LEN 16         /* bytes of every server-chosen connection ID */
#define XSMB_QUIC_CID_LAYOUT_V1 0x01 /* byte 0 */
#define XSMB_QUIC_CID_OFF_LAYOUT 0
#define XSMB_QUIC_CID_OFF_WORKER 1
#define XSMB_QUIC_CID_OFF_RANDOM 2
#define XSMB_QUIC_CID_RANDOM_LEN (XSMB_QUIC_CID_LEN - XSMB_QUIC_CID_OFF_RANDOM)
#define XSMB_QUIC_MAX_WORKERS 256 /* the worker byte's range */

/* ---- QUIC packet header constants (RFC 8999 5, RFC 9000 17) */
#define XSMB_QUIC_FORM_LONG 0x80     /* first byte: Header Form, 1 = long (RFC 8999 5.1) */
#define XSMB_QUIC_FIXED_BIT 0x40     /* first byte: Fixed Bit (RFC 9000 17.2, 17.3.1) */
#define XSMB_QUIC_LONG_TYPE_MASK 0x30 /* first byte: Long Packet Type (RFC 9000 17.2) */
#define XSMB_QUIC_LONG_TYPE_SHIFT 4
#define XSMB_QUIC_TYPE_INITIAL 0   /* RFC 9000 17.2.2 */
#define XSMB_QUIC_TYPE_0RTT 1      /* RFC 9000 17.2.3 */
#define XSMB_QUIC_TYPE_HANDSHAKE 2 /* RFC 9000 17.2.4 */
#define XSMB_QUIC_TYPE_RETRY 3     /* RFC 9000 17.2.5 */
#define XSMB_QUIC_VERSION_NEGOTIATION 0x00000000 /* Version field of RFC 8999 6 */
#define XSMB_QUIC_VERSION_1 0x00000001           /* RFC 9000 15 */
/* Long header: 1 byte flags, 4 bytes Version, 1 byte DCID Length, then the DCID. */
#define XSMB_QUIC_LONG_OFF_VERSION 1
#define XSMB_QUIC_LONG_OFF_DCID_LEN 5
#define XSMB_QUIC_LONG_OFF_DCID 6
#define XSMB_QUIC_MAX_CID_LEN 20 /* QUIC v1 (RFC 9000 17.2); RFC 8999 allows 255 */
/* Short header: 1 byte flags, then the DCID, whose length the receiver knows (ours: 16). */
#define XSMB_QUIC_SHORT_OFF_DCID 1
#define XSMB_QUIC_PORT_DEFAULT 443 /* MS-SMB2 2.1: SMB over QUIC listens on UDP 443 */

/* ---- limits */
#define XSMB_QUIC_MAX_QUEUES 64 /* NIC receive queues an XSK can be bound to */
#define XSMB_QUIC_MAX_GROUPS 4  /* reuseport groups (listening addresses) sharing the program */
#define XSMB_QUIC_MAX_CIDS 131072

/* XSKMAP key of worker w's AF_XDP socket bound to receive queue q
 * (Documentation/networking/af_xdp.rst: a frame can only go to an XSK of its own queue). */
#define XSMB_QUIC_XSK_SLOT(q, w) ((q) * XSMB_QUIC_MAX_WORKERS + (w))
/* REUSEPORT_SOCKARRAY key of worker w's UDP socket in reuseport group g. */
#define XSMB_QUIC_SOCK_SLOT(g, w) ((g) * XSMB_QUIC_MAX_WORKERS + (w))

/* ---- maps (pinned as PIN_DIR/quic_<name>, like the others: the "xsmb_" prefix dropped)
 *   xsmb_quic_cfg    ARRAY (1)                 0 -> struct xsmb_quic_config
 *   xsmb_quic_cids   HASH                      struct xsmb_quic_cid -> struct xsmb_quic_cid_info
 *   xsmb_quic_xsks   XSKMAP                    XSMB_QUIC_XSK_SLOT(queue, worker) -> XSK
 *   xsmb_quic_socks  REUSEPORT_SOCKARRAY       XSMB_QUIC_SOCK_SLOT(group, worker) -> UDP socket
 *   xsmb_quic_stats  PERCPU_ARRAY (1)          0 -> struct xsmb_quic_counters
 *   xsmb_quic_wstat  PERCPU_ARRAY (256)        worker -> struct xsmb_quic_worker_stat
 */

/* The value of xsmb_quic_cfg. */
#define XSMB_QUIC_CFG_XSK (1u << 0) /* XDP redirects placed packets to the XSKs (else counts
				     * them and passes: the socket mode with XDP accounting) */
struct xsmb_quic_config {
	__u16 port;     /* host; the UDP port QUIC is served on, 0 = XSMB_QUIC_PORT_DEFAULT */
	__u16 nworkers; /* host; workers whose sockets/XSKs are in the maps (worker < nworkers) */
	__u32 flags;    /* host; XSMB_QUIC_CFG_* */
};

/* Key of xsmb_quic_cids: one server-chosen connection ID, split into its named parts so
 * that bpftool prints them. */
struct xsmb_quic_cid {
	__u8 layout;                           /* XSMB_QUIC_CID_LAYOUT_V1 */
	__u8 worker;                           /* owning worker */
	__u8 random[XSMB_QUIC_CID_RANDOM_LEN]; /* as issued */
};

/* Value of xsmb_quic_cids, written by xsmbd when it issues the ID (RFC 9000 5.1.1) and
 * deleted when the ID is retired (RFC 9000 5.1.2) or the connection ends. */
#define XSMB_QUIC_CIDF_SOCKET (1u << 0) /* keep this connection on the socket path */
struct xsmb_quic_cid_info {
	__u32 worker;      /* host; owning worker (equals the key's worker byte) */
	__u32 flags;       /* host; XSMB_QUIC_CIDF_* */
	__u64 xdp_packets; /* host; packets XDP found this ID in: redirected, or passed in socket
			    * mode / with XSMB_QUIC_CIDF_SOCKET / without an XSK (the program adds) */
};

/* Value of xsmb_quic_wstat: what reached each worker, per CPU. */
struct xsmb_quic_worker_stat {
	__u64 xsk_packets;    /* host; redirected by XDP to the worker's XSK */
	__u64 xsk_bytes;      /* host; UDP payload bytes of those */
	__u64 xsk_missing;    /* host; placed, but no XSK of the worker on that queue: passed */
	__u64 socket_packets; /* host; datagrams the reuseport program gave the worker's socket */
};

/*
 * ---- Per-CPU counters (xsmb_quic_stats; bpftool prints the fields by name).
 * Every packet the XDP program sees adds one to XQ_PACKETS and exactly one XQ_PASS_* or
 * XQ_REDIRECT_XSK (its verdict); every datagram the reuseport program sees adds one to
 * RQ_DATAGRAMS and exactly one RQ_* verdict.
 */
#define XSMB_QUIC_COUNTERS(X)                                                                \
	X(XQ_PACKETS, "packets seen by the QUIC XDP program")                                \
	X(XQ_PASS_NOT_QUIC, "pass: not UDP to the QUIC port (other protocol, port, fragment)") \
	X(XQ_PASS_TRUNC, "pass: Ethernet/VLAN/IP/UDP header cut short or malformed")         \
	X(XQ_PASS_MALFORMED, "pass: QUIC header malformed or cut short")                     \
	X(XQ_PASS_INITIAL, "pass: Initial/0-RTT with a client-chosen DCID, or not QUIC v1") \
	X(XQ_PASS_BAD_LAYOUT, "pass: 16-byte DCID with another layout version")              \
	X(XQ_PASS_UNKNOWN_CID, "pass: DCID not issued (not in xsmb_quic_cids)")              \
	X(XQ_PASS_SOCKET, "pass: known DCID kept on the socket path (flag or XSK mode off)")  \
	X(XQ_PASS_NO_XSK, "pass: known DCID, but no XSK of its worker on this queue")        \
	X(XQ_REDIRECT_XSK, "redirect: to the owning worker's XSK")                           \
	X(RQ_DATAGRAMS, "datagrams seen by the QUIC reuseport program")                      \
	X(RQ_SELECT_CID, "reuseport: given to the worker the DCID names")                    \
	X(RQ_HASH_INITIAL, "reuseport: Initial/0-RTT or not QUIC v1, kernel hash")          \
	X(RQ_HASH_UNKNOWN, "reuseport: DCID of another layout or worker out of range, hash") \
	X(RQ_HASH_MALFORMED, "reuseport: QUIC header malformed or cut short, kernel hash")   \
	X(RQ_SELECT_FAILED, "reuseport: the worker's socket is not in the array, kernel hash")

enum xsmb_quic_counter {
#define XSMB_QUIC_X_COUNTER(name, doc) XSMB_QCNT_##name,
	XSMB_QUIC_COUNTERS(XSMB_QUIC_X_COUNTER)
#undef XSMB_QUIC_X_COUNTER
	XSMB_QCNT_MAX
};

struct xsmb_quic_counters {
#define XSMB_QUIC_X_FIELD(name, doc) __u64 name;
	XSMB_QUIC_COUNTERS(XSMB_QUIC_X_FIELD)
#undef XSMB_QUIC_X_FIELD
};

#ifdef __cplusplus
#define XSMB_QUIC_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define XSMB_QUIC_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
XSMB_QUIC_STATIC_ASSERT(sizeof(struct xsmb_quic_config) == 8, "xsmb_quic_config");
XSMB_QUIC_STATIC_ASSERT(sizeof(struct xsmb_quic_cid) == XSMB_QUIC_CID_LEN, "xsmb_quic_cid");
XSMB_QUIC_STATIC_ASSERT(sizeof(struct xsmb_quic_cid_info) == 16, "xsmb_quic_cid_info");
XSMB_QUIC_STATIC_ASSERT(sizeof(struct xsmb_quic_worker_stat) == 32, "xsmb_quic_worker_stat");
XSMB_QUIC_STATIC_ASSERT(sizeof(struct xsmb_quic_counters) == 8 * XSMB_QCNT_MAX,
			"xsmb_quic_counters");

#endif /* XSMB_QUIC_H */
