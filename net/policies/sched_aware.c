/* sched_aware.c: round robin that steers requests away from executors whose thread the agent has queued or preempted (cross-layer). */
#include "syrup.h"

/*
 * sched_state[i]: the scheduling state of the thread serving executor i, written
 * by the thread agent (syrup-agent --publish-map <this map's pin>):
 * 0 idle, 1 running, 2 queued (waiting for a cpu), 3 preempted.
 * A request sent to a queued or preempted thread waits behind other work.
 */
SYR_MAP(sched_state, ARRAY, __u32, __u32, SYR_MAX_EXECUTORS);
SYR_MAP(rr_next, ARRAY, __u32, __u32, 1);
/* steered[i]: how many inputs this policy sent to executor i; the thread side can read it. */
SYR_MAP(steered, ARRAY, __u32, __u64, SYR_MAX_EXECUTORS);

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	__u32 zero = 0;
	__u32 *next = bpf_map_lookup_elem(&rr_next, &zero);
	if (!next)
		return SYR_PASS;
	__u32 start = __sync_fetch_and_add(next, 1);
	__u32 pick = start % syr_executor_count;
	for (__u32 k = 0; k < SYR_MAX_EXECUTORS && k < syr_executor_count; k++) {
		__u32 i = (start + k) % syr_executor_count;
		__u32 *st = bpf_map_lookup_elem(&sched_state, &i);
		if (st && *st < 2) {
			pick = i;
			break;
		}
	}
	__u64 *n = bpf_map_lookup_elem(&steered, &pick);
	if (n)
		__sync_fetch_and_add(n, 1);
	return pick;
}
