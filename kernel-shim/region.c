/* region.c: naming, mapping and the low-level primitives (futex, clock, lock, client ring) of an enclave region. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "shim.h"

const char *syr_strerror(int err)
{
	switch (err) {
	case SYR_E_NAME: return "enclave name must be 1-47 characters of [A-Za-z0-9_.-]";
	case SYR_E_NOENCLAVE: return "no such enclave (is its agent running?)";
	case SYR_E_ABI: return "enclave ABI version differs from this library's";
	case SYR_E_AGENT_ALIVE: return "the enclave already has a live agent";
	case SYR_E_NOAGENT: return "the enclave has no live agent";
	case SYR_E_FULL: return "no free task slot in the enclave";
	case SYR_E_NOTREG: return "the calling thread is not registered with the enclave";
	case SYR_E_REGISTERED: return "the calling thread is already registered";
	case SYR_E_BPF: return "loading or attaching the BPF programs failed";
	case SYR_E_NOTOWNER: return "that task slot belongs to another thread";
	case SYR_E_OVERLAP: return "cpus overlap another live enclave";
	case SYR_E_STALE: return "the task handle is of a registration that has ended";
	default: return err < 0 ? strerror(-err) : "ok";
	}
}

const char *syr_errcode(int err)
{
	switch (err) {
	case SYR_E_NAME: return "BAD_ENCLAVE_NAME";
	case SYR_E_NOENCLAVE: return "NO_ENCLAVE";
	case SYR_E_ABI: return "ABI_MISMATCH";
	case SYR_E_AGENT_ALIVE: return "AGENT_ALIVE";
	case SYR_E_NOAGENT: return "NO_AGENT";
	case SYR_E_FULL: return "ENCLAVE_FULL";
	case SYR_E_NOTREG: return "NOT_REGISTERED";
	case SYR_E_REGISTERED: return "ALREADY_REGISTERED";
	case SYR_E_BPF: return "BPF_FAILED";
	case SYR_E_NOTOWNER: return "NOT_OWNER";
	case SYR_E_OVERLAP: return "CPU_OVERLAP";
	case SYR_E_STALE: return "STALE_HANDLE";
	case -EPERM: case -EACCES: return "PERMISSION_DENIED";
	default: return "SYSTEM_ERROR";
	}
}

uint64_t syr_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Shared (not PRIVATE) futexes: waiter and waker are in different processes. */
int syr_futex_wait(uint32_t *addr, uint32_t val)
{
	return syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}

int syr_futex_wake(uint32_t *addr, int n)
{
	return syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

bool syr_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= SYR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return name[0] != '.';
}

void syr_region_path(const char *name, char *out, size_t n)
{
	snprintf(out, n, "/syrup.%s", name);
}

void syr_pin_dir(const char *name, char *out, size_t n)
{
	snprintf(out, n, "/sys/fs/bpf/syrup/%s", name);
}

int syr_ensure_bpffs(void)
{
	struct statfs sf;
	if (statfs("/sys/fs/bpf", &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir("/sys/fs/bpf", 0755);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0755") != 0)
		return -errno;
	return 0;
}

size_t syr_kstat_len(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = sizeof(struct syr_kstat) * SYR_MAX_TASKS;
	return (len + pg - 1) / pg * pg;
}

int syr_map_open(struct syr_map *m, const char *name)
{
	char path[128];
	memset(m, 0, sizeof(*m));
	m->shm_fd = m->kstat_fd = -1;
	if (!syr_name_ok(name))
		return SYR_E_NAME;
	snprintf(m->name, sizeof(m->name), "%s", name);
	syr_region_path(name, path, sizeof(path));
	m->shm_fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
	if (m->shm_fd < 0)
		return errno == ENOENT ? SYR_E_NOENCLAVE : -errno;
	struct stat st;
	if (fstat(m->shm_fd, &st) != 0 || (size_t)st.st_size < sizeof(struct syr_region)) {
		syr_map_close(m);
		return SYR_E_NOENCLAVE;
	}
	m->r = mmap(NULL, sizeof(struct syr_region), PROT_READ | PROT_WRITE, MAP_SHARED, m->shm_fd, 0);
	if (m->r == MAP_FAILED) {
		m->r = NULL;
		int e = -errno;
		syr_map_close(m);
		return e;
	}
	if (m->r->hdr.magic != SYR_MAGIC) {
		syr_map_close(m);
		return SYR_E_NOENCLAVE;
	}
	if (m->r->hdr.abi_version != SYR_ABI_VERSION) {
		syr_map_close(m);
		return SYR_E_ABI;
	}
	char pin[160];
	syr_pin_dir(name, path, sizeof(path));
	snprintf(pin, sizeof(pin), "%s/kstat", path);
	m->kstat_fd = bpf_obj_get(pin);
	if (m->kstat_fd < 0) {
		int e = errno;
		syr_map_close(m);
		return e == ENOENT ? SYR_E_NOENCLAVE : -e;
	}
	m->ks_len = syr_kstat_len();
	m->ks = mmap(NULL, m->ks_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->kstat_fd, 0);
	if (m->ks == MAP_FAILED) {
		m->ks = NULL;
		int e = -errno;
		syr_map_close(m);
		return e;
	}
	return 0;
}

void syr_map_close(struct syr_map *m)
{
	if (m->ks)
		munmap(m->ks, m->ks_len);
	if (m->r)
		munmap(m->r, sizeof(struct syr_region));
	if (m->kstat_fd >= 0)
		close(m->kstat_fd);
	if (m->shm_fd >= 0)
		close(m->shm_fd);
	m->ks = NULL;
	m->r = NULL;
	m->kstat_fd = m->shm_fd = -1;
}

void syr_lock(uint32_t *l)
{
	int spins = 0;
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
		/* Holders only hold it for a few stores; yield if one got descheduled. */
		if (++spins > 100)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

void syr_unlock(uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

int syr_set_affinity_one(pid_t tid, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) == 0 ? 0 : -errno;
}

#define SYR_CRING_FULL_WAIT_NS (100ull * 1000 * 1000)

/*
 * Client ring: a bounded MPSC queue in the style of Vyukov's, except that a
 * producer claims the *cell* ({seq, owner} word, CAS from (pos, 0) to
 * (pos, tid)) and tail follows: whoever sees a claimed cell at tail moves
 * tail past it. A producer killed between claim and publish therefore leaves
 * a cell that names its owner, and the agent can skip it once that thread is
 * gone (syr_cring_reclaim) instead of every later message waiting behind it.
 * The seqnum is taken from the task's barrier *after* the cell is claimed, so
 * a full ring loses the event without leaving a gap in the task's seqnums.
 */
_Static_assert(__builtin_offsetof(struct syr_cring_cell, owner) == __builtin_offsetof(struct syr_cring_cell, seq) + 4,
	       "seq/owner must be adjacent: syr_cell_word() CASes them as one word");

int syr_cring_post(struct syr_map *m, uint32_t slot, uint16_t type, uint16_t src, int cpu, uint32_t arg)
{
	struct syr_cring *q = &m->r->cring;
	uint32_t me = (uint32_t)syscall(SYS_gettid);
	struct syr_cring_cell *cell;
	uint32_t pos;
	uint64_t deadline = 0;
	for (;;) {
		pos = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
		cell = &q->cells[pos & (SYR_CRING_SLOTS - 1)];
		uint64_t w = __atomic_load_n(syr_cell_word(cell), __ATOMIC_ACQUIRE);
		int32_t dif = (int32_t)((uint32_t)w - pos);
		if (dif == 0) {
			if ((uint32_t)(w >> 32) != 0) {
				/* Claimed by a producer that has not moved tail yet (or died doing so). */
				__atomic_compare_exchange_n(&q->tail, &pos, pos + 1, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
				continue;
			}
			if (__atomic_compare_exchange_n(syr_cell_word(cell), &w, syr_cell_make(pos, me), false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				/* Through a copy: a failed CAS (another producer already moved tail past our
				 * claim) writes the current tail into `expect`, and the publish below must
				 * use the position claimed, or the cell gets a seq the agent never takes. */
				uint32_t expect = pos;
				__atomic_compare_exchange_n(&q->tail, &expect, pos + 1, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
				break;
			}
		} else if (dif < 0) {
			/* Full: the agent is behind (descheduled, or stopped). A lost TASK_WAKEUP would
			 * strand a thread, so wait for room rather than drop, up to a bound. */
			if (!deadline)
				deadline = syr_now_ns() + SYR_CRING_FULL_WAIT_NS;
			else if (syr_now_ns() > deadline) {
				__atomic_fetch_add(&m->r->hdr.cring_drops, 1, __ATOMIC_RELAXED);
				return -ENOSPC;
			}
			sched_yield();
		}
		/* dif > 0: tail moved on under us; reload. */
	}
	struct syr_kstat *ks = &m->ks[slot];
	cell->msg.type = type;
	cell->msg.src = src;
	cell->msg.slot = slot;
	cell->msg.tid = m->r->tasks[slot].tid;
	cell->msg.seq = __atomic_add_fetch(&ks->barrier, 1, __ATOMIC_SEQ_CST);
	cell->msg.cpu = cpu;
	cell->msg.arg = arg;
	cell->msg.ts_ns = syr_now_ns();
	__atomic_store_n(syr_cell_word(cell), syr_cell_make(pos + 1, 0), __ATOMIC_RELEASE);
	/*
	 * An idle agent may be blocked in syr_agent_sleep(). It raises the flag
	 * before its last look at the ring, and we publish before we look at the
	 * flag, both with full fences (Dekker): either it sees the cell or we see
	 * the flag. The CAS makes one of several racing posters pay the syscall.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t *sleeping = &m->r->hdr.agent_sleep;
	uint32_t one = 1;
	if (__atomic_load_n(sleeping, __ATOMIC_RELAXED) == 1 &&
	    __atomic_compare_exchange_n(sleeping, &one, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		syr_futex_wake(sleeping, 1);
	return 0;
}

char syr_thread_state(uint32_t tid)
{
	/* /proc/<tid> resolves any thread id, not only thread-group leaders. */
	char p[48], buf[256];
	snprintf(p, sizeof(p), "/proc/%u/stat", tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (errno == ENOENT || errno == ESRCH) ? 0 : '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *rp = strrchr(buf, ')'); /* the command name may itself contain ')' */
	return rp && rp[1] == ' ' && rp[2] ? rp[2] : '?';
}

/* Has thread tid exited (no such tid, or a zombie whose parent has not reaped it yet)? */
static bool thread_gone(uint32_t tid)
{
	char s = syr_thread_state(tid);
	return s == 0 || s == 'Z' || s == 'X';
}

/*
 * Agent side: the cell at head is claimed by `owner` and unpublished. If that
 * thread no longer exists it never will publish: free the cell for the next
 * lap (CAS, so a publish that raced us wins) and make sure tail is past it.
 * Returns true when the cell was skipped.
 */
bool syr_cring_reclaim(struct syr_region *r, uint32_t head, uint32_t owner)
{
	if (!thread_gone(owner))
		return false;
	struct syr_cring *q = &r->cring;
	struct syr_cring_cell *cell = &q->cells[head & (SYR_CRING_SLOTS - 1)];
	uint64_t w = syr_cell_make(head, owner);
	if (!__atomic_compare_exchange_n(syr_cell_word(cell), &w, syr_cell_make(head + SYR_CRING_SLOTS, 0), false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	uint32_t t = head;
	__atomic_compare_exchange_n(&q->tail, &t, head + 1, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	return true;
}
