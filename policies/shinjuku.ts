// shinjuku.ts: centralized and preemptive: a run queue per QoS class and a time slice, as in ghOSt's Shinjuku.
/*
 * When it wins: request service times that are dispersive (RocksDB GETs of
 * ~10 us mixed with 5-10 ms range scans). Without preemption a GET that
 * arrives behind scans waits for a whole scan; with a slice of tens of
 * microseconds it waits about a slice. QoS classes keep latency-critical
 * threads ahead of batch ones outright.
 * When it loses: uniform short requests, where every preemption is pure cost
 * (a preemption signal takes ~26 us p50 on this VM). Use FIFO there, or a
 * bigger slice: with `sliceUs: Infinity` and one class this IS centralized FIFO.
 *
 * Options (ShinjukuOptions): sliceUs (default 50), classes (default 3),
 * latchNext (default true; see docs/writing-a-policy.md).
 */
import { MsgSrc, type TxnResult } from '../agent/abi.ts';
import type { Message } from '../agent/message.ts';
import { Policy, type ScheduleContext } from '../agent/policy.ts';
import type { Task } from '../agent/task.ts';
import { booleanField, numberField, readOptions } from './options.ts';

/*
 * Per-task state and its transitions:
 *
 *                        ┌──placeNext()──► Pending ──commit ok──► Latched ──holder left──┐
 *                        │                   (behind a busy cpu)     (waits, parked)         │
 *   (TASK_NEW) ──► Queued ──place()──► Pending ──commit ok──► OnCpu ◄──────────────────────┘
 *                   ▲  ▲                  │                    │
 *                   │  └──commit failed───┘                    │ a waiter was committed
 *                   │     (FRONT of its class)                 │ over it (preemption)
 *                   │                                          ▼
 *                   │◄───── TASK_PREEMPT / TASK_YIELD ───── Leaving: signalled, still running
 *                   │       (back of its class)                │ until it parks and posts
 *                   │◄───── TASK_PREEMPT / TASK_YIELD ─────────┤ its TASK_PREEMPT
 *                   │       from OnCpu: back of its class,     │
 *   TASK_WAKEUP ────┤       or FRONT if the kernel, not the    │
 *                   │       agent, took the cpu away           │
 *               Blocked ◄─────────── TASK_BLOCKED ─────────────┘ (from Queued, OnCpu, Leaving)
 *
 *   TASK_DEAD / TASK_DEPARTED from any state: forgotten.
 *
 * Latched (latchNext): when every cpu is busy, the head of the queue is
 * latched as a busy cpu's next task. The holder hands the cpu over itself
 * when it parks, so a short request that finishes starts the next one with
 * no agent round trip and no idle (halted) cpu in between. A latched task
 * still gets its turn by the slice rule: when the holder's slice is up the
 * holder is preempted and the latched task takes over.
 *
 * Leaving exists because a preemption is not instantaneous here: the victim
 * keeps running until the signal lands (tens of us) and only then parks.
 * It must not be queued (and placed elsewhere) before its TASK_PREEMPT says
 * it is off the old cpu. ghOSt's kernel switches atomically and can requeue
 * the victim at commit; we wait for the message.
 */
export enum ShinjukuState {
  Blocked = 'Blocked',
  Queued = 'Queued',
  Pending = 'Pending',
  OnCpu = 'OnCpu',
  Leaving = 'Leaving',
  Latched = 'Latched',
}

export interface ShinjukuOptions {
  /**
   * Time slice in microseconds (default 50, ghOSt's default; its experiments
   * used 30). A task that has run this long is preempted when a task of its
   * own class waits. Infinity: never preempted by a same-class task.
   */
  sliceUs?: number;
  /** Number of QoS classes; threads tag 0 (highest) to classes-1 (default 3). */
  classes?: number;
  /**
   * When every cpu is busy, latch the next task on a busy cpu so the holder
   * hands the cpu straight over when it parks. False: a
   * waiting task is placed only when the agent hears that a cpu is free.
   * Default true: once a leaving holder posted before it woke its successor
   * (placement.c), it measured ahead at every load on both servers (real
   * RocksDB: GET p99 349 against 2,087 us at 15k req/s, and 20k req/s runs
   * where the agent's cpu falls behind without it; bench/analysis.md), since
   * each hand-off it makes is one the agent does not have to.
   */
  latchNext?: boolean;
}

/** A running task as pass 2 sees it. */
interface RunningEntry {
  cpu: number;
  task: Task;
  cls: number;
  ranNs: number;
}

interface ShinjukuTaskInfo {
  state: ShinjukuState;
  /** The class queue it sits in, or was dispatched from. */
  cls: number;
  /** While Pending as a preemption: the task it is being placed over, and why. */
  victim?: Task;
  reason?: 'class' | 'slice';
  /** While Pending: placed with placeNext. */
  latch?: boolean;
}

export class ShinjukuPolicy extends Policy {
  readonly name = 'shinjuku';
  readonly sliceNs: number;
  readonly classes: number;
  readonly latchNext: boolean;
  private latches = 0;
  private readonly info = new Map<Task, ShinjukuTaskInfo>();
  /** One FIFO per class; queues[0] is the highest class. */
  private readonly queues: Task[][];
  private queued = 0;
  private preemptByClass = 0;
  private preemptBySlice = 0;
  private unknownQos = 0;
  private readonly runList: RunningEntry[] = [];
  private readonly runPool: RunningEntry[] = [];

  constructor(options: ShinjukuOptions | Record<string, unknown> = {}) {
    super();
    const o = readOptions(options, 'shinjuku', {
      sliceUs: numberField(50, (n) => n > 0, 'a positive number or Infinity'),
      classes: numberField(3, (n) => Number.isInteger(n) && n >= 1 && n <= 64, 'an integer from 1 to 64'),
      latchNext: booleanField(true),
    });
    this.classes = o.classes;
    this.latchNext = o.latchNext;
    this.sliceNs = o.sliceUs * 1000;
    this.queues = Array.from({ length: this.classes }, () => []);
  }

  override taskNew(task: Task): void {
    this.enqueue(task, 'back');
  }

  override taskRunnable(task: Task): void {
    // Only a blocked task can wake; anything else would queue a task twice.
    if (this.info.get(task)?.state === ShinjukuState.Blocked) this.enqueue(task, 'back');
  }

  override taskBlocked(task: Task): void {
    const inf = this.info.get(task);
    if (!inf) return;
    this.unqueue(task, inf);
    inf.state = ShinjukuState.Blocked;
  }

  override taskPreempted(task: Task, msg: Message): void {
    const s = this.info.get(task)?.state;
    // A Queued task can be "preempted" while the kernel ran it unplaced (after a
    // kernel wakeup); it keeps its place in line.
    // (A Latched task can only be preempted once it has started: its holder left.)
    if (s !== ShinjukuState.OnCpu && s !== ShinjukuState.Leaving && s !== ShinjukuState.Latched) return;
    // Our own preemptions send the victim to the back: that is the slice rule.
    // A task the kernel preempted (Linux ran something else on its cpu) did not
    // use up its turn and may hold a lock others wait for: front, as ghOSt does.
    const byKernel = s !== ShinjukuState.Leaving && msg.src === MsgSrc.KERNEL;
    this.enqueue(task, byKernel ? 'front' : 'back');
  }

  override taskYield(task: Task): void {
    const s = this.info.get(task)?.state;
    if (s === ShinjukuState.OnCpu || s === ShinjukuState.Leaving || s === ShinjukuState.Latched) this.enqueue(task, 'back');
  }

  override taskDead(task: Task): void {
    const inf = this.info.get(task);
    if (inf) this.unqueue(task, inf);
    this.info.delete(task);
  }

  override schedule(ctx: ScheduleContext): void {
    this.turnLatched(ctx);
    if (this.queued === 0) return;

    // Pass 1: idle cpus first. A free cpu costs nobody anything.
    for (const cpu of ctx.idleCpus()) {
      const next = this.pop();
      if (!next) return;
      this.dispatch(ctx, next, cpu);
    }

    // Pass 2: preemption, most preemptible running task first (lowest class,
    // then longest running). Placing over a running task is the preemption:
    // both go into this iteration's single group commit. A cpu whose
    // successor slot is taken (a latched task, or a preemption still handing
    // over) is not a candidate.
    const free = this.preemptible(ctx);
    let i = 0;
    for (; i < free.length; i++) {
      const r = free[i];
      const best = this.bestClass();
      if (best < 0) return;
      const byClass = best < r.cls;
      const bySlice = best === r.cls && r.ranNs >= this.sliceNs;
      // The list is sorted, and the best waiting class only gets worse as we
      // pop, so once one running task is safe every later one is too.
      if (!byClass && !bySlice) break;
      this.dispatch(ctx, this.pop() as Task, r.cpu, r.task, byClass ? 'class' : 'slice');
    }

    // Pass 3: every cpu is busy and tasks still wait: latch the next one behind
    // each remaining holder, so it starts the moment the holder parks.
    if (!this.latchNext) return;
    for (; i < free.length; i++) {
      const next = this.pop();
      if (!next) return;
      const inf = this.info.get(next) as ShinjukuTaskInfo;
      inf.state = ShinjukuState.Pending;
      inf.latch = true;
      this.latches++;
      ctx.placeNext(next, free[i].cpu);
    }
  }

  override txnCommitted(task: Task): void {
    const inf = this.info.get(task);
    if (inf?.state !== ShinjukuState.Pending) return;
    if (inf.latch) {
      // On an idle cpu it is already running; running() tells them apart.
      inf.latch = undefined;
      inf.state = ShinjukuState.Latched;
      return;
    }
    inf.state = ShinjukuState.OnCpu;
    const victim = inf.victim && this.info.get(inf.victim);
    if (victim?.state === ShinjukuState.OnCpu) {
      victim.state = ShinjukuState.Leaving;
      if (inf.reason === 'class') this.preemptByClass++;
      else this.preemptBySlice++;
    }
    inf.victim = undefined;
    inf.reason = undefined;
  }

  override txnFailed(task: Task, _cpu: number, _code: TxnResult): void {
    const inf = this.info.get(task);
    if (inf?.state !== ShinjukuState.Pending) return;
    // Back to the FRONT of its class: it was next in line. If this was a
    // preemption, the victim simply keeps running (it is still OnCpu) and is
    // reconsidered next iteration. A stale or not-runnable failure is followed
    // by the message that explains it (TASK_BLOCKED, TASK_DEAD...), which
    // takes the task out of the queue again.
    inf.victim = undefined;
    inf.reason = undefined;
    inf.latch = undefined;
    inf.state = ShinjukuState.Queued;
    this.queues[inf.cls].unshift(task);
    this.queued++;
  }

  override queueDepth(): number {
    return this.queued;
  }

  override stats(): Record<string, number> {
    const out: Record<string, number> = {
      preemptByClass: this.preemptByClass,
      preemptBySlice: this.preemptBySlice,
      latches: this.latches,
      unknownQos: this.unknownQos,
    };
    this.queues.forEach((q, cls) => (out[`queuedClass${cls}`] = q.length));
    return out;
  }

  /** The class a task's hint asks for. An unknown class is not accepted silently: lowest class, and counted. */
  private classOf(task: Task): number {
    if (Number.isInteger(task.qos) && task.qos >= 0 && task.qos < this.classes) return task.qos;
    this.unknownQos++;
    return this.classes - 1;
  }

  private enqueue(task: Task, where: 'front' | 'back'): void {
    let inf = this.info.get(task);
    if (inf?.state === ShinjukuState.Queued) return;
    // The class is read at every enqueue: the runtime refreshes task.qos on
    // TASK_NEW, TASK_WAKEUP and TASK_YIELD.
    const cls = this.classOf(task);
    if (!inf) this.info.set(task, (inf = { state: ShinjukuState.Queued, cls }));
    inf.state = ShinjukuState.Queued;
    inf.cls = cls;
    if (where === 'front') this.queues[cls].unshift(task);
    else this.queues[cls].push(task);
    this.queued++;
  }

  private unqueue(task: Task, inf: ShinjukuTaskInfo): void {
    if (inf.state !== ShinjukuState.Queued) return;
    const q = this.queues[inf.cls];
    q.splice(q.indexOf(task), 1);
    this.queued--;
  }

  private bestClass(): number {
    for (let c = 0; c < this.classes; c++) if (this.queues[c].length > 0) return c;
    return -1;
  }

  private pop(): Task | undefined {
    const c = this.bestClass();
    if (c < 0) return undefined;
    this.queued--;
    return this.queues[c].shift();
  }

  private dispatch(ctx: ScheduleContext, task: Task, cpu: number, victim?: Task, reason?: 'class' | 'slice'): void {
    const inf = this.info.get(task) as ShinjukuTaskInfo;
    inf.state = ShinjukuState.Pending;
    inf.victim = victim;
    inf.reason = reason;
    ctx.place(task, cpu);
  }

  /**
   * A latched successor gets its turn by the same rule as a queued task: when
   * it outranks the holder, or the holder's slice is up, the holder is
   * preempted and hands the cpu to it on the way out. Runs every iteration,
   * queue or not, but costs a map lookup per cpu when nothing is latched.
   */
  private turnLatched(ctx: ScheduleContext): void {
    for (const cpu of ctx.cpus) {
      const nx = ctx.nextOn(cpu);
      if (!nx) continue;
      const holder = ctx.taskOn(cpu);
      const hi = holder && this.info.get(holder);
      const ni = this.info.get(nx);
      if (!holder || !hi || !ni) continue;
      if (hi.state === ShinjukuState.Latched) hi.state = ShinjukuState.OnCpu;
      if (hi.state !== ShinjukuState.OnCpu) continue;
      const byClass = ni.cls < hi.cls;
      const ranNs = ctx.nowNs - Math.max(holder.placedAtNs, ctx.switchInNs(holder));
      if (!byClass && !(ni.cls === hi.cls && ranNs >= this.sliceNs)) continue;
      hi.state = ShinjukuState.Leaving;
      if (byClass) this.preemptByClass++;
      else this.preemptBySlice++;
      ctx.preempt(cpu);
    }
  }

  /** Tasks this policy has running (not Leaving, not placed this round), most preemptible first. */
  /*
   * The running tasks that could be preempted (OnCpu, successor slot free),
   * most preemptible first. The entries and the array are reused every
   * iteration, and the sort is an insertion sort in place (there is one entry
   * per cpu): schedule() makes no garbage per decision.
   */
  private preemptible(ctx: ScheduleContext): readonly RunningEntry[] {
    const out = this.runList;
    out.length = 0;
    for (const cpu of ctx.cpus) {
      const task = ctx.taskOn(cpu);
      const inf = task && this.info.get(task);
      // A latched task that holds its cpu now: its holder has left.
      if (inf?.state === ShinjukuState.Latched) inf.state = ShinjukuState.OnCpu;
      if (!task || !inf || inf.state !== ShinjukuState.OnCpu || ctx.cpuLatched(cpu)) continue;
      if (out.length === this.runPool.length) this.runPool.push({ cpu: 0, task, cls: 0, ranNs: 0 });
      const e = this.runPool[out.length];
      e.cpu = cpu;
      e.task = task;
      e.cls = inf.cls;
      // The slice runs from when the task really started: the later of the
      // commit and the kernel's switch-in (a parked thread that slept on its
      // futex is switched in only after the release).
      e.ranNs = ctx.nowNs - Math.max(task.placedAtNs, ctx.switchInNs(task));
      let j = out.length;
      out.push(e);
      for (; j > 0 && (out[j - 1].cls < e.cls || (out[j - 1].cls === e.cls && out[j - 1].ranNs < e.ranNs)); j--) out[j] = out[j - 1];
      out[j] = e;
    }
    return out;
  }
}

export default ShinjukuPolicy;
