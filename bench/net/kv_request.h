/* kv_request.h: wire format shared by the benchmark's UDP key-value server and its load generator. */
#ifndef KV_REQUEST_H
#define KV_REQUEST_H
#include <stdint.h>

/* One datagram each way; the reply echoes the request with done_ns filled in. */
struct kv_request {
	uint8_t type; /* 'G' = GET (the only kind this benchmark sends) */
	uint8_t pad[3];
	uint32_t flow; /* client flow index, for per-flow accounting */
	uint64_t seq;
	uint64_t sent_ns; /* CLOCK_MONOTONIC when the client sent it */
	uint64_t arrived_ns; /* CLOCK_MONOTONIC when the kernel queued it on the worker's socket */
	uint64_t done_ns; /* CLOCK_MONOTONIC when the worker's modelled core finished it */
	uint32_t worker; /* which worker (socket) served it */
	uint32_t pad2;
};

#endif
