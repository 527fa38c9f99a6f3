// index.ts: the client library a service uses to put its threads under an enclave's policy.
import { HANDLE_GEN_MASK, HANDLE_SLOT_BITS, KFlag, KSTAT, MAX_TASKS, REGION, SlotState, TASK } from '../agent/abi.ts';
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

/*
 * Task handles. A handle names one registration: slot | generation << 12,
 * where the generation is the slot's registration count (syr_task.reg_gen).
 * A service passes handles between its threads to wake and hint each other;
 * one kept after its thread unregistered is refused (STALE_HANDLE) once the
 * slot is reused, instead of acting on the thread that got the slot next.
 */
const SLOT_MASK = (1 << HANDLE_SLOT_BITS) - 1;

/** The slot a task handle names (no check that it is live). */
export function handleSlot(handle: number): number {
  return handle & SLOT_MASK;
}

function checkHandle(v: unknown): number {
  const h = checkU32('handle', v);
  if (h >>> HANDLE_SLOT_BITS === 0 || h >>> HANDLE_SLOT_BITS > HANDLE_GEN_MASK || (h & SLOT_MASK) >= MAX_TASKS) {
    throw Object.assign(new Error(`handle ${h} is not a task handle (pass task.handle, not task.slot)`), { code: 'BAD_ARGUMENT' });
  }
  return h;
}

/** An enclave as a service sees it: register threads, wake them, set their hints. */
export class Enclave {
  private readonly words: Uint32Array;
  private readonly kstat: Uint32Array;

  /** @internal use attach() */
  constructor(readonly name: string, private readonly client: ClientHandle) {
    const views = native.clientRegion(client);
    this.words = new Uint32Array(views.region);
    this.kstat = new Uint32Array(views.kstat);
  }

  /** Cpu time the task has used while registered, as the kernel's switch timestamps account it (ns). */
  runtimeNs(handle: number): number {
    const i = (this.liveSlot(handle) * KSTAT.size) / U32;
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
    const handle = native.clientRegister(this.client, qos, group, executor);
    const task = new SyrupTask(this, this.client, handle, native.gettid());
    current = task;
    return task;
  }

  /**
   * Make a parked task runnable (posts TASK_WAKEUP); if it has not parked yet
   * its next park() returns at once. Set its hints first: the agent reads
   * them when it handles the wakeup.
   */
  wake(handle: number): void {
    // The generation is checked in the shim, under the task's lock.
    native.clientWake(this.client, checkHandle(handle));
  }

  /** Expected runtime of the task's next request (SJF), in ns. */
  setHint(handle: number, ns: number): void {
    const v = checkNs('hint', ns);
    this.writeU64(handle, TASK.fields.hint, v);
  }

  /** Absolute CLOCK_MONOTONIC deadline of the task's next request (EDF), in ns. */
  setDeadline(handle: number, absNs: number): void {
    const v = checkNs('deadline', absNs);
    this.writeU64(handle, TASK.fields.deadline_ns, v);
  }

  /**
   * Tag the task with the network executor it serves (e.g. its SO_REUSEPORT socket index), so an
   * agent run with --publish-map can publish its scheduling state for a network policy to read.
   */
  setExecutor(handle: number, executor: number): void {
    const v = checkU32('executor', executor) + 1;
    this.writeU64(handle, TASK.fields.user_data, v);
  }

  setQos(handle: number, qos: number): void {
    const v = checkU32('qos', qos);
    this.words[this.index(this.liveSlot(handle), TASK.fields.qos)] = v;
  }

  setGroup(handle: number, group: number): void {
    const v = checkU32('group', group);
    this.words[this.index(this.liveSlot(handle), TASK.fields.group)] = v;
  }

  /** True once the agent is gone: threads run under Linux and park()/wake() are a plain handshake. */
  get detached(): boolean {
    return native.clientDetached(this.client);
  }

  /** When the agent committed the task's latest placement (CLOCK_MONOTONIC ns): for measuring commit-to-running. */
  lastCommitNs(handle: number): number {
    const i = this.index(this.liveSlot(handle), TASK.fields.commit_ns);
    return this.words[i] + this.words[i + 1] * 4294967296;
  }

  /** @internal */
  preemptWord(slot: number): number {
    return this.words[this.index(slot, TASK.fields.preempt)];
  }

  /**
   * The slot of a handle whose registration is live: NOT_REGISTERED when the
   * slot is not in use, STALE_HANDLE when it is, by a later registration.
   * Checked before the write, not atomically with it: a hint that lands just
   * as its thread unregisters is reset by the next registration of the slot.
   */
  private liveSlot(handle: number): number {
    const h = checkHandle(handle);
    const slot = h & SLOT_MASK;
    const base = (REGION.fields.tasks + slot * TASK.size) / U32;
    if (Atomics.load(this.words, base + TASK.fields.state / U32) !== SlotState.ACTIVE) {
      throw Object.assign(new Error(`task handle ${h}: slot ${slot} has no registered thread`), { code: 'NOT_REGISTERED' });
    }
    if (Atomics.load(this.words, base + TASK.fields.reg_gen / U32) !== h >>> HANDLE_SLOT_BITS) {
      throw Object.assign(new Error(`task handle ${h}: that registration has ended and slot ${slot} is another thread's now`), { code: 'STALE_HANDLE' });
    }
    return slot;
  }

  private index(slot: number, field: number): number {
    return (REGION.fields.tasks + slot * TASK.size + field) / U32;
  }

  private writeU64(handle: number, field: number, v: number): void {
    const i = this.index(this.liveSlot(handle), field);
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
  /** The slot in the enclave (what the agent's messages and the policy's Task name it by). */
  readonly slot: number;

  constructor(
    readonly enclave: Enclave,
    private readonly client: ClientHandle,
    /** Names this registration: what other threads pass to Enclave.wake() and the hint setters. */
    readonly handle: number,
    readonly tid: number,
  ) {
    this.slot = handleSlot(handle);
  }

  /** Block until another thread wakes this one and the policy places it (TASK_BLOCKED). */
  park(): void {
    this.mine();
    native.clientPark(this.client);
  }

  /** Give up the cpu but stay runnable (TASK_YIELD); returns when placed again. */
  yield(): void {
    this.mine();
    native.clientYield(this.client);
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
    return native.clientCheckpoint(this.client) === 1;
  }

  setHint(ns: number): void {
    this.enclave.setHint(this.handle, ns);
  }

  setDeadline(absNs: number): void {
    this.enclave.setDeadline(this.handle, absNs);
  }

  setQos(qos: number): void {
    this.enclave.setQos(this.handle, qos);
  }

  /** See Enclave.setExecutor. */
  setExecutor(executor: number): void {
    this.enclave.setExecutor(this.handle, executor);
  }

  setGroup(group: number): void {
    this.enclave.setGroup(this.handle, group);
  }

  /** Cpu time this thread has used while registered (ns). */
  runtimeNs(): number {
    return this.enclave.runtimeNs(this.handle);
  }

  /** Leave the enclave (TASK_DEPARTED): the thread runs under Linux again with its original affinity. */
  unregister(): void {
    this.mine();
    native.clientUnregister(this.client);
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
