// edf.ts: earliest deadline first on the absolute deadline a service sets per request; preemptive; counts missed deadlines.
/*
 * When it wins: requests that carry their own latency targets (an
 * interactive query due in 2 ms next to a report due in 200 ms). On one cpu
 * EDF is optimal: if any order meets every deadline, EDF's does. FIFO and
 * SJF ignore the targets and miss the tight ones under load.
 * When it loses: overload. Past capacity EDF keeps running tasks whose
 * deadlines are already gone, and misses cascade (the domino effect). Shed
 * load upstream, or separate the critical traffic with shinjuku's classes.
 *
 * The deadline: before waking a worker the service calls t.setDeadline(absNs)
 * (CLOCK_MONOTONIC ns, the agent's clock) through the client library; the
 * runtime reads it into task.deadlineNs on TASK_NEW, TASK_WAKEUP and
 * TASK_YIELD. Set a new one per request, or 0 for none.
 *
 * Rule for tasks without a deadline (counted in stats as `noDeadline`): they
 * are ordered as if due at Infinity: they run when no task with a deadline
 * waits, in arrival order among themselves, and any task with a deadline
 * preempts them.
 *
 * Missed deadlines (stats `deadlineMisses`): a deadline counts as missed,
 * once, when the agent sees its task still unfinished after it: the task is
 * placed after its deadline, or leaves a cpu (blocks, yields, is preempted,
 * exits) after it. A task that blocks before its deadline met it.
 *
 * Options (EdfOptions): preempt (default true).
 */
import type { TxnResult } from '../agent/abi.ts';
import type { Message } from '../agent/message.ts';
import { Policy, type ScheduleContext } from '../agent/policy.ts';
import type { Task } from '../agent/task.ts';
import { MinHeap } from './min-heap.ts';
import { booleanField, readOptions } from './options.ts';

/*
 * Per-task state and its transitions:
 *
 *   (TASK_NEW) ──► Queued ──place()──► Pending ──commit ok──► OnCpu
 *     TASK_WAKEUP   ▲  ▲                  │                    │
 *       │           │  └──commit failed───┘                    │ an earlier deadline was
 *       │           │                                          │ committed over it
 *       │           │                                          ▼
 *       │           │◄──── TASK_PREEMPT / TASK_YIELD ────── Leaving (signalled, still
 *       │           │◄──── TASK_PREEMPT / TASK_YIELD ──────────┤ running until it parks)
 *   Blocked ◄───────┴──────────── TASK_BLOCKED ────────────────┘ (from Queued, OnCpu, Leaving)
 *
 *   TASK_DEAD / TASK_DEPARTED from any state: forgotten.
 *
 * The heap holds exactly the Queued tasks, ordered by (deadline, arrival).
 * A preempted task keeps its deadline and its arrival ticket; a yield reads
 * the hint again and takes a new ticket.
 */
export enum EdfState {
  Blocked = 'Blocked',
  Queued = 'Queued',
  Pending = 'Pending',
  OnCpu = 'OnCpu',
  Leaving = 'Leaving',
}

export interface EdfOptions {
  /** Preempt a running task when a waiting one is due earlier (default true). false: EDF order at dispatch only. */
  preempt?: boolean;
}

interface EdfTaskInfo {
  state: EdfState;
  /** Absolute deadline (ns) it is ordered by; Infinity when it has none. */
  deadline: number;
  ticket: number;
  /** The deadline already counted as missed, so each is counted once. */
  missed: number;
  /** While Pending as a preemption: the task it is being placed over. */
  victim?: Task;
}

export class EdfPolicy extends Policy {
  readonly name = 'edf';
  readonly preempt: boolean;
  private readonly info = new Map<Task, EdfTaskInfo>();
  private readonly heap = new MinHeap<Task>((a, b) => {
    const x = this.info.get(a) as EdfTaskInfo;
    const y = this.info.get(b) as EdfTaskInfo;
    return x.deadline < y.deadline || (x.deadline === y.deadline && x.ticket < y.ticket);
  });
  private nextTicket = 0;
  private deadlineMisses = 0;
  private noDeadline = 0;
  private preemptions = 0;

  constructor(options: EdfOptions | Record<string, unknown> = {}) {
    super();
    this.preempt = readOptions(options, 'edf', { preempt: booleanField(true) }).preempt;
  }

  override taskNew(task: Task): void {
    this.enqueue(task, true);
  }

  override taskRunnable(task: Task): void {
    if (this.info.get(task)?.state === EdfState.Blocked) this.enqueue(task, true);
  }

  override taskBlocked(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (!inf || inf.state === EdfState.Blocked) return;
    this.checkMiss(inf, msg.tsNs);
    this.heap.remove(task);
    inf.state = EdfState.Blocked;
  }

  override taskPreempted(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf?.state !== EdfState.OnCpu && inf?.state !== EdfState.Leaving) return;
    this.checkMiss(inf, msg.tsNs);
    this.enqueue(task, false);
  }

  override taskYield(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf?.state !== EdfState.OnCpu && inf?.state !== EdfState.Leaving) return;
    this.checkMiss(inf, msg.tsNs);
    this.enqueue(task, true);
  }

  override taskDead(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf && inf.state !== EdfState.Blocked) this.checkMiss(inf, msg.tsNs);
    this.heap.remove(task);
    this.info.delete(task);
  }

  override schedule(ctx: ScheduleContext): void {
    if (this.heap.size === 0) return;

    // Pass 1: idle cpus, earliest deadline first.
    for (const cpu of ctx.idleCpus()) {
      const next = this.heap.pop();
      if (!next) return;
      this.dispatch(ctx, next, cpu);
    }
    if (!this.preempt) return;

    // Pass 2: while the earliest waiting deadline is earlier than the latest
    // running one, place it over that task. Running tasks are visited latest
    // deadline first and the waiting head only gets later as we pop, so the
    // first running task that is safe ends the pass. Equal deadlines never
    // preempt each other (that would only trade places).
    for (const r of this.running(ctx)) {
      const head = this.heap.peek();
      if (!head || (this.info.get(head) as EdfTaskInfo).deadline >= r.deadline) return;
      this.dispatch(ctx, this.heap.pop() as Task, r.cpu, r.task);
    }
  }

  override txnCommitted(task: Task): void {
    const inf = this.info.get(task);
    if (inf?.state !== EdfState.Pending) return;
    inf.state = EdfState.OnCpu;
    const victim = inf.victim && this.info.get(inf.victim);
    if (victim?.state === EdfState.OnCpu) {
      victim.state = EdfState.Leaving;
      this.preemptions++;
    }
    inf.victim = undefined;
  }

  override txnFailed(task: Task, _cpu: number, _code: TxnResult): void {
    const inf = this.info.get(task);
    if (inf?.state !== EdfState.Pending) return;
    // Same deadline and ticket: first in line again; a victim keeps running.
    // The message explaining a stale or not-runnable failure follows.
    inf.victim = undefined;
    inf.state = EdfState.Queued;
    this.heap.push(task);
  }

  override queueDepth(): number {
    return this.heap.size;
  }

  override stats(): Record<string, number> {
    return { deadlineMisses: this.deadlineMisses, noDeadline: this.noDeadline, preemptByDeadline: this.preemptions };
  }

  /** Queue the task; with `fresh` its deadline is read again from its hint and it gets a new arrival ticket. */
  private enqueue(task: Task, fresh: boolean): void {
    let inf = this.info.get(task);
    if (inf?.state === EdfState.Queued) return;
    if (!inf) this.info.set(task, (inf = { state: EdfState.Queued, deadline: Infinity, ticket: 0, missed: 0 }));
    if (fresh) {
      inf.deadline = task.deadlineNs > 0 ? task.deadlineNs : Infinity;
      if (inf.deadline === Infinity) this.noDeadline++;
      inf.ticket = ++this.nextTicket;
    }
    inf.state = EdfState.Queued;
    this.heap.push(task);
  }

  private dispatch(ctx: ScheduleContext, task: Task, cpu: number, victim?: Task): void {
    const inf = this.info.get(task) as EdfTaskInfo;
    // Starting after the deadline is already a miss; counting it now (not when
    // the task finishes) keeps the stats honest while the task is still running.
    this.checkMiss(inf, ctx.nowNs);
    inf.state = EdfState.Pending;
    inf.victim = victim;
    ctx.place(task, cpu);
  }

  private checkMiss(inf: EdfTaskInfo, atNs: number): void {
    if (atNs > inf.deadline && inf.missed !== inf.deadline) {
      inf.missed = inf.deadline;
      this.deadlineMisses++;
    }
  }

  /** Tasks this policy has running (not Leaving, not placed this round), latest deadline first. */
  private running(ctx: ScheduleContext): { cpu: number; task: Task; deadline: number }[] {
    const out = [];
    for (const cpu of ctx.cpus) {
      const task = ctx.taskOn(cpu);
      const inf = task && this.info.get(task);
      if (task && inf?.state === EdfState.OnCpu) out.push({ cpu, task, deadline: inf.deadline });
    }
    // Infinity - Infinity is NaN; compare explicitly.
    return out.sort((a, b) => (a.deadline === b.deadline ? 0 : a.deadline < b.deadline ? 1 : -1));
  }
}

export default EdfPolicy;
