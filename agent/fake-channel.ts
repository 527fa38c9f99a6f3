// fake-channel.ts: an in-memory Channel for unit-testing policies with scripted message sequences.
import { MsgSrc, MsgType, TxnResult } from './abi.ts';
import type { Channel, ParkKind } from './channel.ts';
import type { Message } from './message.ts';
import type { Task, TaskHints } from './task.ts';
import type { Txn } from './txn.ts';

/** A commit the fake recorded: the batch as the agent sent it, with results. */
export interface FakeCommit {
  atNs: number;
  txns: { slot: number; cpu: number; barrier: number; result: TxnResult; next: boolean }[];
}

/**
 * Stands in for the kernel side in tests: post() scripts messages with
 * per-task seqnums, commit() validates like the shim (stale barrier, cpu
 * outside the enclave, unknown task) unless a test overrides the result.
 */
export class FakeChannel implements Channel {
  readonly cpus: readonly number[];
  now = 1_000_000;
  readonly commits: FakeCommit[] = [];
  readonly parks: { slot: number; kind: ParkKind; atNs: number }[] = [];
  readonly released: number[] = [];
  /** Slots handed back to Linux (evict), in order. */
  readonly evicted: number[] = [];
  /** Return a result to force for a txn, or undefined to validate normally. */
  override?: (txn: Txn) => TxnResult | undefined;
  private readonly queue: Message[] = [];
  private readonly msgPool: Message[] = [];
  private readonly barrier = new Map<number, number>();
  private readonly hints = new Map<number, Partial<TaskHints>>();
  private readonly runtime = new Map<number, number>();
  private readonly switchIn = new Map<number, number>();
  private readonly alive = new Set<number>();

  constructor(cpus: readonly number[]) {
    this.cpus = [...cpus].sort((a, b) => a - b);
  }

  /** Script a message; its seqnum is the task's next barrier. Returns it. */
  post(type: MsgType, slot: number, fields: Partial<Message> = {}): Message {
    const seq = (this.barrier.get(slot) ?? 0) + 1;
    this.barrier.set(slot, seq);
    if (type === MsgType.TASK_NEW) this.alive.add(slot);
    if (type === MsgType.TASK_DEAD || type === MsgType.TASK_DEPARTED) this.alive.delete(slot);
    const clientTypes = [MsgType.TASK_NEW, MsgType.TASK_YIELD, MsgType.TASK_DEPARTED];
    const m: Message = {
      type,
      src: clientTypes.includes(type) ? MsgSrc.CLIENT : MsgSrc.KERNEL,
      slot,
      tid: 1000 + slot,
      seq,
      cpu: -1,
      arg: 0,
      tsNs: this.now,
      ...fields,
    };
    this.queue.push(m);
    return m;
  }

  /** Bump a task's barrier without delivering a message yet (a message still in flight). */
  bumpBarrier(slot: number): void {
    this.barrier.set(slot, (this.barrier.get(slot) ?? 0) + 1);
  }

  setHints(slot: number, h: Partial<TaskHints>): void {
    this.hints.set(slot, { ...this.hints.get(slot), ...h });
  }

  setRuntime(slot: number, ns: number): void {
    this.runtime.set(slot, ns);
  }

  setSwitchIn(slot: number, ns: number): void {
    this.switchIn.set(slot, ns);
  }

  advance(ns: number): void {
    this.now += ns;
  }

  /** Placements (slot -> cpu) that committed OK, in order. */
  placements(): { slot: number; cpu: number }[] {
    return this.commits.flatMap((c) =>
      c.txns.filter((t) => t.result === TxnResult.OK).map((t) => ({ slot: t.slot, cpu: t.cpu })),
    );
  }

  nowNs(): number {
    return this.now;
  }

  /* Into reused objects, as the shim channel does: a policy that keeps a message object (instead of copying it) fails its unit tests too. */
  drain(out: Message[]): void {
    out.length = this.queue.length;
    for (let i = 0; i < this.queue.length; i++) {
      if (i === this.msgPool.length) this.msgPool.push({ ...this.queue[i] });
      out[i] = Object.assign(this.msgPool[i], this.queue[i]);
    }
    this.queue.length = 0;
  }

  commit(txns: Txn[]): void {
    const rec: FakeCommit = { atNs: this.now, txns: [] };
    for (const t of txns) {
      t.result = this.override?.(t) ?? this.validate(t);
      rec.txns.push({ slot: t.task.slot, cpu: t.cpu, barrier: t.barrier, result: t.result, next: t.next === true });
    }
    this.commits.push(rec);
  }

  private validate(t: Txn): TxnResult {
    if (!this.alive.has(t.task.slot)) return TxnResult.TARGET_NOT_FOUND;
    if (!this.cpus.includes(t.cpu)) return TxnResult.INVALID_CPU;
    if (this.barrier.get(t.task.slot) !== t.barrier) return TxnResult.TARGET_STALE;
    return TxnResult.OK;
  }

  requestPark(task: Task, kind: ParkKind): void {
    this.parks.push({ slot: task.slot, kind, atNs: this.now });
  }

  readHints(task: Task & TaskHints): void {
    const h = this.hints.get(task.slot);
    if (h) Object.assign(task, h);
  }

  runtimeNs(task: Task): number {
    return this.runtime.get(task.slot) ?? 0;
  }

  switchInNs(task: Task): number {
    return this.switchIn.get(task.slot) ?? 0;
  }

  releaseTask(task: Task): void {
    this.released.push(task.slot);
  }

  evict(task: Task): void {
    this.evicted.push(task.slot);
    this.alive.delete(task.slot);
  }

  heartbeat(): void {}
}
