// isolation.ts: exclusive enclave cpus: every movable thread outside the enclaves is kept off them through the cpuset cgroup, and given them back when the last isolating enclave goes.
/*
 * Design (cgroup v1 cpuset, the hierarchy this kernel mounts):
 *
 *   <cpuset root>/syrup.rest            cpus = online - every isolating enclave's cpus
 *   <cpuset root>/syrup.enclave.NAME    cpus = all online: the agent of enclave NAME and
 *                                        the threads registered with it
 *
 * The state is the set of records in STATE_DIR (one per live agent: pid, its
 * start time, its cpus, whether it isolates), and reconcile() derives the
 * cgroups from it, idempotently, under a lock file. So every way an agent can
 * end comes down to one call: a clean exit deletes its record and
 * reconciles; a SIGKILLed agent's watchdog (isolation-watchdog.ts, a detached
 * process holding a pipe from the agent) sees the pipe close and reconciles
 * with that pid counted dead; a live upgrade overwrites the record with the
 * new agent's pid, so the old agent's watchdog finds it alive and leaves
 * everything in place. A record whose pid is gone is cleaned up by whoever
 * reconciles next, so even a lost watchdog is mended at the next agent start.
 *
 * Why enclave cgroups at all: in v1 a thread's cpus are clipped to its
 * cpuset, so a registered thread left in syrup.rest could never be placed on
 * an enclave cpu (sched_setaffinity fails EINVAL). Admitting it into its
 * enclave's cgroup also keeps it out of the root, which is all a sweep ever
 * moves, so one enclave's isolation never takes another enclave's threads or
 * agent.
 *
 * Moving a thread into a cpuset clips its affinity, but since Linux 6.2 the
 * kernel keeps the mask the thread asked for (user_cpus_ptr) and applies it
 * again when the thread moves back, so pinned threads come back pinned.
 *
 * What cannot move stays in the root and is counted: per-cpu kthreads
 * (ksoftirqd/N, kworker/N:*), unbound kworkers (PF_NO_SETAFFINITY: those
 * follow the workqueue cpumask, which is set to the rest cpus and restored),
 * kthreadd. Interrupts are counted, not moved.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION_CGROUP } from './abi.ts';
import { formatCpuList, InputError, onlineCpus, parseCpuList } from './topology.ts';

export const CPUSET_ROOT = '/sys/fs/cgroup/cpuset';
export const STATE_DIR = '/run/syrup/isolation';
const WQ_MASK = '/sys/devices/virtual/workqueue/cpumask';
const WQ_SAVED = 'workqueue.cpumask.saved';
const LOCK = 'lock';
const ENCLAVE_PREFIX = 'syrup.enclave.';
const WATCHDOG = fileURLToPath(new URL('./isolation-watchdog.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** A sweep repeats while it still moves something: threads forked meanwhile land beside their parent. */
const SWEEP_PASSES = 5;

export interface IsolationRecord {
  name: string;
  pid: number;
  /** /proc/PID/stat start time, so a reused pid is not taken for the agent. */
  start: number;
  cpus: number[];
  /** false: the agent keeps its own threads out of other enclaves' sweeps but moves nobody (--no-isolate). */
  isolate: boolean;
}

/** What the stats line reports. */
export interface IsolationReport {
  /** 'isolated', 'not isolating' (--no-isolate), or why isolation is off ('skipped: ...'). */
  state: string;
  /** Cpus everything else runs on. */
  restCpus: string;
  /** Threads moved off the enclave cpus by this agent's sweeps. */
  moved: number;
  /** Threads left on every cpu because the kernel refuses to move them (per-cpu kthreads and the like). */
  unmovable: number;
  /** A few of their names, for the log. */
  unmovableNames: string[];
  /** Interrupts whose effective affinity includes an enclave cpu (not moved). */
  irqs: number;
  /** Registered threads moved into the enclave's cgroup. */
  admitted: number;
}

export interface SweepResult {
  moved: number;
  unmovable: number[];
}

function cg(...parts: string[]): string {
  return path.join(CPUSET_ROOT, ...parts);
}

function readInts(file: string): number[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** Write one value to a cgroup file; returns the errno code on failure. */
function put(file: string, value: string): string | undefined {
  try {
    fs.writeFileSync(file, value);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

/** Start time of a live process, or undefined if it is gone or a zombie (exiting: as good as gone). */
export function processStart(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: fields are counted after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

function alive(r: IsolationRecord, deadPid?: number): boolean {
  return r.pid !== deadPid && processStart(r.pid) === r.start;
}

/** Is cpuset v1 usable here (mounted, and we may create cgroups in it)? The reason when not. */
export function cpusetUnavailable(): string | undefined {
  if (!fs.existsSync(cg('cpuset.cpus'))) {
    return fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
      ? 'only cgroup v2 is mounted; isolation needs the v1 cpuset hierarchy (see docs/limits.md)'
      : `no cpuset cgroup at ${CPUSET_ROOT}`;
  }
  try {
    fs.accessSync(cg('tasks'), fs.constants.W_OK);
  } catch {
    return `${cg('tasks')} is not writable (isolation needs root)`;
  }
  return undefined;
}

/** Exclusive lock over STATE_DIR: a file holding the owner's pid, taken over when its owner is dead. */
function withLock<T>(fn: () => T): T {
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
  const file = path.join(STATE_DIR, LOCK);
  const deadline = Date.now() + 10_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(file, 'utf8') || '0');
      if (owner && processStart(owner) === undefined) {
        fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new InputError(`isolation lock ${file} held by pid ${owner} for 10 s`, 'ISOLATION_LOCKED');
      Atomics.wait(nap, 0, 0, 5);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function recordFile(name: string): string {
  return path.join(STATE_DIR, `${name}.json`);
}

export function readRecords(): IsolationRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: IsolationRecord[] = [];
  for (const f of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(STATE_DIR, f), 'utf8')) as IsolationRecord);
    } catch {
      fs.rmSync(path.join(STATE_DIR, f), { force: true }); // torn write of a dead agent: nothing to keep
    }
  }
  return out;
}

/** Move every thread of cgroup dir `from` into `to` (tasks files); what the kernel refuses stays. */
function moveAll(from: string, to: string, refused = new Set<number>()): SweepResult {
  let moved = 0;
  for (let pass = 0; pass < SWEEP_PASSES; pass++) {
    let movedThisPass = 0;
    for (const tid of readInts(path.join(from, 'tasks'))) {
      if (refused.has(tid)) continue;
      const err = put(path.join(to, 'tasks'), String(tid));
      if (err === undefined) movedThisPass++;
      else if (err !== 'ESRCH') refused.add(tid);
    }
    moved += movedThisPass;
    if (movedThisPass === 0) break;
  }
  return { moved, unmovable: [...refused] };
}

function removeCgroup(dir: string): void {
  if (!fs.existsSync(dir)) return;
  moveAll(dir, CPUSET_ROOT);
  try {
    fs.rmdirSync(dir);
  } catch {
    // a thread still exiting holds it; the next reconcile removes it
  }
}

function ensureCgroup(dir: string, cpus: string): void {
  if (!fs.existsSync(dir)) fs.mkdirSync(dir);
  // mems first: a cpuset with no mems cannot take tasks.
  const mems = fs.readFileSync(cg('cpuset.mems'), 'utf8').trim();
  if (fs.readFileSync(path.join(dir, 'cpuset.mems'), 'utf8').trim() !== mems) fs.writeFileSync(path.join(dir, 'cpuset.mems'), mems);
  if (fs.readFileSync(path.join(dir, 'cpuset.cpus'), 'utf8').trim() !== cpus) fs.writeFileSync(path.join(dir, 'cpuset.cpus'), cpus);
}

function hexMask(cpus: readonly number[]): string {
  let v = 0n;
  for (const c of cpus) v |= 1n << BigInt(c);
  return v.toString(16);
}

/** Unbound kworkers cannot be moved; the workqueue cpumask is what keeps them off the enclave cpus. */
function setWorkqueueMask(rest: readonly number[] | undefined): void {
  if (!fs.existsSync(WQ_MASK)) return;
  const saved = path.join(STATE_DIR, WQ_SAVED);
  if (rest === undefined) {
    if (fs.existsSync(saved)) {
      put(WQ_MASK, fs.readFileSync(saved, 'utf8').trim());
      fs.rmSync(saved, { force: true });
    }
    return;
  }
  if (!fs.existsSync(saved)) fs.writeFileSync(saved, fs.readFileSync(WQ_MASK, 'utf8').trim());
  put(WQ_MASK, hexMask(rest));
}

export interface ReconcileResult {
  /** undefined: nobody isolates now. */
  restCpus: number[] | undefined;
  sweep: SweepResult;
}

/**
 * Make the cgroups match the live records (under the lock). `deadPid` counts
 * as dead whatever /proc says: a watchdog calls this as soon as its agent's
 * pipe closes, which can come before the agent is a zombie.
 */
export function reconcile(deadPid?: number, refused = new Set<number>()): ReconcileResult {
  return withLock(() => {
    const live: IsolationRecord[] = [];
    for (const r of readRecords()) {
      if (alive(r, deadPid)) live.push(r);
      else fs.rmSync(recordFile(r.name), { force: true });
    }
    const liveNames = new Set(live.map((r) => r.name));
    // Enclave cgroups of agents that are gone: their threads go back to the root (and are swept below if anyone isolates).
    for (const d of fs.readdirSync(CPUSET_ROOT)) {
      if (d.startsWith(ENCLAVE_PREFIX) && !liveNames.has(d.slice(ENCLAVE_PREFIX.length))) removeCgroup(cg(d));
    }
    const all = onlineCpus();
    const allList = formatCpuList(all);
    for (const r of live) ensureCgroup(cg(ENCLAVE_PREFIX + r.name), allList);
    const taken = new Set(live.filter((r) => r.isolate).flatMap((r) => r.cpus));
    const rest = all.filter((c) => !taken.has(c));
    if (taken.size === 0 || rest.length === 0) {
      removeCgroup(cg(ISOLATION_CGROUP));
      setWorkqueueMask(undefined);
      return { restCpus: undefined, sweep: { moved: 0, unmovable: [] } };
    }
    ensureCgroup(cg(ISOLATION_CGROUP), formatCpuList(rest));
    setWorkqueueMask(rest);
    return { restCpus: rest, sweep: moveAll(CPUSET_ROOT, cg(ISOLATION_CGROUP), refused) };
  });
}

function threadName(tid: number): string {
  try {
    return fs.readFileSync(`/proc/${tid}/comm`, 'utf8').trim();
  } catch {
    return String(tid);
  }
}

/** Interrupts that can still land on the given cpus. */
export function irqsOn(cpus: readonly number[]): number {
  let n = 0;
  let irqs: string[];
  try {
    irqs = fs.readdirSync('/proc/irq').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const irq of irqs) {
    try {
      const eff = fs.readFileSync(`/proc/irq/${irq}/effective_affinity_list`, 'utf8').trim();
      if (eff !== '' && parseCpuList(eff, 'irq affinity', 1 << 16).some((c) => cpus.includes(c))) n++;
    } catch {
      // an irq without an effective affinity (not started): cannot fire
    }
  }
  return n;
}

export interface IsolationOptions {
  name: string;
  cpus: number[];
  /** Move the rest of the system off `cpus` (false: only keep this agent's own threads out of other sweeps). */
  isolate: boolean;
  /** Start the watchdog that reconciles if this process dies without calling release(). Default true. */
  watchdog?: boolean;
}

/**
 * One agent's share of the isolation. open() never throws for an
 * environment that cannot isolate (no cpuset v1, not root, no cpu left for
 * the rest): the report's state says why and the agent runs without it.
 */
export class Isolation {
  private readonly refused = new Set<number>();
  private moved = 0;
  private admittedCount = 0;
  private restCpus: number[] | undefined;
  private watchdog: ChildProcess | undefined;
  private done = false;

  private constructor(
    readonly options: IsolationOptions,
    private state: string,
    private readonly previous: IsolationRecord | undefined,
  ) {}

  /** Disabled from the start (no cgroup to work with). */
  get active(): boolean {
    return !this.done && this.state !== 'off';
  }

  static open(o: IsolationOptions): Isolation {
    const why = cpusetUnavailable();
    if (why !== undefined) return new Isolation(o, 'off', undefined).note(`skipped: ${why}`);
    const previous = readRecords().find((r) => r.name === o.name);
    const iso = new Isolation(o, o.isolate ? 'isolated' : 'not isolating', previous);
    // The watchdog first: from the moment the record exists, a SIGKILL must not leave it behind.
    if (o.watchdog !== false) iso.startWatchdog();
    const start = processStart(process.pid)!;
    const rec: IsolationRecord = { name: o.name, pid: process.pid, start, cpus: [...o.cpus], isolate: o.isolate };
    const own = cg(ENCLAVE_PREFIX + o.name);
    withLock(() => {
      fs.writeFileSync(recordFile(o.name), JSON.stringify(rec));
      // This process's own threads go to its enclave cgroup before any sweep,
      // so they stay pinnable wherever the agent cpu is (another enclave's cpu, say).
      ensureCgroup(own, formatCpuList(onlineCpus()));
      for (const tid of fs.readdirSync('/proc/self/task')) put(path.join(own, 'tasks'), tid);
    });
    const r = reconcile(undefined, iso.refused);
    iso.take(r);
    if (o.isolate && r.restCpus === undefined) iso.state = 'skipped: no cpu would be left outside the isolated enclaves';
    return iso;
  }

  private note(state: string): this {
    this.state = state;
    return this;
  }

  private take(r: ReconcileResult): void {
    this.restCpus = r.restCpus;
    this.moved += r.sweep.moved;
  }

  private startWatchdog(): void {
    fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
    // Not the agent's stderr: whoever waits for that pipe to close (a test, a
    // supervisor) would wait for the watchdog too.
    const logFd = fs.openSync(path.join(STATE_DIR, "watchdog.log"), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', WATCHDOG, String(process.pid)], {
      cwd: REPO_ROOT,
      detached: true, // its own session: a ^C to the agent's terminal does not take it along
      stdio: ['pipe', logFd, logFd],
    });
    fs.closeSync(logFd);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    child.stdin!.on('error', () => {}); // the watchdog exiting first is not the agent's problem
    this.watchdog = child;
  }

  /** A registered thread: into the enclave's cgroup, so it can be placed on the enclave cpus. */
  admit(tid: number): void {
    if (!this.active) return;
    if (put(cg(ENCLAVE_PREFIX + this.options.name, 'tasks'), String(tid)) === undefined) this.admittedCount++;
  }

  /** A thread that left the enclave alive: back with the rest of the system. */
  leave(tid: number): void {
    if (!this.active || this.restCpus === undefined) return;
    put(cg(ISOLATION_CGROUP, 'tasks'), String(tid));
  }

  /** Catch threads that appeared in the root since (new kthreads); cheap when there are none. */
  sweep(): void {
    if (!this.active || this.restCpus === undefined) return;
    const rootTids = readInts(cg('tasks'));
    if (rootTids.every((t) => this.refused.has(t))) return;
    this.take(reconcile(undefined, this.refused));
  }

  report(): IsolationReport {
    const unmovable = readInts(cg('tasks')).filter((t) => this.refused.has(t));
    return {
      state: this.state,
      restCpus: this.restCpus ? formatCpuList(this.restCpus) : '',
      moved: this.moved,
      unmovable: unmovable.length,
      unmovableNames: [...new Set(unmovable.map((t) => threadName(t).replace(/:\d+.*$/, '').replace(/\/\d+$/, '/N')))].slice(0, 8),
      irqs: this.active ? irqsOn(this.options.cpus) : 0,
      admitted: this.admittedCount,
    };
  }

  /** The agent is going for good: drop its record, give the cpus back if nobody else isolates. */
  release(): void {
    if (!this.active) return;
    this.done = true;
    withLock(() => fs.rmSync(recordFile(this.options.name), { force: true }));
    reconcile(process.pid);
    this.stopWatchdog();
  }

  /**
   * A live upgrade that did not take over: the running agent keeps the
   * enclave, so its record is put back as it was.
   */
  abandon(): void {
    if (!this.active) return;
    if (!this.previous) return this.release();
    this.done = true;
    withLock(() => fs.writeFileSync(recordFile(this.options.name), JSON.stringify(this.previous)));
    reconcile(process.pid);
    this.stopWatchdog();
  }

  /** The enclave was handed to a new agent, which owns the record now: leave the cgroups alone. */
  handedOver(): void {
    this.done = true;
    this.stopWatchdog();
  }

  private stopWatchdog(): void {
    // Closing our end is the watchdog's signal; by now the record says what it should find.
    this.watchdog?.stdin?.destroy();
    this.watchdog = undefined;
  }
}
