/* cpu_counter.bpf.c: a CPUMAP entry program that counts, per cpu, the packets whose stack processing a cpu_redirect policy sent there. */
/*
 * Design: a cpu_redirect policy's decision is only visible where the packet is
 * processed: the cpumap kthread of the chosen cpu. syrupd loads one instance
 * of this program per cpu_redirect policy and installs it in every CPUMAP
 * entry; it runs on the target cpu before the skb is built, so its per-cpu
 * counter is a direct count of packets steered to each cpu. It always passes.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} syr_cpu_packets SEC(".maps");

SEC("xdp/cpumap")
int syr_cpu_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&syr_cpu_packets, &zero);
	if (n)
		*n += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
