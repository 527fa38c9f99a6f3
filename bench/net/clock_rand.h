/* clock_rand.h: the monotonic clock and the xorshift64* generator the benchmark's server and load generator share. */
#ifndef CLOCK_RAND_H
#define CLOCK_RAND_H
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns: the clock every timestamp in struct kv_request uses. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* xorshift64*: per-thread state, cheap, good enough for arrival gaps and service times. */
static inline uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif
