/* wrap_counters.h: the per-policy decision counters every hook wrapper keeps, read by syrupctl. */
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

#endif
