// mfq.ts: multi-level feedback queue: a task's level follows the cpu time its current request has used; no hints needed.
/*
 * When it wins: dispersive service times with no hints from the service.
 * Short requests finish while still in the top level, so they run almost as
 * under SJF without being told; long ones sink below newcomers. With
 * heavy-tailed sizes, "least cpu used so far" is a good guess for "shortest
 * remaining".
 * When it loses: uniform requests (levels add preemptions and nothing else),
 * or when the service can say how long a request takes: sjf uses that
 * directly instead of learning it a millisecond at a time.
 *
 * Levels: `thresholdsMs` (default 1/3/10/20 ms, COS's) make five levels. A
 * task's level is the number of thresholds its attained runtime has reached;
 * attained runtime is the cpu time since the task last woke up (TASK_NEW or
 * TASK_WAKEUP), roughly its current request. It is measured from the later
 * of placement and the kernel's switch-in to the message that took the task
 * off the cpu (msg.tsNs), and up to now while it runs.
 *
 * Dispatch: top level first, FIFO within a level. Preemption: when a task
 * waits in a better level than a running task has sunk to, it is placed over
 * it; the preempted task goes to the back of its new level.
 *
 * Anti-starvation: a task that has waited `starvationMs` (default 50) below
 * the top level is boosted: its attained runtime restarts at 0 and it joins
 * the back of level 0 (MLFQ's priority boost, per task). However much short
 * work keeps arriving, a long request gets at least thresholdsMs[0] of cpu
 * about every starvationMs.
 *
 * Options (MfqOptions): thresholdsMs (default [1, 3, 10, 20]), starvationMs (default 50).
 */
import { MsgSrc, type TxnResult } from '../agent/abi.ts';
import type { Message } from '../agent/message.ts';
import { Policy, type ScheduleContext } from '../agent/policy.ts';
import type { Task } from '../agent/task.ts';
import { numberField, numberListField, readOptions } from './options.ts';

/*
 * Per-task state and its transitions:
 *
 *   (TASK_NEW) ──► Queued(level) ──place()──► Pending ──commit ok──► OnCpu
 *   attained=0      ▲  ▲   │                     │                    │
 *                   │  │   │ waited starvationMs └─ commit failed ──► Queued, FRONT of its level
 *                   │  │   └──► Queued(0), attained=0 (boost)         │ a better level was
 *                   │  │                                              ▼ committed over it
 *                   │  └──── TASK_PREEMPT / TASK_YIELD ──────────── Leaving (signalled,
 *                   │        (back of the level its attained          │ still running)
 *                   │         runtime now gives; FRONT if the         │
 *   TASK_WAKEUP ────┤         kernel took the cpu from an OnCpu task) │
 *   attained=0      │◄───────────── TASK_PREEMPT / TASK_YIELD ───────┤
 *               Blocked ◄───────────────── TASK_BLOCKED ─────────────┘ (from Queued, OnCpu, Leaving)
 *
 *   TASK_DEAD / TASK_DEPARTED from any state: forgotten.
 *   Leaving OnCpu or Leaving adds the stint (switch-in .. msg.tsNs) to attained.
 *   A TASK_WAKEUP with src SHIM (the rate-groups wrapper handing back a
 *   throttled task) is not a new request: attained is kept.
 */
export enum MfqState {
  Blocked = 'Blocked',
  Queued = 'Queued',
  Pending = 'Pending',
  OnCpu = 'OnCpu',
  Leaving = 'Leaving',
}

export interface MfqOptions {
  /** Attained-runtime thresholds between levels, ms, strictly increasing (default [1, 3, 10, 20]: five levels). */
  thresholdsMs?: number[] | string;
  /** Boost a task that has waited this long below the top level, ms (default 50; Infinity turns aging off). */
  starvationMs?: number;
}

interface MfqTaskInfo {
  state: MfqState;
  /** Level queue it sits in, or was dispatched from. */
  level: number;
  /** Cpu time of the current request in completed stints, ns. */
  attainedNs: number;
  /** Start of the current stint (while OnCpu or Leaving). */
  runStartNs: number;
  /** When it joined its queue (for aging). */
  queuedAtNs: number;
  victim?: Task;
}

export class MfqPolicy extends Policy {
  readonly name = 'mfq';
  readonly thresholdsNs: readonly number[];
  readonly starvationNs: number;
  private readonly info = new Map<Task, MfqTaskInfo>();
  /** queues[0] is the top level. */
  private readonly queues: Task[][];
  private queued = 0;
  private preemptions = 0;
  private boosts = 0;

  constructor(options: MfqOptions | Record<string, unknown> = {}) {
    super();
    const o = readOptions(options, 'mfq', {
      thresholdsMs: numberListField(
        [1, 3, 10, 20],
        (l) => l.length >= 1 && l.length <= 16 && l.every((n, i) => n > 0 && Number.isFinite(n) && (i === 0 || n > l[i - 1])),
        'a list of 1 to 16 strictly increasing positive numbers (ms)',
      ),
      starvationMs: numberField(50, (n) => n > 0, 'a positive number or Infinity'),
    });
    this.thresholdsNs = o.thresholdsMs.map((ms) => ms * 1e6);
    this.starvationNs = o.starvationMs * 1e6;
    this.queues = Array.from({ length: this.thresholdsNs.length + 1 }, () => []);
  }

  override taskNew(task: Task, msg: Message): void {
    this.info.set(task, { state: MfqState.Blocked, level: 0, attainedNs: 0, runStartNs: 0, queuedAtNs: 0 });
    this.enqueue(task, 'back', msg.tsNs);
  }

  override taskRunnable(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf?.state !== MfqState.Blocked) return;
    if (msg.src !== MsgSrc.SHIM) inf.attainedNs = 0; // a new request
    this.enqueue(task, 'back', msg.tsNs);
  }

  override taskBlocked(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (!inf) return;
    this.endStint(inf, msg.tsNs);
    this.unqueue(task, inf);
    inf.state = MfqState.Blocked;
  }

  override taskPreempted(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf?.state !== MfqState.OnCpu && inf?.state !== MfqState.Leaving) return;
    // Kernel preemption (Linux ran something else) is not this policy's
    // decision: front of its level, as in shinjuku.
    const byKernel = inf.state === MfqState.OnCpu && msg.src === MsgSrc.KERNEL;
    this.endStint(inf, msg.tsNs);
    this.enqueue(task, byKernel ? 'front' : 'back', msg.tsNs);
  }

  override taskYield(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (inf?.state !== MfqState.OnCpu && inf?.state !== MfqState.Leaving) return;
    this.endStint(inf, msg.tsNs);
    this.enqueue(task, 'back', msg.tsNs);
  }

  override taskDead(task: Task): void {
    const inf = this.info.get(task);
    if (inf) this.unqueue(task, inf);
    this.info.delete(task);
  }

  override schedule(ctx: ScheduleContext): void {
    if (this.queued === 0) return;
    this.boostStarving(ctx.nowNs);

    // Pass 1: idle cpus, top level first.
    for (const cpu of ctx.idleCpus()) {
      const next = this.pop();
      if (!next) return;
      this.dispatch(ctx, next, cpu);
    }

    // Pass 2: running tasks that have sunk below the best waiting level,
    // deepest first (then longest attained). The best waiting level only gets
    // worse as we pop, so the first running task that is safe ends the pass.
    for (const r of this.running(ctx)) {
      const best = this.bestLevel();
      if (best < 0 || best >= r.level) return;
      this.dispatch(ctx, this.pop() as Task, r.cpu, r.task);
    }
  }

  override txnCommitted(task: Task): void {
    const inf = this.info.get(task);
    if (inf?.state !== MfqState.Pending) return;
    inf.state = MfqState.OnCpu;
    // Refined to the kernel's switch-in on later iterations (see running()).
    inf.runStartNs = task.placedAtNs;
    const victim = inf.victim && this.info.get(inf.victim);
    if (victim?.state === MfqState.OnCpu) {
      victim.state = MfqState.Leaving;
      this.preemptions++;
    }
    inf.victim = undefined;
  }

  override txnFailed(task: Task, _cpu: number, _code: TxnResult): void {
    const inf = this.info.get(task);
    if (inf?.state !== MfqState.Pending) return;
    // Front of the level it was taken from, keeping its queuedAtNs for aging.
    // A stale or not-runnable failure is followed by the message that explains it.
    inf.victim = undefined;
    inf.state = MfqState.Queued;
    this.queues[inf.level].unshift(task);
    this.queued++;
  }

  override queueDepth(): number {
    return this.queued;
  }

  override stats(): Record<string, number> {
    const out: Record<string, number> = { preemptByLevel: this.preemptions, boosts: this.boosts };
    this.queues.forEach((q, level) => (out[`queuedLevel${level}`] = q.length));
    return out;
  }

  /** The level an attained runtime puts a task in: how many thresholds it has reached. */
  levelOf(attainedNs: number): number {
    let level = 0;
    while (level < this.thresholdsNs.length && attainedNs >= this.thresholdsNs[level]) level++;
    return level;
  }

  private enqueue(task: Task, where: 'front' | 'back', atNs: number): void {
    const inf = this.info.get(task) as MfqTaskInfo;
    if (inf.state === MfqState.Queued) return;
    inf.state = MfqState.Queued;
    inf.level = this.levelOf(inf.attainedNs);
    inf.queuedAtNs = atNs;
    if (where === 'front') this.queues[inf.level].unshift(task);
    else this.queues[inf.level].push(task);
    this.queued++;
  }

  private unqueue(task: Task, inf: MfqTaskInfo): void {
    if (inf.state !== MfqState.Queued) return;
    const q = this.queues[inf.level];
    q.splice(q.indexOf(task), 1);
    this.queued--;
  }

  private endStint(inf: MfqTaskInfo, atNs: number): void {
    if (inf.state !== MfqState.OnCpu && inf.state !== MfqState.Leaving) return;
    if (atNs > inf.runStartNs) inf.attainedNs += atNs - inf.runStartNs;
  }

  /** Move tasks that waited too long below the top to the back of level 0, with a fresh allowance. */
  private boostStarving(nowNs: number): void {
    for (let level = 1; level < this.queues.length; level++) {
      const q = this.queues[level];
      // Each level is FIFO, so its head has waited longest.
      while (q.length > 0) {
        const inf = this.info.get(q[0]) as MfqTaskInfo;
        if (nowNs - inf.queuedAtNs < this.starvationNs) break;
        const task = q.shift() as Task;
        inf.attainedNs = 0;
        inf.level = 0;
        this.queues[0].push(task);
        this.boosts++;
      }
    }
  }

  private bestLevel(): number {
    for (let l = 0; l < this.queues.length; l++) if (this.queues[l].length > 0) return l;
    return -1;
  }

  private pop(): Task | undefined {
    const l = this.bestLevel();
    if (l < 0) return undefined;
    this.queued--;
    return this.queues[l].shift();
  }

  private dispatch(ctx: ScheduleContext, task: Task, cpu: number, victim?: Task): void {
    const inf = this.info.get(task) as MfqTaskInfo;
    inf.state = MfqState.Pending;
    inf.victim = victim;
    ctx.place(task, cpu);
  }

  /** Running tasks (not Leaving, not placed this round) with the level they have sunk to, deepest first. */
  private running(ctx: ScheduleContext): { cpu: number; task: Task; level: number; attainedNs: number }[] {
    const out = [];
    for (const cpu of ctx.cpus) {
      const task = ctx.taskOn(cpu);
      const inf = task && this.info.get(task);
      if (!task || inf?.state !== MfqState.OnCpu) continue;
      // A thread that slept on its futex starts running at its switch-in, after the commit.
      inf.runStartNs = Math.max(inf.runStartNs, ctx.switchInNs(task));
      const attainedNs = inf.attainedNs + Math.max(0, ctx.nowNs - inf.runStartNs);
      out.push({ cpu, task, level: this.levelOf(attainedNs), attainedNs });
    }
    return out.sort((a, b) => b.level - a.level || b.attainedNs - a.attainedNs);
  }
}

export default MfqPolicy;
