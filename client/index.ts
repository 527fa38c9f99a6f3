// index.ts: the client library a service uses to put its threads under an enclave's policy.
import { KFlag, KSTAT, REGION, TASK } from '../agent/abi.ts';
import { native, type ClientHandle } from '../agent/native.ts';

const U32 = 4;

export interface RegisterOptions {
  /** QoS class, 0 = highest (Shinjuku). Default 0. */
  qos?: number;
  /** CPU-rate group id, 0 = none. Default 0. */
  group?: number;
  /** Network executor (socket index) this thread serves, for cross-layer publishing; see setExecutor. Default none. */
  executor?: number;
}

function checkU32(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw Object.assign(new Error(`${field} must be an unsigned 32-bit integer (got ${JSON.stringify(v)})`), {
      code: 'BAD_ARGUMENT',
    });
  }
  return v;
}

function checkNs(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw Object.assign(new Error(`${field} must be a non-negative number of ns (got ${JSON.stringify(v)})`), {
      code: 'BAD_ARGUMENT',
    });
  }
  return Math.floor(v);
}

/** An enclave as a service sees it: register threads, wake them, set their hints. */
export class Enclave {
  private readonly words: Uint32Array;
  private readonly kstat: Uint32Array;

  /** @internal use attach() */
  constructor(readonly name: string, private readonly handle: ClientHandle) {
    const views = native.clientRegion(handle);
    this.words = new Uint32Array(views.region);
    this.kstat = new Uint32Array(views.kstat);
  }

  /** Cpu time the task has used while registered, as the kernel's switch timestamps account it (ns). */
  runtimeNs(slot: number): number {
    const i = (checkU32('slot', slot) * KSTAT.size) / U32;
    const at = (off: number) => this.kstat[i + off / U32] + this.kstat[i + off / U32 + 1] * 4294967296;
    let rt = at(KSTAT.fields.runtime_ns);
    if (this.kstat[i + KSTAT.fields.flags / U32] & KFlag.ONCPU) rt += Math.max(0, native.nowNs() - at(KSTAT.fields.switch_ns));
    return rt;
  }

  /**
   * Register the calling thread (main thread or a worker_thread). Blocks until
   * the policy first places it; from then on it runs only where and when the
   * policy says. If the agent is gone it returns at once and the thread runs
   * under Linux.
   */
  register(opts: RegisterOptions = {}): SyrupTask {
    const qos = checkU32('qos', opts.qos ?? 0);
    const group = checkU32('group', opts.group ?? 0);
    const executor = opts.executor === undefined ? 0 : checkU32('executor', opts.executor) + 1;
    const slot = native.clientRegister(this.handle, qos, group, executor);
    const task = new SyrupTask(this, this.handle, slot, native.gettid());
    current = task;
    return task;
  }

  /**
   * Make a parked task runnable (posts TASK_WAKEUP); if it has not parked yet
   * its next park() returns at once. Set its hints first: the agent reads
   * them when it handles the wakeup.
   */
  wake(slot: number): void {
    native.clientWake(this.handle, checkU32('slot', slot));
  }

  /** Expected runtime of the task's next request (SJF), in ns. */
  setHint(slot: number, ns: number): void {
    this.writeU64(slot, TASK.fields.hint, checkNs('hint', ns));
  }

  /** Absolute CLOCK_MONOTONIC deadline of the task's next request (EDF), in ns. */
  setDeadline(slot: number, absNs: number): void {
    this.writeU64(slot, TASK.fields.deadline_ns, checkNs('deadline', absNs));
  }

  /**
   * Tag the task with the network executor it serves (e.g. its SO_REUSEPORT socket index), so an
   * agent run with --publish-map can publish its scheduling state for a network policy to read.
   */
  setExecutor(slot: number, executor: number): void {
    this.writeU64(slot, TASK.fields.user_data, checkU32('executor', executor) + 1);
  }

  setQos(slot: number, qos: number): void {
    this.words[this.index(slot, TASK.fields.qos)] = checkU32('qos', qos);
  }

  setGroup(slot: number, group: number): void {
    this.words[this.index(slot, TASK.fields.group)] = checkU32('group', group);
  }

  /** True once the agent is gone: threads run under Linux and park()/wake() are a plain handshake. */
  get detached(): boolean {
    return native.clientDetached(this.handle);
  }

  /** When the agent committed the task's latest placement (CLOCK_MONOTONIC ns): for measuring commit-to-running. */
  lastCommitNs(slot: number): number {
    const i = this.index(slot, TASK.fields.commit_ns);
    return this.words[i] + this.words[i + 1] * 4294967296;
  }

  /** @internal */
  preemptWord(slot: number): number {
    return this.words[this.index(slot, TASK.fields.preempt)];
  }

  private index(slot: number, field: number): number {
    checkU32('slot', slot);
    return (REGION.fields.tasks + slot * TASK.size + field) / U32;
  }

  private writeU64(slot: number, field: number, v: number): void {
    const i = this.index(slot, field);
    this.words[i] = v % 4294967296;
    this.words[i + 1] = Math.floor(v / 4294967296);
  }
}

/*
 * The calling thread's live registration. A JS realm is one OS thread (the
 * main thread or one worker), so module state is per thread, which is what
 * the native registration is. The native check alone compares slots, and a
 * thread that unregistered and registered again may get the same slot back:
 * the handle of the first registration must still be refused.
 */
let current: SyrupTask | undefined;

/** A registered thread. Its methods must be called from that thread. */
export class SyrupTask {
  /** @internal use Enclave.register() */
  constructor(
    readonly enclave: Enclave,
    private readonly handle: ClientHandle,
    readonly slot: number,
    readonly tid: number,
  ) {}

  /** Block until another thread wakes this one and the policy places it (TASK_BLOCKED). */
  park(): void {
    this.mine();
    native.clientPark(this.handle);
  }

  /** Give up the cpu but stay runnable (TASK_YIELD); returns when placed again. */
  yield(): void {
    this.mine();
    native.clientYield(this.handle);
  }

  /**
   * The native calls act on the calling thread's registration: refuse a handle that is not it.
   * `current` is this thread's live registration, so the common case costs no native call.
   */
  private mine(): void {
    if (current === this) return;
    const my = native.clientMySlot();
    if (my < 0) {
      throw Object.assign(new Error('the calling thread is not registered with the enclave'), { code: 'NOT_REGISTERED' });
    }
    const why = my === this.slot ? 'a previous registration of this thread (it has registered again since)' : "not the calling thread's registration";
    throw Object.assign(new Error(`task slot ${this.slot}: ${why}`), { code: 'NOT_OWNER' });
  }

  /**
   * Cooperative preemption point: a load of this task's preempt word, and a
   * park only if the agent asked for the cpu back. Call it every few tens of
   * microseconds in long request code to be preempted without a signal.
   * Returns true if it parked.
   */
  checkpoint(): boolean {
    if (this.enclave.preemptWord(this.slot) === 0) return false;
    this.mine();
    return native.clientCheckpoint(this.handle) === 1;
  }

  setHint(ns: number): void {
    this.enclave.setHint(this.slot, ns);
  }

  setDeadline(absNs: number): void {
    this.enclave.setDeadline(this.slot, absNs);
  }

  setQos(qos: number): void {
    this.enclave.setQos(this.slot, qos);
  }

  /** See Enclave.setExecutor. */
  setExecutor(executor: number): void {
    this.enclave.setExecutor(this.slot, executor);
  }

  setGroup(group: number): void {
    this.enclave.setGroup(this.slot, group);
  }

  /** Cpu time this thread has used while registered (ns). */
  runtimeNs(): number {
    return this.enclave.runtimeNs(this.slot);
  }

  /** Leave the enclave (TASK_DEPARTED): the thread runs under Linux again with its original affinity. */
  unregister(): void {
    this.mine();
    native.clientUnregister(this.handle);
    current = undefined;
  }
}

/** Attach to an enclave by name. Throws with .code NO_ENCLAVE / NO_AGENT / ABI_MISMATCH / PERMISSION_DENIED. */
export function attach(name: string): Enclave {
  if (typeof name !== 'string' || name === '') {
    throw Object.assign(new Error('enclave name must be a non-empty string'), { code: 'BAD_ARGUMENT' });
  }
  return new Enclave(name, native.clientAttach(name));
}

/** CLOCK_MONOTONIC in ns, the clock of deadlines and message timestamps. */
export function nowNs(): number {
  return native.nowNs();
}
