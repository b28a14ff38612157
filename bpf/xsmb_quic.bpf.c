// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xsmb_quic.bpf.c - SMB over QUIC steering by connection ID (bpf/include/xsmb_quic.h).
 *
 * xsmb_quic_xdp (XDP): parses Ethernet, up to two VLAN tags, IPv4/IPv6 and UDP to the QUIC
 * port, then the first QUIC header far enough to read the Destination Connection ID
 * (RFC 8999 5, RFC 9000 17.2/17.3). A DCID that xsmbd issued (in xsmb_quic_cids) sends the
 * packet to the owning worker's AF_XDP socket on this receive queue (XSKMAP, bpf_redirect_map
 * with XDP_PASS as the fallback; Documentation/networking/af_xdp.rst,
 * Documentation/bpf/map_xskmap.rst). Everything else
 * (Initial packets, unknown or foreign IDs, other traffic) is XDP_PASS to the kernel's UDP
 * sockets, the reason counted.
 *
 * xsmb_quic_reuseport (BPF_PROG_TYPE_SK_REUSEPORT, attached with SO_ATTACH_REUSEPORT_EBPF;
 * bpf_sk_select_reuseport on a BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, include/uapi/linux/bpf.h):
 * runs for each datagram that reaches the group of UDP
 * sockets the workers bound with SO_REUSEPORT; a DCID of our layout picks the socket of the
 * worker it names, anything else keeps the kernel's hash.
 *
 * Both read the same bytes the same way (quic_classify), so a datagram lands at one worker
 * whichever path it takes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_eth.bpf.h"
#include "xsmb_quic.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Port, worker count and mode; one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xsmb_quic_config);
} xsmb_quic_cfg SEC(".maps");

/* Connection IDs xsmbd issued -> owning worker; only these are placed by XDP. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XSMB_QUIC_MAX_CIDS);
	__type(key, struct xsmb_quic_cid);
	__type(value, struct xsmb_quic_cid_info);
} xsmb_quic_cids SEC(".maps");

/* XSMB_QUIC_XSK_SLOT(receive queue, worker) -> the worker's AF_XDP socket on that queue. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XSMB_QUIC_MAX_QUEUES * XSMB_QUIC_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u32);
} xsmb_quic_xsks SEC(".maps");

/* XSMB_QUIC_SOCK_SLOT(group, worker) -> the worker's UDP socket of that reuseport group. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, XSMB_QUIC_MAX_GROUPS * XSMB_QUIC_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} xsmb_quic_socks SEC(".maps");

/* 0 -> the counters as one named record, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xsmb_quic_counters);
} xsmb_quic_stats SEC(".maps");

/* Worker -> what reached it (XSK and socket path), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSMB_QUIC_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct xsmb_quic_worker_stat);
} xsmb_quic_wstat SEC(".maps");

/* Bytes of the UDP payload the classification reads: the long header up to the end of a
 * 16-byte DCID (1 + 4 + 1 + 16); a short header needs 17 of them. */
#define QUIC_PEEK (XSMB_QUIC_LONG_OFF_DCID + XSMB_QUIC_CID_LEN)

static __always_inline void quic_count(__u32 idx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&xsmb_quic_stats, &zero);
	__u64 i = idx;

	if (!v)
		return;
	/* Verifier workaround (as xsmb_count): bound and index on one register. */
	asm volatile("" : "+r"(i));
	if (i >= XSMB_QCNT_MAX)
		return;
	asm volatile("" : "+r"(i));
	v[i] += 1; /* per-CPU record: no atomic needed */
}

static __always_inline struct xsmb_quic_worker_stat *quic_wstat(__u32 worker)
{
	return bpf_map_lookup_elem(&xsmb_quic_wstat, &worker);
}

static __always_inline __u16 quic_port(const struct xsmb_quic_config *cfg)
{
	return cfg && cfg->port ? cfg->port : XSMB_QUIC_PORT_DEFAULT;
}

/* What the first QUIC header of a datagram says. */
enum quic_class {
	QC_CANDIDATE = 0, /* a 16-byte DCID of our layout: key filled */
	QC_MALFORMED,     /* cut short, v1 DCID Length > 20 */
	QC_INITIAL,       /* Initial/0-RTT whose DCID is not ours, or not QUIC v1 */
	QC_BAD_LAYOUT,    /* a DCID that cannot be ours: other length or layout version */
};

/*
 * Classifies the first packet of a UDP payload of plen bytes whose first min(plen,
 * QUIC_PEEK) bytes are in b (RFC 8999 5.1/5.2, RFC 9000 17.2/17.3). *initial is set for an
 * Initial or 0-RTT packet, whose DCID is ours only from the client's second flight on.
 */
static __always_inline int quic_classify(const __u8 *b, __u32 plen, struct xsmb_quic_cid *key,
					 int *initial)
{
	*initial = 0;
	if (plen < 1)
		return QC_MALFORMED;
	if (b[0] & XSMB_QUIC_FORM_LONG) {
		__u32 version, dlen, type;

		if (plen < XSMB_QUIC_LONG_OFF_DCID)
			return QC_MALFORMED;
		version = ((__u32)b[1] << 24) | ((__u32)b[2] << 16) | ((__u32)b[3] << 8) | b[4];
		dlen = b[XSMB_QUIC_LONG_OFF_DCID_LEN];
		if (plen < XSMB_QUIC_LONG_OFF_DCID + dlen)
			return QC_MALFORMED;
		if (version != XSMB_QUIC_VERSION_1)
			return QC_INITIAL; /* Version Negotiation is the socket path's */
		/* The Fixed Bit is not checked: ngtcp2 advertises grease_quic_bit (RFC 9287), so
		 * clients clear it at random in Handshake (and 1-RTT) packets. */
		if (dlen > XSMB_QUIC_MAX_CID_LEN)
			return QC_MALFORMED;
		type = (b[0] & XSMB_QUIC_LONG_TYPE_MASK) >> XSMB_QUIC_LONG_TYPE_SHIFT;
		*initial = type == XSMB_QUIC_TYPE_INITIAL || type == XSMB_QUIC_TYPE_0RTT;
		if (dlen != XSMB_QUIC_CID_LEN)
			return *initial ? QC_INITIAL : QC_BAD_LAYOUT;
		/* Constant offsets in each branch: a pointer chosen between two stack offsets
		 * is compiled to arithmetic the verifier refuses. */
		__builtin_memcpy(key, b + XSMB_QUIC_LONG_OFF_DCID, XSMB_QUIC_CID_LEN);
	} else {
		if (plen < XSMB_QUIC_SHORT_OFF_DCID + XSMB_QUIC_CID_LEN)
			return QC_MALFORMED;
		__builtin_memcpy(key, b + XSMB_QUIC_SHORT_OFF_DCID, XSMB_QUIC_CID_LEN);
	}
	if (key->layout != XSMB_QUIC_CID_LAYOUT_V1)
		return *initial ? QC_INITIAL : QC_BAD_LAYOUT;
	return QC_CANDIDATE;
}

/* ---- XDP */

/* Moves c past the IP header to UDP; a counter index when the packet is not for us, else 0. */
static __always_inline int parse_ip_udp(struct hdr_cursor *c, void *end, __u16 proto)
{
	if (proto == ETH_P_IP) {
		struct iphdr *iph = c->pos;
		__u32 hl;

		if ((void *)(iph + 1) > end)
			return XSMB_QCNT_XQ_PASS_TRUNC;
		hl = iph->ihl * 4;
		if (iph->version != 4 || hl < sizeof(*iph) || bpf_ntohs(iph->tot_len) < hl)
			return XSMB_QCNT_XQ_PASS_TRUNC;
		if (c->pos + hl > end) /* byte-based check for the variable IHL */
			return XSMB_QCNT_XQ_PASS_TRUNC;
		if (iph->frag_off & bpf_htons(0x3fff)) /* MF or an offset: no UDP header to read */
			return XSMB_QCNT_XQ_PASS_NOT_QUIC;
		if (iph->protocol != IPPROTO_UDP)
			return XSMB_QCNT_XQ_PASS_NOT_QUIC;
		c->pos += hl;
		return 0;
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = c->pos;

		if ((void *)(ip6 + 1) > end)
			return XSMB_QCNT_XQ_PASS_TRUNC;
		if (ip6->version != 6)
			return XSMB_QCNT_XQ_PASS_TRUNC;
		/* Extension headers are not followed: such packets take the socket path. */
		if (ip6->nexthdr != IPPROTO_UDP)
			return XSMB_QCNT_XQ_PASS_NOT_QUIC;
		c->pos = ip6 + 1;
		return 0;
	}
	return XSMB_QCNT_XQ_PASS_NOT_QUIC;
}

/* Copies the first min(plen, QUIC_PEEK) payload bytes to b; the one verifier-friendly way
 * for a short payload is a byte at a time, each checked (constant cap). */
static __always_inline void peek_payload(__u8 *b, const __u8 *p, void *end)
{
	if ((void *)(p + QUIC_PEEK) <= end) {
		__builtin_memcpy(b, p, QUIC_PEEK);
		return;
	}
#pragma unroll
	for (int i = 0; i < QUIC_PEEK; i++) {
		if ((void *)(p + i + 1) > end)
			break;
		b[i] = p[i];
	}
}

/* Sends a packet with a known DCID to its worker's XSK on this queue; the verdict counter. */
static __always_inline int place(struct xdp_md *ctx, const struct xsmb_quic_config *cfg,
				 struct xsmb_quic_cid_info *info, __u32 plen, int *action)
{
	struct xsmb_quic_worker_stat *ws;
	__u32 worker = info->worker, queue = ctx->rx_queue_index;

	__sync_fetch_and_add(&info->xdp_packets, 1);
	*action = XDP_PASS;
	if (!cfg || !(cfg->flags & XSMB_QUIC_CFG_XSK) || (info->flags & XSMB_QUIC_CIDF_SOCKET))
		return XSMB_QCNT_XQ_PASS_SOCKET;
	if (worker >= XSMB_QUIC_MAX_WORKERS)
		return XSMB_QCNT_XQ_PASS_UNKNOWN_CID;
	ws = quic_wstat(worker);
	if (queue < XSMB_QUIC_MAX_QUEUES) {
		*action = bpf_redirect_map(&xsmb_quic_xsks, XSMB_QUIC_XSK_SLOT(queue, worker), XDP_PASS);
		if (*action == XDP_REDIRECT) {
			if (ws) {
				ws->xsk_packets++;
				ws->xsk_bytes += plen;
			}
			return XSMB_QCNT_XQ_REDIRECT_XSK;
		}
	}
	*action = XDP_PASS;
	if (ws)
		ws->xsk_missing++;
	return XSMB_QCNT_XQ_PASS_NO_XSK;
}

/* The verdict counter of one frame; *action is the XDP action. */
static __always_inline int quic_xdp_verdict(struct xdp_md *ctx, int *action)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xsmb_quic_config *cfg;
	struct hdr_cursor c = { .pos = data };
	struct xsmb_quic_cid key = {};
	struct xsmb_quic_cid_info *info;
	__u8 b[QUIC_PEEK] = {};
	struct udphdr *uh;
	__u32 zero = 0, plen, ulen;
	int r, initial;
	__u16 proto;

	*action = XDP_PASS;
	if (parse_ethhdr(&c, end, &proto))
		return XSMB_QCNT_XQ_PASS_TRUNC;
	r = parse_ip_udp(&c, end, proto);
	if (r)
		return r;
	uh = c.pos;
	if ((void *)(uh + 1) > end)
		return XSMB_QCNT_XQ_PASS_TRUNC;
	cfg = bpf_map_lookup_elem(&xsmb_quic_cfg, &zero);
	if (bpf_ntohs(uh->dest) != quic_port(cfg))
		return XSMB_QCNT_XQ_PASS_NOT_QUIC;
	ulen = bpf_ntohs(uh->len);
	if (ulen < sizeof(*uh))
		return XSMB_QCNT_XQ_PASS_TRUNC;
	/* The UDP length, not the frame, bounds the payload (Ethernet pads short frames); a
	 * frame shorter than the UDP length is cut to what is there. */
	plen = ulen - sizeof(*uh);
	if ((void *)(uh + 1) + plen > end)
		plen = end - (void *)(uh + 1);
	peek_payload(b, (const __u8 *)(uh + 1), end);
	switch (quic_classify(b, plen, &key, &initial)) {
	case QC_MALFORMED:
		return XSMB_QCNT_XQ_PASS_MALFORMED;
	case QC_INITIAL:
		return XSMB_QCNT_XQ_PASS_INITIAL;
	case QC_BAD_LAYOUT:
		return XSMB_QCNT_XQ_PASS_BAD_LAYOUT;
	}
	info = bpf_map_lookup_elem(&xsmb_quic_cids, &key);
	if (!info || info->worker != key.worker)
		return initial ? XSMB_QCNT_XQ_PASS_INITIAL : XSMB_QCNT_XQ_PASS_UNKNOWN_CID;
	return place(ctx, cfg, info, plen, action);
}

SEC("xdp")
int xsmb_quic_xdp(struct xdp_md *ctx)
{
	int action;

	quic_count(XSMB_QCNT_XQ_PACKETS);
	quic_count(quic_xdp_verdict(ctx, &action));
	return action;
}

/* ---- sk_reuseport */

/* Offset of the UDP payload from md->data: the UDP stack runs the program with skb->data at
 * the UDP header (udp4_lib_lookup2 / udp6_lib_lookup2 -> reuseport_select_sock). */
#define RP_PAYLOAD_OFF 8

/* The verdict counter of one datagram. */
static __always_inline int quic_rp_verdict(struct sk_reuseport_md *md)
{
	struct xsmb_quic_config *cfg;
	struct xsmb_quic_worker_stat *ws;
	struct xsmb_quic_cid key = {};
	__u8 b[QUIC_PEEK] = {};
	__u32 zero = 0, plen, worker;
	int initial, cls, r;

	if (md->len < RP_PAYLOAD_OFF + 1)
		return XSMB_QCNT_RQ_HASH_MALFORMED;
	plen = md->len - RP_PAYLOAD_OFF;
	/* Constant lengths only (the helper's size must be a bounded non-zero constant for the
	 * verifier): what the classification can use of a payload of plen bytes. */
	if (plen >= QUIC_PEEK)
		r = bpf_skb_load_bytes(md, RP_PAYLOAD_OFF, b, QUIC_PEEK);
	else if (plen >= XSMB_QUIC_SHORT_OFF_DCID + XSMB_QUIC_CID_LEN)
		r = bpf_skb_load_bytes(md, RP_PAYLOAD_OFF, b, XSMB_QUIC_SHORT_OFF_DCID + XSMB_QUIC_CID_LEN);
	else if (plen >= XSMB_QUIC_LONG_OFF_DCID)
		r = bpf_skb_load_bytes(md, RP_PAYLOAD_OFF, b, XSMB_QUIC_LONG_OFF_DCID);
	else
		r = bpf_skb_load_bytes(md, RP_PAYLOAD_OFF, b, 1);
	if (r)
		return XSMB_QCNT_RQ_HASH_MALFORMED;
	cls = quic_classify(b, plen, &key, &initial);
	if (cls == QC_MALFORMED)
		return XSMB_QCNT_RQ_HASH_MALFORMED;
	if (cls == QC_INITIAL)
		return XSMB_QCNT_RQ_HASH_INITIAL;
	cfg = bpf_map_lookup_elem(&xsmb_quic_cfg, &zero);
	worker = key.worker;
	if (cls != QC_CANDIDATE || !cfg || worker >= cfg->nworkers)
		return initial ? XSMB_QCNT_RQ_HASH_INITIAL : XSMB_QCNT_RQ_HASH_UNKNOWN;
	/* The group is the listening address's; a socket of another group is refused with
	 * -EXDEV, so the worker's slot in each group is tried (constant cap). */
#pragma unroll
	for (__u32 g = 0; g < XSMB_QUIC_MAX_GROUPS; g++) {
		__u32 slot = XSMB_QUIC_SOCK_SLOT(g, worker);

		if (bpf_sk_select_reuseport(md, &xsmb_quic_socks, &slot, 0) == 0) {
			ws = quic_wstat(worker);
			if (ws)
				ws->socket_packets++;
			return XSMB_QCNT_RQ_SELECT_CID;
		}
	}
	return XSMB_QCNT_RQ_SELECT_FAILED;
}

SEC("sk_reuseport")
int xsmb_quic_reuseport(struct sk_reuseport_md *md)
{
	quic_count(XSMB_QCNT_RQ_DATAGRAMS);
	quic_count(quic_rp_verdict(md));
	return SK_PASS;
}
