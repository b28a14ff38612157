// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xsmb_tc.bpf.c - TC egress: wire latency.
 *
 * Follows the server's byte stream of each SMB connection (the same header walk as the
 * XDP program, on possibly large GSO packets read with bpf_skb_load_bytes), and for each
 * SMB2 response looks up the arrival time the XDP program stored under (connection,
 * MessageId). A final response closes the sample into the per-command histogram; an
 * interim STATUS_PENDING response (MS-SMB2 3.3.4.2) leaves it open for the final one.
 * Never changes a packet: always TC_ACT_OK.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct seg {
	struct xsmb_conn_key key; /* dir = XSMB_DIR_OUT; client = destination */
	__u32 off;                /* payload offset in the skb */
	__u32 len;                /* payload bytes */
	__u32 seq;                /* host */
	__u8 syn, fin, rst;
};

static __always_inline void v4_mapped(struct xsmb_addr *a, __be32 ip)
{
	__builtin_memset(a, 0, sizeof(*a));
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	__builtin_memcpy(&a->b[12], &ip, 4);
}

/* 0 when sg describes a TCP segment from an SMB port. */
static __always_inline int parse(struct __sk_buff *skb, const struct xsmb_config *cfg,
				 struct seg *sg)
{
	struct ethhdr eth;
	struct tcphdr th;
	__u32 off = sizeof(eth), l4_len;
	__u16 proto;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	proto = bpf_ntohs(eth.h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) { /* constant cap: two VLAN tags */
		__be16 inner[2];

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off, inner, sizeof(inner)))
			return -1;
		proto = bpf_ntohs(inner[1]);
		off += 4;
	}
	if (proto == ETH_P_IP) {
		struct iphdr iph;
		__u32 hl;

		if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)))
			return -1;
		hl = iph.ihl * 4;
		if (iph.protocol != IPPROTO_TCP || hl < sizeof(iph) ||
		    (iph.frag_off & bpf_htons(0x3fff)))
			return -1;
		l4_len = bpf_ntohs(iph.tot_len);
		/* GSO packets may carry tot_len 0 (BIG TCP); then the skb length tells. */
		if (l4_len == 0)
			l4_len = skb->len - off;
		if (l4_len < hl)
			return -1;
		l4_len -= hl;
		v4_mapped(&sg->key.server, iph.saddr);
		v4_mapped(&sg->key.client, iph.daddr);
		off += hl;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		if (ip6.nexthdr != IPPROTO_TCP)
			return -1;
		l4_len = bpf_ntohs(ip6.payload_len);
		if (l4_len == 0)
			l4_len = skb->len - off - sizeof(ip6);
		__builtin_memcpy(&sg->key.server, &ip6.saddr, 16);
		__builtin_memcpy(&sg->key.client, &ip6.daddr, 16);
		off += sizeof(ip6);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)))
		return -1;
	if (!xsmb_is_smb_port(cfg, bpf_ntohs(th.source)))
		return -1;
	if (th.doff * 4 < sizeof(th) || th.doff * 4 > l4_len)
		return -1;
	sg->key.server_port = th.source;
	sg->key.client_port = th.dest;
	sg->key.dir = XSMB_DIR_OUT;
	sg->seq = bpf_ntohl(th.seq);
	sg->syn = th.syn;
	sg->fin = th.fin;
	sg->rst = th.rst;
	sg->off = off + th.doff * 4;
	sg->len = l4_len - th.doff * 4;
	if (sg->off + sg->len > skb->len)
		sg->len = skb->len > sg->off ? skb->len - sg->off : 0;
	return 0;
}

/* A global (separately verified) function: keeps the verifier's work linear in the
 * number of header positions per packet. Pointer arguments may be NULL for it. */
__noinline int xsmb_response(const struct seg *sg, struct xsmb_stream *st,
			     const struct xsmb_hdr_bytes *hb, int *desync)
{
	struct xsmb_hdr h = {};
	struct xsmb_inflight_key ik = {};
	struct xsmb_inflight *iv;
	struct xsmb_stream *ist;
	struct xsmb_hist *hist;
	__u64 arrival_ns = 0;
	__u32 slot = XSMB_CMD_SLOTS;

	if (!sg || !st || !hb || !desync)
		return 0;
	xsmb_read_header(st, hb->b, &h);
	if (h.kind == XSMB_H_DESYNC) {
		*desync = 1;
		return 0;
	}
	if (h.kind != XSMB_H_SMB2 || !(h.flags & XSMB_SMB2_FLAGS_SERVER_TO_REDIR))
		return 0;
	xsmb_count(XSMB_CNT_TC_RESPONSES);
	if ((h.flags & XSMB_SMB2_FLAGS_ASYNC_COMMAND) && h.status == XSMB_STATUS_PENDING) {
		xsmb_count(XSMB_CNT_TC_INTERIM);
		return 0;
	}
	if (h.message_id == ~0ULL) /* unsolicited oplock/lease break (MS-SMB2 3.3.4.6) */
		return 0;
	/* The request's arrival: in a pending slot of the client stream (XDP's entry), else
	 * in xsmb_inflight (every slot was taken, or a CHANGE_NOTIFY). */
	ik.conn = sg->key;
	ik.conn.dir = XSMB_DIR_IN;
	ik.message_id = h.message_id;
	ist = bpf_map_lookup_elem(&xsmb_streams, &ik.conn);
	if (ist) {
#pragma clang loop unroll(disable)
		for (int i = 0; i < XSMB_PENDING_SLOTS; i++) {
			if (ist->pending[i].arrival_ns && ist->pending[i].message_id == h.message_id) {
				arrival_ns = ist->pending[i].arrival_ns;
				slot = ist->pending_cmd[i];
				ist->pending[i].arrival_ns = 0; /* frees the slot for XDP */
				break;
			}
		}
	}
	if (!arrival_ns) {
		iv = bpf_map_lookup_elem(&xsmb_inflight, &ik);
		if (!iv) {
			xsmb_count(XSMB_CNT_LAT_NO_REQUEST);
			return 0;
		}
		arrival_ns = iv->arrival_ns;
		slot = iv->command;
		bpf_map_delete_elem(&xsmb_inflight, &ik);
	}
	if (slot < XSMB_CMD_SLOTS) {
		hist = bpf_map_lookup_elem(&xsmb_wire_lat, &slot);
		if (hist) {
			xsmb_hist_add(hist, bpf_ktime_get_ns() - arrival_ns);
			xsmb_count(XSMB_CNT_LAT_SAMPLES);
		}
	}
	return 0;
}

/* Starts tracking the server's stream at a segment that begins with a header. */
static __noinline int stream_open(const struct xsmb_conn_key *key, __u32 seq)
{
	return xsmb_stream_create(key, seq);
}

/* bpf_loop's view of the header walk of one packet (on xsmb_tc_egress's stack). */
struct tc_walk {
	struct __sk_buff *skb;
	const struct seg *sg;
	struct xsmb_stream *st;
	int desync;
};

/* One header position of the server's stream in this packet: accounts the response there,
 * or keeps the start of a header the packet end cuts. 1 ends the loop. */
static long tc_step(__u32 index, void *arg)
{
	struct tc_walk *w = arg;
	const struct seg *sg = w->sg;
	struct xsmb_stream *st = w->st;
	struct xsmb_hdr_bytes hb;
	__u32 rel = st->next_seq - sg->seq, avail;

	if (w->desync || rel >= sg->len)
		return 1;
	if (rel + XSMB_HDR_NEED <= sg->len) {
		if (bpf_skb_load_bytes(w->skb, sg->off + rel, hb.b, XSMB_HDR_NEED))
			return 1;
		xsmb_response(sg, st, &hb, &w->desync);
		return 0;
	}
	avail = (sg->len - rel) & (XSMB_CARRY_SIZE / 2 - 1);
	if (avail && bpf_skb_load_bytes(w->skb, sg->off + rel, st->carry, avail) == 0)
		st->carry_len = avail;
	return 1;
}

SEC("tc")
int xsmb_tc_egress(struct __sk_buff *skb)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_stream *st;
	struct seg sg = {};
	struct xsmb_hdr_bytes hb;
	int desync = 0;

	xsmb_count(XSMB_CNT_TC_PACKETS);
	if (!cfg || !(cfg->flags & XSMB_CFG_LATENCY))
		return TC_ACT_OK;
	if (parse(skb, cfg, &sg))
		return TC_ACT_OK;
	if (sg.len == 0)
		goto done;

	st = bpf_map_lookup_elem(&xsmb_streams, &sg.key);
	if (!st) {
		__u8 first[8];

		if (sg.len < 8 || bpf_skb_load_bytes(skb, sg.off, first, 8) ||
		    !xsmb_looks_like_smb(first) || stream_open(&sg.key, sg.seq))
			goto done;
		st = bpf_map_lookup_elem(&xsmb_streams, &sg.key);
		if (!st)
			goto done;
	}

	if (st->carry_len) {
		__u32 cl = st->carry_len & (XSMB_CARRY_SIZE / 2 - 1);
		__u32 need = XSMB_HDR_NEED - cl, avail;

		if (sg.seq != st->next_seq + cl || cl >= XSMB_HDR_NEED)
			goto done;
		avail = need < sg.len ? need : sg.len;
		avail &= XSMB_CARRY_SIZE / 2 - 1; /* verifier: bound the copy length */
		if (avail == 0 ||
		    bpf_skb_load_bytes(skb, sg.off, &st->carry[cl], avail))
			goto done;
		if (avail < need) {
			st->carry_len = cl + avail;
			goto done;
		}
		st->carry_len = 0;
		__builtin_memcpy(hb.b, st->carry, XSMB_HDR_NEED);
		xsmb_response(&sg, st, &hb, &desync);
		if ((__s32)(st->next_seq - sg.seq) < 0)
			desync = 1;
	} else if ((__s32)(st->next_seq - sg.seq) < 0) {
		goto done;
	}

	if (!desync) {
		struct tc_walk w = { .skb = skb, .sg = &sg, .st = st };

		/* A GSO packet holds up to 64 KiB (more with BIG TCP) of responses: each step
		 * passes at least a NetBIOS header (4 bytes), so len / 4 + 1 steps reach its end. */
		bpf_loop(sg.len / XSMB_NETBIOS_HEADER_SIZE + 1, tc_step, &w, 0);
		desync = w.desync;
	}
	if (desync)
		bpf_map_delete_elem(&xsmb_streams, &sg.key);
done:
	if (sg.fin || sg.rst) {
		bpf_map_delete_elem(&xsmb_streams, &sg.key);
		/* The client stream, which XDP keeps past the client's FIN while requests are
		 * pending: the server's FIN follows its last response. */
		sg.key.dir = XSMB_DIR_IN;
		bpf_map_delete_elem(&xsmb_streams, &sg.key);
	}
	return TC_ACT_OK;
}
