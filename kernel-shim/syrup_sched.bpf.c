// syrup_sched.bpf.c: turns scheduler tracepoints for registered threads into ghOSt-style task messages.
/*
 * Design
 * ------
 * The kernel here has neither ghOSt nor sched_ext, so the kernel's half of
 * the ghOSt ABI is rebuilt from tracepoints:
 *
 *   sched_switch (prev)   runnable  -> TASK_PREEMPT (cause KERNEL)
 *                         sleeping  -> TASK_BLOCKED, mark KBLOCKED
 *   sched_wakeup          KBLOCKED  -> TASK_WAKEUP
 *   sched_process_exit              -> TASK_DEAD, forget the tid
 *   sched_switch (next)             -> switch-in time, cpu (no message)
 *
 * Only tids in syr_tids (inserted by the agent when it sees TASK_NEW) are
 * looked at; everything else costs one hash lookup.
 *
 * Ordering with the client library: both sides bump the same per-task
 * barrier (syr_kstat.barrier, in this mmapable array, shared with user
 * space) with an atomic add, so every message about a task has a unique,
 * increasing seqnum; the agent reorders the two rings per task by it.
 * The ring slot is reserved *before* the barrier is bumped: if the ring is
 * full the event is counted in syr_ring_drops and the barrier does not move,
 * so the agent never waits for a seqnum that will not come.
 *
 * The shim's own parking (futex wait inside park()/yield()/the preemption
 * signal handler) sets SYR_KF_PARKING first; the switch and the wakeup it
 * causes are the shim's business and produce no kernel message (the client
 * posts the meaningful one itself).
 *
 * Runtime accounting happens for every switch of a registered thread,
 * parking or not, so budgets and slices see all cpu time it used.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "syrup_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Bound on slot numbers; the agent may set it lower than the array size. */
const volatile __u32 syr_max_tasks = SYR_MAX_TASKS;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYR_MAX_TASKS);
	__type(key, __u32);   /* tid */
	__type(value, __u32); /* slot */
} syr_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYR_MAX_TASKS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct syr_kstat);
} syr_kstat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} syr_ring SEC(".maps");

__u64 syr_ring_drops = 0;
__u64 syr_events = 0;

#define SYR_TASK_RUNNING 0x0000
#define SYR_TASK_DEAD_STATE 0x0080

static __always_inline struct syr_kstat *syr_lookup(__u32 tid, __u32 *slot_out)
{
	__u32 *slotp = bpf_map_lookup_elem(&syr_tids, &tid);
	if (!slotp)
		return 0;
	__u32 slot = *slotp;
	if (slot >= syr_max_tasks)
		return 0;
	struct syr_kstat *ks = bpf_map_lookup_elem(&syr_kstat, &slot);
	if (!ks || ks->tid != tid)
		return 0;
	*slot_out = slot;
	return ks;
}

static __always_inline void syr_post(struct syr_kstat *ks, __u32 slot, __u32 tid, __u16 type,
				     __u32 arg, __u64 now)
{
	struct syr_msg *m = bpf_ringbuf_reserve(&syr_ring, sizeof(*m), 0);
	if (!m) {
		__sync_fetch_and_add(&syr_ring_drops, 1);
		return;
	}
	__u32 seq = __sync_fetch_and_add(&ks->barrier, 1) + 1;
	m->type = type;
	m->src = SYR_SRC_KERNEL;
	m->slot = slot;
	m->tid = tid;
	m->seq = seq;
	m->cpu = bpf_get_smp_processor_id();
	m->arg = arg;
	m->ts_ns = now;
	bpf_ringbuf_submit(m, 0);
	__sync_fetch_and_add(&syr_events, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(syr_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 slot;
	__u32 ptid = prev->pid;
	struct syr_kstat *ks = syr_lookup(ptid, &slot);

	if (ks) {
		__u32 old = __sync_fetch_and_and(&ks->flags, ~(__u32)SYR_KF_ONCPU);
		if (old & SYR_KF_ONCPU)
			__sync_fetch_and_add(&ks->runtime_ns, now - ks->switch_ns);
		if (!(old & SYR_KF_PARKING) && !(prev_state & SYR_TASK_DEAD_STATE)) {
			/* preempt==true: taken off the cpu while runnable even if it was about to sleep. */
			if (preempt || prev_state == SYR_TASK_RUNNING) {
				syr_post(ks, slot, ptid, SYR_MSG_TASK_PREEMPT, SYR_PREEMPT_KERNEL, now);
			} else {
				__sync_fetch_and_or(&ks->flags, SYR_KF_KBLOCKED);
				ks->blocked_ns = now;
				syr_post(ks, slot, ptid, SYR_MSG_TASK_BLOCKED, 0, now);
			}
		}
	}

	__u32 ntid = next->pid;
	ks = syr_lookup(ntid, &slot);
	if (ks) {
		ks->switch_ns = now;
		ks->cpu = bpf_get_smp_processor_id();
		ks->switches++;
		__sync_fetch_and_or(&ks->flags, SYR_KF_ONCPU);
	}
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(syr_wakeup, struct task_struct *p)
{
	__u32 slot;
	__u32 tid = p->pid;
	struct syr_kstat *ks = syr_lookup(tid, &slot);
	if (!ks)
		return 0;
	if (ks->flags & SYR_KF_PARKING)
		return 0;
	/* Test-and-clear: only the first wakeup after a reported block is a message. */
	__u32 old = __sync_fetch_and_and(&ks->flags, ~(__u32)SYR_KF_KBLOCKED);
	if (!(old & SYR_KF_KBLOCKED))
		return 0;
	syr_post(ks, slot, tid, SYR_MSG_TASK_WAKEUP, 0, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(syr_exit, struct task_struct *p)
{
	__u32 slot;
	__u32 tid = p->pid;
	struct syr_kstat *ks = syr_lookup(tid, &slot);
	if (!ks)
		return 0;
	syr_post(ks, slot, tid, SYR_MSG_TASK_DEAD, 0, bpf_ktime_get_ns());
	/* tids are recycled quickly: forget this one now, not when the agent gets to it. */
	bpf_map_delete_elem(&syr_tids, &tid);
	return 0;
}
