/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xsmb_eth.bpf.h - BPF-only: the Ethernet reader the XDP programs share (xsmb_xdp, xsmb_quic):
 * a cursor over the frame and the Ethernet header with up to two VLAN tags (IEEE 802.1ad outer,
 * 802.1Q inner), every read checked against the frame's end for the verifier.
 */
#ifndef XSMB_ETH_BPF_H
#define XSMB_ETH_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct hdr_cursor {
	void *pos;
};

/* IEEE 802.1Q tag after the MAC addresses: TCI, then the EtherType it encapsulates. */
struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Moves c past the Ethernet header and its VLAN tags; *proto gets the EtherType (host order).
 * -1 when the frame ends inside them. */
static __always_inline int parse_ethhdr(struct hdr_cursor *c, void *end, __u16 *proto)
{
	struct ethhdr *eth = c->pos;
	struct vlan_hdr *vh;

	if ((void *)(eth + 1) > end)
		return -1;
	c->pos = eth + 1;
	*proto = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) { /* constant cap: 802.1ad outer + 802.1Q inner */
		if (*proto != ETH_P_8021Q && *proto != ETH_P_8021AD)
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > end)
			return -1;
		c->pos = vh + 1;
		*proto = bpf_ntohs(vh->encap_proto);
	}
	return 0;
}

#endif /* XSMB_ETH_BPF_H */
