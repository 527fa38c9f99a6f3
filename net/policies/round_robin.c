/* round_robin.c: hands inputs to the app's executors in turn, ignoring the flow they belong to. */
#include "syrup.h"

SYR_MAP(rr_next, ARRAY, __u32, __u32, 1);

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	__u32 zero = 0;
	__u32 *next = bpf_map_lookup_elem(&rr_next, &zero);

	if (!next)
		return SYR_PASS;
	/* Atomic so that inputs arriving on several cpus still alternate. */
	return __sync_fetch_and_add(next, 1) % syr_executor_count;
}
