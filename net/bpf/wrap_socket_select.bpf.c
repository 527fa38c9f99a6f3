/* wrap_socket_select.bpf.c: turns a user's schedule() into an SK_REUSEPORT program choosing a socket of the app's group. */
/*
 * Design: syrupd compiles this file with -DSYR_POLICY_FILE="<path of the
 * user's policy>", so the user's schedule() and maps land in this translation
 * unit. The kernel runs the program for every UDP datagram (and every TCP SYN)
 * that arrives for the SO_REUSEPORT group it is attached to, so the group
 * itself is the isolation boundary: the policy never sees another port.
 * The returned index selects a socket from syr_executors, which syrupd fills
 * with the sockets the app registered. SYR_PASS (or an index with no socket)
 * returns SK_PASS without a selection, which makes the kernel fall back to its
 * own 5-tuple hash; SYR_DROP drops the datagram or SYN.
 * The input starts at the transport header (SYR_INPUT_AT_L4).
 */
#define SYR_INPUT_AT_L4 1
#include "syrup.h"
#include SYR_POLICY_FILE
#include "wrap_counters.h"

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, SYR_MAX_EXECUTORS);
	__type(key, __u32);
	__type(value, __u64);
} syr_executors SEC(".maps");

SEC("sk_reuseport")
int syr_socket_select(struct sk_reuseport_md *md)
{
	__u32 idx;
	int verdict = syr_decide(md->data, md->data_end, SK_PASS, SK_DROP, &idx);

	if (verdict >= 0)
		return verdict;
	/* SK_PASS either way: with no socket at idx the kernel uses its own hash. */
	int delivered = bpf_sk_select_reuseport(md, &syr_executors, &idx, 0) == 0;
	syr_count_delivery(idx, delivered);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
