/* least_loaded.c: sends each input to the executor with the fewest outstanding requests, from a load map shared with the app. */
#include "syrup.h"

/* load[i]: requests assigned to executor i and not yet finished. The policy
 * counts an assignment here; the app subtracts one when it finishes a request
 * (mmap the map for a syscall-free atomic decrement, or use the maps API). */
SYR_MAP_MMAP(load, ARRAY, __u32, __u64, SYR_MAX_EXECUTORS);

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	__u32 best = 0;
	__u64 best_load = ~0ull;

	for (__u32 i = 0; i < SYR_MAX_EXECUTORS; i++) {
		if (i >= syr_executor_count)
			break;
		/* A copy for the lookup keeps i in a register, where the verifier
		 * tracks its bounds exactly; &i would spill it and blow up the search. */
		__u32 key = i;
		__u64 *l = bpf_map_lookup_elem(&load, &key);
		if (l && *l < best_load) {
			best_load = *l;
			best = i;
		}
	}
	__u64 *l = bpf_map_lookup_elem(&load, &best);
	if (l)
		__sync_fetch_and_add(l, 1);
	return best;
}
