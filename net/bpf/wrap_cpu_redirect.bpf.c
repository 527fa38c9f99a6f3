/* wrap_cpu_redirect.bpf.c: turns a user's schedule() into an XDP program choosing the cpu that runs the stack for each packet. */
/*
 * Design: like wrap_xdp.bpf.c (tail-called by the interface's dispatcher, so
 * it only sees the app's ports), but syr_executors is a CPUMAP: the returned
 * index is a cpu number, and the kernel finishes building the skb and runs the
 * network stack for the packet on that cpu's cpumap kthread. syrupd fills one
 * entry per online cpu (with a per-policy counting program, cpu_counter.bpf.c,
 * so syrupctl can show where packets were really processed).
 */
#include "syrup.h"
#include SYR_POLICY_FILE
#include "wrap_counters.h"

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, SYR_MAX_EXECUTORS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} syr_executors SEC(".maps");

SEC("xdp")
int syr_cpu_redirect(struct xdp_md *ctx)
{
	return syr_xdp_redirect(ctx, &syr_executors);
}

char LICENSE[] SEC("license") = "GPL";
