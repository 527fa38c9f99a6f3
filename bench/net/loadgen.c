/* loadgen.c: open-loop Poisson UDP load generator for the key-value benchmark: 50 flows, latency from the server's completion stamp. */
/*
 * A sender thread draws exponential gaps for the offered rate and sends each
 * GET on a random one of the flows (one UDP socket = one 5-tuple each), stamping
 * the intended send time. A receiver thread collects replies on all flows and
 * records the latency done_ns - sent_ns (queueing on the chosen worker plus
 * service, see kv_server.c) and the one-way network delay arrived_ns -
 * sent_ns. Only requests sent after the warm-up count. The sender spins on
 * its own cpu (--sender-cpu) to keep close to its schedule.
 * Prints one JSON object.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock_rand.h"
#include "flags.h"
#include "kv_request.h"

#define MAX_FLOWS 1024
#define MAX_WORKERS 64

static int g_flows = 50, g_port, g_fds[MAX_FLOWS];
static const char *g_host = "127.0.0.1";
static int g_src_port_base; /* 0: ephemeral source ports */
static double g_rate = 10000;
static uint64_t g_duration_ns = 2000000000ull, g_warmup_ns = 500000000ull;
static uint64_t g_seed = 1;
static uint64_t g_t0, g_measure_from, g_end;
static atomic_int g_sender_done;
static uint64_t g_sent_measured, g_recv_measured, g_send_errors;
static uint64_t *g_lat, *g_e2e; /* latency; one-way network delay */
static int g_sender_cpu = -1, g_receiver_cpu = -1;
static size_t g_lat_cap, g_lat_n;
static uint64_t g_per_worker[MAX_WORKERS];
static int g_flow_worker[MAX_FLOWS];

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *sender(void *arg)
{
	(void)arg;
	pin(g_sender_cpu);
	uint64_t rng = g_seed * 0x9e3779b97f4a7c15ull + 1;
	uint64_t t = g_t0, seq = 0;
	struct kv_request req;
	memset(&req, 0, sizeof(req));
	req.type = 'G';
	while (t < g_end) {
		double u = (double)(next_rand(&rng) >> 11) / 9007199254740992.0;
		t += (uint64_t)(-log(1.0 - u) / g_rate * 1e9);
		uint64_t now;
		while ((now = now_ns()) < t) {
			if (t - now > 200000) {
				struct timespec ts = { 0, (long)(t - now - 100000) };
				nanosleep(&ts, NULL);
			}
		}
		int flow = (int)(next_rand(&rng) % g_flows);
		req.flow = flow;
		req.seq = seq++;
		req.sent_ns = t;
		if (send(g_fds[flow], &req, sizeof(req), 0) != sizeof(req))
			g_send_errors++;
		else if (t >= g_measure_from)
			g_sent_measured++;
	}
	atomic_store(&g_sender_done, 1);
	return NULL;
}

static void *receiver(void *arg)
{
	(void)arg;
	pin(g_receiver_cpu);
	int ep = epoll_create1(0);
	for (int i = 0; i < g_flows; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, g_fds[i], &ev);
	}
	uint64_t grace_end = 0;
	struct epoll_event evs[64];
	struct kv_request req;
	for (;;) {
		if (atomic_load(&g_sender_done)) {
			if (!grace_end)
				grace_end = now_ns() + 200000000ull;
			else if (now_ns() > grace_end || g_recv_measured >= g_sent_measured)
				break;
		}
		int n = epoll_wait(ep, evs, 64, 10);
		for (int i = 0; i < n; i++) {
			int flow = evs[i].data.u32;
			while (recv(g_fds[flow], &req, sizeof(req), MSG_DONTWAIT) == sizeof(req)) {
				if (req.worker < MAX_WORKERS)
					g_per_worker[req.worker]++;
				g_flow_worker[flow] = (int)req.worker;
				if (req.sent_ns < g_measure_from)
					continue;
				g_recv_measured++;
				if (g_lat_n < g_lat_cap) {
					g_e2e[g_lat_n] = req.arrived_ns > req.sent_ns ? req.arrived_ns - req.sent_ns : 0;
					g_lat[g_lat_n++] = req.done_ns > req.sent_ns ? req.done_ns - req.sent_ns : 0;
				}
			}
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, double p)
{
	if (!g_lat_n)
		return 0;
	size_t i = (size_t)(p * (g_lat_n - 1));
	return sorted[i] / 1000.0;
}


int main(int argc, char **argv)
{
	const struct flag flags[] = {
		{ "--port", FLAG_INT, { &g_port } },
		{ "--src-port-base", FLAG_INT, { &g_src_port_base } },
		{ "--host", FLAG_STR, { &g_host } },
		{ "--flows", FLAG_INT, { &g_flows } },
		{ "--rate", FLAG_DOUBLE, { &g_rate } },
		{ "--duration-ms", FLAG_MS, { &g_duration_ns } },
		{ "--warmup-ms", FLAG_MS, { &g_warmup_ns } },
		{ "--sender-cpu", FLAG_INT, { &g_sender_cpu } },
		{ "--receiver-cpu", FLAG_INT, { &g_receiver_cpu } },
		{ "--seed", FLAG_U64, { &g_seed } },
	};
	if (!parse_flags(argc, argv, flags, sizeof(flags) / sizeof(flags[0]))) {
		fprintf(stderr, "usage: loadgen [--host A] --port P [--flows N] [--rate R] [--duration-ms D] [--warmup-ms W] [--seed S] [--src-port-base P] [--sender-cpu C] [--receiver-cpu C]\n");
		return 2;
	}
	if (g_port <= 0 || g_flows < 1 || g_flows > MAX_FLOWS || g_rate <= 0) {
		fprintf(stderr, "loadgen: --port, --flows (1..%d) and --rate must be positive\n", MAX_FLOWS);
		return 2;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(g_port) };
	if (inet_pton(AF_INET, g_host, &dst.sin_addr) != 1) {
		fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
		return 2;
	}
	for (int i = 0; i < g_flows; i++) {
		g_fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		int buf = 4 << 20;
		setsockopt(g_fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
		if (g_src_port_base > 0) {
			struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(g_src_port_base + i) };
			int one = 1;
			setsockopt(g_fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(g_fds[i], (struct sockaddr *)&src, sizeof(src)) != 0) {
				perror("loadgen: bind --src-port-base");
				return 1;
			}
		}
		if (g_fds[i] < 0 || connect(g_fds[i], (struct sockaddr *)&dst, sizeof(dst)) != 0) {
			perror("loadgen: socket");
			return 1;
		}
		g_flow_worker[i] = -1;
	}
	g_lat_cap = (size_t)(g_rate * (g_duration_ns / 1e9) * 1.2) + 1024;
	g_lat = malloc(g_lat_cap * sizeof(*g_lat));
	g_e2e = malloc(g_lat_cap * sizeof(*g_e2e));
	g_t0 = now_ns() + 10000000ull;
	g_measure_from = g_t0 + g_warmup_ns;
	g_end = g_t0 + g_duration_ns;
	pthread_t s, r;
	pthread_create(&r, NULL, receiver, NULL);
	pthread_create(&s, NULL, sender, NULL);
	pthread_join(s, NULL);
	pthread_join(r, NULL);
	qsort(g_lat, g_lat_n, sizeof(*g_lat), cmp_u64);
	qsort(g_e2e, g_lat_n, sizeof(*g_e2e), cmp_u64);
	double secs = (g_duration_ns - g_warmup_ns) / 1e9;
	printf("{\"offered\":%.0f,\"sent\":%llu,\"received\":%llu,\"sendErrors\":%llu,\"achieved\":%.0f,"
	       "\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"netP50\":%.2f,\"netP99\":%.2f,"
	       "\"perWorker\":[",
	       g_rate, (unsigned long long)g_sent_measured, (unsigned long long)g_recv_measured,
	       (unsigned long long)g_send_errors, g_recv_measured / secs, pct(g_lat, 0.5), pct(g_lat, 0.9),
	       pct(g_lat, 0.99), pct(g_lat, 0.999), pct(g_lat, 1.0), pct(g_e2e, 0.5), pct(g_e2e, 0.99));
	int workers = 0;
	for (int i = 0; i < MAX_WORKERS; i++)
		if (g_per_worker[i])
			workers = i + 1;
	for (int i = 0; i < workers; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)g_per_worker[i]);
	printf("],\"flowWorker\":[");
	for (int i = 0; i < g_flows; i++)
		printf("%s%d", i ? "," : "", g_flow_worker[i]);
	printf("]}\n");
	return 0;
}
