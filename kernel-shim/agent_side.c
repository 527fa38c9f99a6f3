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
#include <unistd.h>
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
	struct syr_agent_opts o;
	uint64_t cpumask[SYR_MAX_CPUS / 64];
	int cpus[SYR_MAX_CPUS];
	int ncpus;
	uint32_t expect[SYR_MAX_TASKS];
	uint8_t gone[SYR_MAX_TASKS]; /* TASK_DEAD/DEPARTED delivered: later messages are trailing noise */
	struct syr_held held[SYR_HELD_MAX];
	int nheld;
	struct syr_msg *stage;
	size_t stage_head, stage_len, stage_cap;
	struct syr_agent_counters cnt;
	uint64_t now;
};

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
		if (m->src == SYR_SRC_KERNEL) {
			/* It slept or lost the cpu in the kernel: the cpu is free for the next task. */
			syr_leave_cpu(r, m->slot, t->cpu);
			t->cpu = -1;
		}
		break;
	case SYR_MSG_TASK_DEAD:
		syr_leave_cpu(r, m->slot, t->cpu);
		t->cpu = -1;
		__atomic_store_n(&t->state, SYR_SLOT_DEAD, __ATOMIC_SEQ_CST);
		__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_ACTIVE, __ATOMIC_SEQ_CST);
		break;
	case SYR_MSG_TASK_DEPARTED: {
		uint32_t tid = m->tid;
		bpf_map_delete_elem(a->tids_fd, &tid);
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
	if (m->type == SYR_MSG_TASK_DEAD || m->type == SYR_MSG_TASK_DEPARTED)
		a->gone[m->slot] = 1;
	apply(a, m);
	stage_push(a, m);
	a->expect[m->slot] = m->seq + 1;
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

static void accept(struct syr_agent *a, const struct syr_msg *m)
{
	struct syr_region *r = a->m.r;
	if (m->type == SYR_MSG_NONE || m->type >= SYR_MSG_TYPE_COUNT || m->slot >= a->o.max_tasks ||
	    m->src > SYR_SRC_SHIM) {
		a->cnt.bad_msgs++;
		return;
	}
	struct syr_task *t = &r->tasks[m->slot];
	if (m->tid != t->tid || t->state == SYR_SLOT_FREE) {
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
	accept(a, data);
	return 0;
}

static void drain_cring(struct syr_agent *a)
{
	struct syr_cring *q = &a->m.r->cring;
	uint32_t head = q->head;
	for (;;) {
		struct syr_cring_cell *cell = &q->cells[head & (SYR_CRING_SLOTS - 1)];
		uint32_t seq = __atomic_load_n(&cell->seq, __ATOMIC_ACQUIRE);
		if (seq != head + 1)
			break;
		struct syr_msg m = cell->msg;
		__atomic_store_n(&cell->seq, head + SYR_CRING_SLOTS, __ATOMIC_RELEASE);
		head++;
		a->cnt.client_msgs++;
		accept(a, &m);
	}
	__atomic_store_n(&q->head, head, __ATOMIC_RELEASE);
}

/* Preemptions whose victim never let go (signal blocked, stuck in a syscall): give the successor the cpu. */
static void expire_latches(struct syr_agent *a)
{
	struct syr_region *r = a->m.r;
	for (int i = 0; i < a->ncpus; i++) {
		struct syr_cpu *c = &r->cpus[a->cpus[i]];
		if (__atomic_load_n(&c->next, __ATOMIC_RELAXED) && a->now - c->latch_ns > a->o.latch_timeout_ns) {
			if (syr_force_handoff(r, a->cpus[i]))
				a->cnt.latch_timeouts++;
		}
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
	int n = 0;
	while (n < cap && a->stage_len > 0) {
		out[n++] = a->stage[a->stage_head];
		a->stage_head = (a->stage_head + 1) % a->stage_cap;
		a->stage_len--;
	}
	return n;
}

int syr_agent_request_park(struct syr_agent *a, uint32_t slot, uint32_t kind)
{
	if (slot >= a->o.max_tasks || (kind != SYR_PREEMPT_SILENT && kind != SYR_PREEMPT_YIELD))
		return -EINVAL;
	struct syr_task *t = &a->m.r->tasks[slot];
	uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	if (syr_run_state(run) != SYR_RUN_RUN || t->state != SYR_SLOT_ACTIVE)
		return 0;
	/* The cooperative flag first: a thread at a checkpoint() sees it without the signal. */
	__atomic_store_n(&t->preempt, (syr_run_gen(run) << 2) | kind, __ATOMIC_SEQ_CST);
	a->cnt.signals++;
	if (syscall(SYS_tgkill, t->pid, t->tid, a->o.preempt_signo) != 0)
		return -errno;
	return 1;
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
	if (__atomic_load_n(&ks->barrier, __ATOMIC_SEQ_CST) != q->barrier)
		return SYR_TXN_TARGET_STALE;
	if ((__atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST) & SYR_WF_BLOCKED) ||
	    (__atomic_load_n(&ks->flags, __ATOMIC_SEQ_CST) & SYR_KF_KBLOCKED))
		return SYR_TXN_TARGET_NOT_RUNNABLE;
	if (syr_holds(r, q->slot, t->cpu))
		return SYR_TXN_TARGET_ONCPU;
	if (syr_run_state(__atomic_load_n(&t->run, __ATOMIC_SEQ_CST)) == SYR_RUN_DETACHED)
		return SYR_TXN_NO_AGENT;

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
	int occ = syr_occupy(r, q->slot, q->cpu, &victim);
	if (occ < 0)
		return SYR_TXN_CPU_BUSY;
	t->cpu = q->cpu;
	t->commit_ns = a->now;
	if (occ == 0) {
		syr_release(r, q->slot);
	} else {
		r->cpus[q->cpu].latch_ns = a->now;
		syr_agent_request_park(a, victim, SYR_PREEMPT_YIELD);
	}
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
	uint32_t tid = t->tid;
	bpf_map_delete_elem(a->tids_fd, &tid);
	a->m.ks[slot].tid = 0;
	a->m.ks[slot].flags = 0;
	t->cpu = -1;
	for (int i = 0; i < a->nheld; i++)
		if (a->held[i].m.slot == slot)
			a->held[i--] = a->held[--a->nheld];
	a->expect[slot] = 0;
	a->gone[slot] = 0;
	__atomic_store_n(&t->state, SYR_SLOT_FREE, __ATOMIC_SEQ_CST);
}

void syr_agent_heartbeat(struct syr_agent *a, uint64_t now)
{
	__atomic_store_n(&a->m.r->hdr.heartbeat_ns, now, __ATOMIC_RELEASE);
}

struct syr_map *syr_agent_map(struct syr_agent *a)
{
	return &a->m;
}

void syr_agent_counters(struct syr_agent *a, struct syr_agent_counters *c)
{
	*c = a->cnt;
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
	unlink(a->kstat_pin); /* stale pin of a dead agent */
	a->skel = syrup_sched__open();
	if (!a->skel) {
		snprintf(errbuf, errlen, "opening the BPF object failed: %s", strerror(errno));
		return SYR_E_BPF;
	}
	a->skel->rodata->syr_max_tasks = a->o.max_tasks;
	if ((rc = syrup_sched__load(a->skel)) != 0) {
		snprintf(errbuf, errlen, "loading the BPF programs failed (%s); is this root on a kernel with BTF?",
			 strerror(-rc));
		return SYR_E_BPF;
	}
	if ((rc = bpf_map__pin(a->skel->maps.syr_kstat, a->kstat_pin)) != 0) {
		snprintf(errbuf, errlen, "pinning %s failed: %s", a->kstat_pin, strerror(-rc));
		return SYR_E_BPF;
	}
	chmod(a->kstat_pin, a->o.region_mode);
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
	for (int i = 0; i < o->ncpus; i++) {
		int c = o->cpus[i];
		if (c < 0 || c >= SYR_MAX_CPUS) {
			free(a);
			return -EINVAL;
		}
		a->cpumask[c / 64] |= 1ull << (c % 64);
		a->cpus[a->ncpus++] = c;
	}

	int rc = check_overlap(a, errbuf, errlen);
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
	for (uint32_t i = 0; i < SYR_CRING_SLOTS; i++)
		r->cring.cells[i].seq = i;
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
