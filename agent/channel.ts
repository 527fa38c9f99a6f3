// channel.ts: what the agent loop needs from the kernel side; the shim implements it, tests fake it.
import type { Message } from './message.ts';
import type { Task, TaskHints } from './task.ts';
import type { Txn } from './txn.ts';

/** How to ask a task to leave its cpu. */
export type ParkKind = 'preempt' | 'silent';

export interface Channel {
  /** Cpus of the enclave, ascending. */
  readonly cpus: readonly number[];
  /** Monotonic clock in ns, the same clock as message timestamps. */
  nowNs(): number;
  /**
   * Move pending messages into out (cleared first), ordered per task by
   * seqnum. The objects may be reused by the next drain: copy one to keep it.
   */
  drain(out: Message[]): void;
  /** Group-commit a batch; each txn gets its result. */
  commit(txns: Txn[]): void;
  /**
   * Ask a task to leave its cpu. 'preempt': it posts TASK_PREEMPT and hands its
   * cpu to any latched successor. 'silent': it is runnable but unplaced (the
   * kernel let it run after a wakeup or preemption); park it without a message.
   */
  requestPark(task: Task, kind: ParkKind): void;
  /** Read the task's hints from its status word into task. */
  readHints(task: Task & TaskHints): void;
  /** Cpu time the task has used while registered (from the switch timestamps). */
  runtimeNs(task: Task): number;
  /** When the task was last switched in by the kernel (0 if never). */
  switchInNs(task: Task): number;
  /** The policy has seen the task's TASK_DEAD/TASK_DEPARTED: its slot can be reused. */
  releaseTask(task: Task): void;
  /**
   * Hand one task back to Linux while the enclave lives on: its thread stops
   * waiting for placements and runs under CFS with its own affinity, as on
   * agent loss. Nothing of it reaches the agent again; its slot is freed when
   * the thread unregisters or exits.
   */
  evict(task: Task): void;
  /** Publish liveness to clients (stamped with the shim's clock). Returns true when a new agent asked to take the enclave over (live upgrade). */
  heartbeat(): boolean | void;
  /** An iteration found nothing to do: give the agent's cpu to whoever else wants it (sched_yield). */
  idle?(): void;
  /**
   * Block until a client posts a message or maxNs passes (cut short for the
   * shim's own timers); returns the ns spent blocked (0: did not block).
   */
  sleep?(maxNs: number): number;
  /** Sleep ns whatever arrives meanwhile (the fair-share nap); returns the ns it took. */
  nap?(ns: number): number;
}
