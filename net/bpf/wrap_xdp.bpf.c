/* wrap_xdp.bpf.c: turns a user's schedule() into an XDP program redirecting to the app's AF_XDP sockets (hooks xdp_skb, xdp_drv). */
/*
 * Design: syrupd compiles this file with -DSYR_POLICY_FILE="<user policy>".
 * The program is never attached to an interface itself: it goes into a slot
 * of the interface's dispatcher (dispatcher.bpf.c), which tail-calls it only
 * for packets addressed to a port the app owns, so the policy sees nothing
 * else. An index redirects the frame to the AF_XDP socket the app registered
 * in syr_executors (an XSKMAP); SYR_PASS hands it to the kernel stack;
 * SYR_DROP drops it. A missing socket falls back to XDP_PASS, the flag given
 * to bpf_redirect_map, so a half-registered app loses no traffic.
 */
#include "syrup.h"
#include SYR_POLICY_FILE
#include "wrap_counters.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, SYR_MAX_EXECUTORS);
	__type(key, __u32);
	__type(value, __u32);
} syr_executors SEC(".maps");

SEC("xdp")
int syr_xdp(struct xdp_md *ctx)
{
	return syr_xdp_redirect(ctx, &syr_executors);
}

char LICENSE[] SEC("license") = "GPL";
