/* hash_port.c: picks the executor by hashing the UDP/TCP source port, so one client port always lands on the same executor. */
#include "syrup.h"

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	struct udphdr *udp = syr_udp(pkt_start, pkt_end);
	__u16 port;

	if (udp) {
		port = udp->source;
	} else {
		struct tcphdr *tcp = syr_tcp(pkt_start, pkt_end);
		if (!tcp)
			return SYR_PASS;
		port = tcp->source;
	}
	return syr_hash32(bpf_ntohs(port)) % syr_executor_count;
}
