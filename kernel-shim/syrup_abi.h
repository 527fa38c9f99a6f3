/* syrup_abi.h: the one thread-scheduling ABI shared by the BPF programs, the shim, the addon and agent/abi.ts. */
/*
 * Everything here is plain fixed-size structs and enums with explicit padding,
 * so the same bytes mean the same thing to clang -target bpf, g++ (addon) and
 * the TypeScript mirror (agent/abi.ts, checked by test/abi.test.ts).
 *
 * An enclave is two shared mappings, both named after the enclave:
 *   - /dev/shm/syrup.<name>: struct syr_region (header, user status words,
 *     per-CPU transaction slots, client->agent message ring). Futex words
 *     live here because shared futexes return EFAULT on BPF map memory.
 *   - /sys/fs/bpf/syrup/<name>/kstat: a pinned BPF_F_MMAPABLE array of
 *     struct syr_kstat, one per task slot. The kernel half of the status
 *     word: the barrier (per-task seqnum) that BPF and clients both bump
 *     atomically, and flags/runtime that BPF maintains at every switch.
 * Both are indexed by the same task slot.
 */
#ifndef SYRUP_ABI_H
#define SYRUP_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SYR_ABI_VERSION 5
#define SYR_MAGIC 0x50525953u /* "SYRP" little-endian */

#define SYR_MAX_TASKS 4096
#define SYR_MAX_CPUS 256
#define SYR_CRING_SLOTS 4096 /* power of two */
#define SYR_NAME_MAX 48
/*
 * A task handle names one registration, not just a slot: slot in the low
 * SYR_HANDLE_SLOT_BITS, the slot's registration generation (syr_task.reg_gen,
 * 1..SYR_HANDLE_GEN_MASK, never 0) above. A handle kept after its thread
 * unregistered is refused once the slot is reused, instead of waking or
 * hinting the newcomer. A bare slot number has generation 0 and is never a
 * valid handle. Handles stay below 2^31, so they fit a signed 32-bit word.
 */
#define SYR_HANDLE_SLOT_BITS 12
#define SYR_HANDLE_GEN_MASK 0x7ffffu
/*
 * cpuset cgroup (v1, under the cpuset root) that enclave isolation moves every
 * movable thread outside any enclave into. The client reads its thread's
 * cpuset path at registration: a mask clipped by this cgroup is not the
 * thread's own, so it saves all cpus as the affinity to hand back.
 */
#define SYR_ISOLATION_CGROUP "syrup.rest"

/* Message types: one per ghOSt task message the shim can produce. */
enum syr_msg_type {
	SYR_MSG_NONE = 0,
	SYR_MSG_TASK_NEW = 1,      /* client: registered; runnable, waiting for a placement */
	SYR_MSG_TASK_WAKEUP = 2,   /* kernel (woke from a kernel block) or client (wake()) */
	SYR_MSG_TASK_BLOCKED = 3,  /* kernel (slept in the kernel) or client (park()) */
	SYR_MSG_TASK_PREEMPT = 4,  /* kernel (switched out while runnable) or client (agent preemption honoured) */
	SYR_MSG_TASK_YIELD = 5,    /* client: yield(); still runnable */
	SYR_MSG_TASK_DEAD = 6,     /* kernel: the thread exited */
	SYR_MSG_TASK_DEPARTED = 7, /* client: unregister(); back under the Linux scheduler */
	SYR_MSG_TYPE_COUNT = 8,
};

/* Who produced a message. */
enum syr_msg_src {
	SYR_SRC_KERNEL = 0, /* BPF tracepoint */
	SYR_SRC_CLIENT = 1, /* client library in the service */
	SYR_SRC_SHIM = 2,   /* synthesised by the agent-side shim (e.g. rediscovery) */
};

/* syr_msg.arg for TASK_PREEMPT */
enum syr_preempt_cause {
	SYR_PREEMPT_KERNEL = 0,   /* a non-enclave thread (or the kernel) took the cpu */
	SYR_PREEMPT_AGENT = 1,    /* the agent asked; delivered by signal */
	SYR_PREEMPT_COOP = 2,     /* the agent asked; honoured at a checkpoint() */
};

/* One message, 32 bytes, the same layout in the BPF ring, the client ring and the drain buffer. */
struct syr_msg {
	__u16 type;   /* enum syr_msg_type */
	__u16 src;    /* enum syr_msg_src */
	__u32 slot;   /* task slot */
	__u32 tid;
	__u32 seq;    /* the task's barrier after this event */
	__s32 cpu;    /* cpu the event happened on (-1 unknown) */
	__u32 arg;    /* type-specific (see syr_preempt_cause) */
	__u64 ts_ns;  /* CLOCK_MONOTONIC */
};

/* Kernel status word flags (syr_kstat.flags). */
enum syr_kflag {
	SYR_KF_ONCPU = 1u << 0,    /* BPF: the kernel has it on a cpu right now */
	SYR_KF_KBLOCKED = 1u << 1, /* BPF: it slept in the kernel and TASK_BLOCKED was posted */
	SYR_KF_PARKING = 1u << 2,  /* client: inside the shim's own park; BPF stays silent */
	SYR_KF_ACTIVE = 1u << 3,   /* agent: tid is in the BPF tid map */
};

/* Kernel half of a status word (pinned mmapable BPF array), 64 bytes. */
struct syr_kstat {
	__u32 tid;
	__u32 barrier;      /* seqnum of the latest message posted about the task */
	__u32 flags;        /* enum syr_kflag */
	__s32 cpu;          /* cpu it last ran on */
	__u64 switch_ns;    /* last switch-in (CLOCK_MONOTONIC) */
	__u64 runtime_ns;   /* cpu time while registered */
	__u64 switches;     /* switch-ins while registered */
	__u64 blocked_ns;   /* last kernel block */
	__u64 _pad[2];
};

/* Slot lifecycle (syr_task.state), owned by client (claim) and agent (free). */
enum syr_slot_state {
	SYR_SLOT_FREE = 0,
	SYR_SLOT_CLAIMED = 1,   /* client filling it in; TASK_NEW not yet posted */
	SYR_SLOT_ACTIVE = 2,
	SYR_SLOT_DEPARTED = 3,  /* client unregistered; agent frees after the policy saw it */
	SYR_SLOT_DEAD = 4,      /* thread exited; agent frees after the policy saw it */
};

/*
 * Run word (syr_task.run): the futex the thread parks on.
 * value = (gen << 2) | state. gen counts placement episodes: a placement
 * starts one (WAIT -> RUN, gen + 1) and the thread leaving on its own
 * (park/yield/unregister: RUN -> WAIT, gen + 1) ends it. So a park request
 * made for placement g cannot park a thread placed again since, and a start
 * meant for a thread parked at g (a latched successor, a placement racing
 * the thread's own park) does nothing once the thread has moved on.
 */
enum syr_run_state {
	SYR_RUN_WAIT = 0,          /* parked, waiting for a placement */
	SYR_RUN_RUN = 1,           /* placed: may run */
	SYR_RUN_WAIT_SLEEPING = 2, /* parked in FUTEX_WAIT: the releaser must FUTEX_WAKE */
	SYR_RUN_DETACHED = 3,      /* no agent: run under the Linux scheduler */
};
#define SYR_RUN_STATE_MASK 3u
#define SYR_RUN_GEN_SHIFT 2

/* Wake word (syr_task.wstate): park()/wake() handshake that survives agent loss. */
enum syr_wflag {
	SYR_WF_BLOCKED = 1u << 0,  /* park(): waiting for a wake() */
	SYR_WF_PENDING = 1u << 1,  /* wake() came before park(): the next park returns at once */
	SYR_WF_SLEEPING = 1u << 2, /* detached park in FUTEX_WAIT on wstate */
};

/* Park request (syr_task.preempt) = (gen << 2) | kind; 0 = none. The cooperative flag. */
enum syr_preempt_kind {
	SYR_PREEMPT_NONE = 0,
	SYR_PREEMPT_SILENT = 1, /* enforce: runnable but not placed; park without a message */
	SYR_PREEMPT_YIELD = 2,  /* preempt: post TASK_PREEMPT, hand the cpu to the latched successor */
};

/* User half of a status word, 128 bytes. */
struct syr_task {
	__u32 tid;
	__u32 pid;          /* tgid of the owning process */
	__u32 state;        /* enum syr_slot_state */
	__u32 run;          /* futex run word, see syr_run_state */
	__u32 wstate;       /* enum syr_wflag */
	__u32 lock;         /* client spinlock: serialises a task's client events with their seqnums */
	__s32 cpu;          /* cpu the agent placed it on, -1 = none */
	__u32 preempt;      /* park request, see syr_preempt_kind; polled by checkpoint() */
	__u32 qos;          /* policy hint: QoS class (0 = highest) */
	__u32 group;        /* policy hint: CPU-rate group id (0 = none) */
	__s32 aff_cpu;      /* single cpu its affinity is set to now, -1 = original mask */
	__u32 flags;        /* reserved */
	__u64 hint;         /* policy hint: expected runtime of the next request (ns) */
	__u64 deadline_ns;  /* policy hint: absolute CLOCK_MONOTONIC deadline */
	__u64 commit_ns;    /* when its latest placement was committed */
	__u64 user_data;    /* free for the service */
	__u32 latch_gen;    /* run gen it was parked at when latched: the hand-over starts it only at that gen */
	__u32 reg_gen;      /* registrations of this slot so far, as task handles carry it (see SYR_HANDLE_SLOT_BITS) */
	__u64 _pad[5];
};

/* Transaction slot states (syr_cpu.txn_state). */
enum syr_txn_state {
	SYR_TXN_FREE = 0,
	SYR_TXN_READY = 1,
	SYR_TXN_COMMITTED = 2,
	SYR_TXN_FAILED = 3,
};

/* Commit result codes, one per failure, as ghOSt's. */
enum syr_txn_result {
	SYR_TXN_OK = 0,
	SYR_TXN_TARGET_NOT_FOUND = 1,   /* slot out of range or free */
	SYR_TXN_TARGET_DEAD = 2,        /* the thread exited */
	SYR_TXN_TARGET_DEPARTED = 3,    /* the thread unregistered */
	SYR_TXN_TARGET_STALE = 4,       /* barrier moved on: a newer message exists */
	SYR_TXN_TARGET_NOT_RUNNABLE = 5,/* blocked (in park() or in the kernel) */
	SYR_TXN_TARGET_ONCPU = 6,       /* already placed on a cpu */
	SYR_TXN_INVALID_CPU = 7,        /* target cpu outside the enclave */
	SYR_TXN_CPU_BUSY = 8,           /* another txn in this batch, or a preemption in flight, holds the cpu */
	SYR_TXN_NO_AGENT = 9,           /* enclave detached */
	SYR_TXN_RESULT_COUNT = 10,
};

/* syr_txn_req.flags */
enum syr_txn_flag {
	/* Latch the task as the cpu's successor without preempting the holder: it runs
	 * the moment the holder leaves (parks, blocks, yields, is preempted), handed the
	 * cpu by the leaving thread itself, with no round trip through the agent. */
	SYR_TXN_F_NEXT = 1u << 0,
};

/* One transaction in a commit batch (caller's buffer), 24 bytes. */
struct syr_txn_req {
	__u32 slot;
	__s32 cpu;
	__u32 barrier;  /* the task's seqnum the agent last saw */
	__s32 result;   /* enum syr_txn_result, written by commit */
	__u32 flags;    /* enum syr_txn_flag */
	__u32 _pad;
};

/* Why a successor is latched on a cpu (syr_cpu.latch_kind). */
enum syr_latch_kind {
	SYR_LATCH_PREEMPT = 0, /* the holder was asked to leave; forced over after latch_timeout */
	SYR_LATCH_QUEUED = 1,  /* SYR_TXN_F_NEXT: waits for the holder to leave on its own */
};

/*
 * A cpu's idle poller (syr_cpu.poll_state): a SCHED_IDLE thread of the agent
 * on that cpu, so it runs only while nothing else does. The agent hands it the
 * futex wake of a task placed on the idle cpu (syr_cpu.wake): a wake from the
 * cpu itself costs no IPI and no halted-vCPU exit, on either side.
 */
enum syr_poll_state {
	SYR_POLL_NONE = 0,     /* no poller: the agent wakes placed tasks itself */
	SYR_POLL_SPINNING = 1, /* polling syr_cpu.wake */
	SYR_POLL_SLEEPING = 2, /* idle past its spin window; futex-waits here until the cpu goes idle again */
};

/* Per-CPU transaction slot and occupancy, 64 bytes. cur/next/wake hold slot+1 (0 = none). */
struct syr_cpu {
	__u32 txn_state;   /* enum syr_txn_state of the latest txn on this cpu */
	__u32 txn_slot;
	__u32 txn_barrier;
	__s32 txn_result;
	__u32 cur;         /* task placed here */
	__u32 next;        /* latched successor: runs when cur leaves (preemption or SYR_TXN_F_NEXT) */
	__u64 latch_ns;    /* when next was latched */
	__u64 commits;
	__u64 failures;
	__u32 latch_kind;  /* enum syr_latch_kind; written by the agent only */
	__u32 wake;        /* task whose futex wake the idle poller owes (agent sets, poller takes) */
	__u32 poll_state;  /* enum syr_poll_state */
	__u32 _pad0;
};

/* Enclave state (syr_hdr.enclave_state). */
enum syr_enclave_state {
	SYR_ENC_NO_AGENT = 0,
	SYR_ENC_ACTIVE = 1,
	SYR_ENC_HANDOVER = 2,  /* live upgrade: the old agent left, the new one is taking over; clients wait */
};

/* Region header, 512 bytes. */
struct syr_hdr {
	__u32 magic;
	__u32 abi_version;
	__u32 agent_pid;
	__u32 agent_gen;      /* bumped at every agent start */
	__u64 heartbeat_ns;   /* agent loop, CLOCK_MONOTONIC */
	__u32 enclave_state;  /* enum syr_enclave_state */
	__u32 max_tasks;
	__s32 agent_cpu;
	__u32 ncpus;          /* cpus in the enclave */
	__u32 preempt_signo;
	__u32 handover_pid;   /* a new agent asking this one to hand the enclave over (live upgrade) */
	__u64 cpumask[SYR_MAX_CPUS / 64];
	char name[SYR_NAME_MAX];
	__u64 cring_drops;    /* client messages lost to a full ring */
	__u64 handover_ns;    /* when the old agent stopped scheduling (live upgrade) */
	__u32 agent_sleep;    /* 1 while the agent blocks idle (syr_agent_sleep): a client post wakes it */
	__u32 _pad2;
	__u64 _pad1[45];
};

/*
 * One client-ring cell, 48 bytes: a bounded MPSC ring in which the cell, not
 * the tail, is the claim. {seq, owner} is one 64-bit word: a producer claims
 * cell (seq == pos, owner == 0) by CAS to (pos, its tid), then moves tail on
 * (anyone seeing a claimed cell at tail helps), writes the message and
 * publishes with (pos + 1, 0). A claim whose owner died before publishing is
 * visible as such, so the agent can skip it instead of blocking behind it.
 */
struct syr_cring_cell {
	__u32 seq;
	__u32 owner;  /* tid of the producer between claim and publish, else 0 */
	struct syr_msg msg;
	__u64 _pad2;
};

/* Client -> agent message ring (the kernel side uses a BPF ring buffer). */
struct syr_cring {
	__u32 tail;        /* producers reserve here */
	__u32 _pad0[15];
	__u32 head;        /* the agent consumes here */
	__u32 _pad1[15];
	struct syr_cring_cell cells[SYR_CRING_SLOTS];
};

/* The whole /dev/shm region. */
struct syr_region {
	struct syr_hdr hdr;
	struct syr_task tasks[SYR_MAX_TASKS];
	struct syr_cpu cpus[SYR_MAX_CPUS];
	struct syr_cring cring;
};

#endif /* SYRUP_ABI_H */
