// policy.ts: the Policy contract: one method per message type, a schedule step, and the context it schedules through.
import type { Message } from './message.ts';
import type { Task } from './task.ts';
import type { TxnResult } from './abi.ts';

/** What a policy sees of the enclave when it starts. */
export interface EnclaveInfo {
  name: string;
  /** Enclave cpus, ascending. */
  cpus: readonly number[];
}

/**
 * The schedule step's view of the world. Placements made through place() are
 * collected and group-committed together when schedule() returns.
 */
export interface ScheduleContext {
  /** Agent clock (CLOCK_MONOTONIC ns) at the start of this iteration. */
  readonly nowNs: number;
  /** Enclave cpus, ascending. */
  readonly cpus: readonly number[];
  /**
   * Cpus with no task placed, no placement pending in this round, and a free
   * successor slot (see cpuLatched): place() there succeeds. The array is
   * reused by the next call (no garbage per iteration): iterate it, do not keep it.
   */
  idleCpus(): readonly number[];
  /** The task the runtime last placed on cpu (or has pending there this round). */
  taskOn(cpu: number): Task | undefined;
  /**
   * Place task on cpu. If another task holds the cpu this preempts it: the
   * victim is signalled, posts TASK_PREEMPT, and hands the cpu over directly.
   */
  place(task: Task, cpu: number): void;
  /**
   * Latch task as cpu's next task without preempting the holder: it runs the
   * moment the holder leaves (parks, blocks, yields or is preempted), handed
   * the cpu by the leaving thread itself, with no round trip through the
   * agent and no idle gap. On an idle cpu it is place(). One successor per
   * cpu: a cpu that already has one (see cpuLatched) fails with CPU_BUSY.
   * txnCommitted follows the commit; ctx.taskOn(cpu) becomes the task only
   * once the holder has left (until then ctx.nextOn(cpu) is the task).
   */
  placeNext(task: Task, cpu: number): void;
  /** The task latched by placeNext on cpu that has not started yet. */
  nextOn(cpu: number): Task | undefined;
  /**
   * The cpu's successor slot is taken: a placeNext task waits there, or a
   * preempting placement waits for its victim to leave. place()/placeNext()
   * on it would fail with CPU_BUSY.
   */
  cpuLatched(cpu: number): boolean;
  /** Ask the task on cpu to leave it (it posts TASK_PREEMPT); a placeNext successor then takes the cpu. */
  preempt(cpu: number): void;
  /** Cpu time the task has used while registered, ns (from the kernel's switch timestamps). */
  runtimeNs(task: Task): number;
  /** When the kernel last switched the task in (ns), 0 if never. */
  switchInNs(task: Task): number;
}

/**
 * Base class for scheduling policies. Every message method has an empty
 * default; a policy overrides the ones it needs and schedule().
 *
 * Rules the runtime guarantees:
 *  - Messages for one task arrive in seqnum order; task.seq is already
 *    updated to the message's seqnum when the method runs.
 *  - task.cpu is maintained by the runtime: it is -1 once the task blocked,
 *    yielded, was preempted, died or departed, and the cpu is free again.
 *  - After taskDead/taskDeparted the task object is never seen again.
 *  - A placement that fails comes back through txnFailed with its code; the
 *    task did not run.
 *  - A message object is valid during its callback only (the runtime reuses
 *    them, so the loop makes no garbage per message): copy the fields to keep.
 */
export abstract class Policy {
  /** Name shown in logs and stats. */
  abstract readonly name: string;

  /** Called once before the first message. */
  init(_enclave: EnclaveInfo): void {}

  /** TASK_NEW: a thread registered. It is runnable and waiting for a placement. */
  taskNew(_task: Task, _msg: Message): void {}
  /** TASK_WAKEUP: a blocked task became runnable. */
  taskRunnable(_task: Task, _msg: Message): void {}
  /** TASK_BLOCKED: the task stopped being runnable (park() or a kernel sleep); its cpu is free. */
  taskBlocked(_task: Task, _msg: Message): void {}
  /** TASK_PREEMPT: the task lost its cpu while still runnable (kernel or agent preemption). */
  taskPreempted(_task: Task, _msg: Message): void {}
  /** TASK_YIELD: the task gave up its cpu and is still runnable. */
  taskYield(_task: Task, _msg: Message): void {}
  /** TASK_DEAD: the thread exited. */
  taskDead(_task: Task, _msg: Message): void {}
  /**
   * TASK_DEPARTED: the thread unregistered and is back under the Linux
   * scheduler. To a policy it is gone just as a dead thread is, so by default
   * this is taskDead; override it where the two must be told apart.
   */
  taskDeparted(task: Task, msg: Message): void {
    this.taskDead(task, msg);
  }

  /** Decide placements for this iteration. */
  abstract schedule(ctx: ScheduleContext): void;

  /** A placement from schedule() committed: the task now holds cpu (task.cpu === cpu). */
  txnCommitted(_task: Task, _cpu: number): void {}

  /** A placement from schedule() failed; the task did not run. */
  txnFailed(_task: Task, _cpu: number, _code: TxnResult): void {}

  /** Runnable tasks waiting for a cpu (reported in stats). */
  queueDepth(): number {
    return 0;
  }

  /** Extra numbers for the periodic stats line. */
  stats(): Record<string, number> {
    return {};
  }
}

/** A module that exports a policy: either a Policy subclass (default or named export) or a factory. */
export type PolicyConstructor = new (options?: Record<string, unknown>) => Policy;
