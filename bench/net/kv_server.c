/* kv_server.c: the benchmark's UDP key-value server: one worker thread per SO_REUSEPORT socket, GETs of 10-12 us on a modelled dedicated core each (or, with --real 1, really served). */
/*
 * The sockets arrive already bound (inherited fds 3..3+N-1, created and
 * handed to syrupd by the TypeScript runner, which owns the policy), so the
 * reuseport group and its policy are exactly what an app deploys.
 *
 * Why a modelled core: Syrup's experiment gives each of the 6 workers its own
 * core, so a socket that the hash overloads has a queue that no other core
 * drains. This VM has 2 vCPUs shared with the load generator; spinning 6
 * threads there would let the scheduler pool their cpu time and hide exactly
 * the imbalance under test. Each worker therefore keeps a virtual clock of
 * its own core: a request starts at max(its scheduled send time, the end of
 * the worker's previous request) and takes 10-12 us, FIFO in socket order.
 * The scheduled send time (the generator's Poisson process) stands for the
 * arrival so that the VM's vCPU stalls, which would turn into bursts, do not
 * pollute the queues; the real arrival (SO_TIMESTAMPNS) is reported beside it.
 * The reply leaves at once with done_ns; the client takes done_ns - sent_ns.
 * Which socket each request reaches, and so each worker's queue, is real.
 *
 * With --real 1 nothing is modelled: a worker spins for each request's
 * service time and stamps done_ns when it really finishes, so the workers
 * share the cpu they are pinned to and Linux decides who runs (see the
 * report's real-execution section for what that can show on 2 vCPUs).
 *
 * With --load-fd, the fd is an mmapped array map (the least_loaded policy's
 * `load`): the policy adds 1 per assignment, and the worker subtracts 1 when
 * the modelled core finishes the request, so the policy sees outstanding work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock_rand.h"
#include "flags.h"
#include "kv_request.h"

#define BATCH 64
#define PENDING 65536 /* completions waiting to decrement the load map */

static int g_workers = 6;
static int g_cpu = -1; /* pin all workers here (keeps them off the load generator's cpu) */
/* --real 1: workers really spin for each request's service time on the cpu they share (no modelled core). */
static int g_real;
static uint64_t g_min_ns = 10000, g_max_ns = 12000;
static _Atomic uint64_t *g_load; /* mmapped map values, stride 8 */
static volatile sig_atomic_t g_stop;
static uint64_t g_served[64];
/* How late (real time) load decrements ran after their modelled completion: the staleness least_loaded sees. */
static uint64_t g_lag_sum[64], g_lag_n[64], g_lag_max[64];

/* CLOCK_MONOTONIC minus CLOCK_REALTIME: kernel rx timestamps are realtime. */
static int64_t g_mono_minus_real;

static void calibrate_clocks(void)
{
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	g_mono_minus_real = ((int64_t)m.tv_sec - r.tv_sec) * 1000000000ll + (m.tv_nsec - r.tv_nsec);
}

/* When the kernel queued the datagram on the socket (monotonic), or `fallback`;
 * also the socket's cumulative drop count (SO_RXQ_OVFL) when present. */
static uint64_t arrival_ns(struct msghdr *mh, uint64_t fallback, uint32_t *drops)
{
	uint64_t t = fallback;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (uint64_t)((int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec + g_mono_minus_real);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(drops, CMSG_DATA(c), sizeof(*drops));
		}
	}
	return t;
}

static void *worker(void *arg)
{
	int idx = (int)(long)arg;
	int fd = 3 + idx;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (idx + 1);
	uint64_t core_free = 0;
	static __thread uint64_t pending[PENDING]; /* done_ns of requests not yet subtracted from load */
	unsigned head = 0, tail = 0;
	struct kv_request req[BATCH];
	struct sockaddr_storage from[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	char cbuf[BATCH][CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))];
	int one = 1, rcvbuf = 8 << 20;
	uint32_t drops = 0, drops_seen = 0;

	/* Real arrival times, reported next to the modelled latency. */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	/* The policy counted datagrams the socket then dropped; the drop counter
	 * lets the worker take them back out of its load. */
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	/* Room for the VM's multi-millisecond stalls without drops (root may exceed rmem_max). */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	prctl(PR_SET_TIMERSLACK, 1);
	while (!g_stop) {
		uint64_t now = now_ns();
		while (g_load && head != tail && pending[head % PENDING] <= now) {
			atomic_fetch_sub(&g_load[idx], 1);
			uint64_t lag = now - pending[head % PENDING];
			g_lag_sum[idx] += lag;
			g_lag_n[idx]++;
			if (lag > g_lag_max[idx])
				g_lag_max[idx] = lag;
			head++;
		}
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = &req[i];
			iov[i].iov_len = sizeof(req[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = cbuf[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(cbuf[i]);
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			/* Sleep until a packet, or until the next modelled completion is due. */
			struct pollfd p = { fd, POLLIN, 0 };
			struct timespec ts = { 0, 100000000 };
			if (g_load && head != tail) {
				uint64_t due = pending[head % PENDING];
				ts.tv_nsec = due > now ? (long)(due - now) : 0;
			}
			ppoll(&p, 1, &ts, NULL);
			continue;
		}
		now = now_ns();
		for (int i = 0; i < n; i++) {
			uint64_t arrived = arrival_ns(&msgs[i].msg_hdr, now, &drops);
			uint64_t service = g_min_ns + next_rand(&rng) % (g_max_ns - g_min_ns + 1);
			if (g_real) {
				/* Real work: the cpu time is really spent, and whoever else wants this
				 * cpu (the other workers, the receiver) waits for it or preempts it. */
				uint64_t start = now_ns();
				while (now_ns() - start < service)
					;
				req[i].done_ns = now_ns();
				if (g_load)
					atomic_fetch_sub(&g_load[idx], 1);
			} else {
				uint64_t start = req[i].sent_ns > core_free ? req[i].sent_ns : core_free;
				core_free = start + service;
				req[i].done_ns = core_free;
				if (g_load && tail - head < PENDING)
					pending[(tail++) % PENDING] = core_free;
			}
			req[i].arrived_ns = arrived;
			req[i].worker = idx;
			iov[i].iov_len = sizeof(req[i]);
			msgs[i].msg_hdr.msg_control = NULL;
			msgs[i].msg_hdr.msg_controllen = 0;
		}
		if (g_load && drops != drops_seen) {
			atomic_fetch_sub(&g_load[idx], (uint32_t)(drops - drops_seen));
			drops_seen = drops;
		}
		g_served[idx] += n;
		int sent = 0;
		while (sent < n) {
			int r = sendmmsg(fd, msgs + sent, n - sent, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break; /* the client will count it as lost */
			}
			sent += r;
		}
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

int main(int argc, char **argv)
{
	int load_fd = -1;
	const struct flag flags[] = {
		{ "--workers", FLAG_INT, { &g_workers } },
		{ "--cpu", FLAG_INT, { &g_cpu } },
		{ "--load-fd", FLAG_INT, { &load_fd } },
		{ "--service-ns", FLAG_U64, { &g_min_ns, &g_max_ns } },
		{ "--real", FLAG_INT, { &g_real } },
	};
	if (!parse_flags(argc, argv, flags, sizeof(flags) / sizeof(flags[0]))) {
		fprintf(stderr, "usage: kv_server [--workers N] [--cpu C] [--load-fd FD] [--service-ns MIN MAX] [--real 0|1]\n");
		return 2;
	}
	if (g_workers < 1 || g_workers > 64 || g_max_ns < g_min_ns) {
		fprintf(stderr, "kv_server: --workers must be 1..64 and MIN <= MAX\n");
		return 2;
	}
	if (load_fd >= 0) {
		g_load = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, load_fd, 0);
		if (g_load == MAP_FAILED) {
			perror("kv_server: mmap load map");
			return 1;
		}
	}
	calibrate_clocks();
	if (g_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(g_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			perror("kv_server: --cpu");
			return 2;
		}
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_t th[64];
	for (int i = 0; i < g_workers; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)i);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < g_workers; i++)
		pthread_join(th[i], NULL);
	uint64_t lag_sum = 0, lag_n = 0, lag_max = 0;
	for (int i = 0; i < g_workers; i++) {
		lag_sum += g_lag_sum[i];
		lag_n += g_lag_n[i];
		if (g_lag_max[i] > lag_max)
			lag_max = g_lag_max[i];
	}
	printf("{\"served\":[");
	for (int i = 0; i < g_workers; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)g_served[i]);
	printf("],\"decrementLagAvgUs\":%.1f,\"decrementLagMaxUs\":%.1f}\n", lag_n ? lag_sum / 1000.0 / lag_n : 0.0,
	       lag_max / 1000.0);
	return 0;
}
