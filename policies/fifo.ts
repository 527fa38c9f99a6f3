// fifo.ts: centralized FIFO: one global run queue; every idle enclave cpu gets the head; no preemption.
/*
 * When it wins: throughput work of similar-sized requests, where arrival
 * order is fair enough and preemption would only add switches. It is the
 * baseline every other policy is compared against (ghOSt's centralized FIFO).
 */
import { Policy, type ScheduleContext } from '../agent/policy.ts';
import type { Message } from '../agent/message.ts';
import type { Task } from '../agent/task.ts';
import type { TxnResult } from '../agent/abi.ts';

/*
 * Per-task state and its transitions:
 *
 *   (TASK_NEW) ──► Queued ──place()──► Pending ──commit ok──► OnCpu
 *                    ▲  ▲                 │                     │
 *                    │  └──commit failed──┘ (back to the FRONT)  │
 *                    │                                          │
 *   TASK_WAKEUP ─────┤◄──── TASK_YIELD (to the back) ────────────┤
 *                    │◄──── TASK_PREEMPT (to the FRONT) ─────────┤
 *                    │                                          │
 *               Blocked ◄──────────── TASK_BLOCKED ─────────────┘
 *
 *   TASK_DEAD / TASK_DEPARTED from any state: forgotten.
 *
 * A task is in the queue exactly when its state is Queued; Pending and OnCpu
 * tasks are not, which is what keeps a task from being placed twice.
 *
 * FIFO never preempts, so a TASK_PREEMPT means a thread outside the enclave
 * (or the kernel) took the cpu: the task was running, is the oldest runnable
 * one, and goes back to the front rather than losing its turn.
 */
export enum FifoState {
  Blocked = 'Blocked',
  Queued = 'Queued',
  Pending = 'Pending',
  OnCpu = 'OnCpu',
}

export class FifoPolicy extends Policy {
  readonly name: string = 'fifo';
  private readonly state = new Map<Task, FifoState>();
  /** Run queue: a plain array used as a deque; head index avoids O(n) shift. */
  private queue: Task[] = [];
  private head = 0;

  override taskNew(task: Task, _msg: Message): void {
    this.enqueue(task);
  }

  override taskRunnable(task: Task, _msg: Message): void {
    this.enqueue(task);
  }

  override taskBlocked(task: Task, _msg: Message): void {
    this.remove(task);
    this.state.set(task, FifoState.Blocked);
  }

  override taskPreempted(task: Task, _msg: Message): void {
    this.enqueue(task, true);
  }

  override taskYield(task: Task, _msg: Message): void {
    this.enqueue(task);
  }

  override taskDead(task: Task, _msg: Message): void {
    this.remove(task);
    this.state.delete(task);
  }

  override schedule(ctx: ScheduleContext): void {
    for (const cpu of ctx.idleCpus()) {
      const task = this.dequeue();
      if (!task) break;
      this.state.set(task, FifoState.Pending);
      ctx.place(task, cpu);
    }
  }

  override txnCommitted(task: Task): void {
    if (this.state.get(task) === FifoState.Pending) this.state.set(task, FifoState.OnCpu);
  }

  override txnFailed(task: Task, _cpu: number, _code: TxnResult): void {
    if (this.state.get(task) !== FifoState.Pending) return;
    // Re-queue at the front: it was the oldest runnable task. A stale or
    // not-runnable failure will be followed by the message that explains it.
    this.enqueue(task, true);
  }

  override queueDepth(): number {
    return this.queue.length - this.head;
  }

  private enqueue(task: Task, front = false): void {
    const s = this.state.get(task);
    if (s === FifoState.Queued) return;
    this.state.set(task, FifoState.Queued);
    if (front) this.queue.splice(this.head, 0, task);
    else this.queue.push(task);
  }

  private dequeue(): Task | undefined {
    while (this.head < this.queue.length) {
      const t = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.state.get(t) === FifoState.Queued) return t;
    }
    return undefined;
  }

  private remove(task: Task): void {
    if (this.state.get(task) !== FifoState.Queued) return;
    const i = this.queue.indexOf(task, this.head);
    if (i >= 0) this.queue.splice(i, 1);
  }
}

export default FifoPolicy;
