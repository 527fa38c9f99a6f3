// sjf.ts: shortest job first on the expected-runtime hint a service sets per request; non-preemptive.
/*
 * When it wins: the service knows roughly how long each request will take
 * (a GET vs a scan, a cache hit vs a miss) and requests queue up. Running
 * the shortest first minimises mean waiting time: a 10 us GET no longer
 * waits behind a 5 ms scan that arrived a moment earlier.
 * When it loses: hints that are wrong, or a steady stream of short requests,
 * which starves long ones (SJF has no aging). A long request already running
 * is not interrupted: for that use shinjuku, or mfq when there are no hints.
 *
 * The hint: before waking a worker the service calls t.setHint(ns) through
 * the client library; the runtime reads it into task.hintNs on TASK_NEW,
 * TASK_WAKEUP and TASK_YIELD. 0 means "no hint".
 *
 * Rule for tasks without a hint (documented, and counted in stats as
 * `unhinted`): they are given the expected runtime `unhintedUs`, by default
 * Infinity, i.e. they run after every hinted task, in arrival order among
 * themselves. Threads the service did not tag (background work) therefore
 * never jump ahead of requests it did. Set unhintedUs to e.g. the median
 * request time to mix them in instead.
 *
 * Options (SjfOptions): unhintedUs (default Infinity).
 */
import type { TxnResult } from '../agent/abi.ts';
import { Policy, type ScheduleContext } from '../agent/policy.ts';
import type { Message } from '../agent/message.ts';
import type { Task } from '../agent/task.ts';
import { MinHeap } from './min-heap.ts';
import { numberField, readOptions } from './options.ts';

/*
 * Per-task state and its transitions:
 *
 *   (TASK_NEW) ──► Queued ──place()──► Pending ──commit ok──► OnCpu
 *     TASK_WAKEUP   ▲  ▲                  │                    │
 *       │           │  └──commit failed───┘ (same key:         │
 *       │           │     still first in line)                 │
 *       │           │◄──── TASK_YIELD (new key) ───────────────┤
 *       │           │◄──── TASK_PREEMPT (old key: the kernel ──┤
 *       │           │      interrupted it, it keeps its turn)  │
 *   Blocked ◄───────┴──────────── TASK_BLOCKED ────────────────┘ (from Queued too)
 *
 *   TASK_DEAD / TASK_DEPARTED from any state: forgotten.
 *
 * The heap holds exactly the Queued tasks; its order is (expected runtime,
 * arrival ticket), so equal hints run in arrival order.
 */
export enum SjfState {
  Blocked = 'Blocked',
  Queued = 'Queued',
  Pending = 'Pending',
  OnCpu = 'OnCpu',
}

export interface SjfOptions {
  /** Expected runtime in us assumed for a task that gave no hint (default Infinity: after all hinted tasks). */
  unhintedUs?: number;
}

interface SjfTaskInfo {
  state: SjfState;
  /** Expected runtime (ns) the heap orders by; fixed while queued. */
  key: number;
  /** Arrival order, the tie-break. */
  ticket: number;
}

export class SjfPolicy extends Policy {
  readonly name = 'sjf';
  readonly unhintedNs: number;
  private readonly info = new Map<Task, SjfTaskInfo>();
  private readonly heap = new MinHeap<Task>((a, b) => {
    const x = this.info.get(a) as SjfTaskInfo;
    const y = this.info.get(b) as SjfTaskInfo;
    return x.key < y.key || (x.key === y.key && x.ticket < y.ticket);
  });
  private nextTicket = 0;
  private unhinted = 0;

  constructor(options: SjfOptions | Record<string, unknown> = {}) {
    super();
    const o = readOptions(options, 'sjf', { unhintedUs: numberField(Infinity, (n) => n >= 0, 'a number >= 0 or Infinity') });
    this.unhintedNs = o.unhintedUs * 1000;
  }

  override taskNew(task: Task, _msg: Message): void {
    this.enqueue(task, true);
  }

  override taskRunnable(task: Task, _msg: Message): void {
    if (this.info.get(task)?.state === SjfState.Blocked) this.enqueue(task, true);
  }

  override taskBlocked(task: Task, _msg: Message): void {
    const inf = this.info.get(task);
    if (!inf) return;
    this.heap.remove(task);
    inf.state = SjfState.Blocked;
  }

  override taskPreempted(task: Task, _msg: Message): void {
    if (this.info.get(task)?.state !== SjfState.OnCpu) return;
    // SJF itself never preempts; a TASK_PREEMPT comes from the kernel (Linux
    // ran something else on the cpu) or from a wrapper such as rate-groups.
    // The request is half done: keep its key and ticket so it resumes ahead
    // of work that arrived after it.
    this.enqueue(task, false);
  }

  override taskYield(task: Task, _msg: Message): void {
    // A yield is the task's own choice: a fresh key from its (re-read) hint, and a fresh ticket.
    if (this.info.get(task)?.state === SjfState.OnCpu) this.enqueue(task, true);
  }

  override taskDead(task: Task, _msg: Message): void {
    this.heap.remove(task);
    this.info.delete(task);
  }

  override schedule(ctx: ScheduleContext): void {
    if (this.heap.size === 0) return;
    for (const cpu of ctx.idleCpus()) {
      const next = this.heap.pop();
      if (!next) return;
      (this.info.get(next) as SjfTaskInfo).state = SjfState.Pending;
      ctx.place(next, cpu);
    }
  }

  override txnCommitted(task: Task): void {
    const inf = this.info.get(task);
    if (inf?.state === SjfState.Pending) inf.state = SjfState.OnCpu;
  }

  override txnFailed(task: Task, _cpu: number, _code: TxnResult): void {
    const inf = this.info.get(task);
    if (inf?.state !== SjfState.Pending) return;
    // Same key and ticket: it is first in line again. The message explaining
    // a stale or not-runnable failure follows and takes it out if needed.
    inf.state = SjfState.Queued;
    this.heap.push(task);
  }

  override queueDepth(): number {
    return this.heap.size;
  }

  override stats(): Record<string, number> {
    return { unhinted: this.unhinted };
  }

  /** Queue the task; with `fresh` it gets a new key from its hint and a new arrival ticket. */
  private enqueue(task: Task, fresh: boolean): void {
    let inf = this.info.get(task);
    if (inf?.state === SjfState.Queued) return;
    if (!inf) this.info.set(task, (inf = { state: SjfState.Queued, key: 0, ticket: 0 }));
    if (fresh || inf.ticket === 0) {
      if (task.hintNs > 0) {
        inf.key = task.hintNs;
      } else {
        inf.key = this.unhintedNs;
        this.unhinted++;
      }
      inf.ticket = ++this.nextTicket;
    }
    inf.state = SjfState.Queued;
    this.heap.push(task);
  }
}

export default SjfPolicy;
