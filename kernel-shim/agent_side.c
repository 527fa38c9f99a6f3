/* agent_side.c: the kernel's half of ghOSt, played by the agent process: BPF lifecycle, ordered delivery, commit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shim.h"
#include "syrup_sched.skel.h"

/*
 * Liveness and exclusivity: the agent holds an exclusive flock on the
 * region file for its whole life. The kernel drops it when the process dies
 * however it dies, so "is there a live agent?" is "can I take the lock?",
 * with no pid-reuse guesswork. A region whose lock is free is stale: the
 * next agent unlinks it and creates a fresh one (clients of the dead agent
 * keep their old mapping and have already detached).
 *
 * Delivery order: messages come from two rings (BPF for kernel events, the
 * client ring for library events) and are merged per task by seqnum. A
 * message ahead of its task's next expected seqnum is held until the gap
 * fills; a gap that stays open past reorder_timeout_ns (a message lost to a
 * full ring) is skipped and counted, so one lost message cannot stall a task.
 */

#define SYR_HELD_MAX 1024

struct syr_held {
	struct syr_msg m;
	uint64_t at;
};

struct syr_agent {
	struct syr_map m;
	struct syrup_sched *skel;
	struct ring_buffer *rb;
	int tids_fd;
	char shm_path[96];
	char pin_dir[128];
	char kstat_pin[160];
	char tids_pin[160];
	struct syr_agent_opts o;
	uint64_t cpumask[SYR_MAX_CPUS / 64];
	int cpus[SYR_MAX_CPUS];
	int ncpus;
	uint32_t expect[SYR_MAX_TASKS];
	uint8_t gone[SYR_MAX_TASKS]; /* TASK_DEAD/DEPARTED delivered: later messages are trailing noise */
	uint8_t evicted[SYR_MAX_TASKS]; /* handed back to Linux while the enclave lives (syr_agent_evict) */
	struct syr_held held[SYR_HELD_MAX];
	int nheld;
	struct syr_msg *stage;
	size_t stage_head, stage_len, stage_cap;
	struct syr_agent_counters cnt;
	uint64_t now;
	uint32_t stuck_head; /* head+1 of a claimed-unpublished client cell being waited on, 0 = none */
	uint64_t stuck_since;
	/* Preemption signals held back for a grace period (the cooperative flag is already set). */
	struct syr_sig_due {
		uint32_t slot, word;
		uint64_t due;
	} sig_due[SYR_MAX_CPUS];
	int nsig_due;
	/* Idle pollers, by index in cpus[]; wakes handed to them and not yet seen taken. */
	struct syr_poller *pollers[SYR_MAX_CPUS];
	uint64_t wake_ns[SYR_MAX_CPUS];
	int nwakes;
};

static void expire_wakes(struct syr_agent *a);

static bool in_mask(const uint64_t *mask, int cpu)
{
	return cpu >= 0 && cpu < SYR_MAX_CPUS && (mask[cpu / 64] >> (cpu % 64)) & 1;
}

static int stage_push(struct syr_agent *a, const struct syr_msg *m)
{
	if (a->stage_len == a->stage_cap) {
		size_t ncap = a->stage_cap ? a->stage_cap * 2 : 4096;
		struct syr_msg *n = malloc(ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < a->stage_len; i++)
			n[i] = a->stage[(a->stage_head + i) % a->stage_cap];
		free(a->stage);
		a->stage = n;
		a->stage_head = 0;
		a->stage_cap = ncap;
	}
	a->stage[(a->stage_head + a->stage_len) % a->stage_cap] = *m;
	a->stage_len++;
	return 0;
}

/*
 * Forget tid -> slot in the BPF filter, but only if it still points at this
 * slot: a thread that unregistered and registered again (or a recycled tid)
 * may already own the entry under its new slot.
 */
static void forget_tid(struct syr_agent *a, uint32_t tid, uint32_t slot)
{
	uint32_t cur;
	if (bpf_map_lookup_elem(a->tids_fd, &tid, &cur) == 0 && cur == slot)
		bpf_map_delete_elem(a->tids_fd, &tid);
}

/* The shim's own bookkeeping for a message, applied as it is delivered, before the policy sees it. */
static void apply(struct syr_agent *a, const struct syr_msg *m)
{
	struct syr_region *r = a->m.r;
	struct syr_task *t = &r->tasks[m->slot];
	struct syr_kstat *ks = &a->m.ks[m->slot];
	switch (m->type) {
	case SYR_MSG_TASK_NEW: {
		uint32_t tid = m->tid, slot = m->slot;
		/* From here on BPF reports this thread's switches. */
		bpf_map_update_elem(a->tids_fd, &tid, &slot, BPF_ANY);
		__atomic_or_fetch(&ks->flags, SYR_KF_ACTIVE, __ATOMIC_SEQ_CST);
		break;
	}
	case SYR_MSG_TASK_BLOCKED:
	case SYR_MSG_TASK_PREEMPT:
		if (m->src != SYR_SRC_CLIENT) {
			/* It slept or lost the cpu in the kernel: the cpu is free for the next task.
			 * A latched task only gets here running unplaced (a latched thread is parked,
			 * and BPF is silent about it): it loses the latch, as the agent loop forgets it. */
			syr_vacate(r, m->slot, t->cpu);
			t->cpu = -1;
		}
		break;
	case SYR_MSG_TASK_DEAD:
		/* It may hold its cpu, or wait latched behind the holder: drop both. */
		syr_vacate(r, m->slot, t->cpu);
		t->cpu = -1;
		__atomic_store_n(&t->state, SYR_SLOT_DEAD, __ATOMIC_SEQ_CST);
		__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_ACTIVE, __ATOMIC_SEQ_CST);
		break;
	case SYR_MSG_TASK_DEPARTED: {
		forget_tid(a, m->tid, m->slot);
		__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_ACTIVE, __ATOMIC_SEQ_CST);
		break;
	}
	}
}

static void deliver(struct syr_agent *a, const struct syr_msg *m)
{
	if (a->gone[m->slot]) {
		/* e.g. the thread's own switches between unregister() and the agent dropping its tid */
		a->cnt.late_msgs++;
		return;
	}
	bool gone = m->type == SYR_MSG_TASK_DEAD || m->type == SYR_MSG_TASK_DEPARTED;
	if (gone)
		a->gone[m->slot] = 1;
	apply(a, m);
	a->expect[m->slot] = m->seq + 1;
	if (a->evicted[m->slot]) {
		/* Handed back to Linux: the shim still keeps its books (the thread's exit or
		 * unregister is what frees the slot), but the agent loop has forgotten the task. */
		a->cnt.evicted_msgs++;
		if (gone)
			syr_agent_release_slot(a, m->slot);
		return;
	}
	stage_push(a, m);
}

/* Deliver held messages of slot that are now in order. */
static void flush_held(struct syr_agent *a, uint32_t slot)
{
	bool again = true;
	while (again) {
		again = false;
		for (int i = 0; i < a->nheld; i++) {
			if (a->held[i].m.slot == slot && a->held[i].m.seq == a->expect[slot]) {
				struct syr_msg m = a->held[i].m;
				a->held[i] = a->held[--a->nheld];
				deliver(a, &m);
				again = true;
				break;
			}
		}
	}
}

static void accept(struct syr_agent *a, const struct syr_msg *m, bool from_kernel)
{
	struct syr_region *r = a->m.r;
	if (m->type == SYR_MSG_NONE || m->type >= SYR_MSG_TYPE_COUNT || m->slot >= a->o.max_tasks ||
	    m->src > SYR_SRC_SHIM) {
		a->cnt.bad_msgs++;
		return;
	}
	struct syr_task *t = &r->tasks[m->slot];
	if (m->tid != t->tid || t->state == SYR_SLOT_FREE) {
		/* The BPF ring cannot be forged: a message from it for a slot already freed (or
		 * reused) is a switch that raced the thread's exit or unregister. From the client
		 * ring, which any registered process can write, it counts as bad. */
		if (from_kernel)
			a->cnt.late_msgs++;
		else
			a->cnt.bad_msgs++;
		return;
	}
	/* Both producers bump the barrier before they publish, so a genuine message is never ahead of
	 * it; one that is was forged or corrupted, and would make every real message look stale. */
	if ((int32_t)(m->seq - __atomic_load_n(&a->m.ks[m->slot].barrier, __ATOMIC_SEQ_CST)) > 0) {
		a->cnt.bad_msgs++;
		return;
	}
	uint32_t e = a->expect[m->slot];
	if (m->type == SYR_MSG_TASK_NEW || e == 0)
		e = m->seq;
	if (m->seq == e) {
		deliver(a, m);
		flush_held(a, m->slot);
	} else if ((int32_t)(m->seq - e) > 0) {
		a->cnt.reordered++;
		if (a->nheld == SYR_HELD_MAX) {
			/* Nowhere to hold it: deliver out of order rather than lose it. */
			a->cnt.seq_gaps++;
			deliver(a, m);
			return;
		}
		a->held[a->nheld].m = *m;
		a->held[a->nheld].at = a->now;
		a->nheld++;
	} else {
		a->cnt.dup_msgs++;
	}
}

/* Gaps that stayed open too long: a message was lost; skip ahead to the oldest held seqnum. */
static void expire_held(struct syr_agent *a)
{
	for (int i = 0; i < a->nheld; i++) {
		if (a->now - a->held[i].at < a->o.reorder_timeout_ns)
			continue;
		uint32_t slot = a->held[i].m.slot;
		uint32_t lo = a->held[i].m.seq;
		for (int j = 0; j < a->nheld; j++)
			if (a->held[j].m.slot == slot && (int32_t)(a->held[j].m.seq - lo) < 0)
				lo = a->held[j].m.seq;
		a->cnt.seq_gaps++;
		a->expect[slot] = lo;
		flush_held(a, slot);
		i = -1; /* the array changed */
	}
}

static int on_kernel_msg(void *ctx, void *data, size_t size)
{
	struct syr_agent *a = ctx;
	if (size < sizeof(struct syr_msg)) {
		a->cnt.bad_msgs++;
		return 0;
	}
	a->cnt.kernel_msgs++;
	accept(a, data, true);
	return 0;
}

/* How long a claimed, unpublished cell at head may block the ring before its owner is checked. */
#define SYR_CRING_STUCK_NS (5ull * 1000 * 1000)

static void drain_cring(struct syr_agent *a)
{
	struct syr_cring *q = &a->m.r->cring;
	uint32_t head = q->head;
	for (;;) {
		struct syr_cring_cell *cell = &q->cells[head & (SYR_CRING_SLOTS - 1)];
		uint64_t w = __atomic_load_n(syr_cell_word(cell), __ATOMIC_ACQUIRE);
		uint32_t seq = (uint32_t)w, owner = (uint32_t)(w >> 32);
		if (seq == head && owner != 0) {
			/* Claimed, not yet published. Normally a few stores away; a producer that died
			 * here would block every later client message, so after a while check it. */
			if (a->stuck_head != head + 1) {
				a->stuck_head = head + 1;
				a->stuck_since = a->now;
				break;
			}
			if (a->now - a->stuck_since < SYR_CRING_STUCK_NS)
				break;
			a->stuck_since = a->now; /* check again no sooner than another period */
			if (!syr_cring_reclaim(a->m.r, head, owner))
				break;
			a->cnt.cring_reclaimed++;
			head++;
			continue;
		}
		if (seq != head + 1)
			break;
		struct syr_msg m = cell->msg;
		__atomic_store_n(syr_cell_word(cell), syr_cell_make(head + SYR_CRING_SLOTS, 0), __ATOMIC_RELEASE);
		head++;
		a->cnt.client_msgs++;
		accept(a, &m, false);
	}
	__atomic_store_n(&q->head, head, __ATOMIC_RELEASE);
}

/* Preemptions whose victim never let go (signal blocked, stuck in a syscall): give the successor the cpu. */
static void expire_latches(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	for (int i = 0; i < a->ncpus; i++) {
		struct syr_cpu *c = &r->cpus[a->cpus[i]];
		/* A queued successor waits for the holder as long as it takes; only a preemption times out. */
		if (c->latch_kind == SYR_LATCH_QUEUED)
			continue;
		if (__atomic_load_n(&c->next, __ATOMIC_RELAXED) && a->now - c->latch_ns > a->o.latch_timeout_ns) {
			if (syr_force_handoff(r, a->cpus[i]))
				a->cnt.latch_timeouts++;
		}
	}
}

static int send_signal(struct syr_agent *a, struct syr_task *t)
{
	a->cnt.signals++;
	return syscall(SYS_tgkill, t->pid, t->tid, a->o.preempt_signo) == 0 ? 0 : -errno;
}

/* Held-back preemption signals: send those whose grace ran out and whose request still stands. */
static void fire_due_signals(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	for (int i = 0; i < a->nsig_due; i++) {
		struct syr_sig_due *d = &a->sig_due[i];
		struct syr_task *t = &r->tasks[d->slot];
		bool stands = __atomic_load_n(&t->preempt, __ATOMIC_SEQ_CST) == d->word;
		if (stands && a->now < d->due)
			continue;
		/* Gone from the word: the thread honoured it at a checkpoint() (or was re-placed). */
		if (stands)
			send_signal(a, t);
		else
			a->cnt.coop_preempts++;
		*d = a->sig_due[--a->nsig_due];
		i--;
	}
}

int syr_agent_drain(struct syr_agent *a, struct syr_msg *out, int cap)
{
	a->now = syr_now_ns();
	ring_buffer__consume(a->rb);
	drain_cring(a);
	if (a->nheld)
		expire_held(a);
	expire_latches(a);
	if (a->nwakes)
		expire_wakes(a);
	if (a->nsig_due)
		fire_due_signals(a);
	int n = 0;
	while (n < cap && a->stage_len > 0) {
		out[n++] = a->stage[a->stage_head];
		a->stage_head = (a->stage_head + 1) % a->stage_cap;
		a->stage_len--;
	}
	return n;
}

static int request_park(struct syr_agent *a, uint32_t slot, uint32_t kind, bool holder_too);

/* The earliest moment one of the shim's own timers needs the agent awake, capped at `until`. */
static uint64_t next_timer(struct syr_agent *a, uint64_t until)
{
	for (int i = 0; i < a->nsig_due; i++)
		if (a->sig_due[i].due < until)
			until = a->sig_due[i].due;
	for (int i = 0; i < a->nheld; i++)
		if (a->held[i].at + a->o.reorder_timeout_ns < until)
			until = a->held[i].at + a->o.reorder_timeout_ns;
	struct syr_region *r = a->m.r;
	for (int i = 0; i < a->ncpus; i++) {
		struct syr_cpu *c = &r->cpus[a->cpus[i]];
		if (c->latch_kind != SYR_LATCH_QUEUED && __atomic_load_n(&c->next, __ATOMIC_RELAXED) &&
		    c->latch_ns + a->o.latch_timeout_ns < until)
			until = c->latch_ns + a->o.latch_timeout_ns;
	}
	return until;
}

/*
 * For agents that share their cpu: instead of spinning (or sched_yield, which
 * under SCHED_FIFO yields to no normal thread at all), block on
 * hdr.agent_sleep. Client posts wake it (syr_cring_post); kernel events (BPF
 * ring) do not, so max_ns bounds how late one is seen, and the shim's own
 * timers (held-back signals, latch and reorder timeouts) cut the wait short.
 */
uint64_t syr_agent_sleep(struct syr_agent *a, uint64_t max_ns)
{
	uint32_t *flag = &a->m.r->hdr.agent_sleep;
	uint64_t now = syr_now_ns();
	uint64_t until = next_timer(a, now + max_ns);
	if (until <= now + 2000 || a->stage_len > 0)
		return 0;
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	/* The last look, after the flag: a message published before it is seen here. */
	struct syr_cring *q = &a->m.r->cring;
	uint64_t w = __atomic_load_n(syr_cell_word(&q->cells[q->head & (SYR_CRING_SLOTS - 1)]), __ATOMIC_SEQ_CST);
	if ((uint32_t)w == q->head + 1 || (uint32_t)(w >> 32) != 0 || ring_buffer__consume(a->rb) > 0) {
		__atomic_store_n(flag, 0, __ATOMIC_SEQ_CST);
		return 0;
	}
	uint64_t ns = until - now;
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	syscall(SYS_futex, flag, FUTEX_WAIT, 1, &ts, NULL, 0);
	/* 0 already: a poster took the flag down to wake us. */
	if (__atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST) == 0)
		a->cnt.sleep_wakeups++;
	uint64_t slept = syr_now_ns() - now;
	a->cnt.sleeps++;
	a->cnt.sleep_ns += slept;
	return slept;
}

int syr_agent_request_park(struct syr_agent *a, uint32_t slot, uint32_t kind)
{
	if (slot >= a->o.max_tasks || (kind != SYR_PREEMPT_SILENT && kind != SYR_PREEMPT_YIELD))
		return -EINVAL;
	return request_park(a, slot, kind, false);
}

/*
 * The agent loop asks for a silent park of a task it believes unplaced, or
 * latched and not started. Its view lags the shim's by the messages still in
 * flight: a latched task may already hold the cpu (its holder handed over).
 * Parking that one silently would leave a cpu the loop is about to see as
 * held, with no message ever to say otherwise; so a silent park never takes
 * a holder, except at an upgrade hand-over (holder_too), which means it.
 * The run gen is read before the check: a hand-over after it starts the task
 * at gen + 1, which makes this request stale for the handler.
 */
static int request_park(struct syr_agent *a, uint32_t slot, uint32_t kind, bool holder_too)
{
	struct syr_region *r = a->m.r;
	struct syr_task *t = &r->tasks[slot];
	uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	if (syr_run_state(run) != SYR_RUN_RUN || t->state != SYR_SLOT_ACTIVE)
		return 0;
	if (kind == SYR_PREEMPT_SILENT && !holder_too && syr_is_holder(r, slot, t->cpu))
		return 0;
	/* A queued successor waiting behind this thread now waits on a preemption: it may time out. */
	int cpu = t->cpu;
	if (kind == SYR_PREEMPT_YIELD && cpu >= 0 && cpu < SYR_MAX_CPUS && r->cpus[cpu].latch_kind == SYR_LATCH_QUEUED) {
		r->cpus[cpu].latch_ns = a->now;
		r->cpus[cpu].latch_kind = SYR_LATCH_PREEMPT;
	}
	/* The cooperative flag first: a thread at a checkpoint() sees it without the signal. */
	uint32_t word = (syr_run_gen(run) << 2) | kind;
	/* The same silent park still standing: its signal is on its way (the thread has not
	 * had the cpu to take it yet); another would only queue behind it. */
	if (kind == SYR_PREEMPT_SILENT && __atomic_load_n(&t->preempt, __ATOMIC_SEQ_CST) == word)
		return 1;
	__atomic_store_n(&t->preempt, word, __ATOMIC_SEQ_CST);
	/* With a grace period the signal waits: a thread that reaches a checkpoint() first
	 * leaves for the price of a load instead of a signal delivery. SILENT parks do not
	 * wait (the thread is running unplaced, against the policy's will). */
	if (a->o.preempt_grace_ns && kind == SYR_PREEMPT_YIELD && a->nsig_due < SYR_MAX_CPUS) {
		for (int i = 0; i < a->nsig_due; i++)
			if (a->sig_due[i].slot == slot) {
				a->sig_due[i].word = word;
				return 1;
			}
		a->sig_due[a->nsig_due++] = (struct syr_sig_due){slot, word, a->now + a->o.preempt_grace_ns};
		return 1;
	}
	int rc = send_signal(a, t);
	return rc ? rc : 1;
}

/* A thread placed on an idle cpu sleeps: its cpu's poller wakes it if there is one (poller.c says why). */
static void wake_placed(struct syr_agent *a, uint32_t slot, int cpu)
{
	struct syr_region *r = a->m.r;
	if (a->o.idle_poll_ns && syr_poll_delegate(r, cpu, slot)) {
		a->cnt.poll_delegated++;
		if (a->wake_ns[cpu] == 0)
			a->nwakes++;
		a->wake_ns[cpu] = a->now;
		return;
	}
	syr_futex_wake(&r->tasks[slot].run, 1);
}

/* Forget the wakes pollers have made; make those a poller left waiting past its grace. */
static void expire_wakes(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	for (int i = 0; i < a->ncpus && a->nwakes > 0; i++) {
		int cpu = a->cpus[i];
		if (!a->wake_ns[cpu])
			continue;
		if (__atomic_load_n(&r->cpus[cpu].wake, __ATOMIC_SEQ_CST) != 0) {
			if (a->now - a->wake_ns[cpu] < SYR_POLL_GRACE_NS)
				continue;
			if (syr_poll_reclaim(r, cpu))
				a->cnt.poll_reclaimed++;
		}
		a->wake_ns[cpu] = 0;
		a->nwakes--;
	}
}

static int start_pollers(struct syr_agent *a, char *errbuf, size_t errlen)
{
	if (!a->o.idle_poll_ns)
		return 0;
	for (int i = 0; i < a->ncpus; i++) {
		int rc = syr_poller_start(a->m.r, a->cpus[i], a->o.idle_poll_ns, &a->pollers[i]);
		if (rc != 0) {
			snprintf(errbuf, errlen, "idle poller on cpu %d: %s", a->cpus[i], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Before the agent lets go of the enclave: each poller makes the wake it was handed, if any. */
static void stop_pollers(struct syr_agent *a)
{
	for (int i = 0; i < a->ncpus; i++) {
		syr_poller_stop(a->pollers[i], &a->cnt.poll_wakes, &a->cnt.poll_sleeps);
		a->pollers[i] = NULL;
	}
	for (int i = 0; i < a->ncpus; i++)
		if (a->wake_ns[a->cpus[i]] && syr_poll_reclaim(a->m.r, a->cpus[i]))
			a->cnt.poll_reclaimed++;
	memset(a->wake_ns, 0, sizeof(a->wake_ns));
	a->nwakes = 0;
}

static int32_t commit_one(struct syr_agent *a, struct syr_txn_req *q, uint64_t *batch)
{
	struct syr_region *r = a->m.r;
	if (__atomic_load_n(&r->hdr.enclave_state, __ATOMIC_SEQ_CST) != SYR_ENC_ACTIVE)
		return SYR_TXN_NO_AGENT;
	if (q->slot >= a->o.max_tasks)
		return SYR_TXN_TARGET_NOT_FOUND;
	struct syr_task *t = &r->tasks[q->slot];
	uint32_t st = __atomic_load_n(&t->state, __ATOMIC_SEQ_CST);
	if (st == SYR_SLOT_DEAD)
		return SYR_TXN_TARGET_DEAD;
	if (st == SYR_SLOT_DEPARTED)
		return SYR_TXN_TARGET_DEPARTED;
	if (st != SYR_SLOT_ACTIVE)
		return SYR_TXN_TARGET_NOT_FOUND;
	if (!in_mask(a->cpumask, q->cpu))
		return SYR_TXN_INVALID_CPU;
	if (in_mask(batch, q->cpu))
		return SYR_TXN_CPU_BUSY;
	batch[q->cpu / 64] |= 1ull << (q->cpu % 64);
	struct syr_kstat *ks = &a->m.ks[q->slot];
	/* The run word first: a park or yield from here on moves its gen, so the start below
	 * cannot release a thread that left after these checks passed. */
	uint32_t run0 = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ks->barrier, __ATOMIC_SEQ_CST) != q->barrier)
		return SYR_TXN_TARGET_STALE;
	if ((__atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST) & SYR_WF_BLOCKED) ||
	    (__atomic_load_n(&ks->flags, __ATOMIC_SEQ_CST) & SYR_KF_KBLOCKED))
		return SYR_TXN_TARGET_NOT_RUNNABLE;
	if (syr_holds(r, q->slot, t->cpu))
		return SYR_TXN_TARGET_ONCPU;
	if (syr_run_state(run0) == SYR_RUN_DETACHED)
		return SYR_TXN_NO_AGENT;
	struct syr_cpu *c = &r->cpus[q->cpu];

	/* Placement is affinity: pin first, so the thread wakes (or keeps running) on the target. */
	if (t->aff_cpu != q->cpu) {
		a->cnt.affinity_calls++;
		int rc = syr_set_affinity_one((pid_t)t->tid, q->cpu);
		if (rc == -ESRCH)
			return SYR_TXN_TARGET_DEAD;
		if (rc == 0)
			t->aff_cpu = q->cpu;
	}
	uint32_t victim = 0;
	/* Before the latch is visible: the holder's hand-over starts the successor at this gen only. */
	__atomic_store_n(&t->latch_gen, syr_run_gen(run0), __ATOMIC_SEQ_CST);
	int occ = syr_occupy(r, q->slot, q->cpu, &victim);
	if (occ < 0)
		return SYR_TXN_CPU_BUSY; /* leave the standing latch's kind and time alone */
	if (occ == 1) {
		/* Only the agent reads these (expire_latches, on this thread), so writing them
		 * after the latch is visible is safe even if the holder has already handed over. */
		c->latch_kind = (q->flags & SYR_TXN_F_NEXT) ? SYR_LATCH_QUEUED : SYR_LATCH_PREEMPT;
		c->latch_ns = a->now;
	}
	t->cpu = q->cpu;
	t->commit_ns = a->now;
	if (occ == 0) {
		/* It parked or yielded between the checks and now: the message saying so is on its
		 * way, and the agent loop vacates the cpu when it reads it; the shim does it now. */
		int s = syr_start_nowake(r, q->slot, syr_run_gen(run0));
		if (s == SYR_NOT_STARTED)
			syr_leave_cpu(r, q->slot, q->cpu);
		else if (s == SYR_STARTED_ASLEEP)
			wake_placed(a, q->slot, q->cpu);
	} else if (!(q->flags & SYR_TXN_F_NEXT))
		syr_agent_request_park(a, victim, SYR_PREEMPT_YIELD);
	return SYR_TXN_OK;
}

void syr_agent_commit(struct syr_agent *a, struct syr_txn_req *txns, int n)
{
	uint64_t batch[SYR_MAX_CPUS / 64] = {0};
	a->now = syr_now_ns();
	for (int i = 0; i < n; i++) {
		struct syr_txn_req *q = &txns[i];
		int32_t res = commit_one(a, q, batch);
		q->result = res;
		if (in_mask(a->cpumask, q->cpu)) {
			struct syr_cpu *c = &a->m.r->cpus[q->cpu];
			c->txn_slot = q->slot;
			c->txn_barrier = q->barrier;
			c->txn_result = res;
			c->txn_state = res == SYR_TXN_OK ? SYR_TXN_COMMITTED : SYR_TXN_FAILED;
			if (res == SYR_TXN_OK)
				c->commits++;
			else
				c->failures++;
		}
	}
}

void syr_agent_release_slot(struct syr_agent *a, uint32_t slot)
{
	if (slot >= a->o.max_tasks)
		return;
	struct syr_task *t = &a->m.r->tasks[slot];
	uint32_t st = __atomic_load_n(&t->state, __ATOMIC_SEQ_CST);
	if (st != SYR_SLOT_DEAD && st != SYR_SLOT_DEPARTED)
		return;
	forget_tid(a, t->tid, slot);
	a->m.ks[slot].tid = 0;
	a->m.ks[slot].flags = 0;
	t->cpu = -1;
	for (int i = 0; i < a->nheld; i++)
		if (a->held[i].m.slot == slot)
			a->held[i--] = a->held[--a->nheld];
	a->expect[slot] = 0;
	a->gone[slot] = 0;
	a->evicted[slot] = 0;
	__atomic_store_n(&t->state, SYR_SLOT_FREE, __ATOMIC_SEQ_CST);
}

/*
 * One thread back to Linux while the enclave lives on (the agent loop gives a
 * task up when its policy keeps throwing on it). Its run word goes DETACHED,
 * exactly what agent loss does to every thread, so the client side already
 * knows what to do: a parked thread wakes, gets its own affinity back and
 * from then on park()/wake() are a plain futex handshake. DETACHED is also
 * what a later agent (--upgrade) reads to leave it alone.
 */
int syr_agent_evict(struct syr_agent *a, uint32_t slot)
{
	if (slot >= a->o.max_tasks)
		return -EINVAL;
	struct syr_region *r = a->m.r;
	struct syr_task *t = &r->tasks[slot];
	a->evicted[slot] = 1;
	a->cnt.evicted++;
	/* No park request may outlive the task's place in the enclave; nor a cpu or latch. */
	__atomic_store_n(&t->preempt, 0, __ATOMIC_SEQ_CST);
	syr_vacate(r, slot, t->cpu);
	t->cpu = -1;
	uint32_t old = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST), nw;
	do {
		nw = (old & ~SYR_RUN_STATE_MASK) | SYR_RUN_DETACHED;
	} while (!__atomic_compare_exchange_n(&t->run, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	syr_futex_wake(&t->run, 1);
	return 0;
}

bool syr_agent_heartbeat(struct syr_agent *a, uint64_t now)
{
	__atomic_store_n(&a->m.r->hdr.heartbeat_ns, now, __ATOMIC_RELEASE);
	return __atomic_load_n(&a->m.r->hdr.handover_pid, __ATOMIC_ACQUIRE) != 0;
}

struct syr_map *syr_agent_map(struct syr_agent *a)
{
	return &a->m;
}

void syr_agent_counters(struct syr_agent *a, struct syr_agent_counters *c)
{
	*c = a->cnt;
	for (int i = 0; i < a->ncpus; i++)
		if (a->pollers[i])
			syr_poller_counts(a->pollers[i], &c->poll_wakes, &c->poll_sleeps);
	if (a->skel && a->skel->bss)
		c->kernel_drops = a->skel->bss->syr_ring_drops;
	c->client_drops = a->m.r->hdr.cring_drops;
}

/* Another live enclave (its lock is held) using any of our cpus? Leaked ones are reaped on the way. */
static int check_overlap(struct syr_agent *a, char *errbuf, size_t errlen)
{
	DIR *d = opendir("/dev/shm");
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, "syrup.", 6) != 0 || strcmp(e->d_name + 6, a->o.name) == 0)
			continue;
		char p[300];
		snprintf(p, sizeof(p), "/dev/shm/%s", e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			/* No live agent: a leaked enclave of an agent that was killed. An initialised
			 * header (magic is stored last, under the creator's lock) means it is not one
			 * being created right now, so reap its name and pins. */
			struct syr_hdr h;
			if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == SYR_MAGIC &&
			    syr_name_ok(e->d_name + 6)) {
				char pin[200];
				snprintf(pin, sizeof(pin), "/sys/fs/bpf/syrup/%s/kstat", e->d_name + 6);
				unlink(pin);
				snprintf(pin, sizeof(pin), "/sys/fs/bpf/syrup/%s/tids", e->d_name + 6);
				unlink(pin);
				snprintf(pin, sizeof(pin), "/sys/fs/bpf/syrup/%s", e->d_name + 6);
				rmdir(pin);
				unlink(p);
			}
			close(fd);
			continue;
		}
		struct syr_hdr h;
		if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == SYR_MAGIC) {
			for (int i = 0; i < a->ncpus; i++) {
				if (in_mask((const uint64_t *)h.cpumask, a->cpus[i])) {
					snprintf(errbuf, errlen, "cpu %d already belongs to enclave '%.*s' (agent pid %u)",
						 a->cpus[i], SYR_NAME_MAX, h.name, h.agent_pid);
					rc = SYR_E_OVERLAP;
					break;
				}
			}
		}
		close(fd);
	}
	closedir(d);
	return rc;
}

/* Create and lock a fresh region file, replacing a stale one; refuse if an agent holds it. */
static int claim_region(struct syr_agent *a, char *errbuf, size_t errlen)
{
	for (int tries = 0; tries < 8; tries++) {
		int fd = shm_open(a->shm_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, a->o.region_mode);
		if (fd >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* another starter raced us to it */
				close(fd);
				continue;
			}
			fchmod(fd, a->o.region_mode);
			a->m.shm_fd = fd;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
		fd = shm_open(a->shm_path, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			struct syr_hdr h;
			memset(&h, 0, sizeof(h));
			if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
				h.agent_pid = 0;
			snprintf(errbuf, errlen, "enclave '%s' already has a live agent (pid %u)", a->o.name,
				 h.agent_pid);
			close(fd);
			return SYR_E_AGENT_ALIVE;
		}
		/* Stale: its agent died without cleaning up. */
		shm_unlink(a->shm_path);
		close(fd);
	}
	return -EBUSY;
}

static int mkdir_p(const char *dir, mode_t mode)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int load_bpf(struct syr_agent *a, char *errbuf, size_t errlen)
{
	int rc = syr_ensure_bpffs();
	if (rc) {
		snprintf(errbuf, errlen, "cannot mount bpffs at /sys/fs/bpf: %s", strerror(-rc));
		return rc;
	}
	rc = mkdir_p(a->pin_dir, 0755);
	if (rc) {
		snprintf(errbuf, errlen, "cannot create %s: %s", a->pin_dir, strerror(-rc));
		return rc;
	}
	if (!a->o.upgrade) {
		/* stale pins of a dead agent */
		unlink(a->kstat_pin);
		unlink(a->tids_pin);
	}
	a->skel = syrup_sched__open();
	if (!a->skel) {
		snprintf(errbuf, errlen, "opening the BPF object failed: %s", strerror(errno));
		return SYR_E_BPF;
	}
	a->skel->rodata->syr_max_tasks = a->o.max_tasks;
	/* Pinned maps outlive the agent: an upgrade's new agent loads its programs against the same
	 * status words and tid filter (libbpf reuses a pin that exists, creates it otherwise). */
	bpf_map__set_pin_path(a->skel->maps.syr_kstat, a->kstat_pin);
	bpf_map__set_pin_path(a->skel->maps.syr_tids, a->tids_pin);
	if ((rc = syrup_sched__load(a->skel)) != 0) {
		snprintf(errbuf, errlen, "loading the BPF programs failed (%s); is this root on a kernel with BTF?",
			 strerror(-rc));
		return SYR_E_BPF;
	}
	chmod(a->kstat_pin, a->o.region_mode);
	chmod(a->tids_pin, 0600);
	if ((rc = syrup_sched__attach(a->skel)) != 0) {
		snprintf(errbuf, errlen, "attaching the sched tracepoints failed: %s", strerror(-rc));
		return SYR_E_BPF;
	}
	a->tids_fd = bpf_map__fd(a->skel->maps.syr_tids);
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.syr_ring), on_kernel_msg, a, NULL);
	if (!a->rb) {
		snprintf(errbuf, errlen, "opening the BPF ring buffer failed: %s", strerror(errno));
		return SYR_E_BPF;
	}
	a->m.kstat_fd = bpf_map__fd(a->skel->maps.syr_kstat);
	a->m.ks_len = syr_kstat_len();
	a->m.ks = mmap(NULL, a->m.ks_len, PROT_READ | PROT_WRITE, MAP_SHARED, a->m.kstat_fd, 0);
	if (a->m.ks == MAP_FAILED) {
		a->m.ks = NULL;
		snprintf(errbuf, errlen, "mapping the kstat array failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}


/*
 * Live upgrade, new side. The old agent holds the region lock; ask it to hand
 * over (handover_pid) and wait for the lock. The old agent parks the threads
 * it had on cpus, marks the enclave HANDOVER and exits without detaching
 * anyone; client watchdogs wait through HANDOVER instead of detaching.
 */
static int takeover_region(struct syr_agent *a, char *errbuf, size_t errlen)
{
	int fd = shm_open(a->shm_path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "no enclave '%s' to upgrade", a->o.name);
		return SYR_E_NOENCLAVE;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		close(fd);
		snprintf(errbuf, errlen, "enclave '%s' has no live agent to upgrade; start without --upgrade", a->o.name);
		return SYR_E_NOAGENT;
	}
	struct syr_region *r = mmap(NULL, sizeof(struct syr_region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	if (r->hdr.magic != SYR_MAGIC || r->hdr.abi_version != SYR_ABI_VERSION) {
		snprintf(errbuf, errlen, "enclave '%s' has ABI version %u; this agent speaks %u", a->o.name,
			 r->hdr.abi_version, SYR_ABI_VERSION);
		rc = SYR_E_ABI;
	} else if (memcmp(r->hdr.cpumask, a->cpumask, sizeof(a->cpumask)) != 0) {
		snprintf(errbuf, errlen, "--upgrade must keep the enclave's cpus (it has %u cpus; a different set was given)",
			 r->hdr.ncpus);
		rc = SYR_E_OVERLAP;
	}
	uint32_t old_pid = r->hdr.agent_pid;
	if (rc == 0) {
		__atomic_store_n(&r->hdr.handover_pid, (uint32_t)getpid(), __ATOMIC_SEQ_CST);
		uint64_t end = syr_now_ns() + a->o.handover_timeout_ns;
		while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			if (syr_now_ns() > end) {
				__atomic_store_n(&r->hdr.handover_pid, 0, __ATOMIC_SEQ_CST);
				snprintf(errbuf, errlen, "agent pid %u did not hand enclave '%s' over in time", old_pid,
					 a->o.name);
				rc = SYR_E_AGENT_ALIVE;
				break;
			}
			usleep(200);
		}
	}
	if (rc == 0 && __atomic_load_n(&r->hdr.enclave_state, __ATOMIC_SEQ_CST) != SYR_ENC_HANDOVER) {
		snprintf(errbuf, errlen, "agent pid %u exited without handing enclave '%s' over", old_pid, a->o.name);
		rc = SYR_E_NOAGENT;
	}
	if (rc != 0) {
		munmap(r, sizeof(*r));
		close(fd);
		return rc;
	}
	a->m.shm_fd = fd;
	a->m.r = r;
	return 0;
}

/* Is the thread asleep in the kernel right now (/proc state S or D)? */
static bool thread_sleeping(uint32_t tid)
{
	char st = syr_thread_state(tid);
	return st == 'S' || st == 'D';
}

static void synth(struct syr_agent *a, uint32_t slot, uint16_t type, uint16_t src, uint32_t arg)
{
	struct syr_msg m = {0};
	m.type = type;
	m.src = src;
	m.slot = slot;
	m.tid = a->m.r->tasks[slot].tid;
	m.seq = __atomic_add_fetch(&a->m.ks[slot].barrier, 1, __ATOMIC_SEQ_CST);
	m.cpu = -1;
	m.arg = arg;
	m.ts_ns = syr_now_ns();
	deliver(a, &m);
}

/*
 * Rebuild every task's state for the new policy as the messages that would
 * have produced it, under the task's lock so no client event interleaves;
 * the barrier moves past them, so client-ring leftovers already reflected in
 * the snapshot arrive as duplicates and are dropped.
 */
static void rediscover(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	for (uint32_t s = 0; s < a->o.max_tasks; s++) {
		struct syr_task *t = &r->tasks[s];
		uint32_t st = __atomic_load_n(&t->state, __ATOMIC_SEQ_CST);
		if (st == SYR_SLOT_DEAD || st == SYR_SLOT_DEPARTED) {
			syr_agent_release_slot(a, s); /* the old agent never got to it */
			continue;
		}
		if (st != SYR_SLOT_ACTIVE)
			continue;
		if (syr_run_state(__atomic_load_n(&t->run, __ATOMIC_SEQ_CST)) == SYR_RUN_DETACHED) {
			/* The old agent handed it back to Linux: it stays there. */
			a->evicted[s] = 1;
			continue;
		}
		struct syr_kstat *ks = &a->m.ks[s];
		syr_lock(&t->lock);
		synth(a, s, SYR_MSG_TASK_NEW, SYR_SRC_SHIM, t->pid);
		uint32_t kf = __atomic_load_n(&ks->flags, __ATOMIC_SEQ_CST);
		uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST) & SYR_WF_BLOCKED) {
			synth(a, s, SYR_MSG_TASK_BLOCKED, SYR_SRC_SHIM, 0);
		} else if ((kf & SYR_KF_KBLOCKED) && thread_sleeping(t->tid)) {
			synth(a, s, SYR_MSG_TASK_BLOCKED, SYR_SRC_SHIM, 0);
		} else {
			/* A wakeup during the gap had no BPF program to see it. */
			__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_KBLOCKED, __ATOMIC_SEQ_CST);
			/* Running without a placement (the old agent could not park it): enforce like a kernel preemption. */
			if (syr_run_state(run) == SYR_RUN_RUN)
				synth(a, s, SYR_MSG_TASK_PREEMPT, SYR_SRC_SHIM, SYR_PREEMPT_KERNEL);
		}
		syr_unlock(&t->lock);
		a->cnt.rediscovered++;
	}
}

void syr_agent_handover(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	r->hdr.handover_ns = syr_now_ns();
	stop_pollers(a);
	/* No successor may be released by a victim any more: drop the latches (those tasks stay parked). */
	for (int i = 0; i < a->ncpus; i++) {
		uint64_t *w = (uint64_t *)&r->cpus[a->cpus[i]].cur;
		uint64_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
		while (!__atomic_compare_exchange_n(w, &old, old & 0xffffffffull, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			;
	}
	/* Park what runs, so the new agent starts from runnable, unplaced tasks. */
	for (int i = 0; i < a->ncpus; i++) {
		uint32_t cur = __atomic_load_n(&r->cpus[a->cpus[i]].cur, __ATOMIC_SEQ_CST);
		if (cur)
			request_park(a, cur - 1, SYR_PREEMPT_SILENT, true);
	}
	uint64_t end = syr_now_ns() + 50ull * 1000 * 1000;
	for (;;) {
		bool busy = false;
		for (int i = 0; i < a->ncpus; i++)
			busy |= __atomic_load_n(&r->cpus[a->cpus[i]].cur, __ATOMIC_SEQ_CST) != 0;
		if (!busy || syr_now_ns() > end)
			break;
		usleep(100);
	}
	/* A thread that would not park keeps running; the new agent sees it as running unplaced. */
	for (int i = 0; i < a->ncpus; i++)
		__atomic_store_n((uint64_t *)&r->cpus[a->cpus[i]].cur, 0, __ATOMIC_SEQ_CST);
	/* Programs detach before the state flips, so no kernel event is half-posted across agents. */
	if (a->rb)
		ring_buffer__free(a->rb);
	a->rb = NULL;
	if (a->m.ks)
		munmap(a->m.ks, a->m.ks_len);
	a->m.ks = NULL;
	a->m.kstat_fd = -1;
	syrup_sched__destroy(a->skel);
	a->skel = NULL;
	__atomic_store_n(&r->hdr.enclave_state, SYR_ENC_HANDOVER, __ATOMIC_SEQ_CST);
	/* Closing the region fd releases the lock the new agent waits for. */
	syr_map_close(&a->m);
	free(a->stage);
	free(a);
}

int syr_agent_open(const struct syr_agent_opts *o, struct syr_agent **out, char *errbuf, size_t errlen)
{
	errbuf[0] = 0;
	if (!syr_name_ok(o->name))
		return SYR_E_NAME;
	struct syr_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *o;
	a->o.name = NULL;
	a->m.shm_fd = a->m.kstat_fd = -1;
	a->tids_fd = -1;
	snprintf(a->m.name, sizeof(a->m.name), "%s", o->name);
	a->o.name = a->m.name;
	if (a->o.max_tasks == 0 || a->o.max_tasks > SYR_MAX_TASKS)
		a->o.max_tasks = SYR_MAX_TASKS;
	syr_region_path(o->name, a->shm_path, sizeof(a->shm_path));
	syr_pin_dir(o->name, a->pin_dir, sizeof(a->pin_dir));
	snprintf(a->kstat_pin, sizeof(a->kstat_pin), "%s/kstat", a->pin_dir);
	snprintf(a->tids_pin, sizeof(a->tids_pin), "%s/tids", a->pin_dir);
	for (int i = 0; i < o->ncpus; i++) {
		int c = o->cpus[i];
		if (c < 0 || c >= SYR_MAX_CPUS) {
			free(a);
			return -EINVAL;
		}
		a->cpumask[c / 64] |= 1ull << (c % 64);
		a->cpus[a->ncpus++] = c;
	}

	int rc;
	if (o->upgrade) {
		rc = takeover_region(a, errbuf, errlen);
		if (rc == 0)
			rc = load_bpf(a, errbuf, errlen);
		if (rc != 0) {
			/* Took over but cannot run: close as any agent does (threads go back to Linux).
			 * takeover_region failures leave a->m.r unset, so the old agent's region is untouched. */
			syr_agent_close(a);
			return rc;
		}
		rediscover(a);
		rc = start_pollers(a, errbuf, errlen);
		if (rc != 0) {
			syr_agent_close(a);
			return rc;
		}
		struct syr_hdr *h = &a->m.r->hdr;
		h->agent_pid = (uint32_t)getpid();
		h->agent_gen++;
		h->agent_cpu = o->agent_cpu;
		h->heartbeat_ns = syr_now_ns();
		a->cnt.upgrade_gap_ns = h->heartbeat_ns - h->handover_ns;
		h->handover_pid = 0;
		__atomic_store_n(&h->enclave_state, SYR_ENC_ACTIVE, __ATOMIC_SEQ_CST);
		*out = a;
		return 0;
	}

	rc = check_overlap(a, errbuf, errlen);
	if (rc == 0)
		rc = claim_region(a, errbuf, errlen);
	if (rc == 0 && ftruncate(a->m.shm_fd, sizeof(struct syr_region)) != 0)
		rc = -errno;
	if (rc == 0) {
		a->m.r = mmap(NULL, sizeof(struct syr_region), PROT_READ | PROT_WRITE, MAP_SHARED, a->m.shm_fd, 0);
		if (a->m.r == MAP_FAILED) {
			a->m.r = NULL;
			rc = -errno;
		}
	}
	if (rc == 0)
		rc = load_bpf(a, errbuf, errlen);
	if (rc != 0) {
		syr_agent_close(a);
		return rc;
	}

	struct syr_region *r = a->m.r;
	struct syr_hdr *h = &r->hdr;
	for (uint32_t i = 0; i < SYR_CRING_SLOTS; i++) {
		r->cring.cells[i].seq = i;
		r->cring.cells[i].owner = 0;
	}
	for (int i = 0; i < SYR_MAX_TASKS; i++)
		r->tasks[i].cpu = -1;
	h->abi_version = SYR_ABI_VERSION;
	h->agent_pid = (uint32_t)getpid();
	h->agent_gen = 1;
	h->max_tasks = a->o.max_tasks;
	h->agent_cpu = o->agent_cpu;
	h->ncpus = (uint32_t)a->ncpus;
	h->preempt_signo = (uint32_t)o->preempt_signo;
	memcpy(h->cpumask, a->cpumask, sizeof(h->cpumask));
	snprintf(h->name, sizeof(h->name), "%s", o->name);
	h->heartbeat_ns = syr_now_ns();
	h->enclave_state = SYR_ENC_ACTIVE;
	rc = start_pollers(a, errbuf, errlen);
	if (rc != 0) {
		syr_agent_close(a);
		return rc;
	}
	/* Magic last: a client that sees it sees a fully initialised region. */
	__atomic_store_n(&h->magic, SYR_MAGIC, __ATOMIC_RELEASE);
	*out = a;
	return 0;
}

void syr_agent_close(struct syr_agent *a)
{
	if (!a)
		return;
	struct syr_region *r = a->m.r;
	stop_pollers(a);
	if (r && r->hdr.magic == SYR_MAGIC) {
		__atomic_store_n(&r->hdr.enclave_state, SYR_ENC_NO_AGENT, __ATOMIC_SEQ_CST);
		/* Nobody will place these threads again: let them all run under Linux now. */
		for (uint32_t s = 0; s < a->o.max_tasks; s++) {
			struct syr_task *t = &r->tasks[s];
			if (t->state == SYR_SLOT_FREE)
				continue;
			uint32_t old = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST), nw;
			do {
				nw = (old & ~SYR_RUN_STATE_MASK) | SYR_RUN_DETACHED;
			} while (!__atomic_compare_exchange_n(&t->run, &old, nw, false, __ATOMIC_SEQ_CST,
							      __ATOMIC_SEQ_CST));
			syr_futex_wake(&t->run, 1);
		}
	}
	if (a->rb)
		ring_buffer__free(a->rb);
	if (a->m.ks)
		munmap(a->m.ks, a->m.ks_len);
	a->m.ks = NULL;
	a->m.kstat_fd = -1; /* owned by the skeleton */
	if (a->skel) {
		syrup_sched__destroy(a->skel);
		unlink(a->kstat_pin);
		unlink(a->tids_pin);
		rmdir(a->pin_dir);
	}
	if (r) {
		/* Unlink our name only if it still is our file (not a successor's). */
		struct stat mine, named;
		char p[128];
		snprintf(p, sizeof(p), "/dev/shm%s", a->shm_path);
		if (fstat(a->m.shm_fd, &mine) == 0 && stat(p, &named) == 0 && mine.st_ino == named.st_ino)
			shm_unlink(a->shm_path);
	}
	syr_map_close(&a->m);
	free(a->stage);
	free(a);
}
