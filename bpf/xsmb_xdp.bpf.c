// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xsmb_xdp.bpf.c - XDP ingress: policy and accounting for SMB traffic.
 *
 * Parses Ethernet, up to two VLAN tags, IPv4/IPv6 and TCP to the configured SMB ports;
 * drops blocklisted sources and SYNs beyond a per-source token bucket; follows each
 * connection's byte stream by TCP sequence number so that every NetBIOS + SMB2/TRANSFORM
 * header is read, also where it starts mid-segment or is cut by a segment end; counts
 * requests per command and per session, records arrival times for wire latency and
 * steers a session's packets to its home CPU. Everything else is XDP_PASS, and each
 * packet's verdict is counted under exactly one reason.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_eth.bpf.h"
#include "xsmb_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Largest frame offset of a header position: near the 64 KiB an IP packet can hold (generic
 * XDP on a device with a large MTU sees whole GSO frames). The verifier range-checks a packet
 * pointer only while its offset stays under 64 KiB, a header's bytes included. */
#define XSMB_PKT_OFF_MAX (0xffff - 2 * XSMB_HDR_NEED)

/* data + off as a packet pointer whose XSMB_HDR_NEED following bytes the verifier can check;
 * NULL past XSMB_PKT_OFF_MAX. Masked and compared on one register (see xsmb_bound). */
static __always_inline __u8 *pkt_at(void *data, __u64 off)
{
	asm volatile("%0 &= 0xffff" : "+r"(off));
	if (off > XSMB_PKT_OFF_MAX)
		return (__u8 *)0;
	return (__u8 *)data + off;
}

struct pkt {
	struct xsmb_conn_key key; /* dir = XSMB_DIR_IN */
	__u32 payload_off;        /* from ctx->data */
	__u32 payload_len;        /* bytes of TCP payload present in the frame */
	__u32 seq;                /* host */
	__u32 steer_cpu;          /* out: CPU to steer to, XSMB_CPU_NONE = none */
	__u32 l4_off;             /* TCP header, from ctx->data */
	__u32 l4_len;             /* TCP header + payload, from the IP length */
	__u8 syn, ack, fin, rst;
	__u8 v6; /* IPv6 (the key's addresses are IPv4-mapped otherwise) */
};

static __always_inline void v4_mapped(struct xsmb_addr *a, __be32 ip)
{
	__builtin_memset(a, 0, sizeof(*a));
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	__builtin_memcpy(&a->b[12], &ip, 4);
}

/* Returns a verdict counter index on failure, 0 with pk filled when TCP follows. */
static __always_inline int parse_ip(struct hdr_cursor *c, void *end, __u16 proto,
				    struct pkt *pk, __u32 *l4_len)
{
	if (proto == ETH_P_IP) {
		struct iphdr *iph = c->pos;
		__u32 hl, tot;

		if ((void *)(iph + 1) > end)
			return XSMB_CNT_XDP_PASS_TRUNC_L3;
		hl = iph->ihl * 4;
		tot = bpf_ntohs(iph->tot_len);
		if (iph->version != 4 || hl < sizeof(*iph) || tot < hl)
			return XSMB_CNT_XDP_PASS_TRUNC_L3;
		/* byte-based check for the variable IHL */
		if (c->pos + hl > end)
			return XSMB_CNT_XDP_PASS_TRUNC_L3;
		if (iph->frag_off & bpf_htons(0x3fff)) /* MF or an offset */
			return XSMB_CNT_XDP_PASS_IP_FRAGMENT;
		if (iph->protocol != IPPROTO_TCP)
			return XSMB_CNT_XDP_PASS_NOT_TCP;
		v4_mapped(&pk->key.client, iph->saddr);
		v4_mapped(&pk->key.server, iph->daddr);
		*l4_len = tot - hl;
		c->pos += hl;
		return 0;
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = c->pos;

		if ((void *)(ip6 + 1) > end)
			return XSMB_CNT_XDP_PASS_TRUNC_L3;
		if (ip6->version != 6)
			return XSMB_CNT_XDP_PASS_TRUNC_L3;
		if (ip6->nexthdr != IPPROTO_TCP) {
			switch (ip6->nexthdr) {
			case 0: case 43: case 44: case 50: case 51: case 60: case 135:
				return XSMB_CNT_XDP_PASS_IPV6_EXT;
			}
			return XSMB_CNT_XDP_PASS_NOT_TCP;
		}
		__builtin_memcpy(&pk->key.client, &ip6->saddr, 16);
		__builtin_memcpy(&pk->key.server, &ip6->daddr, 16);
		pk->v6 = 1;
		*l4_len = bpf_ntohs(ip6->payload_len);
		c->pos = ip6 + 1;
		return 0;
	}
	return XSMB_CNT_XDP_PASS_NOT_IP;
}

static __always_inline int parse_tcp(struct hdr_cursor *c, void *data, void *end,
				     __u32 l4_len, struct pkt *pk)
{
	__u8 *payload;

	struct tcphdr *th = c->pos;
	__u32 doff;

	if ((void *)(th + 1) > end)
		return XSMB_CNT_XDP_PASS_TRUNC_L4;
	doff = th->doff * 4;
	if (doff < sizeof(*th) || doff > l4_len)
		return XSMB_CNT_XDP_PASS_TRUNC_L4;
	/* byte-based check for the variable data offset (TCP options) */
	if (c->pos + doff > end)
		return XSMB_CNT_XDP_PASS_TRUNC_L4;
	pk->l4_off = c->pos - data;
	pk->l4_len = l4_len;
	pk->key.client_port = th->source;
	pk->key.server_port = th->dest;
	pk->seq = bpf_ntohl(th->seq);
	pk->syn = th->syn;
	pk->ack = th->ack;
	pk->fin = th->fin;
	pk->rst = th->rst;
	payload = c->pos + doff;
	pk->payload_off = (void *)payload - data;
	/* The IP length, not the frame, bounds the payload (Ethernet pads short frames);
	 * a frame shorter than the IP length is cut to what is there. */
	pk->payload_len = l4_len - doff;
	if ((void *)payload + pk->payload_len > end)
		pk->payload_len = end - (void *)payload;
	return 0;
}

/* Source blocklist; returns 1 when the packet must be dropped. */
static __always_inline int blocked(const struct xsmb_addr *src)
{
	struct xsmb_lpm_key k = { .prefixlen = 128 };
	struct xsmb_block *b;

	k.addr = *src;
	b = bpf_map_lookup_elem(&xsmb_blocklist, &k);
	if (!b)
		return 0;
	__sync_fetch_and_add(&b->drops, 1);
	return 1;
}

/* Per-source SYN token bucket; returns 1 when the SYN must be dropped. Concurrent CPUs
 * may race on one source's bucket: the rate is approximate by design (no lock on the
 * SYN path). */
static __always_inline int syn_over_rate(const struct xsmb_config *cfg, const struct xsmb_addr *src)
{
	struct xsmb_source *s, fresh = {};
	__u64 now, cap, elapsed;

	if (!cfg || cfg->syn_rate == 0)
		return 0;
	now = bpf_ktime_get_ns();
	cap = (__u64)(cfg->syn_burst ? cfg->syn_burst : 1) * 1000;
	s = bpf_map_lookup_elem(&xsmb_sources, src);
	if (!s) {
		fresh.tokens_milli = cap - 1000;
		fresh.last_ns = now;
		fresh.syns = 1;
		bpf_map_update_elem(&xsmb_sources, src, &fresh, BPF_ANY);
		return 0;
	}
	s->syns++;
	elapsed = now - s->last_ns;
	if (elapsed > 10000000000ULL)
		elapsed = 10000000000ULL;
	s->tokens_milli += elapsed * cfg->syn_rate / 1000000; /* ns * SYN/s -> milli-SYNs */
	if (s->tokens_milli > cap)
		s->tokens_milli = cap;
	s->last_ns = now;
	if (s->tokens_milli >= 1000) {
		s->tokens_milli -= 1000;
		return 0;
	}
	s->drops++;
	return 1;
}

struct acct {
	__u32 headers;  /* headers read in this packet */
	__u32 desync;
};

/* Wire latency: the response leaving through TC egress closes the sample. The arrival goes
 * into a free pending slot of the client stream's entry, which this program holds already:
 * a few stores instead of a hash map update here and a delete at TC. CHANGE_NOTIFY may stay
 * pending for hours, so it would hold a slot: it goes to xsmb_inflight, as does any request
 * that finds every slot taken. Its own frame: keeps the call chain's stack small. */
static __noinline void record_arrival(const struct xsmb_conn_key *conn, struct xsmb_stream *st,
				      __u64 message_id, __u32 slot)
{
	struct xsmb_inflight_key ik = {};
	struct xsmb_inflight iv = {};
	__u64 now = bpf_ktime_get_ns();

	if (slot != XSMB_CMD_CHANGE_NOTIFY) {
#pragma unroll
		for (int i = 0; i < XSMB_PENDING_SLOTS; i++) {
			if (st->pending[i].arrival_ns == 0) {
				st->pending[i].message_id = message_id;
				st->pending_cmd[i] = slot;
				/* Set last: a non-zero arrival_ns is what makes the slot taken. */
				st->pending[i].arrival_ns = now;
				return;
			}
		}
	}
	ik.conn = *conn;
	ik.message_id = message_id;
	iv.arrival_ns = now;
	iv.command = slot;
	if (bpf_map_update_elem(&xsmb_inflight, &ik, &iv, BPF_ANY))
		xsmb_count(XSMB_CNT_INFLIGHT_FULL);
}

/* A global (separately verified) function: keeps the verifier's work linear in the
 * number of header positions per packet. Pointer arguments may be NULL for it. */
#define XSMB_FROM_CARRY 0xffffffffu

/* Reads the header at payload offset rel (the caller checked that XSMB_HDR_NEED bytes are
 * there) or, with rel == XSMB_FROM_CARRY, from st->carry, and accounts it. Reads in place:
 * a copy on the stack would count against the 512 bytes of the whole call chain. */
__noinline int xsmb_account(struct xdp_md *ctx, const struct pkt *pk, struct xsmb_stream *st,
			    __u32 rel, struct acct *a)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_hdr h = {};
	struct xsmb_cmd_stat *cs;
	struct xsmb_session *sess;
	__u32 slot;

	if (!ctx || !pk || !st || !a)
		return 0;
	if (rel == XSMB_FROM_CARRY) {
		xsmb_read_header(st, st->carry, &h);
	} else {
		void *data = (void *)(long)ctx->data;
		void *end = (void *)(long)ctx->data_end;
		__u8 *p = pkt_at(data, (__u64)pk->payload_off + rel);

		if (!p || (void *)(p + XSMB_HDR_NEED) > end)
			return 0;
		xsmb_read_header(st, p, &h);
	}
	switch (h.kind) {
	case XSMB_H_DESYNC:
		a->desync = 1;
		return 0;
	case XSMB_H_NETBIOS_OTHER:
		xsmb_count(XSMB_CNT_NETBIOS_OTHER);
		return 0;
	case XSMB_H_BAD:
		xsmb_count(XSMB_CNT_BAD_SMB2_HEADER);
		return 0;
	case XSMB_H_COMPRESSED:
		xsmb_count(XSMB_CNT_COMPRESSED_HEADERS);
		return 0;
	case XSMB_H_TRANSFORM:
		xsmb_count(XSMB_CNT_TRANSFORM_HEADERS);
		break;
	default:
		xsmb_count(XSMB_CNT_SMB2_HEADERS);
		if (!h.first)
			xsmb_count(XSMB_CNT_COMPOUND_HEADERS);
		break;
	}
	a->headers++;
	slot = h.slot;
	xsmb_opaque(slot);
	if (slot >= XSMB_CMD_SLOTS)
		return 0;
	cs = bpf_map_lookup_elem(&xsmb_cmd_stats, &slot);
	if (cs) {
		cs->msgs++;
		cs->bytes += h.size;
	}
	if (h.session_id) {
		sess = bpf_map_lookup_elem(&xsmb_sessions, &h.session_id);
		if (sess) {
			__u64 idx = slot;

			/* verifier workaround: check the index right where it is used, after the
			 * last helper call, so no unchecked spilled copy is reloaded */
			xsmb_opaque(idx);
			if (idx < XSMB_CMD_SLOTS) {
				__sync_fetch_and_add(&sess->ops[idx], 1);
				__sync_fetch_and_add(&sess->bytes[idx], h.size);
			}
			xsmb_count(XSMB_CNT_SESSION_HITS);
			sess->last_seen_ns = bpf_ktime_get_ns();
		}
	}
	/* Wire latency: the response leaving through TC egress closes the sample.
	 * CANCEL has no response (MS-SMB2 3.3.5.16). */
	if (h.kind == XSMB_H_SMB2 && !(h.flags & XSMB_SMB2_FLAGS_SERVER_TO_REDIR) &&
	    slot != XSMB_CMD_CANCEL && cfg && (cfg->flags & XSMB_CFG_LATENCY))
		record_arrival(&pk->key, st, h.message_id, slot);
	return 0;
}

/* A segment that does not continue the stream where the next header is due. Beyond
 * XSMB_RESYNC_GAP the header is not coming back (the stack saw it but this program did
 * not): restart at this segment if it begins with a header. */
#define XSMB_RESYNC_GAP (1u << 20)
static __always_inline int out_of_window(struct xsmb_stream *st, const struct pkt *pk,
					 const __u8 *payload, void *end)
{
	__u32 behind = pk->seq - st->next_seq;

	if ((__s32)behind > (__s32)XSMB_RESYNC_GAP && (void *)(payload + 8) <= end &&
	    pk->payload_len >= 8 && xsmb_looks_like_smb(payload)) {
		st->next_seq = pk->seq;
		st->kind = XSMB_NEXT_NETBIOS;
		st->carry_len = 0;
		/* A connection whose requests the program missed: its pending requests are
		 * not coming back either (and a reused 4-tuple must not match old ones). */
		__builtin_memset(st->pending, 0, sizeof(st->pending));
		xsmb_count(XSMB_CNT_STREAM_RESYNC);
	}
	return XSMB_CNT_XDP_PASS_OUT_OF_WINDOW;
}

/* Starts tracking a connection whose segment begins with a NetBIOS + SMB header. Called
 * from the top level, not from the header walk. */
static __noinline int stream_open(const struct xsmb_conn_key *key, __u32 seq)
{
	struct xsmb_stream *st;
	__u32 *cpu;

	if (xsmb_stream_create(key, seq))
		return -1;
	/* The home CPU the reuseport program recorded when it gave the connection a worker. */
	cpu = bpf_map_lookup_elem(&xsmb_conn_cpu, key);
	st = bpf_map_lookup_elem(&xsmb_streams, key);
	if (cpu && st)
		st->home_cpu = *cpu;
	xsmb_count(XSMB_CNT_STREAMS_OPENED);
	return 0;
}

/* The client ended its side (FIN or RST). Requests it sent before may still be answered:
 * while one is pending the entry stays, and TC egress removes it with the server's own FIN
 * or RST (after the last response). 0 when the stream was tracked. */
static __noinline int stream_close(const struct xsmb_conn_key *key)
{
	struct xsmb_stream *st = bpf_map_lookup_elem(&xsmb_streams, key);

	if (!st)
		return -1;
#pragma clang loop unroll(disable)
	for (int i = 0; i < XSMB_PENDING_SLOTS; i++) {
		if (st->pending[i].arrival_ns)
			return 0;
	}
	bpf_map_delete_elem(&xsmb_streams, key);
	return 0;
}

/* One step of the header walk: accounts the header at st->next_seq if this segment holds all
 * of it, or keeps the part it holds in st->carry (the rest comes with the next segment).
 * 0: go on with the next position; 1: the walk is over for this segment. A global function:
 * verified once, and bpf_loop runs it as often as the segment needs (no fixed cap). */
__noinline int xsmb_step(struct xdp_md *ctx, const struct pkt *pk, struct xsmb_stream *st,
			 struct acct *a, int *cut)
{
	void *data, *end;
	__u32 rel, plen, i;
	__u8 *p;

	if (!ctx || !pk || !st || !a || !cut || a->desync)
		return 1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	plen = pk->payload_len;
	rel = st->next_seq - pk->seq;
	if (rel >= plen)
		return 1;
	p = pkt_at(data, (__u64)pk->payload_off + rel);
	if (!p) {
		/* Beyond what this program can address: stop following the connection, counted as
		 * XDP_PASS_DESYNC (never silently). */
		a->desync = 1;
		return 1;
	}
	if ((void *)(p + XSMB_HDR_NEED) <= end && rel + XSMB_HDR_NEED <= plen) {
		xsmb_account(ctx, pk, st, rel, a);
		return 0;
	}
	/* The header continues in the next segment: keep what is here. */
#pragma clang loop unroll(disable)
	for (i = 0; i < XSMB_HDR_NEED; i++) {
		if (rel + i >= plen || (void *)(p + i + 1) > end)
			break;
		st->carry[i] = p[i];
	}
	st->carry_len = i;
	*cut = 1;
	return 1;
}

/* bpf_loop's view of the walk: the loop passes this (on xsmb_segment's stack) to each step. */
struct walk {
	struct xdp_md *ctx;
	struct pkt *pk;
	struct xsmb_stream *st;
	struct acct *a;
	int cut;
};

static long walk_step(__u32 index, void *arg)
{
	struct walk *w = arg;

	/* The verifier wants a callback's return value proven 0 or 1. */
	return xsmb_step(w->ctx, w->pk, w->st, w->a, &w->cut) ? 1 : 0;
}

#define XSMB_SEG_OPEN (-1)

/*
 * Follows the client's byte stream through this segment; returns the verdict counter and
 * sets pk->steer_cpu. A global function: verified once, whatever the packet layout before
 * it (VLANs, IPv4/IPv6, options), instead of once per layout.
 */
__noinline int xsmb_segment(struct xdp_md *ctx, struct pkt *pk)
{
	struct acct a = {};
	struct xsmb_stream *st;
	void *data, *end;
	__u8 *payload;
	__u32 plen;
	int cut = 0;

	if (!ctx || !pk)
		return XSMB_CNT_XDP_PASS_NOT_SMB;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	payload = data + xsmb_bound(pk->payload_off, 0xff);
	plen = pk->payload_len;
	pk->steer_cpu = XSMB_CPU_NONE;

	st = bpf_map_lookup_elem(&xsmb_streams, &pk->key);
	if (!st) {
		if ((void *)(payload + 8) > end || plen < 8 || !xsmb_looks_like_smb(payload))
			return XSMB_CNT_XDP_PASS_NOT_SMB;
		return XSMB_SEG_OPEN; /* the caller opens the stream and calls again */
	}
	pk->steer_cpu = st->home_cpu;

	if (st->carry_len) {
		__u32 cl = st->carry_len & (XSMB_CARRY_SIZE / 2 - 1);
		__u32 i;

		if (pk->seq != st->next_seq + cl)
			return out_of_window(st, pk, payload, end);
		/* Complete the header cut at the previous segment's end. */
#pragma clang loop unroll(disable)
		for (i = 0; i < XSMB_HDR_NEED; i++) {
			if (cl + i >= XSMB_HDR_NEED || i >= plen)
				break;
			if ((void *)(payload + i + 1) > end)
				break;
			st->carry[(cl + i) & (XSMB_CARRY_SIZE - 1)] = payload[i];
		}
		if (cl + i < XSMB_HDR_NEED) {
			st->carry_len = cl + i; /* still short: a tiny segment */
			return XSMB_CNT_XDP_PASS_HDR_CUT;
		}
		st->carry_len = 0;
		xsmb_count(XSMB_CNT_HDR_CARRIED);
		xsmb_account(ctx, pk, st, XSMB_FROM_CARRY, &a);
		/* The next header began inside the carried bytes (a keep-alive right after a
		 * cut header): those bytes are gone, so start over from the next header seen. */
		if ((__s32)(st->next_seq - pk->seq) < 0)
			a.desync = 1;
	} else if ((__s32)(st->next_seq - pk->seq) < 0) {
		/* The segment starts after the header position: the segment holding it has
		 * not been seen yet (reordering) or was never seen. */
		return out_of_window(st, pk, payload, end);
	}

	{
		struct walk w = { .ctx = ctx, .pk = pk, .st = st, .a = &a };

		/* Every header position in the segment: a NetBIOS header takes 4 bytes at least,
		 * so plen / 4 + 1 steps always reach the segment end (each step either advances
		 * or stops the loop). */
		bpf_loop(plen / XSMB_NETBIOS_HEADER_SIZE + 1, walk_step, &w, 0);
		cut = w.cut;
	}

	if (a.desync) {
		bpf_map_delete_elem(&xsmb_streams, &pk->key);
		return XSMB_CNT_XDP_PASS_DESYNC;
	}
	if (a.headers) {
		return XSMB_CNT_XDP_PASS_SMB;
	}
	if (cut)
		return XSMB_CNT_XDP_PASS_HDR_CUT;
	return XSMB_CNT_XDP_PASS_MID_MESSAGE;
}

/* ---- steering: the TCP checksum of a redirected frame */

/* One's complement sum of 32-bit partial sums folded to 16 bits (not inverted). */
static __always_inline __u16 fold16(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Chunks are summed at frame offsets below this (the verifier's 64 KiB packet range, less a
 * chunk); native XDP frames are a page at most. */
#define XSMB_CSUM_OFF_MAX (0x3fff - 512)

struct csum_walk {
	struct xdp_md *ctx;
	__u32 off; /* next byte to sum, from ctx->data */
	__u32 rem; /* bytes left */
	__u64 sum; /* running bpf_csum_diff sum */
	int fail;
};

#define CSUM_CHUNK(n)                                                              \
	if (w->rem >= (n)) {                                                        \
		if ((void *)(p + (n)) > end) {                                      \
			w->fail = 1;                                                \
			return 1;                                                   \
		}                                                                   \
		r = bpf_csum_diff(0, 0, (__be32 *)p, (n), (__u32)w->sum);            \
		w->sum = r < 0 ? 0 : (__u64)r;                                      \
		w->fail |= r < 0;                                                   \
		w->off += (n);                                                      \
		w->rem -= (n);                                                      \
		return w->fail;                                                     \
	}

/* Sums the largest power-of-two chunk (512 down to 4 bytes) left, or the last 1-3 bytes. */
static long csum_step(__u32 index, void *arg)
{
	struct csum_walk *w = arg;
	void *data = (void *)(long)w->ctx->data;
	void *end = (void *)(long)w->ctx->data_end;
	__u64 off = w->off;
	__u8 *p, tail[4] = {};
	long r;

	if (w->rem == 0 || w->fail)
		return 1;
	asm volatile("%0 &= 0x3fff" : "+r"(off));
	if (off > XSMB_CSUM_OFF_MAX) {
		w->fail = 1;
		return 1;
	}
	p = (__u8 *)data + off;
	CSUM_CHUNK(512)
	CSUM_CHUNK(256)
	CSUM_CHUNK(128)
	CSUM_CHUNK(64)
	CSUM_CHUNK(32)
	CSUM_CHUNK(16)
	CSUM_CHUNK(8)
	CSUM_CHUNK(4)
	/* 1-3 bytes: zero-padded to a word, as the checksum pads an odd length */
	for (int i = 0; i < 3; i++) {
		if (i < w->rem && (void *)(p + i + 1) <= end)
			tail[i] = p[i];
	}
	r = bpf_csum_diff(0, 0, (__be32 *)tail, 4, (__u32)w->sum);
	w->sum = r < 0 ? 0 : (__u64)r;
	w->fail |= r < 0;
	w->rem = 0;
	return 1;
}

/*
 * A frame sent by a local stack through a veth carries CHECKSUM_PARTIAL: its TCP checksum
 * field holds only the folded pseudo-header sum, and the skb says the rest is to be done. A
 * CPUMAP redirect builds a new skb without that state on the other CPU, so the stack would
 * verify the field and count TcpInCsumErrors. This completes such a checksum: when the field
 * equals the pseudo-header sum, the sum over the segment as it is (field included) is the
 * pseudo-header plus the segment, whose complement is the checksum. A frame whose field is
 * anything else is left alone (a full checksum, right or wrong, for the stack to verify).
 * 1 = completed, 0 = nothing to do, -1 = cannot tell (do not redirect).
 */
__noinline int xsmb_fix_csum(struct xdp_md *ctx, const struct pkt *pk)
{
	struct csum_walk w = {};
	void *data, *end;
	__u8 *th;
	__u64 off;
	__u16 partial, *check;
	long r;

	if (!ctx || !pk)
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	off = pk->l4_off;
	asm volatile("%0 &= 0xff" : "+r"(off));
	th = (__u8 *)data + off;
	if ((void *)(th + sizeof(struct tcphdr)) > end)
		return -1;
	check = (__u16 *)(th + 16);
	if (!pk->v6) {
		struct {
			__u8 saddr[4], daddr[4];
			__u8 zero, proto;
			__be16 len;
		} ph = { .proto = IPPROTO_TCP, .len = bpf_htons(pk->l4_len) };

		__builtin_memcpy(ph.saddr, &pk->key.client.b[12], 4);
		__builtin_memcpy(ph.daddr, &pk->key.server.b[12], 4);
		r = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct {
			struct xsmb_addr saddr, daddr;
			__be32 len;
			__u8 zero[3], next;
		} ph = { .len = bpf_htonl(pk->l4_len), .next = IPPROTO_TCP };

		ph.saddr = pk->key.client;
		ph.daddr = pk->key.server;
		r = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
	if (r < 0)
		return -1;
	partial = fold16((__u64)r);
	if (*check != partial)
		return 0;
	w.ctx = ctx;
	w.off = pk->l4_off;
	w.rem = pk->l4_len;
	bpf_loop(pk->l4_len / 512 + 10, csum_step, &w, 0);
	if (w.fail || w.rem)
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	th = (__u8 *)data + off;
	if ((void *)(th + sizeof(struct tcphdr)) > end)
		return -1;
	*(__u16 *)(th + 16) = (__u16)~fold16(w.sum);
	return 1;
}

SEC("xdp")
int xsmb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = { .pos = data };
	struct xsmb_config *cfg = xsmb_cfg();
	struct pkt pk = { .steer_cpu = XSMB_CPU_NONE };
	__u32 l4_len = 0;
	__u16 proto;
	int reason;

	xsmb_count(XSMB_CNT_XDP_PACKETS);
	if (parse_ethhdr(&c, end, &proto)) {
		reason = XSMB_CNT_XDP_PASS_TRUNC_L2;
		goto pass;
	}
	reason = parse_ip(&c, end, proto, &pk, &l4_len);
	if (reason)
		goto pass;
	reason = parse_tcp(&c, data, end, l4_len, &pk);
	if (reason)
		goto pass;
	if (!xsmb_is_smb_port(cfg, bpf_ntohs(pk.key.server_port))) {
		reason = XSMB_CNT_XDP_PASS_OTHER_PORT;
		goto pass;
	}
	pk.key.dir = XSMB_DIR_IN;
	if (blocked(&pk.key.client)) {
		xsmb_count(XSMB_CNT_XDP_DROP_BLOCKED);
		return XDP_DROP;
	}
	if (pk.syn && !pk.ack) {
		if (syn_over_rate(cfg, &pk.key.client)) {
			xsmb_count(XSMB_CNT_XDP_DROP_SYN_RATE);
			return XDP_DROP;
		}
		reason = XSMB_CNT_XDP_PASS_SYN;
		goto pass;
	}
	if (pk.payload_len == 0) {
		reason = XSMB_CNT_XDP_PASS_NO_PAYLOAD;
		if (pk.fin || pk.rst)
			goto closing;
		/* Pure ACKs of a steered connection follow its data to the same CPU. */
		{
			struct xsmb_stream *st = bpf_map_lookup_elem(&xsmb_streams, &pk.key);

			if (st)
				pk.steer_cpu = st->home_cpu;
		}
		goto steer;
	}
	reason = xsmb_segment(ctx, &pk);
	if (reason == XSMB_SEG_OPEN) {
		reason = XSMB_CNT_XDP_PASS_NOT_SMB;
		if (stream_open(&pk.key, pk.seq) == 0)
			reason = xsmb_segment(ctx, &pk);
		if (reason == XSMB_SEG_OPEN)
			reason = XSMB_CNT_XDP_PASS_NOT_SMB;
	}
	if (pk.fin || pk.rst)
		goto closing;
	goto steer;

closing:
	if (stream_close(&pk.key) == 0)
		xsmb_count(XSMB_CNT_STREAMS_CLOSED);
	goto pass;

steer:
	if (pk.steer_cpu != XSMB_CPU_NONE && cfg && (cfg->flags & XSMB_CFG_STEER) &&
	    pk.steer_cpu != bpf_get_smp_processor_id()) {
		int fixed = xsmb_fix_csum(ctx, &pk);

		if (fixed < 0) {
			xsmb_count(XSMB_CNT_STEER_CSUM_SKIPPED);
			goto pass;
		}
		if (fixed)
			xsmb_count(XSMB_CNT_STEER_CSUM_FIXED);
		/* Lower bits of flags: the action when the cpumap slot is empty. */
		if (bpf_redirect_map(&xsmb_cpumap, pk.steer_cpu, XDP_PASS) == XDP_REDIRECT) {
			xsmb_count(XSMB_CNT_XDP_REDIRECT_CPU);
			return XDP_REDIRECT;
		}
		xsmb_count(XSMB_CNT_STEER_FAILED);
	}
pass:
	xsmb_count(reason);
	return XDP_PASS;
}
