/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xsmb_maps.bpf.h - BPF-only: the map definitions every xsmb object shares and the
 * inline helpers (counters, histograms, the NetBIOS/SMB2 header reader). Each object
 * defines the full set of maps so that any of them, loaded alone with the loader's
 * pin paths, finds or creates the same pinned maps.
 */
#ifndef XSMB_MAPS_BPF_H
#define XSMB_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_abi.h"

/* Ports, limits and flags; one entry, mmapable so xsmbd can store a field atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xsmb_config);
} xsmb_config SEC(".maps");

/* SessionId -> the session's look-aside record and per-command traffic. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct xsmb_session);
} xsmb_sessions SEC(".maps");

/* Source address -> SYN token bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct xsmb_addr);
	__type(value, struct xsmb_source);
} xsmb_sources SEC(".maps");

/* Source prefixes whose packets to the SMB ports are dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct xsmb_lpm_key);
	__type(value, struct xsmb_block);
} xsmb_blocklist SEC(".maps");

/* (connection, MessageId) -> request arrival time, until the response leaves. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct xsmb_inflight_key);
	__type(value, struct xsmb_inflight);
} xsmb_inflight SEC(".maps");

/* (connection, direction) -> where the next NetBIOS/SMB2 header starts. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct xsmb_conn_key);
	__type(value, struct xsmb_stream);
} xsmb_streams SEC(".maps");

/* 0 -> the event counts as one named record (field = enum xsmb_counter), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xsmb_counters);
} xsmb_counters SEC(".maps");

/* Command slot -> request headers and bytes, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSMB_CMD_SLOTS);
	__type(key, __u32);
	__type(value, struct xsmb_cmd_stat);
} xsmb_cmd_stats SEC(".maps");

/* Command slot -> latency measured at the wire (XDP arrival to TC departure), per CPU: TC
 * runs on whichever CPU sends the response, and one shared histogram would bounce its cache
 * lines between them on every response. Readers sum over CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSMB_CMD_SLOTS);
	__type(key, __u32);
	__type(value, struct xsmb_hist);
} xsmb_wire_lat SEC(".maps");

/* (xsmbd thread stripe, command slot) -> latency measured by xsmbd (written through mmap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XSMB_SRV_LAT_STRIPES * XSMB_CMD_SLOTS);
	__type(key, __u32);
	__type(value, struct xsmb_hist);
} xsmb_srv_lat SEC(".maps");

/* CPU -> its cpumap queue, for steering a session's packets to its worker's CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, XSMB_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} xsmb_cpumap SEC(".maps");

/* Accepted connections whose messages pass the stream parser and verdict (key: cookie). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} xsmb_sockhash SEC(".maps");

/* Socket cookie -> the verdict's framing state of that connection (see xsmb_skframe). LRU:
 * entries of closed connections age out; an evicted idle connection restarts at a message
 * boundary, which is where an idle connection is. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct xsmb_skframe);
} xsmb_skframe SEC(".maps");

/* XSMB_WORKER_SLOT(generation, group, worker) -> that worker's listening socket. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, XSMB_GENERATIONS * XSMB_MAX_RP_GROUPS * XSMB_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} xsmb_workers SEC(".maps");

/* (listening address, generation) -> its reuseport group's index (xsmbd registers each). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XSMB_GENERATIONS * XSMB_MAX_RP_GROUPS);
	__type(key, struct xsmb_rp_key);
	__type(value, __u32);
} xsmb_rp_groups SEC(".maps");

/* Connection (client -> server key, dir IN) -> its home CPU: the CPU of the worker the
 * reuseport program gave it, recorded at the SYN; XDP steers the connection's packets there. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct xsmb_conn_key);
	__type(value, __u32);
} xsmb_conn_cpu SEC(".maps");

/* (generation & 1) * 64 + worker -> its load and CPU (written by xsmbd through mmap) and the
 * connections given to it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XSMB_GENERATIONS * XSMB_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct xsmb_wload);
} xsmb_wload SEC(".maps");

/* User or share -> its live limits and measured rate (xsmbd reads and writes it through mmap;
 * no program uses it: look-aside state that outlives xsmbd and that bpftool can change). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XSMB_MAX_LIMITS);
	__type(key, __u32);
	__type(value, struct xsmb_limit);
} xsmb_limits SEC(".maps");

/* ---- helpers */

/* All zeros, in .rodata: a new xsmb_streams entry is written from here and its few non-zero
 * fields set in place, so the value (280 bytes) never sits on the 512-byte stack. */
static const struct xsmb_stream xsmb_stream_zero;

/* Starts tracking one direction of a connection at sequence number seq, where a NetBIOS
 * header starts; 0, or -1 when the map refused the entry. */
static __always_inline int xsmb_stream_create(const struct xsmb_conn_key *key, __u32 seq)
{
	struct xsmb_stream *st;

	if (bpf_map_update_elem(&xsmb_streams, key, &xsmb_stream_zero, BPF_ANY))
		return -1;
	st = bpf_map_lookup_elem(&xsmb_streams, key);
	if (!st)
		return -1;
	st->next_seq = seq;
	st->kind = XSMB_NEXT_NETBIOS;
	st->home_cpu = XSMB_CPU_NONE;
	return 0;
}

static __always_inline void xsmb_count(__u32 idx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&xsmb_counters, &zero);
	__u64 i = idx;

	if (!v)
		return;
	/* Verifier workaround: keep the bounds check and the access on one register (clang
	 * otherwise checks a copy and indexes with the unchecked original). */
	asm volatile("" : "+r"(i));
	if (i >= XSMB_CNT_MAX)
		return;
	asm volatile("" : "+r"(i));
	/* The record's fields are __u64 in enum order: index it like an array. */
	v[i] += 1; /* per-CPU record: no atomic needed */
}

static __always_inline struct xsmb_config *xsmb_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xsmb_config, &zero);
}

static __always_inline int xsmb_is_smb_port(const struct xsmb_config *cfg, __u16 port_host)
{
	int any = 0;

	if (!cfg)
		return port_host == 445;
#pragma unroll
	for (int i = 0; i < XSMB_MAX_PORTS; i++) {
		if (cfg->ports[i]) {
			any = 1;
			if (cfg->ports[i] == port_host)
				return 1;
		}
	}
	return !any && port_host == 445;
}

/* Verifier workaround: clamps v to mask in a way the compiler cannot drop, so the bound
 * is on the very register later added to a packet pointer. */
static __always_inline __u64 xsmb_bound(__u64 v, const __u64 mask)
{
	asm volatile("%0 &= %1" : "+r"(v) : "i"(mask));
	return v;
}

/* Verifier workaround: an opaque copy the compiler cannot rematerialize from memory, so a
 * bounds check on it is the one the verifier sees on the register used for indexing. */
#define xsmb_opaque(v) asm volatile("" : "+r"(v))

/* Raw bytes at a header position; a struct so global functions see its size in BTF. */
struct xsmb_hdr_bytes {
	__u8 b[XSMB_HDR_NEED];
};

/* floor(log2(v)) for v > 0, 0 for 0; straight-line code (no loop for the verifier). */
static __always_inline __u32 xsmb_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* h is this CPU's slot of a per-CPU histogram: plain adds (TC egress does not nest on one
 * CPU). */
static __always_inline void xsmb_hist_add(struct xsmb_hist *h, __u64 ns)
{
	__u32 b = xsmb_log2(ns);

	if (b >= XSMB_HIST_BUCKETS)
		b = XSMB_HIST_BUCKETS - 1;
	h->count += 1;
	h->sum_ns += ns;
	h->buckets[b] += 1;
}

/* Little-endian loads from a byte buffer (SMB2 fields are le; MS-SMB2 2.2.1). */
static __always_inline __u16 xsmb_le16(const __u8 *p)
{
	return (__u16)p[0] | ((__u16)p[1] << 8);
}

static __always_inline __u32 xsmb_le32(const __u8 *p)
{
	return (__u32)p[0] | ((__u32)p[1] << 8) | ((__u32)p[2] << 16) | ((__u32)p[3] << 24);
}

static __always_inline __u64 xsmb_le64(const __u8 *p)
{
	return (__u64)xsmb_le32(p) | ((__u64)xsmb_le32(p + 4) << 32);
}

/* The first byte of a ProtocolId is XSMB_PROTO_* (common/smb2/smb2_wire.h); then 'S' 'M' 'B'. */
static __always_inline int xsmb_is_smb_magic(const __u8 *h)
{
	return h[1] == 'S' && h[2] == 'M' && h[3] == 'B';
}

/* A direct-TCP/NetBIOS session message carrying an SMB2 or TRANSFORM header (8 bytes). */
static __always_inline int xsmb_looks_like_smb(const __u8 *p)
{
	const __u8 *h = p + XSMB_NETBIOS_HEADER_SIZE;

	return p[0] == XSMB_NETBIOS_SESSION_MESSAGE &&
	       (h[0] == XSMB_PROTO_SMB2 || h[0] == XSMB_PROTO_TRANSFORM) && xsmb_is_smb_magic(h);
}

/* What one header position held. */
enum xsmb_hdr_kind {
	XSMB_H_SMB2 = 1,
	XSMB_H_TRANSFORM,
	XSMB_H_COMPRESSED,
	XSMB_H_NETBIOS_OTHER, /* keep-alive, session request... (RFC 1002 4.3) */
	XSMB_H_BAD,           /* framed message without a usable header */
	XSMB_H_DESYNC,        /* no NetBIOS header where one was due: stop tracking */
};

struct xsmb_hdr {
	__u32 kind;       /* enum xsmb_hdr_kind */
	__u32 slot;       /* xsmb_cmd_slot */
	__u32 flags;      /* SMB2 Flags */
	__u32 status;     /* SMB2 Status (responses) */
	__u64 message_id; /* SMB2 MessageId */
	__u64 session_id; /* SMB2 / TRANSFORM SessionId */
	__u32 size;       /* bytes of this request (compound element or NetBIOS payload) */
	__u32 first;      /* 1 = first header of its NetBIOS message */
};

/*
 * Reads the header at st->next_seq from buf (XSMB_HDR_NEED bytes copied from the stream)
 * and moves st to the next header position: the next compound element (NextCommand,
 * MS-SMB2 3.2.4.1.4) or the next NetBIOS message (4-byte length, MS-SMB2 2.1).
 */
static __always_inline void xsmb_read_header(struct xsmb_stream *st, const __u8 *buf,
					     struct xsmb_hdr *out)
{
	__u32 pos = st->next_seq;
	const __u8 *h = buf;
	__u32 hdr_pos = pos;

	out->first = 0;
	if (st->kind == XSMB_NEXT_NETBIOS) {
		__u32 len = ((__u32)buf[1] << 16) | ((__u32)buf[2] << 8) | buf[3];

		if (buf[0] != XSMB_NETBIOS_SESSION_MESSAGE) {
			/* RFC 1002 session packet types 0x81..0x85 keep the framing. */
			if (buf[0] < XSMB_NETBIOS_SESSION_REQUEST || buf[0] > XSMB_NETBIOS_KEEP_ALIVE) {
				out->kind = XSMB_H_DESYNC;
				return;
			}
			out->kind = XSMB_H_NETBIOS_OTHER;
			st->next_seq = pos + XSMB_NETBIOS_HEADER_SIZE + len;
			return;
		}
		st->msg_end = pos + XSMB_NETBIOS_HEADER_SIZE + len;
		h = buf + XSMB_NETBIOS_HEADER_SIZE;
		hdr_pos = pos + XSMB_NETBIOS_HEADER_SIZE;
		out->first = 1;
	}
	/* By default the next header is the next NetBIOS message. */
	st->next_seq = st->msg_end;
	st->kind = XSMB_NEXT_NETBIOS;
	out->size = st->msg_end - hdr_pos;
	out->slot = XSMB_CMD_OTHER;
	out->flags = 0;
	out->status = 0;
	out->message_id = 0;
	out->session_id = 0;

	if (!xsmb_is_smb_magic(h)) {
		out->kind = XSMB_H_BAD;
		return;
	}
	if (h[0] == XSMB_PROTO_TRANSFORM) {
		/* MS-SMB2 2.2.41 */
		if (out->size < XSMB_TRANSFORM_HEADER_SIZE) {
			out->kind = XSMB_H_BAD;
			return;
		}
		out->kind = XSMB_H_TRANSFORM;
		out->slot = XSMB_CMD_TRANSFORM;
		out->session_id = xsmb_le64(h + XSMB_TRANSFORM_OFF_SESSION_ID);
		return;
	}
	if (h[0] == XSMB_PROTO_COMPRESSED) {
		out->kind = XSMB_H_COMPRESSED;
		return;
	}
	if (h[0] != XSMB_PROTO_SMB2 ||
	    xsmb_le16(h + XSMB_SMB2_OFF_STRUCTURE_SIZE) != XSMB_SMB2_HEADER_SIZE ||
	    out->size < XSMB_SMB2_HEADER_SIZE) {
		out->kind = XSMB_H_BAD;
		return;
	}
	out->kind = XSMB_H_SMB2;
	{
		/* MS-SMB2 2.2.1 */
		__u16 cmd = xsmb_le16(h + XSMB_SMB2_OFF_COMMAND);
		__u32 next = xsmb_le32(h + XSMB_SMB2_OFF_NEXT_COMMAND);

		out->slot = cmd < XSMB_SMB2_NUM_COMMANDS ? cmd : XSMB_CMD_OTHER;
		out->status = xsmb_le32(h + XSMB_SMB2_OFF_STATUS);
		out->flags = xsmb_le32(h + XSMB_SMB2_OFF_FLAGS);
		out->message_id = xsmb_le64(h + XSMB_SMB2_OFF_MESSAGE_ID);
		out->session_id = xsmb_le64(h + XSMB_SMB2_OFF_SESSION_ID);
		/* A usable NextCommand is 8-aligned and leaves room for a header in the message. */
		if (next != 0 && (next & (XSMB_SMB2_COMPOUND_ALIGN - 1)) == 0 &&
		    next >= XSMB_SMB2_HEADER_SIZE && next <= out->size - XSMB_SMB2_HEADER_SIZE) {
			st->next_seq = hdr_pos + next;
			st->kind = XSMB_NEXT_COMPOUND;
			out->size = next;
		}
	}
}

#endif /* XSMB_MAPS_BPF_H */
