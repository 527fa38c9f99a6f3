/* wrap_offload.bpf.c: turns a user's schedule() into an XDP program for NIC offload (hook xdp_offload), guarded by the app's ports. */
/*
 * Design: an offloaded program runs on the NIC, where it cannot tail-call
 * host programs, so the per-interface dispatcher cannot front it. Isolation is
 * therefore compiled in: syrupd sets syr_owned_port / syr_owned_protocol
 * (rodata) and every other packet gets XDP_PASS without reaching schedule().
 * Offload NICs support few helpers and no AF_XDP redirect: an executor index
 * is counted and passed to the host stack; only PASS/DROP change the outcome.
 * Counters are a plain ARRAY (per-CPU maps cannot be offloaded).
 */
#include "syrup.h"
#include SYR_POLICY_FILE

const volatile __u16 syr_owned_port = 0;
const volatile __u8 syr_owned_protocol = IPPROTO_UDP;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} syr_offload_counters SEC(".maps");

static __always_inline void syr_offload_count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&syr_offload_counters, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int syr_offload(struct xdp_md *ctx)
{
	void *start = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct udphdr *l4 = syr_l4(start, end, syr_owned_protocol);

	/* UDP and TCP both start with source then destination port. */
	if (!l4 || (void *)l4 + 4 > end || bpf_ntohs(l4->dest) != syr_owned_port)
		return XDP_PASS;
	__u32 idx = schedule(start, end);
	if (idx == SYR_DROP) {
		syr_offload_count(1);
		return XDP_DROP;
	}
	syr_offload_count(idx == SYR_PASS ? 0 : 2);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
