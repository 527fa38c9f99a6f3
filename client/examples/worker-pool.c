/* worker-pool.c: a small native service under a Syrup policy: a producer hands jobs to registered workers that park when idle. */
/*
 * Build:  cc -O2 -pthread -Iclient/include client/examples/worker-pool.c \
 *            -Lclient/build -lsyrup -Wl,-rpath,$PWD/client/build -o worker-pool
 * Run:    npm run agent -- --enclave cpus=0 --policy fifo &
 *         ./worker-pool syrup 3 60 2000      # enclave, workers, jobs, job length (us)
 *
 * The producer (the main thread) is not registered: it runs under Linux,
 * releases jobs in batches and wakes idle workers by handle. Each worker
 * registers, takes jobs, and parks when there are none. Each job records
 * when and on which cpu it ran; at the end the program prints the cpus its
 * jobs ran on and how many jobs overlapped in time. With one enclave cpu a
 * policy runs one worker at a time, so nothing overlaps; under Linux (pass
 * "-" as the enclave) workers sharing a cpu are time-sliced and do.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "syrup_client.h"

#define MAX_WORKERS 32

struct job { uint64_t start, end; int cpu, worker; };

static syrup_enclave *enc;      /* NULL: run under Linux */
static int njobs, job_us;
static struct job *jobs;
static unsigned released, taken; /* jobs the producer released; jobs workers took */
static syrup_handle handles[MAX_WORKERS];
static int idle[MAX_WORKERS];   /* 1 while a worker is parked or about to park */
static int ready;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void run_job(int w, unsigned j)
{
	jobs[j].worker = w;
	jobs[j].cpu = sched_getcpu();
	jobs[j].start = now_ns();
	while (now_ns() - jobs[j].start < (uint64_t)job_us * 1000)
		; /* the work: job_us of cpu */
	jobs[j].end = now_ns();
}

static void *worker(void *arg)
{
	int w = (int)(long)arg;
	if (enc) {
		int rc = syrup_register(enc, NULL, &handles[w]);
		if (rc) {
			fprintf(stderr, "worker %d: register: %s\n", w, syrup_strerror(rc));
			exit(1);
		}
	}
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		unsigned j = __atomic_load_n(&taken, __ATOMIC_SEQ_CST);
		if (j < __atomic_load_n(&released, __ATOMIC_SEQ_CST)) {
			if (__atomic_compare_exchange_n(&taken, &j, j + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				run_job(w, j);
			continue;
		}
		if (j >= (unsigned)njobs)
			break;
		/* Idle first, then look again: a producer that released jobs after our look sees idle and wakes us
		 * (a wake that comes before the park makes the park return at once). */
		__atomic_store_n(&idle[w], 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&taken, __ATOMIC_SEQ_CST) < __atomic_load_n(&released, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&idle[w], 0, __ATOMIC_SEQ_CST);
			continue;
		}
		if (enc)
			syrup_park(enc);
		else
			usleep(100);
		__atomic_store_n(&idle[w], 0, __ATOMIC_SEQ_CST);
	}
	if (enc)
		syrup_unregister(enc);
	return NULL;
}

static int by_start(const void *a, const void *b)
{
	const struct job *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s ENCLAVE|- [workers=3] [jobs=60] [job_us=2000]\n", argv[0]);
		return 2;
	}
	int nworkers = argc > 2 ? atoi(argv[2]) : 3;
	njobs = argc > 3 ? atoi(argv[3]) : 60;
	job_us = argc > 4 ? atoi(argv[4]) : 2000;
	if (nworkers < 1 || nworkers > MAX_WORKERS || njobs < 1 || job_us < 1) {
		fprintf(stderr, "workers must be 1-%d, jobs and job_us positive\n", MAX_WORKERS);
		return 2;
	}
	if (strcmp(argv[1], "-") != 0) {
		int rc = syrup_attach(argv[1], &enc);
		if (rc) {
			fprintf(stderr, "attach %s: %s (%s)\n", argv[1], syrup_strerror(rc), syrup_errcode(rc));
			return 1;
		}
	}
	jobs = calloc((size_t)njobs, sizeof(*jobs));
	pthread_t t[MAX_WORKERS];
	for (int w = 0; w < nworkers; w++)
		pthread_create(&t[w], NULL, worker, (void *)(long)w);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < nworkers)
		usleep(1000);
	/* Release in batches of one job per worker, waking the idle ones, so workers really park and wake. */
	for (unsigned r = 0; r < (unsigned)njobs;) {
		r += (unsigned)nworkers;
		if (r > (unsigned)njobs)
			r = (unsigned)njobs;
		__atomic_store_n(&released, r, __ATOMIC_SEQ_CST);
		for (int w = 0; w < nworkers; w++)
			if (enc && __atomic_exchange_n(&idle[w], 0, __ATOMIC_SEQ_CST))
				syrup_wake(enc, handles[w]);
		while (__atomic_load_n(&taken, __ATOMIC_SEQ_CST) < r)
			usleep(200);
	}
	for (int w = 0; w < nworkers; w++) {
		if (enc)
			syrup_wake(enc, handles[w]); /* the last park: let everyone see that the jobs are done */
		pthread_join(t[w], NULL);
	}

	qsort(jobs, (size_t)njobs, sizeof(*jobs), by_start);
	int overlaps = 0;
	uint64_t cpus = 0, end = 0;
	for (int j = 0; j < njobs; j++) {
		if (jobs[j].start < end)
			overlaps++;
		if (jobs[j].end > end)
			end = jobs[j].end;
		if (jobs[j].cpu >= 0 && jobs[j].cpu < 64)
			cpus |= 1ull << jobs[j].cpu;
	}
	printf("jobs=%d workers=%d overlaps=%d cpus=", njobs, nworkers, overlaps);
	for (int c = 0, first = 1; c < 64; c++)
		if (cpus & (1ull << c)) {
			printf(first ? "%d" : ",%d", c);
			first = 0;
		}
	printf(" detached=%d\n", enc ? (int)syrup_detached(enc) : 0);
	return 0;
}
