/* client.c: what a service thread runs: register, park/yield until placed, wake others, honour preemption, survive agent loss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"

/*
 * Threads and messages
 * --------------------
 * A registered thread's client events (TASK_NEW/BLOCKED/YIELD/PREEMPT/
 * DEPARTED, and TASK_WAKEUP posted by whoever wakes it) are posted under the
 * task's spinlock, so the order of its state changes and the order of their
 * seqnums agree. The kernel side (BPF) bumps the same barrier without the
 * lock; the agent reorders the two streams per task by seqnum.
 *
 * Every client call marks the thread "in a call" (TLS). The preemption
 * signal handler does nothing inside a call except note that a preemption
 * is pending; the call honours it on the way out. That keeps the handler
 * from ever parking a thread that holds a task lock.
 *
 * Agent loss
 * ----------
 * One watchdog thread per attached enclave per process polls a pidfd of the
 * agent (readable the moment it exits, even by SIGKILL, before it is
 * reaped) and the enclave state word, every 10 ms. On loss it flips every
 * local task's run word to DETACHED (waking parked ones) and restores each
 * thread's original affinity: threads go on under the Linux scheduler and
 * park()/wake() degrade to a plain futex handshake on the wake word, so no
 * wakeup (and so no work) is lost. A live upgrade is not a loss: the old
 * agent marks the enclave HANDOVER before it exits, and the watchdog waits
 * (up to 5 s) for the new agent instead of detaching.
 */

_Static_assert(SYR_MAX_TASKS <= (1u << SYR_HANDLE_SLOT_BITS), "a handle's slot bits must hold every slot");

#define SYR_WATCHDOG_MS 10
#define SYR_HANDOVER_WAIT_NS (5ull * 1000 * 1000 * 1000)

struct syr_client {
	struct syr_map m;
	int refs;
	volatile int detached;
	volatile int stop;
	pthread_t watchdog;
	cpu_set_t *saved[SYR_MAX_TASKS]; /* original affinity of this process's registered threads */
	struct syr_client *next;
};

struct syr_tls {
	struct syr_client *c;
	int slot;
	volatile int in_call;
	volatile int deferred;
};

static __thread struct syr_tls syr_me __attribute__((tls_model("initial-exec"))) = {NULL, -1, 0, 0};
static pthread_mutex_t syr_clients_mu = PTHREAD_MUTEX_INITIALIZER;
static struct syr_client *syr_clients;
static int syr_handler_signo;
static pthread_key_t syr_exit_key;
static pthread_once_t syr_exit_once = PTHREAD_ONCE_INIT;

static int honour_preempt(struct syr_client *c, int slot, uint32_t cause);

static void enter_call(void)
{
	syr_me.in_call = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void leave_call(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	syr_me.in_call = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (syr_me.deferred) {
		syr_me.deferred = 0;
		if (syr_me.c)
			honour_preempt(syr_me.c, syr_me.slot, SYR_PREEMPT_AGENT);
	}
}

static void preempt_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	if (syr_me.c && syr_me.slot >= 0) {
		if (syr_me.in_call)
			syr_me.deferred = 1;
		else
			honour_preempt(syr_me.c, syr_me.slot, SYR_PREEMPT_AGENT);
	}
	errno = saved;
}

static int install_handler(int signo)
{
	if (__atomic_load_n(&syr_handler_signo, __ATOMIC_ACQUIRE) == signo)
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = preempt_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) != 0)
		return -errno;
	__atomic_store_n(&syr_handler_signo, signo, __ATOMIC_RELEASE);
	return 0;
}

/*
 * A thread that sits in the isolation cgroup (another enclave's agent, or
 * this one's, moved it off the enclave cpus) has a mask clipped to the cpus
 * outside the enclaves. That mask is not the thread's own: handing it back
 * at detach would keep the thread off the enclave cpus for good, after the
 * agent is gone too. So save every cpu instead (the kernel intersects it
 * with the cpus that exist and the cpuset the thread ends up in).
 */
static void unclip_isolated(pid_t tid, cpu_set_t *set)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/self/task/%d/cpuset", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (strcmp(buf, "/" SYR_ISOLATION_CGROUP "\n") != 0)
		return;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	CPU_ZERO(set);
	for (long i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		CPU_SET(i, set);
}

static void restore_affinity(struct syr_client *c, int slot)
{
	cpu_set_t *set = c->saved[slot];
	if (set)
		sched_setaffinity(c->m.r->tasks[slot].tid, sizeof(*set), set);
}

static void detach_all(struct syr_client *c)
{
	struct syr_region *r = c->m.r;
	__atomic_store_n(&c->detached, 1, __ATOMIC_SEQ_CST);
	for (int s = 0; s < SYR_MAX_TASKS; s++) {
		if (!c->saved[s])
			continue;
		struct syr_task *t = &r->tasks[s];
		uint32_t old = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
		uint32_t nw;
		do {
			nw = (old & ~SYR_RUN_STATE_MASK) | SYR_RUN_DETACHED;
		} while (!__atomic_compare_exchange_n(&t->run, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
		syr_futex_wake(&t->run, 1);
		restore_affinity(c, s);
	}
}

/*
 * An agent killed outright (SIGKILL, OOM) leaves its region ACTIVE with
 * nobody behind it; the watchdog would find that out, but only after the
 * attach had already succeeded, so a program started against a dead enclave
 * would be told it had an agent. Checking the agent's pid here makes attach
 * refuse it up front. An exited-but-unreaped agent is still "gone": its pidfd
 * polls readable. A handover is not a death (the next agent is coming).
 */
static bool agent_gone(const struct syr_hdr *h)
{
	uint32_t st = __atomic_load_n(&h->enclave_state, __ATOMIC_ACQUIRE);
	if (st == SYR_ENC_NO_AGENT)
		return true;
	if (st == SYR_ENC_HANDOVER)
		return false;
	uint32_t pid = __atomic_load_n(&h->agent_pid, __ATOMIC_ACQUIRE);
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	bool gone = poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
	close(fd);
	/* Exited during a handover begun after the state load above: still not a death. */
	return gone && __atomic_load_n(&h->enclave_state, __ATOMIC_ACQUIRE) != SYR_ENC_HANDOVER;
}

static void *watchdog_main(void *arg)
{
	struct syr_client *c = arg;
	struct syr_hdr *h = &c->m.r->hdr;
	int pidfd = -1;
	uint32_t watched = 0;
	/* The watchdog must not be confined to an enclave cpu it was born on. */
	uint64_t handover_since = 0;
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint32_t st = __atomic_load_n(&h->enclave_state, __ATOMIC_ACQUIRE);
		if (st == SYR_ENC_NO_AGENT)
			break;
		if (st == SYR_ENC_HANDOVER) {
			/* Live upgrade in progress: the old agent may already be gone; wait for the new one. */
			uint64_t now = syr_now_ns();
			if (!handover_since)
				handover_since = now;
			if (now - handover_since > SYR_HANDOVER_WAIT_NS)
				break;
			struct timespec ts = {0, SYR_WATCHDOG_MS * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		handover_since = 0;
		uint32_t pid = __atomic_load_n(&h->agent_pid, __ATOMIC_ACQUIRE);
		if (pid != watched) {
			if (pidfd >= 0)
				close(pidfd);
			pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
			watched = pid;
			if (pidfd < 0)
				break; /* ESRCH: it is already gone */
		}
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int n = poll(&p, 1, SYR_WATCHDOG_MS);
		if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			/* The agent exited. Handing over (state already HANDOVER) is not dying. */
			if (__atomic_load_n(&h->enclave_state, __ATOMIC_ACQUIRE) == SYR_ENC_HANDOVER)
				continue;
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
		detach_all(c);
	return NULL;
}

static void thread_exit_cleanup(void *arg)
{
	/* A registered thread exited without unregister(): its TASK_DEAD comes from BPF; forget its mask. */
	struct syr_client *c = syr_me.c;
	if (c && syr_me.slot >= 0) {
		free(c->saved[syr_me.slot]);
		c->saved[syr_me.slot] = NULL;
	}
	syr_me.c = NULL;
	syr_me.slot = -1;
}

static void make_exit_key(void)
{
	pthread_key_create(&syr_exit_key, thread_exit_cleanup);
}

int syr_client_attach(const char *name, struct syr_client **out)
{
	pthread_once(&syr_exit_once, make_exit_key);
	pthread_mutex_lock(&syr_clients_mu);
	for (struct syr_client *c = syr_clients; c; c = c->next) {
		if (strcmp(c->m.name, name) == 0 && !c->detached) {
			c->refs++;
			*out = c;
			pthread_mutex_unlock(&syr_clients_mu);
			return 0;
		}
	}
	struct syr_client *c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&syr_clients_mu);
		return -ENOMEM;
	}
	int rc = syr_map_open(&c->m, name);
	if (rc == 0 && agent_gone(&c->m.r->hdr))
		rc = SYR_E_NOAGENT;
	if (rc == 0)
		rc = install_handler((int)c->m.r->hdr.preempt_signo);
	if (rc == 0) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		rc = -pthread_create(&c->watchdog, &attr, watchdog_main, c);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		syr_map_close(&c->m);
		free(c);
		pthread_mutex_unlock(&syr_clients_mu);
		return rc;
	}
	c->refs = 1;
	c->next = syr_clients;
	syr_clients = c;
	*out = c;
	pthread_mutex_unlock(&syr_clients_mu);
	return 0;
}

struct syr_map *syr_client_map(struct syr_client *c)
{
	return &c->m;
}

bool syr_client_detached(struct syr_client *c)
{
	return __atomic_load_n(&c->detached, __ATOMIC_SEQ_CST) != 0;
}

int syr_client_my_slot(void)
{
	return syr_me.c ? syr_me.slot : -1;
}

uint32_t syr_client_my_handle(void)
{
	if (!syr_me.c || syr_me.slot < 0)
		return 0;
	return syr_handle((uint32_t)syr_me.slot, syr_me.c->m.r->tasks[syr_me.slot].reg_gen);
}

/*
 * fork() copies the calling thread's TLS and the client list, but not the
 * watchdogs, and the slot still names the parent's thread. The child's one
 * thread goes on under Linux with the affinity the parent had at
 * registration, and attaches afresh if it wants to be scheduled.
 */
void syr_client_forget_after_fork(void)
{
	struct syr_client *c = syr_me.c;
	if (c && syr_me.slot >= 0 && c->saved[syr_me.slot])
		sched_setaffinity(0, sizeof(cpu_set_t), c->saved[syr_me.slot]);
	syr_me.c = NULL;
	syr_me.slot = -1;
	syr_me.in_call = 0;
	syr_me.deferred = 0;
	pthread_mutex_init(&syr_clients_mu, NULL);
	syr_clients = NULL; /* the parent's structs leak in the child: their watchdogs do not exist here */
}

/* ACTIVE, or HANDOVER (a live upgrade: messages wait in the ring for the new agent). */
static bool enclave_live(struct syr_client *c)
{
	return !syr_client_detached(c) &&
	       __atomic_load_n(&c->m.r->hdr.enclave_state, __ATOMIC_SEQ_CST) != SYR_ENC_NO_AGENT;
}

/*
 * The thread leaves on its own: move the run word to WAIT (unless the enclave
 * is detached) and end its placement episode (gen + 1), so a start meant for
 * the episode it leaves (a placement or hand-over racing this park or yield)
 * cannot make it run again; it waits for a fresh placement.
 */
static void run_to_wait(struct syr_task *t)
{
	uint32_t old = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	uint32_t nw;
	do {
		if (syr_run_state(old) == SYR_RUN_DETACHED)
			return;
		nw = ((syr_run_gen(old) + 1) << SYR_RUN_GEN_SHIFT) | SYR_RUN_WAIT;
	} while (!__atomic_compare_exchange_n(&t->run, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

/* Block until the agent places this task (RUN) or the enclave is gone (DETACHED). */
static uint32_t wait_placed(struct syr_client *c, int slot)
{
	struct syr_task *t = &c->m.r->tasks[slot];
	struct syr_kstat *ks = &c->m.ks[slot];
	uint32_t st;
	__atomic_or_fetch(&ks->flags, SYR_KF_PARKING, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
		st = syr_run_state(run);
		if (st == SYR_RUN_RUN || st == SYR_RUN_DETACHED)
			break;
		if (st == SYR_RUN_WAIT) {
			/* Announce the sleep so the releaser knows to FUTEX_WAKE; re-read on CAS failure. */
			__atomic_compare_exchange_n(&t->run, &run,
						    (run & ~SYR_RUN_STATE_MASK) | SYR_RUN_WAIT_SLEEPING, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			continue;
		}
		syr_futex_wait(&t->run, run);
	}
	__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_PARKING, __ATOMIC_SEQ_CST);
	/* DETACHED with the enclave alive: the agent handed this one thread back to
	 * Linux (syr_agent_evict); it gets its own affinity back, as on agent loss. */
	if (st == SYR_RUN_DETACHED)
		restore_affinity(c, slot);
	return st;
}

/* Without an agent park() is a futex handshake on the wake word: wait until wake() clears BLOCKED. */
static void wait_woken(struct syr_task *t)
{
	for (;;) {
		uint32_t w = __atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST);
		if (!(w & SYR_WF_BLOCKED))
			return;
		if (!(w & SYR_WF_SLEEPING)) {
			__atomic_compare_exchange_n(&t->wstate, &w, w | SYR_WF_SLEEPING, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			continue;
		}
		syr_futex_wait(&t->wstate, w);
	}
}

int syr_client_register(struct syr_client *c, uint32_t qos, uint32_t group, uint64_t user_data, uint32_t *handle_out)
{
	if (syr_me.c)
		return SYR_E_REGISTERED;
	if (!enclave_live(c))
		return SYR_E_NOAGENT;
	struct syr_region *r = c->m.r;
	uint32_t max = r->hdr.max_tasks;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int slot = -1;
	uint32_t start = (uint32_t)tid % max;
	for (uint32_t i = 0; i < max; i++) {
		uint32_t s = (start + i) % max;
		uint32_t expect = SYR_SLOT_FREE;
		if (__atomic_compare_exchange_n(&r->tasks[s].state, &expect, SYR_SLOT_CLAIMED, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			slot = (int)s;
			break;
		}
	}
	if (slot < 0)
		return SYR_E_FULL;

	cpu_set_t *saved = malloc(sizeof(cpu_set_t));
	if (!saved) {
		__atomic_store_n(&r->tasks[slot].state, SYR_SLOT_FREE, __ATOMIC_SEQ_CST);
		return -ENOMEM;
	}
	sched_getaffinity(0, sizeof(*saved), saved);
	unclip_isolated(tid, saved);

	struct syr_task *t = &r->tasks[slot];
	struct syr_kstat *ks = &c->m.ks[slot];
	t->tid = (uint32_t)tid;
	t->pid = (uint32_t)getpid();
	t->cpu = -1;
	t->aff_cpu = -1;
	t->preempt = 0;
	t->qos = qos;
	t->group = group;
	t->hint = 0;
	t->deadline_ns = 0;
	t->user_data = user_data; /* before TASK_NEW: the agent reads it with the message */
	t->lock = 0;
	/* A new registration generation, never 0 (a bare slot number is no handle), before the
	 * slot turns ACTIVE: a waker that sees ACTIVE under the lock sees this generation too. */
	uint32_t gen = (t->reg_gen + 1) & SYR_HANDLE_GEN_MASK;
	__atomic_store_n(&t->reg_gen, gen ? gen : 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->wstate, 0, __ATOMIC_SEQ_CST);
	/* A new gen, never reset across slot reuse, so no stale park request or start can match. */
	uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->run, ((syr_run_gen(run) + 1) << SYR_RUN_GEN_SHIFT) | SYR_RUN_WAIT, __ATOMIC_SEQ_CST);
	ks->tid = (uint32_t)tid;
	ks->runtime_ns = 0;
	ks->switches = 0;
	__atomic_store_n(&ks->flags, SYR_KF_PARKING, __ATOMIC_SEQ_CST);

	/* Worker threads may have inherited a mask that blocks our signal. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, (int)r->hdr.preempt_signo);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	c->saved[slot] = saved;
	syr_me.c = c;
	syr_me.slot = slot;
	pthread_setspecific(syr_exit_key, c);

	enter_call();
	syr_lock(&t->lock);
	__atomic_store_n(&t->state, SYR_SLOT_ACTIVE, __ATOMIC_SEQ_CST);
	int rc = syr_cring_post(&c->m, (uint32_t)slot, SYR_MSG_TASK_NEW, SYR_SRC_CLIENT, -1, (uint32_t)getpid());
	syr_unlock(&t->lock);
	if (rc == 0)
		wait_placed(c, slot);
	leave_call();
	*handle_out = syr_handle((uint32_t)slot, t->reg_gen);
	return 0;
}

static int my_task(struct syr_client *c, struct syr_task **t)
{
	if (syr_me.c != c || syr_me.slot < 0)
		return SYR_E_NOTREG;
	*t = &c->m.r->tasks[syr_me.slot];
	return 0;
}

/* Leave the cpu and post a client event for the calling thread, then wait for a placement. */
static uint32_t leave_and_wait(struct syr_client *c, struct syr_task *t, uint16_t type, uint32_t arg)
{
	int slot = syr_me.slot;
	int cpu = t->cpu;
	__atomic_or_fetch(&c->m.ks[slot].flags, SYR_KF_PARKING, __ATOMIC_SEQ_CST);
	run_to_wait(t);
	/* Hand the cpu over before posting: the agent may place someone there as soon as it reads the message.
	 * The successor's wake waits for the post (syr_defer_wakes). */
	syr_defer_wakes();
	syr_vacate(c->m.r, (uint32_t)slot, cpu);
	syr_cring_post(&c->m, (uint32_t)slot, type, SYR_SRC_CLIENT, cpu, arg);
	syr_flush_wakes();
	syr_unlock(&t->lock);
	return wait_placed(c, slot);
}

int syr_client_park(struct syr_client *c)
{
	struct syr_task *t;
	int rc = my_task(c, &t);
	if (rc)
		return rc;
	enter_call();
	syr_lock(&t->lock);
	uint32_t w = __atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t nw = (w & SYR_WF_PENDING) ? (w & ~SYR_WF_PENDING) : (w | SYR_WF_BLOCKED);
		if (__atomic_compare_exchange_n(&t->wstate, &w, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	}
	if (w & SYR_WF_PENDING) {
		/* A wake() came first: keep the cpu and go straight back to work. */
		syr_unlock(&t->lock);
		leave_call();
		return 0;
	}
	uint32_t st;
	if (enclave_live(c)) {
		st = leave_and_wait(c, t, SYR_MSG_TASK_BLOCKED, 0);
	} else {
		syr_unlock(&t->lock);
		st = SYR_RUN_DETACHED;
	}
	if (st == SYR_RUN_DETACHED)
		wait_woken(t);
	leave_call();
	return 0;
}

int syr_client_yield(struct syr_client *c)
{
	struct syr_task *t;
	int rc = my_task(c, &t);
	if (rc)
		return rc;
	if (!enclave_live(c))
		return 0;
	enter_call();
	syr_lock(&t->lock);
	leave_and_wait(c, t, SYR_MSG_TASK_YIELD, 0);
	leave_call();
	return 0;
}

/* The registration a handle names is the slot's live one: ACTIVE, and of the handle's generation. */
static int handle_live(struct syr_task *t, uint32_t handle)
{
	if (__atomic_load_n(&t->state, __ATOMIC_SEQ_CST) != SYR_SLOT_ACTIVE)
		return SYR_E_NOTREG;
	if (__atomic_load_n(&t->reg_gen, __ATOMIC_SEQ_CST) != syr_handle_gen(handle))
		return SYR_E_STALE;
	return 0;
}

int syr_client_wake(struct syr_client *c, uint32_t handle)
{
	struct syr_region *r = c->m.r;
	uint32_t slot = syr_handle_slot(handle);
	if (slot >= r->hdr.max_tasks || syr_handle_gen(handle) == 0)
		return -EINVAL;
	struct syr_task *t = &r->tasks[slot];
	int rc = handle_live(t, handle);
	if (rc)
		return rc;
	enter_call();
	syr_lock(&t->lock);
	/* Again under the lock: the registration may have ended (and the slot been
	 * reused) between the check above and here. */
	if ((rc = handle_live(t, handle)) != 0) {
		syr_unlock(&t->lock);
		leave_call();
		return rc;
	}
	uint32_t w = __atomic_load_n(&t->wstate, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t nw = (w & SYR_WF_BLOCKED) ? (w & ~(SYR_WF_BLOCKED | SYR_WF_SLEEPING)) : (w | SYR_WF_PENDING);
		if (__atomic_compare_exchange_n(&t->wstate, &w, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	}
	if ((w & SYR_WF_BLOCKED) && enclave_live(c))
		syr_cring_post(&c->m, slot, SYR_MSG_TASK_WAKEUP, SYR_SRC_CLIENT, -1, 0);
	syr_unlock(&t->lock);
	/* The parker only sleeps on the wake word when detached; it set SLEEPING first. */
	if (w & SYR_WF_SLEEPING)
		syr_futex_wake(&t->wstate, 1);
	leave_call();
	return 0;
}

int syr_client_unregister(struct syr_client *c)
{
	struct syr_task *t;
	int rc = my_task(c, &t);
	if (rc)
		return rc;
	int slot = syr_me.slot;
	enter_call();
	syr_lock(&t->lock);
	int cpu = t->cpu;
	__atomic_store_n(&t->state, SYR_SLOT_DEPARTED, __ATOMIC_SEQ_CST);
	syr_defer_wakes();
	syr_vacate(c->m.r, (uint32_t)slot, cpu);
	if (enclave_live(c))
		syr_cring_post(&c->m, (uint32_t)slot, SYR_MSG_TASK_DEPARTED, SYR_SRC_CLIENT, cpu, 0);
	syr_flush_wakes();
	syr_unlock(&t->lock);
	restore_affinity(c, slot);
	free(c->saved[slot]);
	c->saved[slot] = NULL;
	syr_me.c = NULL;
	syr_me.slot = -1;
	syr_me.in_call = 0;
	syr_me.deferred = 0;
	pthread_setspecific(syr_exit_key, NULL);
	return 0;
}

int syr_client_checkpoint(struct syr_client *c)
{
	if (syr_me.c != c || syr_me.slot < 0)
		return SYR_E_NOTREG;
	if (__atomic_load_n(&c->m.r->tasks[syr_me.slot].preempt, __ATOMIC_RELAXED) == 0)
		return 0;
	return honour_preempt(c, syr_me.slot, SYR_PREEMPT_COOP);
}

/*
 * The agent asked this thread to leave its cpu (preempt word = gen|kind).
 * Honour it only if it is for the current placement: the run-word CAS from
 * (gen, RUN) to (gen, WAIT) fails if the agent has placed us again since.
 * Runs in the signal handler, so: atomics, futex and the client ring only.
 */
static int honour_preempt(struct syr_client *c, int slot, uint32_t cause)
{
	struct syr_task *t = &c->m.r->tasks[slot];
	struct syr_kstat *ks = &c->m.ks[slot];
	uint32_t p = __atomic_load_n(&t->preempt, __ATOMIC_SEQ_CST);
	if (p == 0)
		return 0;
	uint32_t gen = p >> 2, kind = p & 3;
	int cpu = t->cpu;
	/* Whether it held its cpu, read before it parks: a silent park of a successor latched
	 * while it ran unplaced must not give up a cpu that the holder hands it after the
	 * run-word CAS below (the hand-over then starts it at the new gen, and it runs). */
	bool held = syr_is_holder(c->m.r, (uint32_t)slot, cpu);
	uint32_t run = __atomic_load_n(&t->run, __ATOMIC_SEQ_CST);
	if (syr_run_gen(run) != gen || syr_run_state(run) != SYR_RUN_RUN) {
		__atomic_compare_exchange_n(&t->preempt, &p, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		return 0;
	}
	__atomic_or_fetch(&ks->flags, SYR_KF_PARKING, __ATOMIC_SEQ_CST);
	uint32_t parked = (gen << SYR_RUN_GEN_SHIFT) | SYR_RUN_WAIT;
	if (!__atomic_compare_exchange_n(&t->run, &run, parked, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		__atomic_and_fetch(&ks->flags, ~(uint32_t)SYR_KF_PARKING, __ATOMIC_SEQ_CST);
		return 0;
	}
	__atomic_compare_exchange_n(&t->preempt, &p, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (kind == SYR_PREEMPT_YIELD) {
		syr_me.in_call = 1;
		syr_lock(&t->lock);
		syr_defer_wakes();
		syr_leave_cpu(c->m.r, (uint32_t)slot, cpu);
		syr_cring_post(&c->m, (uint32_t)slot, SYR_MSG_TASK_PREEMPT, SYR_SRC_CLIENT, cpu, cause);
		syr_flush_wakes();
		syr_unlock(&t->lock);
		syr_me.in_call = 0;
	} else if (held) {
		syr_leave_cpu(c->m.r, (uint32_t)slot, cpu);
	}
	wait_placed(c, slot);
	return 1;
}
