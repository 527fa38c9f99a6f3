/* pass_through.c: benchmark policy that parses the UDP header and lets the kernel decide (SYR_PASS): the cost of running a policy at all. */
#include "syrup.h"

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	struct udphdr *udp = syr_udp(pkt_start, pkt_end);

	if (!udp)
		return SYR_PASS;
	return SYR_PASS;
}
