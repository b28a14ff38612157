// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xsmb_sock.bpf.c - socket-level programs.
 *
 * xsmb_reuseport: picks the listening socket (worker) for each new connection: the
 * least loaded worker by xsmb_wload when xsmbd reports loads, else the kernel's hash.
 *
 * xsmb_sk_parser / xsmb_sk_verdict: a sockhash of accepted connections with a stream
 * parser that frames NetBIOS messages (4-byte header, 24-bit length; MS-SMB2 2.1) and a
 * verdict that sees each complete message once: messages over the negotiated maximum or
 * without an SMB header are dropped and counted, the rest are accounted to their session
 * and passed to the socket, so the worker wakes once per complete message.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xsmb_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("sk_reuseport")
int xsmb_reuseport(struct sk_reuseport_md *md)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_wload *w;
	__u32 n, best, best_load = ~0u, key;
	int reported = 0;

	if (!cfg || cfg->nworkers == 0 || cfg->nworkers > XSMB_MAX_WORKERS) {
		xsmb_count(XSMB_CNT_RP_SELECT_HASH);
		return SK_PASS;
	}
	n = cfg->nworkers;
	best = md->hash % n;
	w = bpf_map_lookup_elem(&xsmb_wload, &best);
	if (w)
		best_load = w->load;
	for (__u32 i = 0; i < XSMB_MAX_WORKERS; i++) { /* constant cap */
		__u32 k = i, load;

		if (i >= n)
			break;
		w = bpf_map_lookup_elem(&xsmb_wload, &k);
		load = w ? w->load : ~0u;
		reported |= load != 0 && load != ~0u;
		if (load < best_load) { /* strictly less: ties keep the hash's choice */
			best_load = load;
			best = k;
		}
	}
	w = bpf_map_lookup_elem(&xsmb_wload, &best);
	if (!reported || !w) {
		xsmb_count(XSMB_CNT_RP_SELECT_HASH);
		return SK_PASS;
	}
	key = best + (md->eth_protocol == bpf_htons(ETH_P_IPV6) ? XSMB_MAX_WORKERS : 0);
	if (bpf_sk_select_reuseport(md, &xsmb_workers, &key, 0)) {
		xsmb_count(XSMB_CNT_RP_SELECT_FAILED);
		return SK_PASS;
	}
	__sync_fetch_and_add(&w->selected, 1);
	xsmb_count(XSMB_CNT_RP_SELECT_LOAD);
	return SK_PASS;
}

SEC("sk_skb/stream_parser")
int xsmb_sk_parser(struct __sk_buff *skb)
{
	__u8 nb[4];

	if (bpf_skb_load_bytes(skb, 0, nb, sizeof(nb)))
		return 0; /* fewer than 4 bytes: wait for more */
	return 4 + (((__u32)nb[1] << 16) | ((__u32)nb[2] << 8) | nb[3]);
}

SEC("sk_skb/stream_verdict")
int xsmb_sk_verdict(struct __sk_buff *skb)
{
	struct xsmb_config *cfg = xsmb_cfg();
	struct xsmb_session *sess;
	__u8 b[XSMB_HDR_NEED];
	__u64 sid = 0;
	__u32 len;

	if (bpf_skb_load_bytes(skb, 0, b, 4))
		return SK_PASS;
	len = ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
	if (b[0] != 0) { /* NetBIOS keep-alive and session service packets */
		xsmb_count(XSMB_CNT_SK_MESSAGES);
		return SK_PASS;
	}
	if (cfg && cfg->max_msg_size && len > cfg->max_msg_size) {
		xsmb_count(XSMB_CNT_SK_DROP_OVERSIZE);
		return SK_DROP;
	}
	if (len < 4 || bpf_skb_load_bytes(skb, 4, b + 4, 4) || !xsmb_is_smb_magic(b + 4) ||
	    (b[4] != XSMB_PROTO_SMB2 && b[4] != XSMB_PROTO_TRANSFORM &&
	     b[4] != XSMB_PROTO_COMPRESSED && b[4] != XSMB_PROTO_SMB1)) {
		xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
		return SK_DROP;
	}
	if (b[4] == XSMB_PROTO_SMB2) {
		if (len < 64 || bpf_skb_load_bytes(skb, 4, b + 4, 48) || xsmb_le16(b + 8) != 64) {
			xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
			return SK_DROP;
		}
		sid = xsmb_le64(b + 4 + 40);
	} else if (b[4] == XSMB_PROTO_TRANSFORM) {
		if (len < 52 || bpf_skb_load_bytes(skb, 4, b + 4, 52)) {
			xsmb_count(XSMB_CNT_SK_DROP_BAD_HEADER);
			return SK_DROP;
		}
		sid = xsmb_le64(b + 4 + 44);
	}
	xsmb_count(XSMB_CNT_SK_MESSAGES);
	if (sid) {
		sess = bpf_map_lookup_elem(&xsmb_sessions, &sid);
		if (sess) {
			__sync_fetch_and_add(&sess->sk_messages, 1);
			xsmb_count(XSMB_CNT_SK_SESSION_HITS);
		}
	}
	return SK_PASS;
}
