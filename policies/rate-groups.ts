// rate-groups.ts: CPU-rate groups for any policy: a wrapper that stops placing a group's threads once its budget for the window is spent.
/*
 * What it is for: capping a class of threads at a share of the enclave, as
 * COS's cgroup feature does, without the scheduling policy knowing about
 * groups. A batch job capped at 50 % cannot crowd out the latency-critical
 * service next to it; the service still gets the whole enclave when the batch
 * job is idle. It wins over static cpu partitioning whenever load moves.
 *
 *   new RateGroups(new FifoPolicy(), { groups: { batch: { id: 2, ratePct: 50 } }, windowMs: 10 })
 *   syrup-agent --policy fifo --policy-opt groups='{"batch":{"id":2,"ratePct":50}}' --policy-opt windowMs=1
 *
 * Threads join a group with t.setGroup(id) through the client library (the
 * runtime reads task.group on TASK_NEW, TASK_WAKEUP and TASK_YIELD). Group 0,
 * and any id not configured here, is not limited.
 *
 * The limit: ratePct is a share of the whole enclave: a group may use
 * ratePct/100 x windowMs x (enclave cpus) of cpu time per window. With one
 * enclave cpu, 80 % is 8 ms per 10 ms window (0.8 ms per 1 ms window).
 *
 * The window (windowMs, default 10 ms, as COS): the budget is refilled every
 * window. Time is the agent's: a running thread is charged from the later of
 * its placement and the kernel's switch-in, to the message that takes it off
 * the cpu, and up to now while it runs, checked every loop iteration. When
 * the budget runs out the group's running threads are preempted, and the
 * time they keep running until they park (a signal takes ~26 us p50 on this
 * VM, with millisecond spikes) is charged as debt against the next window, so
 * the long-run rate is exact whatever the window. A shorter window is
 * smoother (at 80 %: run 0.8 ms / stop 0.2 ms instead of 8 / 2), but the
 * overrun is a larger part of each window and every throttled window costs a
 * preemption per running thread; 10 ms keeps that overhead under 1 %. Use
 * windowMs: 1 for colocation with tight latency targets.
 *
 * How the inner policy sees throttling: as blocking. When a group runs out,
 * each of its runnable threads is reported to the inner policy as
 * taskBlocked(task, msg) with msg.src === MsgSrc.SHIM, and a running thread
 * as the same when it leaves the cpu; a TASK_WAKEUP that arrives while the
 * group is out is held back. At refill the inner policy gets the held
 * TASK_WAKEUP, or a taskRunnable with src SHIM. So the inner policy never
 * sees a throttled task as runnable, cannot place one, and needs no code for
 * groups; a policy that keeps per-request state treats a SHIM wakeup as a
 * resumption, not a new request (mfq.ts does).
 *
 * Options (RateGroupsOptions): groups (required), windowMs (default 10).
 */
import { MsgSrc, MsgType, type TxnResult } from '../agent/abi.ts';
import type { Message } from '../agent/message.ts';
import { Policy, type EnclaveInfo, type ScheduleContext } from '../agent/policy.ts';
import type { Task } from '../agent/task.ts';
import { numberField, numberOption, type OptionField, optionsObject, PolicyOptionError, readOptions, rejectUnknown, show } from './options.ts';

/*
 * Per-task state (the wrapper's view; every task has one) and its transitions:
 *
 *   (new)     ── TASK_NEW ─────────────────────────► Runnable   forwarded (then throttled at once if spent)
 *   Blocked   ── TASK_WAKEUP, budget left ─────────► Runnable   forwarded
 *   Blocked   ── TASK_WAKEUP, group spent ─────────► Throttled  the wakeup is held back
 *   Runnable  ── commit ok ────────────────────────► OnCpu      charged from now on
 *   Runnable  ── commit ok as a latched successor ─► Latched    not charged: it waits behind the holder
 *   Latched   ── holder left (it holds the cpu) ───► OnCpu      charged from its start; preempted at
 *                                                               once if its group ran out meanwhile
 *   Runnable  ── group runs out ───────────────────► Throttled  inner: taskBlocked, src SHIM
 *   OnCpu     ── group runs out, ctx.preempt(cpu) ─► Evicting
 *   OnCpu, Evicting, Latched ── TASK_PREEMPT / TASK_YIELD ► Runnable forwarded; or, if spent,
 *                                                    Throttled  inner: taskBlocked, src SHIM
 *   Throttled ── refill ───────────────────────────► Runnable   inner: the held TASK_WAKEUP,
 *                                                               or taskRunnable, src SHIM
 *   any       ── TASK_BLOCKED ─────────────────────► Blocked    forwarded, except from Throttled
 *                                                               (the inner already thinks so)
 *   any       ── TASK_DEAD / TASK_DEPARTED ────────► forgotten  forwarded
 *
 * Tasks of unlimited groups only ever go Blocked / Runnable / OnCpu. The
 * inner policy's own states are its business; the wrapper only decides which
 * messages it sees, and when.
 */
export enum RateState {
  Blocked = 'Blocked',
  Runnable = 'Runnable',
  OnCpu = 'OnCpu',
  /** Committed with placeNext behind a busy cpu's holder; runs once the holder leaves. */
  Latched = 'Latched',
  Evicting = 'Evicting',
  Throttled = 'Throttled',
}

export interface RateGroupConfig {
  /** Share of the enclave's cpu time the group may use, percent, in (0, 100]. */
  ratePct: number;
  /** The id threads pass to setGroup(); required when the key is a name, implied when the key is the id. */
  id?: number;
}

export interface RateGroupsOptions {
  /** By id ({ "2": { ratePct: 50 } }) or by name ({ batch: { id: 2, ratePct: 50 } }). */
  groups: Record<string, RateGroupConfig> | string;
  /** Budget window, ms (default 10). */
  windowMs?: number;
}

/** A configured group and its budget. */
interface Group {
  id: number;
  /** Name in the stats: the key it was configured under. */
  label: string;
  ratePct: number;
  budgetNs: number;
  /** Charged against this window, including debt carried in from the last. */
  usedNs: number;
  /** Charged during this window only (for the stats). */
  windowChargedNs: number;
  lastWindowPct: number;
  /** Budget ran out and the group's tasks are withheld from the inner policy. */
  spent: boolean;
  throttles: number;
  /** Tasks withheld, in the order they were throttled (released in that order). */
  throttled: Task[];
}

interface RateTaskInfo {
  state: RateState;
  /** Throttled only: a real TASK_WAKEUP the inner policy has not seen yet. */
  held?: Message;
}

/** A task of a limited group on a cpu: the group being charged, and charged up to when. */
interface Stint {
  group: Group;
  fromNs: number;
}

/** The wrapper's own fields; createPolicy() routes these keys here and every other key to the inner policy. */
const groupsField: OptionField<Group[]> = (o, key, where) => parseGroups(o[key], `${where}.${key}`);
const RATE_GROUP_FIELDS = {
  groups: groupsField,
  windowMs: numberField(10, (n) => n > 0 && Number.isFinite(n), 'a positive number of ms'),
};
export const RATE_GROUP_OPTION_KEYS: readonly string[] = Object.keys(RATE_GROUP_FIELDS);

export class RateGroups extends Policy {
  readonly name: string;
  readonly windowNs: number;
  private readonly groups = new Map<number, Group>();
  private readonly info = new Map<Task, RateTaskInfo>();
  /** Open stints, charged every iteration until the message that ends them. */
  private readonly stints = new Map<Task, Stint>();
  private capacityNs = 0;
  private windowEndNs = 0;
  /** Latched successors of limited groups, watched every iteration until they hold their cpu. */
  private readonly latched = new Set<Task>();
  /** The runtime's context, kept from schedule() for the commit callbacks of the same iteration. */
  private ctx: ScheduleContext | undefined;

  constructor(
    readonly inner: Policy,
    options: RateGroupsOptions | Record<string, unknown>,
  ) {
    super();
    this.name = `${inner.name}+rate`;
    const o = readOptions(options, 'rate-groups', RATE_GROUP_FIELDS);
    this.windowNs = o.windowMs * 1e6;
    for (const g of o.groups) this.groups.set(g.id, g);
  }

  override init(enclave: EnclaveInfo): void {
    this.capacityNs = this.windowNs * enclave.cpus.length;
    for (const g of this.groups.values()) g.budgetNs = (g.ratePct / 100) * this.capacityNs;
    this.inner.init(enclave);
  }

  // ---- messages -------------------------------------------------------------

  override taskNew(task: Task, msg: Message): void {
    const inf: RateTaskInfo = { state: RateState.Runnable };
    this.info.set(task, inf);
    // The inner policy always learns a task exists; if its group is out of
    // budget it is told at once that the task "blocked".
    this.inner.taskNew(task, msg);
    const g = this.groupOf(task);
    if (g?.spent) this.throttle(task, inf, g, msg.tsNs);
  }

  override taskRunnable(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (!inf || inf.state === RateState.Throttled) return; // already runnable, and withheld
    const g = this.groupOf(task);
    if (inf.state === RateState.Blocked && g?.spent) {
      // Hold the real wakeup: the inner policy thinks the task is still
      // blocked, which is exactly right until the group has budget again.
      inf.state = RateState.Throttled;
      inf.held = { ...msg }; // a copy: the runtime reuses message objects
      g.throttled.push(task);
      return;
    }
    if (inf.state === RateState.Blocked) inf.state = RateState.Runnable;
    this.inner.taskRunnable(task, msg);
  }

  override taskBlocked(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (!inf) return;
    this.endStint(task, msg.tsNs);
    this.latched.delete(task);
    if (inf.state === RateState.Throttled) {
      // The inner policy already thinks it is blocked (it was told so, or never
      // saw the wakeup that is now void); a second TASK_BLOCKED would confuse it.
      this.unthrottle(task, inf);
      inf.state = RateState.Blocked;
      return;
    }
    inf.state = RateState.Blocked;
    this.inner.taskBlocked(task, msg);
  }

  override taskPreempted(task: Task, msg: Message): void {
    this.offCpu(task, msg, () => this.inner.taskPreempted(task, msg));
  }

  override taskYield(task: Task, msg: Message): void {
    this.offCpu(task, msg, () => this.inner.taskYield(task, msg));
  }

  override taskDead(task: Task, msg: Message): void {
    this.forget(task, msg);
    this.inner.taskDead(task, msg);
  }

  override taskDeparted(task: Task, msg: Message): void {
    this.forget(task, msg);
    this.inner.taskDeparted(task, msg);
  }

  // ---- scheduling -----------------------------------------------------------

  override schedule(ctx: ScheduleContext): void {
    this.ctx = ctx;
    this.startLatched(ctx);
    this.advance(ctx);
    // Decisions happen here, once per iteration, in a fixed order: take spent
    // groups away from the inner policy and give refilled ones back, then let
    // it schedule what is left.
    for (const g of this.groups.values()) {
      const spent = g.usedNs >= g.budgetNs;
      if (spent && !g.spent) this.throttleGroup(g, ctx);
      else if (!spent && g.spent) this.releaseGroup(g, ctx.nowNs);
    }
    this.inner.schedule(ctx);
  }

  override txnCommitted(task: Task, cpu: number): void {
    const inf = this.info.get(task);
    if (inf) {
      const g = this.groupOf(task);
      if (g && this.ctx?.nextOn(cpu) === task) {
        // Waiting behind the holder costs the group nothing; charged once it starts.
        inf.state = RateState.Latched;
        this.latched.add(task);
      } else {
        inf.state = RateState.OnCpu;
        if (g) this.stints.set(task, { group: g, fromNs: task.placedAtNs });
      }
    }
    this.inner.txnCommitted(task, cpu);
  }

  override txnFailed(task: Task, cpu: number, code: TxnResult): void {
    this.inner.txnFailed(task, cpu, code);
  }

  override queueDepth(): number {
    let withheld = 0;
    for (const g of this.groups.values()) withheld += g.throttled.length;
    return this.inner.queueDepth() + withheld;
  }

  override stats(): Record<string, number> {
    const out = { ...this.inner.stats() };
    for (const g of this.groups.values()) {
      const p = `group.${g.label}`;
      out[`${p}.limitPct`] = g.ratePct;
      out[`${p}.usedPct`] = Math.round(g.lastWindowPct * 10) / 10;
      out[`${p}.throttles`] = g.throttles;
      out[`${p}.throttledTasks`] = g.throttled.length;
    }
    return out;
  }

  // ---- internals ------------------------------------------------------------

  private groupOf(task: Task): Group | undefined {
    return this.groups.get(task.group);
  }

  /**
   * Latched successors whose holder has left hold their cpu now: their stint
   * starts where the runtime says they took it over. One whose group ran out
   * while it waited cannot be unlatched, so it is preempted as soon as it runs.
   */
  private startLatched(ctx: ScheduleContext): void {
    if (this.latched.size === 0) return;
    for (const task of this.latched) {
      const inf = this.info.get(task);
      if (inf?.state !== RateState.Latched) {
        this.latched.delete(task);
        continue;
      }
      if (task.cpu < 0 || ctx.taskOn(task.cpu) !== task) continue;
      this.latched.delete(task);
      inf.state = RateState.OnCpu;
      const g = this.groupOf(task);
      if (!g) continue; // no longer in a limited group: nothing to charge
      this.stints.set(task, { group: g, fromNs: task.placedAtNs });
      if (g.spent) {
        inf.state = RateState.Evicting;
        ctx.preempt(task.cpu);
      }
    }
  }

  /** A task left its cpu (or its latch) but is still runnable (TASK_PREEMPT, TASK_YIELD). */
  private offCpu(task: Task, msg: Message, forward: () => void): void {
    const inf = this.info.get(task);
    if (!inf) return forward();
    // Throttled: the kernel ran it unplaced for a moment; it stays withheld.
    if (inf.state === RateState.Throttled) return;
    this.latched.delete(task);
    const wasRunning = inf.state === RateState.OnCpu || inf.state === RateState.Evicting || inf.state === RateState.Latched;
    this.endStint(task, msg.tsNs);
    const g = this.groupOf(task);
    if (wasRunning && g?.spent) {
      // Out of budget: instead of "preempted, runnable" the inner policy hears
      // "blocked", and gets it back at refill.
      this.throttle(task, inf, g, msg.tsNs);
      return;
    }
    if (wasRunning) inf.state = RateState.Runnable;
    forward();
  }

  private forget(task: Task, msg: Message): void {
    const inf = this.info.get(task);
    if (!inf) return;
    this.endStint(task, msg.tsNs);
    this.latched.delete(task);
    if (inf.state === RateState.Throttled) this.unthrottle(task, inf);
    this.info.delete(task);
  }

  /** Withhold a runnable task from the inner policy: it hears a SHIM block. */
  private throttle(task: Task, inf: RateTaskInfo, g: Group, tsNs: number): void {
    inf.state = RateState.Throttled;
    inf.held = undefined;
    g.throttled.push(task);
    this.inner.taskBlocked(task, shimMessage(MsgType.TASK_BLOCKED, task, tsNs));
  }

  private unthrottle(task: Task, inf: RateTaskInfo): void {
    inf.held = undefined;
    const g = this.groupOf(task);
    const i = g ? g.throttled.indexOf(task) : -1;
    if (i >= 0) (g as Group).throttled.splice(i, 1);
    else for (const other of this.groups.values()) other.throttled = other.throttled.filter((t) => t !== task);
  }

  /** The group just ran out: withhold its runnable tasks, preempt its running ones. */
  private throttleGroup(g: Group, ctx: ScheduleContext): void {
    g.spent = true;
    g.throttles++;
    // A scan of all tasks, but only when a group runs out (at most once a window).
    for (const [task, inf] of this.info) {
      if (this.groupOf(task) !== g && this.stints.get(task)?.group !== g) continue;
      if (inf.state === RateState.Runnable) {
        this.throttle(task, inf, g, ctx.nowNs);
      } else if (inf.state === RateState.OnCpu) {
        inf.state = RateState.Evicting;
        // cpu -1: another task was already committed over it and it is on its
        // way out; its TASK_PREEMPT will come without our asking.
        if (task.cpu >= 0) ctx.preempt(task.cpu);
      }
    }
  }

  /** The group has budget again: hand its withheld tasks back in the order they were taken. */
  private releaseGroup(g: Group, nowNs: number): void {
    g.spent = false;
    const tasks = g.throttled;
    g.throttled = [];
    for (const task of tasks) {
      const inf = this.info.get(task);
      if (!inf) continue;
      const msg = inf.held ?? shimMessage(MsgType.TASK_WAKEUP, task, nowNs);
      inf.held = undefined;
      inf.state = RateState.Runnable;
      this.inner.taskRunnable(task, msg);
    }
  }

  /** Charge running stints up to now, rolling over every window boundary passed. */
  private advance(ctx: ScheduleContext): void {
    const now = ctx.nowNs;
    if (this.windowEndNs === 0) this.windowEndNs = now + this.windowNs;
    for (const [task, s] of this.stints) {
      // A thread that slept on its futex starts running at its switch-in, after the commit.
      s.fromNs = Math.max(s.fromNs, Math.min(now, ctx.switchInNs(task)));
    }
    while (now >= this.windowEndNs) {
      this.chargeAll(this.windowEndNs);
      for (const g of this.groups.values()) {
        g.lastWindowPct = (100 * g.windowChargedNs) / this.capacityNs;
        g.windowChargedNs = 0;
        // Refill. An overrun (the time a preempted thread kept running until it
        // parked) stays as debt, so the long-run rate holds.
        g.usedNs = Math.max(0, g.usedNs - g.budgetNs);
      }
      this.windowEndNs += this.windowNs;
    }
    this.chargeAll(now);
  }

  private chargeAll(upToNs: number): void {
    for (const s of this.stints.values()) this.charge(s, upToNs);
  }

  private charge(s: Stint, upToNs: number): void {
    if (upToNs <= s.fromNs) return;
    s.group.usedNs += upToNs - s.fromNs;
    s.group.windowChargedNs += upToNs - s.fromNs;
    s.fromNs = upToNs;
  }

  private endStint(task: Task, tsNs: number): void {
    const s = this.stints.get(task);
    if (!s) return;
    this.charge(s, tsNs);
    this.stints.delete(task);
  }
}

/** A message the wrapper makes up for the inner policy; src SHIM tells it apart from a real one. */
function shimMessage(type: MsgType, task: Task, tsNs: number): Message {
  return { type, src: MsgSrc.SHIM, slot: task.slot, tid: task.tid, seq: task.seq, cpu: -1, arg: 0, tsNs };
}

/** Validate the groups option (an object, or its JSON from the CLI) into groups with ids. */
function parseGroups(raw: unknown, where: string): Group[] {
  if (raw === undefined) throw new PolicyOptionError(where, `${where} is required: at least one group, e.g. { "2": { "ratePct": 50 } }`);
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new PolicyOptionError(where, `${where} must be an object or its JSON (got ${show(raw)})`);
    }
  }
  const groups = optionsObject(value, where);
  const keys = Object.keys(groups);
  if (keys.length === 0) throw new PolicyOptionError(where, `${where} must name at least one group (got {})`);
  const seen = new Set<number>();
  return keys.map((key) => {
    const at = `${where}.${key}`;
    const cfg = optionsObject(groups[key], at);
    rejectUnknown(cfg, ['ratePct', 'id'], 'a rate group', at);
    const byId = /^\d+$/.test(key);
    const id = numberOption(cfg, 'id', byId ? Number(key) : NaN, (n) => Number.isInteger(n) && n >= 1 && n <= 0x7fffffff, 'a positive integer (the id threads pass to setGroup)', at);
    if (Number.isNaN(id)) {
      throw new PolicyOptionError(`${at}.id`, `${at}.id is required when a group is named: threads join by id with t.setGroup(id)`);
    }
    if (byId && id !== Number(key)) {
      throw new PolicyOptionError(`${at}.id`, `${at}.id is ${id} but the group is keyed by id ${key}`);
    }
    if (byId && id === 0) throw new PolicyOptionError(at, `${at}: group 0 means "no group" and cannot be limited; use ids from 1`);
    if (seen.has(id)) throw new PolicyOptionError(`${at}.id`, `${at}: group id ${id} is configured twice`);
    seen.add(id);
    if (cfg.ratePct === undefined) throw new PolicyOptionError(`${at}.ratePct`, `${at}.ratePct is required: a number in (0, 100]`);
    const ratePct = numberOption(cfg, 'ratePct', 0, (n) => n > 0 && n <= 100, 'a number in (0, 100]', at);
    return {
      id,
      label: key,
      ratePct,
      budgetNs: 0,
      usedNs: 0,
      windowChargedNs: 0,
      lastWindowPct: 0,
      spent: false,
      throttles: 0,
      throttled: [],
    };
  });
}

export default RateGroups;
