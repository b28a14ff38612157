// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xsmb_sock.bpf.c - socket-level programs.
 *
 * xsmb_reuseport: picks the listening socket (worker) for each new connection: the
 * least loaded worker by xsmb_wload when xsmbd reports loads, else the one the kernel's hash
 * names; records the connection's home CPU (its worker's) for XDP steering.
 *
 * xsmb_sk_verdict: a sockhash of accepted connections whose verdict follows the NetBIOS
 * framing (4-byte header, 24-bit length; MS-SMB2 2.1) across the skbs TCP queues: it reads
 * every message header, accounts the message to its session, and refuses messages over the
 * negotiated maximum or without an SMB header (counted); after a refused message the
 * connection receives nothing more and the server closes it at the marked header.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define XSMB_AF_INET6 10 /* AF_INET6 (linux/socket.h is not for BPF programs) */

/* The reuseport group of the listener the kernel's lookup found (md->sk): its index, or -1
 * when xsmbd did not register that address. */
static __always_inline int rp_group(struct sk_reuseport_md *md, __u32 gen)
{
	struct bpf_sock *sk = md->sk;
	struct xsmb_rp_key k = {};
	__u32 *g;

	if (!sk)
		return -1;
	k.family = sk->family;
	k.gen = gen & 1;
	k.port = sk->src_port;
	if (sk->family == XSMB_AF_INET6) {
		__builtin_memcpy(&k.addr, sk->src_ip6, 16);
	} else {
		__u32 ip = sk->src_ip4;

		k.addr.b[10] = 0xff;
		k.addr.b[11] = 0xff;
		__builtin_memcpy(&k.addr.b[12], &ip, 4);
	}
	g = bpf_map_lookup_elem(&xsmb_rp_groups, &k);
	if (!g || *g >= XSMB_MAX_RP_GROUPS)
		return -1;
	return *g;
}

/* Records the new connection's home CPU (its worker's CPU) under the key XDP uses for the
 * client's stream: addresses from the IP header, ports from the TCP header (md->data). */
static __always_inline void rp_record_cpu(struct sk_reuseport_md *md, __u32 cpu)
{
	struct xsmb_conn_key key = {};
	__be16 ports[2];

	if (cpu == XSMB_CPU_NONE || md->ip_protocol != IPPROTO_TCP)
		return;
	if (bpf_skb_load_bytes(md, 0, ports, sizeof(ports)))
		return;
	if (md->eth_protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes_relative(md, 8, &key.client, 16, BPF_HDR_START_NET) ||
		    bpf_skb_load_bytes_relative(md, 24, &key.server, 16, BPF_HDR_START_NET))
			return;
	} else {
		__be32 a[2];

		if (bpf_skb_load_bytes_relative(md, 12, a, sizeof(a), BPF_HDR_START_NET))
			return;
		key.client.b[10] = key.client.b[11] = 0xff;
		key.server.b[10] = key.server.b[11] = 0xff;
		__builtin_memcpy(&key.client.b[12], &a[0], 4);
		__builtin_memcpy(&key.server.b[12], &a[1], 4);
	}
	key.client_port = ports[0];
	key.server_port = ports[1];
	key.dir = XSMB_DIR_IN;
	bpf_map_update_elem(&xsmb_conn_cpu, &key, &cpu, BPF_ANY);
}

/* The least loaded worker so far (bpf_loop's state for rp_pick_step). */
struct rp_pick {
	__u32 base; /* the generation's first wload entry */
	__u32 best, best_load;
	int reported; /* some worker reported a load */
};

static long rp_pick_step(__u32 i, void *arg)
{
	struct rp_pick *p = arg;
	__u32 k = p->base + i;
	struct xsmb_wload *w = bpf_map_lookup_elem(&xsmb_wload, &k);
	__u32 load = w ? w->load : ~0u;

	p->reported |= load != 0 && load != ~0u;
	if (load < p->best_load) { /* strictly less: ties keep the hash's choice */
		p->best_load = load;
		p->best = i;
	}
	return 0;
}

SEC("sk_reuseport")
int xsmb_reuseport(struct sk_reuseport_md *md)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_wload *w;
	__u32 n, best, key, gen;
	int reported, group;

	if (!cfg || cfg->nworkers == 0 || cfg->nworkers > XSMB_MAX_WORKERS) {
		xsmb_count(XSMB_CNT_RP_SELECT_HASH);
		return SK_PASS;
	}
	/* The serving generation: a takeover's new xsmbd raises it once its sockets are in. */
	gen = cfg->generation & 1;
	group = rp_group(md, gen);
	if (group < 0) {
		xsmb_count(XSMB_CNT_RP_NO_GROUP);
		return SK_PASS;
	}
	n = cfg->nworkers;
	{
		struct rp_pick p = { .base = gen * XSMB_MAX_WORKERS, .best = md->hash % n };
		__u32 k = p.base + p.best;

		w = bpf_map_lookup_elem(&xsmb_wload, &k);
		p.best_load = w ? w->load : ~0u;
		bpf_loop(n, rp_pick_step, &p, 0);
		best = p.best;
		reported = p.reported;
	}
	/* Without load reports the kernel's hash spreads connections just as well, but the
	 * choice is made here so that the connection's home CPU is known. */
	key = gen * XSMB_MAX_WORKERS + best;
	w = bpf_map_lookup_elem(&xsmb_wload, &key);
	if (!w) {
		xsmb_count(XSMB_CNT_RP_SELECT_FAILED);
		return SK_PASS;
	}
	key = XSMB_WORKER_SLOT(gen, (__u32)group, best);
	if (bpf_sk_select_reuseport(md, &xsmb_workers, &key, 0)) {
		xsmb_count(XSMB_CNT_RP_SELECT_FAILED);
		return SK_PASS;
	}
	__sync_fetch_and_add(&w->selected, 1);
	xsmb_count(reported ? XSMB_CNT_RP_SELECT_LOAD : XSMB_CNT_RP_SELECT_HASH);
	rp_record_cpu(md, w->cpu);
	return SK_PASS;
}

/* Verifier workaround: clang drops a mask it can prove redundant (v <= XSMB_HDR_NEED is
 * already known) and passes the unmasked register to the helper; the empty asm hides the
 * value so the mask the verifier needs stays. */
#define xsmb_sk_bound(v)                        \
	do {                                    \
		asm volatile("" : "+r"(v));     \
		(v) &= 0x3f;                    \
	} while (0)

/* Framing state of one socket (struct xsmb_skframe in xsmb_abi.h). */
static __always_inline struct xsmb_skframe *xsmb_skframe_of(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct xsmb_skframe *f = bpf_map_lookup_elem(&xsmb_skframe, &cookie);
	struct xsmb_skframe zero = {};

	if (f)
		return f;
	bpf_map_update_elem(&xsmb_skframe, &cookie, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&xsmb_skframe, &cookie);
}

/* Outcome of reading one header from f->hdr (avail bytes valid). */
#define XSMB_HDR_SHORT 0  /* the header needs more bytes than avail (cut by the skb end) */
#define XSMB_HDR_PASS 1   /* a message to pass; *total = its NetBIOS header + payload bytes */
#define XSMB_HDR_REFUSE 2 /* oversize or not SMB: refuse it and cut the connection */

static __always_inline int xsmb_sk_header(struct xsmb_skframe *f, __u32 avail, __u32 *total)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_session *sess;
	const __u8 *b = f->hdr, *h;
	__u32 len, want;
	__u64 sid = 0;

	if (avail < XSMB_NETBIOS_HEADER_SIZE)
		return XSMB_HDR_SHORT;
	len = ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
	*total = XSMB_NETBIOS_HEADER_SIZE + len;
	/* NetBIOS keep-alive and session service packets: the server decides */
	if (b[0] != XSMB_NETBIOS_SESSION_MESSAGE) {
		xsmb_count(XSMB_CNT_SK_MESSAGES);
		return XSMB_HDR_PASS;
	}
	if (cfg && cfg->max_msg_size && len > cfg->max_msg_size) {
		xsmb_count(XSMB_CNT_SK_DROP_OVERSIZE);
		return XSMB_HDR_REFUSE;
	}
	want = *total < XSMB_HDR_NEED ? *total : XSMB_HDR_NEED;
	if (avail < want)
		return XSMB_HDR_SHORT;
	h = b + XSMB_NETBIOS_HEADER_SIZE;
	if (len < 4 || !xsmb_is_smb_magic(h) ||
	    (h[0] != XSMB_PROTO_SMB2 && h[0] != XSMB_PROTO_TRANSFORM &&
	     h[0] != XSMB_PROTO_COMPRESSED && h[0] != XSMB_PROTO_SMB1)) {
		xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
		return XSMB_HDR_REFUSE;
	}
	if (h[0] == XSMB_PROTO_SMB2) { /* MS-SMB2 2.2.1 */
		if (len < XSMB_SMB2_HEADER_SIZE ||
		    xsmb_le16(h + XSMB_SMB2_OFF_STRUCTURE_SIZE) != XSMB_SMB2_HEADER_SIZE) {
			xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
			return XSMB_HDR_REFUSE;
		}
		sid = xsmb_le64(h + XSMB_SMB2_OFF_SESSION_ID);
	} else if (h[0] == XSMB_PROTO_TRANSFORM) { /* MS-SMB2 2.2.41 */
		if (len < XSMB_TRANSFORM_HEADER_SIZE) {
			xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
			return XSMB_HDR_REFUSE;
		}
		sid = xsmb_le64(h + XSMB_TRANSFORM_OFF_SESSION_ID);
	}
	xsmb_count(XSMB_CNT_SK_MESSAGES);
	if (sid) {
		sess = bpf_map_lookup_elem(&xsmb_sessions, &sid);
		if (sess) {
			__sync_fetch_and_add(&sess->sk_messages, 1);
			xsmb_count(XSMB_CNT_SK_SESSION_HITS);
		}
	}
	return XSMB_HDR_PASS;
}

/* Refuses the message whose header starts at byte `at` of this skb: its NetBIOS type byte
 * becomes 0xFF, which the server treats as a framing error and closes the connection on; the
 * bytes before it (earlier messages) are passed, everything after this skb is dropped. A
 * header that started in an earlier, already passed skb cannot be marked: this skb is dropped. */
static __always_inline int xsmb_sk_refuse(struct __sk_buff *skb, struct xsmb_skframe *f, int at)
{
	__u8 bad = 0xff;

	f->state = XSMB_SKF_CUT;
	if (at < 0 || bpf_skb_store_bytes(skb, at, &bad, 1, 0)) {
		xsmb_count(XSMB_CNT_SK_CUT_SKBS);
		return SK_DROP;
	}
	xsmb_count(XSMB_CNT_SK_SKBS);
	return SK_PASS;
}

/* bpf_loop's view of the header walk of one skb (on xsmb_sk_verdict's stack). */
struct sk_walk {
	struct __sk_buff *skb;
	struct xsmb_skframe *f;
	__u32 pos;   /* where the next header starts, in this skb */
	__u32 len;   /* skb->len */
	int verdict; /* -1 while the walk goes on, else the skb's verdict */
};

/* One header position: reads the header at w->pos and moves past its message, or ends the
 * walk (the skb end, a header cut by it, a refused message). 1 ends the loop. */
static long sk_step(__u32 index, void *arg)
{
	struct sk_walk *w = arg;
	struct xsmb_skframe *f = w->f;
	__u32 got, total = 0;
	int r;

	if (w->pos >= w->len) {
		f->need = w->pos - w->len;
		xsmb_count(XSMB_CNT_SK_SKBS);
		w->verdict = SK_PASS;
		return 1;
	}
	got = w->len - w->pos;
	if (got > XSMB_HDR_NEED)
		got = XSMB_HDR_NEED;
	xsmb_sk_bound(got);
	if (got == 0 || bpf_skb_load_bytes(w->skb, w->pos, f->hdr, got)) {
		w->verdict = SK_PASS; /* cannot happen: pos < len */
		return 1;
	}
	r = xsmb_sk_header(f, got, &total);
	if (r == XSMB_HDR_SHORT) { /* cut by the skb end: the rest comes with the next */
		f->carry_len = got;
		xsmb_count(XSMB_CNT_SK_SKBS);
		w->verdict = SK_PASS;
		return 1;
	}
	if (r == XSMB_HDR_REFUSE) {
		w->verdict = xsmb_sk_refuse(w->skb, f, w->pos);
		return 1;
	}
	w->pos += total;
	return 0;
}

/*
 * Runs on every skb TCP queues on an accelerated connection, in stream order, under the socket
 * lock. Reads each NetBIOS + SMB2/TRANSFORM header that starts in the skb (one cut by the skb
 * end is completed from the next skb), accounts the message to its session, and refuses
 * messages over the negotiated maximum or without an SMB header.
 */
SEC("sk_skb/stream_verdict")
int xsmb_sk_verdict(struct __sk_buff *skb)
{
	struct xsmb_skframe *f = xsmb_skframe_of(skb);
	__u32 len = skb->len, pos, total = 0, have, got;
	int r;

	if (!f) {
		xsmb_count(XSMB_CNT_SK_NO_FRAME_STATE);
		return SK_PASS;
	}
	if (f->state == XSMB_SKF_CUT) {
		xsmb_count(XSMB_CNT_SK_CUT_SKBS);
		return SK_DROP;
	}
	if (f->state == XSMB_SKF_LOST) {
		xsmb_count(XSMB_CNT_SK_SKBS);
		return SK_PASS;
	}
	if (f->carry_len) {
		/* A header cut by the last skb's end: complete it from this one. */
		have = f->carry_len;
		if (have >= XSMB_HDR_NEED)
			have = XSMB_HDR_NEED - 1;
		xsmb_sk_bound(have);
		got = XSMB_HDR_NEED - have;
		if (got > len)
			got = len;
		xsmb_sk_bound(got);
		if (got == 0 || bpf_skb_load_bytes(skb, 0, f->hdr + have, got))
			return SK_PASS; /* cannot happen: len > 0 */
		r = xsmb_sk_header(f, have + got, &total);
		if (r == XSMB_HDR_SHORT) { /* still cut (a tiny skb): keep collecting */
			f->carry_len = have + got;
			xsmb_count(XSMB_CNT_SK_SKBS);
			return SK_PASS;
		}
		xsmb_count(XSMB_CNT_SK_HDR_CARRIED);
		f->carry_len = 0;
		if (r == XSMB_HDR_REFUSE)
			return xsmb_sk_refuse(skb, f, -1);
		pos = total - have; /* the carried bytes all belong to this header (total > have) */
	} else {
		if (f->need >= len) { /* the middle of a message */
			f->need -= len;
			xsmb_count(XSMB_CNT_SK_SKBS);
			return SK_PASS;
		}
		pos = f->need;
	}
	f->need = 0;
	{
		struct sk_walk w = { .skb = skb, .f = f, .pos = pos, .len = len, .verdict = -1 };

		/* Each step passes at least one NetBIOS header (4 bytes), so len / 4 + 1 steps reach
		 * the skb end however many messages it holds. */
		bpf_loop(len / XSMB_NETBIOS_HEADER_SIZE + 1, sk_step, &w, 0);
		if (w.verdict >= 0)
			return w.verdict;
	}
	/* Not reached: the loop above ends at the skb end. Should it not, the framing is lost
	 * (counted) rather than guessed. */
	f->state = XSMB_SKF_LOST;
	xsmb_count(XSMB_CNT_SK_LOST);
	xsmb_count(XSMB_CNT_SK_SKBS);
	return SK_PASS;
}
