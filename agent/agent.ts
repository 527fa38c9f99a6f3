// agent.ts: the agent loop: drain messages, dispatch them to the policy, schedule, group-commit, enforce.
import { MSG_TYPE_NAMES, MsgSrc, MsgType, TxnResult } from './abi.ts';
import type { Channel } from './channel.ts';
import type { Message } from './message.ts';
import type { Policy, ScheduleContext } from './policy.ts';
import { SchedState } from './sched-state.ts';
import { AgentStats } from './stats.ts';
import { Task } from './task.ts';
import { txnResultName, type Txn } from './txn.ts';

/** Minimal logger surface (pino satisfies it). */
export interface AgentLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AgentLoopOptions {
  /** Enclave name (for logs and EnclaveInfo). */
  name: string;
  /** How often the stats line is logged, ms; 0 disables. */
  statsIntervalMs: number;
  /** How long one spin burst may run before yielding to the event loop, ms. */
  yieldEveryMs: number;
  /** 'exit' (default): a policy exception ends run(); 'continue': it is logged, counted and the loop goes on. */
  policyErrors?: 'exit' | 'continue';
  /** Log every message and transaction (debugging a policy; slow). */
  trace?: boolean;
  /**
   * sched_yield() after an iteration with no message and no transaction, so
   * threads sharing the agent's cpu can run (small machines); costs up to a
   * timeslice of decision latency when they do. Default false: pure spin.
   */
  idleYield?: boolean;
  /**
   * Block up to this long (us) after an idle iteration, until a client posts
   * (the shim's doorbell), instead of spinning or yielding: for an agent that
   * shares its cpu, which then costs nothing while idle. Only when the policy
   * has nothing queued (a queued task may need a preemption at its slice's
   * end) and no thread runs unplaced. Kernel events wait for the bound.
   * Default 0: never.
   */
  idleSleepUs?: number;
  /**
   * A SCHED_FIFO agent sleeps this long (us) in every FAIR_SHARE_PERIOD_NS of
   * running, whatever is queued. Linux runs normal threads starved by realtime
   * ones through its fair server: 50 ms per second, taken in one piece once
   * they have waited (measured here: a SCHED_FIFO spinner alone on a cpu with
   * kdamond loses 48-54 ms gaps, 3-8 per 3 s; napping 30 us per 500 us none,
   * longest gap 46 us). Naps of >= 5 % keep the fair server satisfied, so the
   * agent is late by at most one nap instead of 50 ms. The nap is taken
   * even when no normal thread waits, and has to be: the fair server counts
   * the cpu's idle time as time the fair class was offered. Tried (shim BPF
   * counting the fair threads runnable on the agent's cpu, nap only while one
   * was): the agent then lost 16-73 ms gaps at 14-24k req/s on the real
   * RocksDB server, against 1.3-3 ms napping on the beat, two runs each.
   * Default 0: never.
   */
  fairShareUs?: number;
  /** Told every scheduling-state transition of a task (cross-layer publishing; see sched-state.ts). */
  onTaskState?: (task: Task, state: SchedState) => void;
  /**
   * A task joined: called before its TASK_NEW reaches the policy, so before
   * any placement of it can commit (isolation admits the thread to the
   * enclave's cpuset here; placing it outside that would fail).
   */
  onTaskJoin?: (task: Task) => void;
  /** A task left the enclave; `alive` when it departed rather than died. */
  onTaskLeave?: (task: Task, alive: boolean) => void;
  /** Runs with each stats line; what it returns is logged beside the counters (isolation's sweep and report). */
  onStats?: () => Record<string, unknown>;
}

/**
 * An idle sleep starts only after this long without work: one request brings
 * several messages within ~100 us (wakeup, then the park after the reply), and
 * each sleep in between would cost a futex wake and a switch.
 */
const SPIN_BEFORE_SLEEP_NS = 200_000;

/** The agent writes its heartbeat (and reads a pending handover request) at most this often. */
const HEARTBEAT_EVERY_NS = 100_000;

/** The fair-share nap comes once per this much running time (see AgentLoopOptions.fairShareUs). */
export const FAIR_SHARE_PERIOD_NS = 500_000;

/** How many times a runnable-making message the policy threw on is tried again ('continue' mode). */
const REDELIVER_TRIES = 3;

/** The Policy method each message type calls (named in a PolicyError). */
const CALLBACK_OF: Record<number, string> = {
  [MsgType.TASK_NEW]: 'taskNew',
  [MsgType.TASK_WAKEUP]: 'taskRunnable',
  [MsgType.TASK_BLOCKED]: 'taskBlocked',
  [MsgType.TASK_PREEMPT]: 'taskPreempted',
  [MsgType.TASK_YIELD]: 'taskYield',
  [MsgType.TASK_DEAD]: 'taskDead',
  [MsgType.TASK_DEPARTED]: 'taskDeparted',
};

/** Raised out of run()/step() when the policy threw; carries the original error. */
export class PolicyError extends Error {
  readonly code = 'POLICY_THREW';
  constructor(readonly where: string, override readonly cause: unknown) {
    super(`policy threw in ${where}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export class Agent implements ScheduleContext {
  readonly stats = new AgentStats();
  readonly tasks = new Map<number, Task>();
  readonly cpus: readonly number[];
  nowNs = 0;

  private readonly msgs: Message[] = [];
  private readonly owner = new Map<number, Task>();
  private pending: Txn[] = [];
  /* The round being committed (swapped with pending), and spare Txn objects: the loop allocates none per placement. */
  private committing: Txn[] = [];
  private readonly txnPool: Txn[] = [];
  private readonly idleOut: number[] = [];
  private readonly pendingCpus = new Set<number>();
  /*
   * The shim's successor slot per cpu, mirrored. A placeNext() task waits in
   * nextTask until its cpu's holder leaves; a preempting place() leaves its
   * victim in handoff (victim -> cpu) until the victim's leaving message
   * arrives, because until then the victim has not handed the cpu over and
   * another placement there would fail CPU_BUSY.
   */
  private readonly nextTask = new Map<number, Task>();
  private readonly handoff = new Map<Task, number>();
  /*
   * 'continue' mode: messages that leave a task runnable (new, wakeup,
   * preempt, yield) whose policy callback threw. The policy never queued the
   * task, so nothing would ever place it: the callback is tried again at the
   * start of the next iterations (with `after`, the task's latest message
   * since, replayed after it so the policy ends up in the task's real state).
   */
  private readonly redeliver = new Map<Task, { msg: Message; after?: Message; tries: number }>();
  /** Tasks the kernel lets run although the agent has not placed them (after a kernel wakeup or preemption). */
  private readonly unplacedRunning = new Set<Task>();
  private stopping = false;
  /** A new agent asked for the enclave (live upgrade); run() returned because of it. */
  handoverRequested = false;
  private lastStatsNs = 0;
  private lastBeatNs = 0;
  /** Time the last iteration spent blocked in an idle sleep: not a stall. */
  private sleptNs = 0;
  private lastBusyNs = 0;
  /** When the agent last gave its cpu away (a fair-share nap or an idle sleep at least as long). */
  private lastShareNs = 0;

  constructor(
    private readonly channel: Channel,
    readonly policy: Policy,
    private readonly opts: AgentLoopOptions,
    private readonly log?: AgentLogger,
  ) {
    this.cpus = channel.cpus;
    this.guard('init', () => policy.init({ name: opts.name, cpus: this.cpus }));
  }

  /** One iteration: drain, dispatch, schedule, commit, enforce. Throws PolicyError if the policy threw. */
  step(): void {
    const ch = this.channel;
    const prevNs = this.nowNs;
    this.nowNs = ch.nowNs();
    // A long gap between iterations is time no message was drained and no
    // placement committed: the agent's cpu ran something else, or this
    // process was in GC or its event loop. Counted, since every wakeup that
    // arrives in such a gap waits for its end.
    if (prevNs > 0) this.stats.noteGap(this.nowNs - prevNs - this.sleptNs);
    this.sleptNs = 0;
    this.stats.iterations++;
    ch.drain(this.msgs);
    if (this.redeliver.size > 0) this.retryThrown();
    for (let i = 0; i < this.msgs.length; i++) this.dispatch(this.msgs[i]);

    // Called every iteration, so not through guard(): its closure would be
    // garbage on every pass of an idle loop (young-generation GC pauses the agent).
    try {
      this.policy.schedule(this);
    } catch (err) {
      this.policyThrew('schedule', err);
    }
    const busy = this.msgs.length > 0 || this.pending.length > 0;
    if (this.pending.length > 0) this.commitPending();
    if (this.unplacedRunning.size > 0) this.enforce();
    if (busy) this.lastBusyNs = this.nowNs;
    else {
      if (this.canSleep()) this.sleptNs = ch.sleep!(this.opts.idleSleepUs! * 1e3);
      else if (this.opts.idleYield) ch.idle?.();
    }

    if (this.opts.fairShareUs) this.shareCpu();

    // Rate-limited: an N-API call per iteration is a few percent of a busy
    // agent's cpu, and nothing needs the beat (or the handover request it
    // answers with) sooner than this.
    if (this.nowNs - this.lastBeatNs >= HEARTBEAT_EVERY_NS) {
      this.lastBeatNs = this.nowNs;
      if (ch.heartbeat() === true && !this.handoverRequested) {
        this.handoverRequested = true;
        this.stopping = true;
      }
    }
    if (this.opts.statsIntervalMs > 0 && this.nowNs - this.lastStatsNs >= this.opts.statsIntervalMs * 1e6) {
      this.logStats();
    }
  }

  /** Spin until stop(), yielding to the event loop every yieldEveryMs so signals and logs get through. */
  async run(): Promise<void> {
    const burstNs = this.opts.yieldEveryMs * 1e6;
    while (!this.stopping) {
      const start = this.channel.nowNs();
      do {
        this.step();
      } while (!this.stopping && this.nowNs - start < burstNs);
      const turn = this.channel.nowNs();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.stats.noteTurn(this.channel.nowNs() - turn);
    }
  }

  stop(): void {
    this.stopping = true;
  }

  /*
   * After the decisions of this iteration are committed, so a nap delays only
   * what arrives during it (by at most fairShareUs), never a commit in hand.
   */
  private shareCpu(): void {
    const napNs = this.opts.fairShareUs! * 1e3;
    if (this.sleptNs >= napNs) this.lastShareNs = this.nowNs;
    if (this.lastShareNs === 0) this.lastShareNs = this.nowNs;
    if (this.nowNs - this.lastShareNs < FAIR_SHARE_PERIOD_NS || !this.channel.nap) return;
    const slept = this.channel.nap(napNs);
    this.sleptNs += slept;
    this.stats.fairShareNaps++;
    this.stats.fairShareNs += slept;
    this.lastShareNs = this.channel.nowNs();
  }

  /** An idle sleep may only wait for what wakes it: a client post, or a shim timer. */
  private canSleep(): boolean {
    if (!this.opts.idleSleepUs || !this.channel.sleep || this.nowNs - this.lastBusyNs < SPIN_BEFORE_SLEEP_NS) return false;
    if (this.unplacedRunning.size > 0 || this.redeliver.size > 0 || this.stopping) return false;
    try {
      return this.policy.queueDepth() === 0;
    } catch {
      return false; // a throwing queueDepth() is the stats line's problem; keep polling
    }
  }

  logStats(): void {
    this.lastStatsNs = this.nowNs;
    let depth = 0;
    let extra: Record<string, number> = {};
    try {
      depth = this.policy.queueDepth();
      extra = this.policy.stats();
    } catch {
      // stats are best effort; a throwing stats() must not take the agent down
    }
    let hooked: Record<string, unknown> = {};
    try {
      hooked = this.opts.onStats?.() ?? {};
    } catch (err) {
      hooked = { statsHookError: (err as Error).message };
    }
    this.log?.info({ stats: this.stats.snapshot(this.nowNs, depth, extra), tasks: this.tasks.size, ...hooked }, 'agent stats');
  }

  // ---- ScheduleContext -------------------------------------------------------------

  idleCpus(): readonly number[] {
    const out = this.idleOut;
    out.length = 0;
    // A cpu whose successor slot is taken is not free either. It has no owner
    // when a preempting placement's task already came and went (it ran after
    // the hand-over and parked) before its victim's leaving message arrived:
    // a placement there fails CPU_BUSY until that message clears the slot,
    // and a policy that took the cpu for idle retried it every iteration.
    for (const c of this.cpus) if (!this.owner.has(c) && !this.pendingCpus.has(c) && !this.cpuLatched(c)) out.push(c);
    return out;
  }

  taskOn(cpu: number): Task | undefined {
    return this.owner.get(cpu);
  }

  place(task: Task, cpu: number): void {
    this.enqueueTxn(task, cpu, false);
  }

  placeNext(task: Task, cpu: number): void {
    this.enqueueTxn(task, cpu, true);
  }

  nextOn(cpu: number): Task | undefined {
    return this.nextTask.get(cpu);
  }

  cpuLatched(cpu: number): boolean {
    if (this.nextTask.has(cpu)) return true;
    // At most one hand-off per cpu is in flight, so this is a handful of entries.
    for (const c of this.handoff.values()) if (c === cpu) return true;
    return false;
  }

  private enqueueTxn(task: Task, cpu: number, next: boolean): void {
    if (this.pendingCpus.has(cpu) || this.cpuLatched(cpu)) {
      // Two placements on one cpu in one round, or a successor already waits
      // there: fail it here exactly as the commit would, and count it as one.
      this.stats.txnResults[TxnResult.CPU_BUSY]++;
      this.failTxn({ task, cpu, barrier: task.seq, result: TxnResult.CPU_BUSY });
      return;
    }
    this.pendingCpus.add(cpu);
    const t = this.txnPool.pop() ?? { task, cpu, barrier: 0, result: TxnResult.OK, next };
    t.task = task;
    t.cpu = cpu;
    t.barrier = task.seq;
    t.result = TxnResult.OK;
    t.next = next;
    this.pending.push(t);
  }

  preempt(cpu: number): void {
    const victim = this.owner.get(cpu);
    if (!victim) return;
    this.stats.preemptions++;
    this.channel.requestPark(victim, 'preempt');
  }

  runtimeNs(task: Task): number {
    return this.channel.runtimeNs(task);
  }

  switchInNs(task: Task): number {
    return this.channel.switchInNs(task);
  }

  // ---- internals ------------------------------------------------------------------

  private dispatch(m: Message): void {
    const stats = this.stats;
    if (this.opts.trace) this.log?.info({ message: { ...m, type: MSG_TYPE_NAMES[m.type] } }, 'trace message');
    stats.msgs[m.type]++;
    if (m.type === MsgType.TASK_NEW) {
      const task = new Task(m.slot, m.tid, m.arg);
      task.seq = m.seq;
      this.channel.readHints(task);
      this.tasks.set(m.slot, task);
      this.opts.onTaskJoin?.(task);
      this.opts.onTaskState?.(task, SchedState.QUEUED);
      this.deliver(task, m);
      return;
    }
    const task = this.tasks.get(m.slot);
    if (!task || task.tid !== m.tid) {
      stats.unknownTaskMsgs++;
      return;
    }
    task.seq = m.seq;
    // Any message but a wakeup from a preempted victim means it has left its cpu and handed it over.
    if (m.type !== MsgType.TASK_WAKEUP) this.handoff.delete(task);
    switch (m.type) {
      case MsgType.TASK_WAKEUP:
        this.channel.readHints(task);
        if (m.src !== MsgSrc.CLIENT) this.unplacedRunning.add(task);
        this.opts.onTaskState?.(task, SchedState.QUEUED);
        break;
      case MsgType.TASK_BLOCKED:
        this.unplacedRunning.delete(task);
        this.vacate(task);
        this.opts.onTaskState?.(task, SchedState.IDLE);
        break;
      case MsgType.TASK_PREEMPT:
        this.vacate(task);
        // A kernel preemption leaves the thread runnable and unparked: when
        // Linux gives it the cpu back it runs, placed or not.
        if (m.src !== MsgSrc.CLIENT) this.unplacedRunning.add(task);
        this.opts.onTaskState?.(task, SchedState.PREEMPTED);
        break;
      case MsgType.TASK_YIELD:
        this.vacate(task);
        this.channel.readHints(task);
        this.opts.onTaskState?.(task, SchedState.QUEUED);
        break;
      case MsgType.TASK_DEAD:
      case MsgType.TASK_DEPARTED:
        this.unplacedRunning.delete(task);
        this.vacate(task);
        this.tasks.delete(m.slot);
        this.redeliver.delete(task);
        this.opts.onTaskState?.(task, SchedState.IDLE);
        this.opts.onTaskLeave?.(task, m.type === MsgType.TASK_DEPARTED);
        try {
          this.callPolicy(task, m);
        } finally {
          this.channel.releaseTask(task);
        }
        return;
      default:
        stats.unknownTaskMsgs++;
        return;
    }
    this.deliver(task, m);
  }

  /** Hand a message to the policy; in 'continue' mode remember a runnable-making one it threw on. */
  private deliver(task: Task, m: Message): void {
    const pending = this.redeliver.get(task);
    // Copies: the channel reuses its message objects.
    if (pending) {
      pending.after = { ...m };
      return; // replayed after the failed one, in order
    }
    if (this.callPolicy(task, m) || m.type === MsgType.TASK_BLOCKED) return;
    this.redeliver.set(task, { msg: { ...m }, tries: 1 });
  }

  /**
   * The policy callbacks a runtime message turns into. False if the policy
   * threw ('continue' mode). A switch inside one try rather than guard() with
   * a closure per call: this runs for every message.
   */
  private callPolicy(task: Task, m: Message): boolean {
    const p = this.policy;
    try {
      switch (m.type) {
        case MsgType.TASK_NEW: p.taskNew(task, m); break;
        case MsgType.TASK_WAKEUP: p.taskRunnable(task, m); break;
        case MsgType.TASK_BLOCKED: p.taskBlocked(task, m); break;
        case MsgType.TASK_PREEMPT: p.taskPreempted(task, m); break;
        case MsgType.TASK_YIELD: p.taskYield(task, m); break;
        case MsgType.TASK_DEAD: p.taskDead(task, m); break;
        case MsgType.TASK_DEPARTED: p.taskDeparted(task, m); break;
      }
      return true;
    } catch (err) {
      this.policyThrew(CALLBACK_OF[m.type] ?? 'message', err);
      return false;
    }
  }

  private committed(task: Task, cpu: number): void {
    try {
      this.policy.txnCommitted(task, cpu);
    } catch (err) {
      this.policyThrew('txnCommitted', err);
    }
  }

  private retryThrown(): void {
    for (const [task, r] of this.redeliver) {
      if (this.callPolicy(task, r.msg) && (!r.after || this.callPolicy(task, r.after))) {
        this.redeliver.delete(task);
        this.stats.redelivered++;
      } else if (++r.tries >= REDELIVER_TRIES) {
        this.redeliver.delete(task);
        this.handToLinux(task, r.msg);
      }
    }
  }

  /**
   * The policy threw REDELIVER_TRIES times on a message that made the task
   * runnable, so it never queued the task and never will: left alone, the
   * thread would wait parked for a placement that does not come. It goes back
   * to Linux instead (the shim detaches that one thread), and the policy is
   * told it departed, so whatever half state the throwing calls left is dropped.
   */
  private handToLinux(task: Task, m: Message): void {
    this.stats.handedToLinux++;
    this.unplacedRunning.delete(task);
    this.vacate(task);
    this.tasks.delete(task.slot);
    this.channel.evict(task);
    this.opts.onTaskState?.(task, SchedState.IDLE);
    this.opts.onTaskLeave?.(task, true);
    this.guard('taskDeparted', () => this.policy.taskDeparted(task, { ...m, type: MsgType.TASK_DEPARTED, src: MsgSrc.SHIM }));
    this.log?.error({ slot: task.slot, tid: task.tid, type: MSG_TYPE_NAMES[m.type] }, `policy threw ${REDELIVER_TRIES} times on this task's message; the thread is handed back to Linux`);
  }

  /** The task no longer holds its cpu (or waits latched on it); a latched successor now holds it. */
  private vacate(task: Task): void {
    const cpu = task.cpu;
    if (cpu >= 0 && this.nextTask.get(cpu) === task) {
      // A latched successor that left before it started (died, blocked, parked): the shim unlatched it.
      this.nextTask.delete(cpu);
    } else if (cpu >= 0 && this.owner.get(cpu) === task) {
      this.owner.delete(cpu);
      const nt = this.nextTask.get(cpu);
      if (nt) {
        // The holder handed the cpu to its successor on its way out (syr_leave_cpu).
        this.nextTask.delete(cpu);
        this.owner.set(cpu, nt);
        nt.placedAtNs = this.nowNs;
        this.opts.onTaskState?.(nt, SchedState.RUNNING);
      }
    }
    task.cpu = -1;
  }

  private commitPending(): void {
    const done = this.pending;
    this.stats.commits++;
    this.stats.txns += done.length;
    this.channel.commit(done);
    // Clear the round's bookkeeping before calling back into the policy, so
    // txnFailed may call place() for the next round without confusion.
    this.pending = this.committing;
    this.committing = done;
    this.pendingCpus.clear();
    for (let i = 0; i < done.length; i++) {
      const t = done[i];
      this.stats.txnResults[t.result]++;
      if (this.opts.trace) {
        this.log?.info({ txn: { slot: t.task.slot, tid: t.task.tid, cpu: t.cpu, barrier: t.barrier, result: txnResultName(t.result) } }, 'trace txn');
      }
      if (t.result !== TxnResult.OK) {
        this.failTxn(t);
        continue;
      }
      const victim = this.owner.get(t.cpu);
      if (victim && victim !== t.task && t.next) {
        // Latched behind a holder that keeps running: it starts when the holder leaves.
        this.vacate(t.task);
        t.task.cpu = t.cpu;
        this.nextTask.set(t.cpu, t.task);
        // If it is running unplaced it stays in unplacedRunning: enforce parks it, and it waits latched.
        this.committed(t.task, t.cpu);
        continue;
      }
      if (victim && victim !== t.task) {
        // Committed over a running task: the shim latched t.task and signalled
        // the victim, whose TASK_PREEMPT follows.
        this.stats.preemptions++;
        victim.cpu = -1;
        this.handoff.set(victim, t.cpu);
      }
      this.vacate(t.task);
      t.task.cpu = t.cpu;
      t.task.placedAtNs = this.nowNs;
      this.owner.set(t.cpu, t.task);
      this.unplacedRunning.delete(t.task);
      this.opts.onTaskState?.(t.task, SchedState.RUNNING);
      this.committed(t.task, t.cpu);
    }
    // Back to the pool: the policy got the task, cpu and result, never the object.
    for (let i = 0; i < done.length; i++) this.txnPool.push(done[i]);
    done.length = 0;
  }

  private failTxn(t: Txn): void {
    this.guard('txnFailed', () => this.policy.txnFailed(t.task, t.cpu, t.result));
  }

  /** Tasks the kernel is running without a placement, or latched but not started, get parked (silently: the policy already has them). */
  private enforce(): void {
    for (const task of this.unplacedRunning) {
      if (task.cpu < 0 || this.nextTask.get(task.cpu) === task) {
        this.stats.silentParks++;
        this.channel.requestPark(task, 'silent');
      }
    }
    this.unplacedRunning.clear();
  }

  /**
   * Every call into the policy goes through here. In 'continue' mode a throw
   * is logged and that one callback is skipped; the rest of the iteration
   * (other messages, the commit) still happens, so nothing else is lost.
   */
  private guard(where: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.policyThrew(where, err);
      return false;
    }
  }

  /** 'continue' mode: log and go on; otherwise stop the agent with a PolicyError naming the callback. */
  private policyThrew(where: string, err: unknown): void {
    this.stats.policyErrors++;
    if (this.opts.policyErrors !== 'continue') throw new PolicyError(where, err);
    this.log?.error({ err, where }, `policy threw in ${where}; continuing`);
  }
}
