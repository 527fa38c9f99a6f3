/* pass_through.c: benchmark policy that parses the UDP header and lets the kernel decide (SYR_PASS): the cost of running a policy at all. */
#include "syrup.h"

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	struct udphdr *udp = syr_udp(pkt_start, pkt_end);

	/* Keep the parse: with the result unused, clang drops it, and the program
	 * would measure the dispatcher and the tail call but no policy work. */
	asm volatile("" : : "r"(udp));
	return SYR_PASS;
}
