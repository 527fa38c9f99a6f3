/* poller.c: the idle poller of an enclave cpu, a SCHED_IDLE agent thread there that does the futex wakes the agent hands it. */
#include "shim.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

/*
 * Why: a placement on an idle cpu ends in a futex wake of the placed thread.
 * Made by the agent, from its own cpu, that wake is an IPI to a halted vCPU:
 * measured here 6.2-6.6 us of the agent's time per wake and 20 us until the
 * thread runs (a SCHED_IDLE spinner on the target cpu brings the latter to
 * 11 us, not the former). Made on the target cpu by a thread already running
 * there, it costs the agent one store, and the thread runs 2.2 us after it
 * (the same measurement, one run each way). On a 2-vCPU
 * layout the agent's cpu is the bottleneck, so this is capacity, not only
 * latency.
 *
 * The poller is SCHED_IDLE: any enclave thread placed on the cpu preempts it
 * at once, and it runs only while the cpu would otherwise halt. A delegated
 * wake therefore waits at most for whatever non-enclave thread holds the cpu;
 * the agent takes it back after SYR_POLL_GRACE_NS (syr_poll_reclaim) so even
 * a poller that never runs delays a placement by a bounded amount.
 *
 * Protocol (syr_cpu.wake, syr_cpu.poll_state; both seq_cst):
 *  - agent: CAS wake 0 -> slot+1, then read poll_state; if the poller went to
 *    sleep meanwhile, take the wake back (xchg) and make it itself. Poller:
 *    store poll_state SLEEPING, then read wake. Dekker: one of them sees the
 *    other, so no wake is left with a sleeping poller.
 *  - the poller takes a wake with xchg, so a wake is made once: by the poller
 *    or by the agent's reclaim, never both.
 *  - after spin_ns of continuous idleness the poller sleeps on poll_state; the
 *    thread that next leaves the cpu idle wakes it (syr_poll_cpu_idle, from
 *    the cpu itself: a local wake), so an idle enclave cpu does not spin
 *    forever. spin_ns 0: never sleeps.
 * A lost wake (the agent dies with one pending) is harmless: the clients'
 * watchdog detaches every thread with a wake of its own.
 */

/* A poller loop gap this long means it was off the cpu: something ran there, the idle period restarts. */
#define POLL_PREEMPTED_NS 20000ull
/* Read the clock once per this many polls (~2-4 us): the gap check needs no finer grain. */
#define POLL_CLOCK_EVERY 64

struct syr_poller {
	pthread_t th;
	struct syr_region *r;
	int cpu;
	uint64_t spin_ns;
	int stop;
	uint64_t wakes, sleeps;
	int err; /* errno of a failed pin or policy change, reported by syr_poller_start */
	int ready;
};

static void take_wake(struct syr_poller *p, struct syr_cpu *c)
{
	uint32_t w = __atomic_exchange_n(&c->wake, 0, __ATOMIC_SEQ_CST);
	if (w && w <= SYR_MAX_TASKS) {
		syr_futex_wake(&p->r->tasks[w - 1].run, 1);
		__atomic_fetch_add(&p->wakes, 1, __ATOMIC_RELAXED);
	}
}

static void poller_sleep(struct syr_poller *p, struct syr_cpu *c)
{
	uint32_t sp = SYR_POLL_SPINNING;
	if (!__atomic_compare_exchange_n(&c->poll_state, &sp, SYR_POLL_SLEEPING, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	if (__atomic_load_n(&c->wake, __ATOMIC_SEQ_CST) == 0 && !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
		syr_futex_wait(&c->poll_state, SYR_POLL_SLEEPING);
	uint32_t sl = SYR_POLL_SLEEPING;
	__atomic_compare_exchange_n(&c->poll_state, &sl, SYR_POLL_SPINNING, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&p->sleeps, 1, __ATOMIC_RELAXED);
}

static void *poller_main(void *arg)
{
	struct syr_poller *p = arg;
	struct syr_cpu *c = &p->r->cpus[p->cpu];
	struct sched_param sp = {0};
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0 || sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
		p->err = errno;
	__atomic_store_n(&p->ready, 1, __ATOMIC_SEQ_CST);
	if (p->err)
		return NULL;
	__atomic_store_n(&c->poll_state, SYR_POLL_SPINNING, __ATOMIC_SEQ_CST);
	uint64_t prev = syr_now_ns(), idle_since = prev;
	unsigned n = 0;
	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&c->wake, __ATOMIC_RELAXED)) {
			take_wake(p, c);
			idle_since = prev = syr_now_ns();
			continue;
		}
		__builtin_ia32_pause();
		if (++n % POLL_CLOCK_EVERY)
			continue;
		uint64_t t = syr_now_ns();
		if (t - prev > POLL_PREEMPTED_NS)
			idle_since = t;
		prev = t;
		if (p->spin_ns && t - idle_since > p->spin_ns) {
			poller_sleep(p, c);
			idle_since = prev = syr_now_ns();
		}
	}
	__atomic_store_n(&c->poll_state, SYR_POLL_NONE, __ATOMIC_SEQ_CST);
	take_wake(p, c); /* one handed over just before the stop */
	return NULL;
}

int syr_poller_start(struct syr_region *r, int cpu, uint64_t spin_ns, struct syr_poller **out)
{
	struct syr_poller *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->r = r;
	p->cpu = cpu;
	p->spin_ns = spin_ns;
	/* Not inherited: the creating agent thread may be SCHED_FIFO on its own cpu. */
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&at, SCHED_OTHER);
	struct sched_param zero = {0}; /* else glibc takes the creator's realtime priority: EINVAL for SCHED_OTHER */
	pthread_attr_setschedparam(&at, &zero);
	int rc = pthread_create(&p->th, &at, poller_main, p);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		free(p);
		return -rc;
	}
	while (!__atomic_load_n(&p->ready, __ATOMIC_SEQ_CST))
		sched_yield();
	if (p->err) {
		int e = p->err;
		pthread_join(p->th, NULL);
		free(p);
		return -e;
	}
	*out = p;
	return 0;
}

void syr_poller_stop(struct syr_poller *p, uint64_t *wakes, uint64_t *sleeps)
{
	if (!p)
		return;
	struct syr_cpu *c = &p->r->cpus[p->cpu];
	__atomic_store_n(&p->stop, 1, __ATOMIC_SEQ_CST);
	uint32_t sl = SYR_POLL_SLEEPING;
	if (__atomic_compare_exchange_n(&c->poll_state, &sl, SYR_POLL_SPINNING, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		syr_futex_wake(&c->poll_state, 1);
	pthread_join(p->th, NULL);
	if (wakes)
		*wakes += p->wakes;
	if (sleeps)
		*sleeps += p->sleeps;
	free(p);
}

void syr_poller_counts(const struct syr_poller *p, uint64_t *wakes, uint64_t *sleeps)
{
	*wakes += __atomic_load_n(&p->wakes, __ATOMIC_RELAXED);
	*sleeps += __atomic_load_n(&p->sleeps, __ATOMIC_RELAXED);
}

bool syr_poll_delegate(struct syr_region *r, int cpu, uint32_t slot)
{
	struct syr_cpu *c = &r->cpus[cpu];
	if (__atomic_load_n(&c->poll_state, __ATOMIC_SEQ_CST) != SYR_POLL_SPINNING)
		return false;
	uint32_t zero = 0;
	if (!__atomic_compare_exchange_n(&c->wake, &zero, slot + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return false;
	if (__atomic_load_n(&c->poll_state, __ATOMIC_SEQ_CST) == SYR_POLL_SPINNING)
		return true;
	/* It went to sleep (or stopped) as we handed over: take the wake back unless it already made it. */
	return __atomic_exchange_n(&c->wake, 0, __ATOMIC_SEQ_CST) == 0;
}

uint32_t syr_poll_reclaim(struct syr_region *r, int cpu)
{
	uint32_t w = __atomic_exchange_n(&r->cpus[cpu].wake, 0, __ATOMIC_SEQ_CST);
	if (w && w <= SYR_MAX_TASKS)
		syr_futex_wake(&r->tasks[w - 1].run, 1);
	return w;
}
