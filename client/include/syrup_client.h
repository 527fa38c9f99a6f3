/* syrup_client.h: the public C client library: put a native service's threads under an enclave's policy (link with -lsyrup). */
#ifndef SYRUP_CLIENT_H
#define SYRUP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The same calls as the TypeScript client (client/index.ts), in the order a
 * worker thread uses them:
 *
 *   syrup_enclave *enc;
 *   syrup_attach("syrup", &enc);         // the agent's --name
 *   syrup_register(enc, NULL, &me);      // blocks until the policy first places this thread
 *   ...                                  // runs only when and where the policy places it
 *   syrup_park(enc);                     // TASK_BLOCKED: until syrup_wake(me), then placed again
 *   syrup_set_hint(enc, other, 10000);   // SJF: expected runtime of its next request (ns)
 *   syrup_wake(enc, other);              // TASK_WAKEUP for another registered thread
 *   syrup_checkpoint(enc);               // in long loops: leave the cpu cheaply if asked to
 *   syrup_yield(enc);                    // TASK_YIELD
 *   syrup_unregister(enc);               // TASK_DEPARTED: back to Linux, original affinity
 *
 * Every call returns 0 or a negative error: one of enum syrup_err, or -errno.
 * syrup_strerror() says what it means, syrup_errcode() gives the stable code
 * the TypeScript client throws (e.g. "STALE_HANDLE").
 *
 * Thread rules: register, park, yield, checkpoint and unregister act on the
 * calling thread; wake and the hint setters take a handle and may be called
 * from any thread of any process that can open the enclave. A thread that
 * exits while registered is reported dead by the kernel side; it need not
 * unregister.
 *
 * If the agent dies (even by SIGKILL) every registered thread of the process
 * is released within about 10 ms and goes on under Linux with the affinity
 * it had at registration; park() and wake() then work as a plain futex
 * handshake, so no wakeup is lost. syrup_detached() tells.
 *
 * The preemption signal (signal 40, SIGRTMIN+6 with glibc, unless the agent
 * was started with another) gets a handler in every process that attaches, and registration
 * unblocks it in the calling thread: a thread that blocks it again, or a
 * program that installs its own handler for it, cannot be preempted.
 */

typedef struct syrup_enclave syrup_enclave;

/* A handle names one registration: its slot in the low bits, how many times that slot was registered above. */
typedef uint32_t syrup_handle;

enum syrup_err {
	SYRUP_E_NAME = -1000,       /* bad enclave name */
	SYRUP_E_NOENCLAVE = -1001,  /* no enclave of that name */
	SYRUP_E_ABI = -1002,        /* the enclave's ABI version differs from this library's */
	SYRUP_E_NOAGENT = -1004,    /* the enclave has no live agent */
	SYRUP_E_FULL = -1005,       /* no free task slot */
	SYRUP_E_NOTREG = -1006,     /* the calling thread (or the handle's slot) is not registered */
	SYRUP_E_REGISTERED = -1007, /* the calling thread is already registered */
	SYRUP_E_STALE = -1011,      /* the handle's registration has ended; its slot may be another thread's now */
};

struct syrup_register_opts {
	uint32_t qos;      /* QoS class, 0 = highest (policies that use it: shinjuku, mfq) */
	uint32_t group;    /* CPU-rate group id, 0 = none */
	int32_t executor;  /* network executor (SO_REUSEPORT socket index) it serves, -1 = none */
};
#define SYRUP_REGISTER_OPTS_DEFAULT { 0, 0, -1 }

/* Open the enclave `name` for this process (refcounted: every thread may call it; one watchdog per process). */
int syrup_attach(const char *name, syrup_enclave **out);

/* Register the calling thread (opts may be NULL: the defaults above). Blocks until the policy first places it.
 * If the agent is gone it returns SYRUP_E_NOAGENT and the thread goes on under Linux. */
int syrup_register(syrup_enclave *enc, const struct syrup_register_opts *opts, syrup_handle *out);
int syrup_park(syrup_enclave *enc);
int syrup_yield(syrup_enclave *enc);
/* 1 if the thread left its cpu for a preemption the agent asked for (and was placed again), 0 if none was asked. */
int syrup_checkpoint(syrup_enclave *enc);
int syrup_unregister(syrup_enclave *enc);
int syrup_wake(syrup_enclave *enc, syrup_handle task);

/* Hints the policy reads when it handles the task's next message. Set them before waking it. */
int syrup_set_hint(syrup_enclave *enc, syrup_handle task, uint64_t runtime_ns);   /* SJF */
int syrup_set_deadline(syrup_enclave *enc, syrup_handle task, uint64_t abs_ns);   /* EDF, CLOCK_MONOTONIC */
int syrup_set_qos(syrup_enclave *enc, syrup_handle task, uint32_t qos);
int syrup_set_group(syrup_enclave *enc, syrup_handle task, uint32_t group);

/* When the agent committed the task's latest placement (CLOCK_MONOTONIC ns): for measuring commit-to-running. */
uint64_t syrup_placed_at_ns(syrup_enclave *enc, syrup_handle task);

/* True once the agent is gone: threads run under Linux. */
bool syrup_detached(syrup_enclave *enc);
/* The calling thread's handle, or 0 if it is not registered. */
syrup_handle syrup_self(void);
uint32_t syrup_handle_slot(syrup_handle h);

const char *syrup_strerror(int err);
const char *syrup_errcode(int err);

#ifdef __cplusplus
}
#endif
#endif
