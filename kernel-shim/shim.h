/* shim.h: the user-space half of the kernel shim: region mapping, placement, client and agent primitives. */
#ifndef SYRUP_SHIM_H
#define SYRUP_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include "syrup_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors are negative; syr_strerror() names them. errno-style values are -errno. */
enum syr_err {
	SYR_E_NAME = -1000,       /* bad enclave name */
	SYR_E_NOENCLAVE = -1001,  /* no region / no pinned maps for that name */
	SYR_E_ABI = -1002,        /* region ABI version differs from ours */
	SYR_E_AGENT_ALIVE = -1003,/* another agent holds the enclave */
	SYR_E_NOAGENT = -1004,    /* the enclave has no live agent */
	SYR_E_FULL = -1005,       /* no free task slot */
	SYR_E_NOTREG = -1006,     /* calling thread is not registered */
	SYR_E_REGISTERED = -1007, /* calling thread is already registered */
	SYR_E_BPF = -1008,        /* loading/attaching BPF failed */
	SYR_E_NOTOWNER = -1009,   /* the slot belongs to another thread */
	SYR_E_OVERLAP = -1010,    /* cpus overlap another live enclave */
	SYR_E_STALE = -1011,      /* task handle of a registration that has ended (its slot may be reused) */
};
const char *syr_strerror(int err);
const char *syr_errcode(int err); /* stable string code for JS .code */

uint64_t syr_now_ns(void);
int syr_futex_wait(uint32_t *addr, uint32_t val);
int syr_futex_wake(uint32_t *addr, int n);
bool syr_name_ok(const char *name);
/* State letter of a thread from /proc/<tid>/stat (R, S, D, Z, ...), 0 if no such thread, '?' if unreadable. */
char syr_thread_state(uint32_t tid);
void syr_region_path(const char *name, char *out, size_t n);   /* "/syrup.<name>" for shm_open */
void syr_pin_dir(const char *name, char *out, size_t n);       /* /sys/fs/bpf/syrup/<name> */
int syr_ensure_bpffs(void);

/* A mapping of one enclave in this process. */
struct syr_map {
	char name[SYR_NAME_MAX];
	int shm_fd;
	struct syr_region *r;
	int kstat_fd;
	struct syr_kstat *ks;
	size_t ks_len;
};
int syr_map_open(struct syr_map *m, const char *name); /* existing enclave (clients) */
void syr_map_close(struct syr_map *m);
size_t syr_kstat_len(void);

/* ---- placement: shared by agent and clients ---- */
static inline uint32_t syr_run_gen(uint32_t run) { return run >> SYR_RUN_GEN_SHIFT; }
static inline uint32_t syr_run_state(uint32_t run) { return run & SYR_RUN_STATE_MASK; }
/* Let the task run if it is still in run gen `gen`: bump the gen, clear any park request, wake it if it sleeps.
 * False (and nothing changed) if it has moved on since, e.g. it parked or yielded on its own. */
bool syr_start(struct syr_region *r, uint32_t slot, uint32_t gen);
/* syr_start without the wake: SYR_STARTED_ASLEEP when the caller owes the thread its futex wake. */
enum { SYR_NOT_STARTED = -1, SYR_STARTED = 0, SYR_STARTED_ASLEEP = 1 };
int syr_start_nowake(struct syr_region *r, uint32_t slot, uint32_t gen);
/* Between these, a successor started by this thread is woken only at the flush (after the leaver's post; placement.c says why). */
void syr_defer_wakes(void);
void syr_flush_wakes(void);
/* Task `slot` gives up `cpu`: hand it to the latched successor, or mark it idle. Returns the successor slot+1 or 0. */
uint32_t syr_leave_cpu(struct syr_region *r, uint32_t slot, int cpu);
/* Task `slot` neither holds `cpu` nor waits latched on it any more (it left: died, blocked, parked, yielded). */
void syr_vacate(struct syr_region *r, uint32_t slot, int cpu);
/* Agent side: claim cpu for slot: 0 = idle cpu taken, 1 = latched behind *victim, -1 = a successor is already latched. */
int syr_occupy(struct syr_region *r, uint32_t slot, int cpu, uint32_t *victim);
bool syr_holds(struct syr_region *r, uint32_t slot, int cpu);
bool syr_is_holder(struct syr_region *r, uint32_t slot, int cpu);
uint32_t syr_force_handoff(struct syr_region *r, int cpu);

/* ---- idle poller (poller.c): an agent thread on an enclave cpu that makes the agent's futex wakes there ---- */
struct syr_poller;
/* How long a delegated wake may wait for the poller before the agent makes it itself. */
#define SYR_POLL_GRACE_NS 50000ull
int syr_poller_start(struct syr_region *r, int cpu, uint64_t spin_ns, struct syr_poller **out);
/* Stop and free; adds its counts to *wakes / *sleeps. */
void syr_poller_stop(struct syr_poller *p, uint64_t *wakes, uint64_t *sleeps);
void syr_poller_counts(const struct syr_poller *p, uint64_t *wakes, uint64_t *sleeps);
/* Agent side: hand cpu's poller the wake of slot. False: no poller took it, wake it yourself. */
bool syr_poll_delegate(struct syr_region *r, int cpu, uint32_t slot);
/* Agent side: take back an unmade delegated wake and make it. Returns the slot+1 woken, 0 if none was pending. */
uint32_t syr_poll_reclaim(struct syr_region *r, int cpu);
/* A client-ring cell's {seq, owner} pair, read and CASed as one 64-bit word (see region.c). */
static inline uint64_t *syr_cell_word(struct syr_cring_cell *c)
{
	return (uint64_t *)&c->seq; /* region.c asserts that owner follows seq */
}
static inline uint64_t syr_cell_make(uint32_t seq, uint32_t owner) { return (uint64_t)seq | ((uint64_t)owner << 32); }
/* Post a message from user space through the client ring (seq taken from the task's barrier). */
int syr_cring_post(struct syr_map *m, uint32_t slot, uint16_t type, uint16_t src, int cpu, uint32_t arg);
/* Agent side: skip the claimed cell at head if its owner thread is gone. True if skipped. */
bool syr_cring_reclaim(struct syr_region *r, uint32_t head, uint32_t owner);
void syr_lock(uint32_t *l);
void syr_unlock(uint32_t *l);
int syr_set_affinity_one(pid_t tid, int cpu);

/* ---- client side (a service's threads) ---- */
static inline uint32_t syr_handle(uint32_t slot, uint32_t gen) { return (gen << SYR_HANDLE_SLOT_BITS) | slot; }
static inline uint32_t syr_handle_slot(uint32_t h) { return h & ((1u << SYR_HANDLE_SLOT_BITS) - 1); }
static inline uint32_t syr_handle_gen(uint32_t h) { return h >> SYR_HANDLE_SLOT_BITS; }
struct syr_client;
int syr_client_attach(const char *name, struct syr_client **out);   /* refcounted per process and name */
struct syr_map *syr_client_map(struct syr_client *c);
/* Register the calling thread; *handle_out names this registration (syr_handle_slot() gives its slot). */
int syr_client_register(struct syr_client *c, uint32_t qos, uint32_t group, uint64_t user_data, uint32_t *handle_out);
int syr_client_park(struct syr_client *c);
int syr_client_yield(struct syr_client *c);
/* Wake the task a handle names; SYR_E_STALE if that registration has ended, even if its slot was reused. */
int syr_client_wake(struct syr_client *c, uint32_t handle);
int syr_client_unregister(struct syr_client *c);
int syr_client_checkpoint(struct syr_client *c); /* 1 if it parked for a preemption */
bool syr_client_detached(struct syr_client *c);
int syr_client_my_slot(void); /* -1 if the calling thread is not registered */
uint32_t syr_client_my_handle(void); /* 0 if the calling thread is not registered */
/* In a forked child: the parent's registration of the thread that forked is not this process's; forget it. */
void syr_client_forget_after_fork(void);

/* ---- agent side ---- */
struct syr_agent;
struct syr_agent_opts {
	const char *name;
	const int *cpus;
	int ncpus;
	int agent_cpu;
	int preempt_signo;
	uint32_t max_tasks;
	uint32_t region_mode; /* file mode of the region and pins, e.g. 0600 */
	uint64_t latch_timeout_ns;
	uint64_t reorder_timeout_ns;
	bool upgrade;                /* take over from the enclave's live agent instead of creating it */
	uint64_t handover_timeout_ns;
	uint64_t preempt_grace_ns;   /* delay the preemption signal so a checkpoint() can answer first; 0 = at once */
	uint64_t idle_poll_ns;       /* an idle poller (poller.c) on every enclave cpu, asleep after this long idle; 0 = none */
};
struct syr_agent_counters {
	uint64_t kernel_msgs, client_msgs, bad_msgs, reordered, seq_gaps, dup_msgs, late_msgs;
	uint64_t kernel_drops, client_drops, latch_timeouts, signals, affinity_calls;
	uint64_t upgrade_gap_ns, rediscovered;
	uint64_t cring_reclaimed, coop_preempts;
	uint64_t sleeps, sleep_ns, sleep_wakeups; /* idle waits, time in them, and those a client post ended */
	uint64_t evicted, evicted_msgs; /* tasks handed back to Linux, and their messages kept from the loop since */
	/* Wakes handed to idle pollers, made by them, taken back after SYR_POLL_GRACE_NS; poller sleeps. */
	uint64_t poll_delegated, poll_wakes, poll_reclaimed, poll_sleeps;
};
int syr_agent_open(const struct syr_agent_opts *o, struct syr_agent **out, char *errbuf, size_t errlen);
/* Ordered messages into out (capacity cap). Returns count (>=0). */
int syr_agent_drain(struct syr_agent *a, struct syr_msg *out, int cap);
void syr_agent_commit(struct syr_agent *a, struct syr_txn_req *txns, int n);
int syr_agent_request_park(struct syr_agent *a, uint32_t slot, uint32_t kind);
void syr_agent_release_slot(struct syr_agent *a, uint32_t slot);
/* Hand one task back to Linux while the enclave lives on; its slot is freed when it unregisters or dies. */
int syr_agent_evict(struct syr_agent *a, uint32_t slot);
/*
 * Idle wait: block until a client posts or max_ns passes (cut short for the
 * shim's own timers). Returns the ns spent blocked, 0 if it did not block.
 */
uint64_t syr_agent_sleep(struct syr_agent *a, uint64_t max_ns);
/* Returns true when a new agent asked this one to hand the enclave over. */
bool syr_agent_heartbeat(struct syr_agent *a, uint64_t now);
/* Live upgrade, old side: park the running threads, mark HANDOVER, let go without detaching anyone. */
void syr_agent_handover(struct syr_agent *a);
struct syr_map *syr_agent_map(struct syr_agent *a);
void syr_agent_counters(struct syr_agent *a, struct syr_agent_counters *c);
/* Detach every task (they go on under Linux), drop the pins and the region name. */
void syr_agent_close(struct syr_agent *a);

#ifdef __cplusplus
}
#endif
#endif
