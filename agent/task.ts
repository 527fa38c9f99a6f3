// task.ts: the agent's view of one registered thread, shared by the runtime and the policy.

/** Hints a service writes into its status word through the client library. */
export interface TaskHints {
  /** QoS class, 0 = highest. */
  qos: number;
  /** Expected runtime of the next request in ns (0 = none given). */
  hintNs: number;
  /** Absolute CLOCK_MONOTONIC deadline in ns (0 = none). */
  deadlineNs: number;
  /** CPU-rate group id (0 = none). */
  group: number;
  /** Network executor the thread serves (socket index), -1 = none; see --publish-map. */
  executor: number;
}

export class Task implements TaskHints {
  /** Latest seqnum (barrier) the agent has seen for this task; transactions carry it. */
  seq = 0;
  /** Cpu the runtime placed it on, -1 when it holds none. Maintained by the runtime, read-only for policies. */
  cpu = -1;
  qos = 0;
  hintNs = 0;
  deadlineNs = 0;
  group = 0;
  executor = -1;
  /** When the runtime last placed it (agent clock, ns); 0 if never. */
  placedAtNs = 0;
  /** Free for the policy: its per-task state lives here. */
  data: unknown = undefined;

  constructor(
    readonly slot: number,
    readonly tid: number,
    /** tgid of the owning process. */
    readonly pid: number,
  ) {}

  toString(): string {
    return `task(slot=${this.slot} tid=${this.tid})`;
  }
}
