/* scan_avoid.c: round robin that keeps short GETs away from executors the app marked busy with a long SCAN. */
#include "syrup.h"

/* busy[i] != 0 while executor i serves a long request; written by the app. */
SYR_MAP(busy, ARRAY, __u32, __u32, SYR_MAX_EXECUTORS);
SYR_MAP(rr_next, ARRAY, __u32, __u32, 1);

/* Requests start with one type byte: 'S' for SCAN, anything else is a GET. */
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	__u32 zero = 0;
	__u32 *next = bpf_map_lookup_elem(&rr_next, &zero);
	__u8 *type = syr_udp_payload(pkt_start, pkt_end, 1);

	if (!next)
		return SYR_PASS;
	__u32 start = __sync_fetch_and_add(next, 1);
	if (type && *type == 'S')
		return start % syr_executor_count;
	for (__u32 k = 0; k < SYR_MAX_EXECUTORS && k < syr_executor_count; k++) {
		__u32 i = (start + k) % syr_executor_count;
		__u32 *b = bpf_map_lookup_elem(&busy, &i);
		if (b && !*b)
			return i;
	}
	return start % syr_executor_count; /* all busy: plain round robin */
}
