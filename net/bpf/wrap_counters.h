/* wrap_counters.h: the per-policy decision counters every hook wrapper keeps (read by syrupctl), and the counted verdict they all start from. */
#ifndef SYR_WRAP_COUNTERS_H
#define SYR_WRAP_COUNTERS_H

/* Slots 0..SYR_MAX_EXECUTORS-1 count decisions per executor; then these. */
#define SYR_COUNT_PASS (SYR_MAX_EXECUTORS + 0)
#define SYR_COUNT_DROP (SYR_MAX_EXECUTORS + 1)
/* The policy chose an executor the app never registered: the input fell back to PASS. */
#define SYR_COUNT_NO_EXECUTOR (SYR_MAX_EXECUTORS + 2)
#define SYR_COUNT_SLOTS (SYR_MAX_EXECUTORS + 3)

/* Per-CPU so that counting never contends between cpus. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYR_COUNT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} syr_counters SEC(".maps");

static __always_inline void syr_count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&syr_counters, &slot);
	if (n)
		*n += 1;
}

/* Decision slot for an executor index; out-of-range indices are "no executor". */
static __always_inline __u32 syr_executor_slot(__u32 idx)
{
	return idx < SYR_MAX_EXECUTORS ? idx : SYR_COUNT_NO_EXECUTOR;
}

/*
 * Runs the policy on one input. PASS and DROP mean the same at every hook, so
 * they are counted here and answered with the hook's own code (`pass`, `drop`,
 * never negative); -1 means the policy chose an executor, left in *idx for the
 * wrapper to deliver in its hook's way and then count with syr_count_delivery.
 */
static __always_inline int syr_decide(void *start, void *end, int pass, int drop, __u32 *idx)
{
	*idx = schedule(start, end);
	if (*idx == SYR_DROP) {
		syr_count(SYR_COUNT_DROP);
		return drop;
	}
	if (*idx == SYR_PASS) {
		syr_count(SYR_COUNT_PASS);
		return pass;
	}
	return -1;
}

/* An input not delivered had no executor at idx and fell back to PASS. */
static __always_inline void syr_count_delivery(__u32 idx, int delivered)
{
	syr_count(delivered ? syr_executor_slot(idx) : SYR_COUNT_NO_EXECUTOR);
}

/*
 * The whole program of the XDP hooks whose executor map is a redirect map
 * (XSKMAP, CPUMAP): XDP_PASS as bpf_redirect_map's fallback sends a frame
 * with no executor at its index on to the stack, so it is never lost.
 */
static __always_inline int syr_xdp_redirect(struct xdp_md *ctx, void *executors)
{
	__u32 idx;
	int verdict = syr_decide((void *)(long)ctx->data, (void *)(long)ctx->data_end, XDP_PASS, XDP_DROP, &idx);

	if (verdict >= 0)
		return verdict;
	long action = bpf_redirect_map(executors, idx, XDP_PASS);
	syr_count_delivery(idx, action == XDP_REDIRECT);
	return action;
}

#endif
