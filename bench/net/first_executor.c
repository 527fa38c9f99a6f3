/* first_executor.c: benchmark policy that always picks executor 0: the cost of the socket selection itself, with no policy work. */
#include "syrup.h"

uint32_t schedule(void *pkt_start, void *pkt_end)
{
	return 0;
}
