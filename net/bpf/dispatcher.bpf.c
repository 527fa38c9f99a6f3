/* dispatcher.bpf.c: the one XDP program per interface that hands each packet to the policy of the app owning its destination port. */
/*
 * Design: several apps may deploy XDP policies on the same interface, but an
 * interface runs one XDP program. syrupd attaches this dispatcher (once per
 * interface, through a bpf_link so it detaches if syrupd dies) and keeps two
 * maps: syr_ports maps (protocol, destination port) to a slot, and
 * syr_policies (a PROG_ARRAY) holds each app's wrapped policy in its slot.
 * A packet for an owned port is tail-called into that policy and never comes
 * back; anything else (unowned port, non-IP, fragments, a slot being replaced)
 * takes XDP_PASS, the behaviour without Syrup. Policies therefore only ever
 * see packets for ports their app proved it owns.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SYR_DISPATCH_SLOTS 64

struct syr_port_key {
	__u16 port; /* host byte order */
	__u8 protocol; /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct syr_port_key);
	__type(value, __u32);
} syr_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYR_DISPATCH_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} syr_policies SEC(".maps");

enum { SYR_DISPATCH_SEEN, SYR_DISPATCH_UNOWNED, SYR_DISPATCH_MISSING, SYR_DISPATCH_COUNTERS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYR_DISPATCH_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} syr_dispatch_stats SEC(".maps");

static __always_inline void syr_dispatch_count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&syr_dispatch_stats, &slot);
	if (n)
		*n += 1;
}

/* Destination port and protocol of a UDP/TCP frame; 0 when there is none. */
static __always_inline int syr_dest(void *data, void *end, struct syr_port_key *key)
{
	struct ethhdr *eth = data;
	void *l4;
	__u8 proto;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl < 5 || (ip->frag_off & bpf_htons(0x1fff)))
			return 0;
		proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return 0;
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
	} else {
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > end)
			return 0;
		key->port = bpf_ntohs(udp->dest);
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > end)
			return 0;
		key->port = bpf_ntohs(tcp->dest);
	} else {
		return 0;
	}
	key->protocol = proto;
	return 1;
}

SEC("xdp")
int syr_dispatch(struct xdp_md *ctx)
{
	struct syr_port_key key = {};
	__u32 *slot;

	syr_dispatch_count(SYR_DISPATCH_SEEN);
	if (!syr_dest((void *)(long)ctx->data, (void *)(long)ctx->data_end, &key)) {
		syr_dispatch_count(SYR_DISPATCH_UNOWNED);
		return XDP_PASS;
	}
	slot = bpf_map_lookup_elem(&syr_ports, &key);
	if (!slot) {
		syr_dispatch_count(SYR_DISPATCH_UNOWNED);
		return XDP_PASS;
	}
	bpf_tail_call(ctx, &syr_policies, *slot);
	/* Reached only when the slot is empty (policy being replaced or removed). */
	syr_dispatch_count(SYR_DISPATCH_MISSING);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
