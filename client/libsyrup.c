/* libsyrup.c: the public C client API (include/syrup_client.h) over the shim's client side (kernel-shim/client.c). */
#include <errno.h>
#include "shim.h"
#include "syrup_client.h"

/*
 * The public header stands alone (a service includes it without the shim's
 * internals), so its error numbers are copies; these checks keep them equal.
 */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " must equal " #b)
SAME(SYRUP_E_NAME, SYR_E_NAME);
SAME(SYRUP_E_NOENCLAVE, SYR_E_NOENCLAVE);
SAME(SYRUP_E_ABI, SYR_E_ABI);
SAME(SYRUP_E_NOAGENT, SYR_E_NOAGENT);
SAME(SYRUP_E_FULL, SYR_E_FULL);
SAME(SYRUP_E_NOTREG, SYR_E_NOTREG);
SAME(SYRUP_E_REGISTERED, SYR_E_REGISTERED);
SAME(SYRUP_E_STALE, SYR_E_STALE);

/* The opaque public type is the shim's per-process client. */
#define CLIENT(e) ((struct syr_client *)(e))

int syrup_attach(const char *name, syrup_enclave **out)
{
	if (!name || !out)
		return -EINVAL;
	struct syr_client *c;
	int rc = syr_client_attach(name, &c);
	if (rc == 0)
		*out = (syrup_enclave *)c;
	return rc;
}

int syrup_register(syrup_enclave *enc, const struct syrup_register_opts *opts, syrup_handle *out)
{
	if (!enc || !out)
		return -EINVAL;
	struct syrup_register_opts o = SYRUP_REGISTER_OPTS_DEFAULT;
	if (opts)
		o = *opts;
	if (o.executor < -1)
		return -EINVAL;
	/* user_data carries executor + 1 (0 = none), as the TS client writes it. */
	return syr_client_register(CLIENT(enc), o.qos, o.group, (uint64_t)(o.executor + 1), out);
}

int syrup_park(syrup_enclave *enc) { return enc ? syr_client_park(CLIENT(enc)) : -EINVAL; }
int syrup_yield(syrup_enclave *enc) { return enc ? syr_client_yield(CLIENT(enc)) : -EINVAL; }
int syrup_checkpoint(syrup_enclave *enc) { return enc ? syr_client_checkpoint(CLIENT(enc)) : -EINVAL; }
int syrup_unregister(syrup_enclave *enc) { return enc ? syr_client_unregister(CLIENT(enc)) : -EINVAL; }
int syrup_wake(syrup_enclave *enc, syrup_handle task) { return enc ? syr_client_wake(CLIENT(enc), task) : -EINVAL; }
bool syrup_detached(syrup_enclave *enc) { return enc ? syr_client_detached(CLIENT(enc)) : true; }
syrup_handle syrup_self(void) { return syr_client_my_handle(); }
uint32_t syrup_handle_slot(syrup_handle h) { return syr_handle_slot(h); }
const char *syrup_strerror(int err) { return syr_strerror(err); }
const char *syrup_errcode(int err) { return syr_errcode(err); }

/*
 * Hints are plain words the agent reads when it handles the task's next
 * message, so they are written without the task lock. The handle is checked
 * first: a hint that lands just as its thread unregisters is reset by the
 * slot's next registration, never read under another thread's name.
 */
static struct syr_task *live_task(syrup_enclave *enc, syrup_handle h, int *rc)
{
	if (!enc) {
		*rc = -EINVAL;
		return NULL;
	}
	struct syr_region *r = syr_client_map(CLIENT(enc))->r;
	uint32_t slot = syr_handle_slot(h);
	if (slot >= r->hdr.max_tasks || syr_handle_gen(h) == 0) {
		*rc = -EINVAL;
		return NULL;
	}
	struct syr_task *t = &r->tasks[slot];
	if (__atomic_load_n(&t->state, __ATOMIC_SEQ_CST) != SYR_SLOT_ACTIVE)
		*rc = SYR_E_NOTREG;
	else if (__atomic_load_n(&t->reg_gen, __ATOMIC_SEQ_CST) != syr_handle_gen(h))
		*rc = SYR_E_STALE;
	else
		*rc = 0;
	return *rc ? NULL : t;
}

/* The four hint setters differ only in the word they store. */
#define SYRUP_HINT_SETTER(fn, type, field)                               \
	int fn(syrup_enclave *enc, syrup_handle task, type v)            \
	{                                                                \
		int rc;                                                  \
		struct syr_task *t = live_task(enc, task, &rc);          \
		if (t)                                                   \
			__atomic_store_n(&t->field, v, __ATOMIC_RELEASE); \
		return rc;                                               \
	}

SYRUP_HINT_SETTER(syrup_set_hint, uint64_t, hint)
SYRUP_HINT_SETTER(syrup_set_deadline, uint64_t, deadline_ns)
SYRUP_HINT_SETTER(syrup_set_qos, uint32_t, qos)
SYRUP_HINT_SETTER(syrup_set_group, uint32_t, group)

uint64_t syrup_placed_at_ns(syrup_enclave *enc, syrup_handle task)
{
	int rc;
	struct syr_task *t = live_task(enc, task, &rc);
	return t ? __atomic_load_n(&t->commit_ns, __ATOMIC_ACQUIRE) : 0;
}
