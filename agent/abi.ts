// abi.ts: TypeScript mirror of kernel-shim/syrup_abi.h (checked field by field by test/abi.test.ts).

export const ABI_VERSION = 5;
export const MAGIC = 0x50525953;
export const MAX_TASKS = 4096;
export const MAX_CPUS = 256;
export const CRING_SLOTS = 4096;
export const NAME_MAX = 48;
/** SYR_HANDLE_SLOT_BITS / SYR_HANDLE_GEN_MASK: a task handle is slot | reg_gen << 12 (see client/index.ts). */
export const HANDLE_SLOT_BITS = 12;
export const HANDLE_GEN_MASK = 0x7ffff;
/** SYR_ISOLATION_CGROUP: the cpuset cgroup that holds every movable thread outside the enclaves (isolation.ts). */
export const ISOLATION_CGROUP = 'syrup.rest';

export enum MsgType {
  NONE = 0,
  TASK_NEW = 1,
  TASK_WAKEUP = 2,
  TASK_BLOCKED = 3,
  TASK_PREEMPT = 4,
  TASK_YIELD = 5,
  TASK_DEAD = 6,
  TASK_DEPARTED = 7,
}
export const MSG_TYPE_COUNT = 8;

export enum MsgSrc {
  KERNEL = 0,
  CLIENT = 1,
  SHIM = 2,
}

export enum PreemptCause {
  KERNEL = 0,
  AGENT = 1,
  COOP = 2,
}

export enum KFlag {
  ONCPU = 1 << 0,
  KBLOCKED = 1 << 1,
  PARKING = 1 << 2,
  ACTIVE = 1 << 3,
}

export enum SlotState {
  FREE = 0,
  CLAIMED = 1,
  ACTIVE = 2,
  DEPARTED = 3,
  DEAD = 4,
}

export enum RunState {
  WAIT = 0,
  RUN = 1,
  WAIT_SLEEPING = 2,
  DETACHED = 3,
}
export const RUN_STATE_MASK = 3;
export const RUN_GEN_SHIFT = 2;

export enum WFlag {
  BLOCKED = 1 << 0,
  PENDING = 1 << 1,
  SLEEPING = 1 << 2,
}

export enum PreemptKind {
  NONE = 0,
  SILENT = 1,
  YIELD = 2,
}

export enum TxnState {
  FREE = 0,
  READY = 1,
  COMMITTED = 2,
  FAILED = 3,
}

export enum TxnResult {
  OK = 0,
  TARGET_NOT_FOUND = 1,
  TARGET_DEAD = 2,
  TARGET_DEPARTED = 3,
  TARGET_STALE = 4,
  TARGET_NOT_RUNNABLE = 5,
  TARGET_ONCPU = 6,
  INVALID_CPU = 7,
  CPU_BUSY = 8,
  NO_AGENT = 9,
}
export const TXN_RESULT_COUNT = 10;

export enum EnclaveState {
  NO_AGENT = 0,
  ACTIVE = 1,
  HANDOVER = 2,
}

/** A struct's size and field byte offsets, as the C compiler lays them out. */
export interface StructLayout {
  size: number;
  fields: Record<string, number>;
}

export const MSG: StructLayout = {
  size: 32,
  fields: { type: 0, src: 2, slot: 4, tid: 8, seq: 12, cpu: 16, arg: 20, ts_ns: 24 },
};

export const KSTAT: StructLayout = {
  size: 64,
  fields: { tid: 0, barrier: 4, flags: 8, cpu: 12, switch_ns: 16, runtime_ns: 24, switches: 32, blocked_ns: 40 },
};

export const TASK: StructLayout = {
  size: 128,
  fields: {
    tid: 0, pid: 4, state: 8, run: 12, wstate: 16, lock: 20, cpu: 24, preempt: 28,
    qos: 32, group: 36, aff_cpu: 40, flags: 44, hint: 48, deadline_ns: 56, commit_ns: 64, user_data: 72, latch_gen: 80, reg_gen: 84,
  },
};

export enum TxnFlag {
  F_NEXT = 1 << 0,
}

export enum LatchKind {
  PREEMPT = 0,
  QUEUED = 1,
}

/** syr_cpu.poll_state: the cpu's idle poller (see syrup_abi.h). */
export enum PollState {
  NONE = 0,
  SPINNING = 1,
  SLEEPING = 2,
}

export const TXN_REQ: StructLayout = {
  size: 24,
  fields: { slot: 0, cpu: 4, barrier: 8, result: 12, flags: 16 },
};

export const CPU: StructLayout = {
  size: 64,
  fields: {
    txn_state: 0, txn_slot: 4, txn_barrier: 8, txn_result: 12, cur: 16, next: 20,
    latch_ns: 24, commits: 32, failures: 40, latch_kind: 48, wake: 52, poll_state: 56,
  },
};

export const HDR: StructLayout = {
  size: 512,
  fields: {
    magic: 0, abi_version: 4, agent_pid: 8, agent_gen: 12, heartbeat_ns: 16, enclave_state: 24,
    max_tasks: 28, agent_cpu: 32, ncpus: 36, preempt_signo: 40, handover_pid: 44, cpumask: 48, name: 80,
    cring_drops: 128, handover_ns: 136, agent_sleep: 144,
  },
};

export const CRING_CELL: StructLayout = { size: 48, fields: { seq: 0, owner: 4, msg: 8 } };

export const CRING: StructLayout = { size: 128 + CRING_SLOTS * 48, fields: { tail: 0, head: 64, cells: 128 } };

/** struct syr_region: header, then tasks, cpus and the client ring back to back. */
export const REGION: StructLayout = {
  size: 512 + MAX_TASKS * 128 + MAX_CPUS * 64 + 128 + CRING_SLOTS * 48,
  fields: {
    hdr: 0,
    tasks: 512,
    cpus: 512 + MAX_TASKS * 128,
    cring: 512 + MAX_TASKS * 128 + MAX_CPUS * 64,
  },
};

export const MSG_TYPE_NAMES: Record<number, string> = {
  [MsgType.TASK_NEW]: 'TASK_NEW',
  [MsgType.TASK_WAKEUP]: 'TASK_WAKEUP',
  [MsgType.TASK_BLOCKED]: 'TASK_BLOCKED',
  [MsgType.TASK_PREEMPT]: 'TASK_PREEMPT',
  [MsgType.TASK_YIELD]: 'TASK_YIELD',
  [MsgType.TASK_DEAD]: 'TASK_DEAD',
  [MsgType.TASK_DEPARTED]: 'TASK_DEPARTED',
};

export const TXN_RESULT_NAMES: Record<number, string> = {
  [TxnResult.OK]: 'OK',
  [TxnResult.TARGET_NOT_FOUND]: 'TARGET_NOT_FOUND',
  [TxnResult.TARGET_DEAD]: 'TARGET_DEAD',
  [TxnResult.TARGET_DEPARTED]: 'TARGET_DEPARTED',
  [TxnResult.TARGET_STALE]: 'TARGET_STALE',
  [TxnResult.TARGET_NOT_RUNNABLE]: 'TARGET_NOT_RUNNABLE',
  [TxnResult.TARGET_ONCPU]: 'TARGET_ONCPU',
  [TxnResult.INVALID_CPU]: 'INVALID_CPU',
  [TxnResult.CPU_BUSY]: 'CPU_BUSY',
  [TxnResult.NO_AGENT]: 'NO_AGENT',
};
