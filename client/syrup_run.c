/* syrup_run.c: the LD_PRELOAD half of syrup-run: registers every thread of an unmodified program with an enclave. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "syrup_client.h"

/*
 * Design
 * ------
 * bin/syrup-run starts the program with this library preloaded and the
 * enclave named in SYRUP_ENCLAVE (SYRUP_QOS optional). Its constructor runs
 * before main(), attaches, and registers the main thread, which blocks there
 * until the policy first places it. pthread_create() is interposed: the new
 * thread starts in a trampoline that registers it before the program's start
 * routine runs, and unregisters it when the routine returns (a thread that
 * calls pthread_exit() or is cancelled skips that; the kernel side reports it
 * dead instead). C++ std::thread and every other wrapper end in
 * pthread_create, so they are covered.
 *
 * From then on a registered thread of an unmodified program is scheduled the
 * way the shim schedules any thread: it runs only once placed, it leaves
 * the cpu when it blocks in the kernel (TASK_BLOCKED from the tracepoints),
 * and when the kernel wakes it and the policy does not place it at once,
 * the preemption signal parks it in its handler. Nothing in the program
 * calls park or yield; the kernel events do the work.
 *
 * The shim's own threads (the per-process watchdog that detaches everything
 * if the agent dies) are created through the same interposed symbol, so a
 * thread-local flag marks the library's own creations and lets them through.
 *
 * If the enclave cannot be attached at start the program runs under Linux
 * (syrup-run checks first, so this is a race with the agent's exit); if the
 * agent dies later, the watchdog hands every thread back to Linux.
 */

static syrup_enclave *run_enc;
static struct syrup_register_opts run_opts = SYRUP_REGISTER_OPTS_DEFAULT;
static __thread int run_internal;
static int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int run_warned;

static void run_register_self(void)
{
	syrup_handle h;
	int rc = syrup_register(run_enc, &run_opts, &h);
	/* NOAGENT: the agent is gone and the thread runs under Linux, which is the fallback, not an error. */
	if (rc != 0 && rc != SYRUP_E_NOAGENT && !__atomic_exchange_n(&run_warned, 1, __ATOMIC_SEQ_CST))
		fprintf(stderr, "syrup-run: a thread could not register (%s): it runs under Linux\n", syrup_strerror(rc));
}

struct run_start {
	void *(*fn)(void *);
	void *arg;
};

static void *run_trampoline(void *p)
{
	struct run_start s = *(struct run_start *)p;
	free(p);
	run_register_self();
	void *ret = s.fn(s.arg);
	if (syrup_self())
		syrup_unregister(run_enc);
	return ret;
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (!real_create) {
		real_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT, "pthread_create");
		if (!real_create)
			return EAGAIN;
	}
	if (!run_enc || run_internal)
		return real_create(thread, attr, fn, arg);
	struct run_start *s = malloc(sizeof(*s));
	if (!s)
		return EAGAIN;
	s->fn = fn;
	s->arg = arg;
	int rc = real_create(thread, attr, run_trampoline, s);
	if (rc != 0)
		free(s);
	return rc;
}

static void run_after_fork_child(void)
{
	/* The child is another process: the parent's registration is not its own. An exec'd
	 * program registers afresh (the preload and SYRUP_ENCLAVE are in its environment). */
	syr_client_forget_after_fork();
	run_enc = NULL;
}

__attribute__((constructor)) static void run_init(void)
{
	const char *name = getenv("SYRUP_ENCLAVE");
	if (!name || !*name)
		return;
	const char *qos = getenv("SYRUP_QOS");
	if (qos && *qos)
		run_opts.qos = (uint32_t)strtoul(qos, NULL, 10);
	run_internal = 1;
	syrup_enclave *enc;
	int rc = syrup_attach(name, &enc);
	run_internal = 0;
	if (rc != 0) {
		fprintf(stderr, "syrup-run: enclave '%s': %s: running under Linux\n", name, syrup_strerror(rc));
		return;
	}
	pthread_atfork(NULL, NULL, run_after_fork_child);
	run_enc = enc;
	run_register_self();
}
