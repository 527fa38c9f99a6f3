/* placement.c: the run-word and cpu-occupancy protocol that both the agent and client threads follow. */
#include "shim.h"

/*
 * A cpu's occupancy is the pair {cur, next} (slot+1, 0 = none), adjacent u32s
 * in struct syr_cpu updated together with one 64-bit CAS: the agent latches a
 * successor into next while cur still runs, and whoever makes cur leave (the
 * thread itself, or the agent for a thread that blocked in the kernel or
 * died) moves next into cur in the same CAS. Updating the pair atomically is
 * what closes the race where a successor is latched just as cur leaves and
 * would otherwise wait on an idle cpu forever.
 */
static inline uint64_t *occ_word(struct syr_cpu *c)
{
	_Static_assert(__builtin_offsetof(struct syr_cpu, next) == __builtin_offsetof(struct syr_cpu, cur) + 4,
		       "cur/next must be adjacent");
	return (uint64_t *)&c->cur;
}
static inline uint32_t occ_cur(uint64_t v) { return (uint32_t)v; }
static inline uint32_t occ_next(uint64_t v) { return (uint32_t)(v >> 32); }
static inline uint64_t occ_make(uint32_t cur, uint32_t next) { return (uint64_t)cur | ((uint64_t)next << 32); }

/*
 * A client thread that leaves its cpu posts its leaving message before the
 * successor's futex wake: on their shared cpu the wake preempts the leaver at
 * once (CFS wakeup preemption), and a leaver preempted between the wake and
 * its post kept the agent from preempting on that cpu (the victim had not
 * said it left) until Linux ran it again: measured up to 2.7 ms, behind a
 * whole RANGE. The hand-over itself (occupancy and run word) still happens
 * before the post, so an agent that reads the message finds the cpu handed
 * over. One leave starts at most one successor, so one pending wake suffices.
 */
static __thread int defer_wakes;
static __thread uint32_t *pending_wake;

void syr_defer_wakes(void)
{
	defer_wakes = 1;
}

void syr_flush_wakes(void)
{
	uint32_t *w = pending_wake;
	defer_wakes = 0;
	pending_wake = NULL;
	if (w)
		syr_futex_wake(w, 1);
}

int syr_start_nowake(struct syr_region *r, uint32_t slot, uint32_t gen)
{
	struct syr_task *t = &r->tasks[slot];
	uint32_t old = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	if (syr_run_state(old) == SYR_RUN_DETACHED)
		return SYR_STARTED;
	if (syr_run_gen(old) != gen)
		return SYR_NOT_STARTED; /* it left since: leave any request made for its new episode alone */
	/* Clear the park request first: a handler that read it will then fail its run-word CAS. */
	__atomic_store_n(&t->preempt, 0, __ATOMIC_SEQ_CST);
	uint32_t nw;
	do {
		if (syr_run_state(old) == SYR_RUN_DETACHED)
			return SYR_STARTED;
		if (syr_run_gen(old) != gen)
			return SYR_NOT_STARTED;
		nw = ((gen + 1) << SYR_RUN_GEN_SHIFT) | SYR_RUN_RUN;
	} while (!__atomic_compare_exchange_n(&t->run, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	/* A thread still spinning (or running) needs no syscall. */
	return syr_run_state(old) == SYR_RUN_WAIT_SLEEPING ? SYR_STARTED_ASLEEP : SYR_STARTED;
}

bool syr_start(struct syr_region *r, uint32_t slot, uint32_t gen)
{
	int s = syr_start_nowake(r, slot, gen);
	if (s == SYR_STARTED_ASLEEP) {
		uint32_t *w = &r->tasks[slot].run;
		if (defer_wakes && !pending_wake)
			pending_wake = w;
		else
			syr_futex_wake(w, 1);
	}
	return s != SYR_NOT_STARTED;
}

/*
 * The cpu has just gone idle: a poller asleep there (past its spin window)
 * polls again. Called by whoever emptied the cpu, mostly the leaving thread on
 * that cpu itself, so the wake is local; one load when no poller sleeps.
 */
static void cpu_went_idle(struct syr_region *r, int cpu)
{
	uint32_t *ps = &r->cpus[cpu].poll_state;
	uint32_t sl = SYR_POLL_SLEEPING;
	if (__atomic_load_n(ps, __ATOMIC_RELAXED) == SYR_POLL_SLEEPING &&
	    __atomic_compare_exchange_n(ps, &sl, SYR_POLL_SPINNING, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		syr_futex_wake(ps, 1);
}

/*
 * Replace holder `leaving` with its successor and start it. A successor that
 * left on its own while latched (parked or yielded) normally took itself off
 * the latch first (syr_vacate); one that did so only after this CAS promoted
 * it has a newer gen than it was latched at, so the start does nothing and it
 * leaves in turn: the cpu never stays held by a thread that is not there to
 * run it, and a thread inside park() is never started by a stale hand-over.
 */
static uint32_t hand_over(struct syr_region *r, uint64_t *w, uint32_t leaving, int cpu, bool need_next)
{
	uint64_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	for (;;) {
		if (occ_cur(old) != leaving)
			return 0; /* not ours (already handed over, or never placed here) */
		uint32_t nx = occ_next(old);
		if (need_next && !nx)
			return 0;
		if (!__atomic_compare_exchange_n(w, &old, occ_make(nx, 0), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			continue;
		if (!nx) {
			cpu_went_idle(r, cpu);
			return 0;
		}
		struct syr_task *s = &r->tasks[nx - 1];
		s->cpu = cpu;
		if (syr_start(r, nx - 1, __atomic_load_n(&s->latch_gen, __ATOMIC_SEQ_CST)))
			return nx;
		leaving = nx;
		need_next = false;
		old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	}
}

uint32_t syr_leave_cpu(struct syr_region *r, uint32_t slot, int cpu)
{
	if (cpu < 0 || cpu >= SYR_MAX_CPUS)
		return 0;
	return hand_over(r, occ_word(&r->cpus[cpu]), slot + 1, cpu, false);
}

/* Slot no longer waits latched on cpu. */
static void unlatch(struct syr_region *r, uint32_t slot, int cpu)
{
	if (cpu < 0 || cpu >= SYR_MAX_CPUS)
		return;
	uint64_t *w = occ_word(&r->cpus[cpu]);
	uint64_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	while (occ_next(old) == slot + 1 &&
	       !__atomic_compare_exchange_n(w, &old, occ_make(occ_cur(old), 0), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

void syr_vacate(struct syr_region *r, uint32_t slot, int cpu)
{
	unlatch(r, slot, cpu);
	syr_leave_cpu(r, slot, cpu);
}

/* Agent side: claim cpu for slot. 0 = placed on an idle cpu, 1 = latched behind holder *victim, <0 = busy. */
int syr_occupy(struct syr_region *r, uint32_t slot, int cpu, uint32_t *victim)
{
	uint64_t *w = occ_word(&r->cpus[cpu]);
	uint64_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	for (;;) {
		if (occ_next(old) != 0)
			return -1;
		if (occ_cur(old) == 0) {
			if (__atomic_compare_exchange_n(w, &old, occ_make(slot + 1, 0), false, __ATOMIC_SEQ_CST,
							__ATOMIC_SEQ_CST))
				return 0;
		} else {
			if (__atomic_compare_exchange_n(w, &old, occ_make(occ_cur(old), slot + 1), false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				*victim = occ_cur(old) - 1;
				return 1;
			}
		}
	}
}

/* Does slot hold cpu (not merely wait latched on it)? */
bool syr_is_holder(struct syr_region *r, uint32_t slot, int cpu)
{
	if (cpu < 0 || cpu >= SYR_MAX_CPUS)
		return false;
	return occ_cur(__atomic_load_n(occ_word(&r->cpus[cpu]), __ATOMIC_SEQ_CST)) == slot + 1;
}

/* Agent side: is slot holding or latched on cpu? */
bool syr_holds(struct syr_region *r, uint32_t slot, int cpu)
{
	if (cpu < 0 || cpu >= SYR_MAX_CPUS)
		return false;
	uint64_t v = __atomic_load_n(occ_word(&r->cpus[cpu]), __ATOMIC_SEQ_CST);
	return occ_cur(v) == slot + 1 || occ_next(v) == slot + 1;
}

/* Agent side: a latched successor waited too long for its victim; give it the cpu anyway. */
uint32_t syr_force_handoff(struct syr_region *r, int cpu)
{
	uint64_t *w = occ_word(&r->cpus[cpu]);
	return hand_over(r, w, occ_cur(__atomic_load_n(w, __ATOMIC_SEQ_CST)), cpu, true);
}
