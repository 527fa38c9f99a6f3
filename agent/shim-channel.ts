// shim-channel.ts: the real Channel: messages, commits and status words through the kernel shim.
import { CPU, HANDLE_SLOT_BITS, KFlag, KSTAT, MSG, PreemptKind, REGION, TASK, TXN_REQ, TxnFlag } from './abi.ts';
import type { Channel, ParkKind } from './channel.ts';
import type { Message } from './message.ts';
import { native, type AgentHandle } from './native.ts';
import type { Task, TaskHints } from './task.ts';
import type { Txn } from './txn.ts';

const DRAIN_CAP = 4096;
const TXN_CAP = 256;
const U32 = 4;
/* The loop's clock (native.ts clockTick): one cell per process, bound on first use. */
const CLOCK = new Float64Array(1);
native.clockBind(CLOCK);

/** Read a u64 field as a Number (exact below 2^53) without allocating a BigInt. */
function u64(view: Uint32Array, byteOff: number): number {
  const i = byteOff / U32;
  return view[i] + view[i + 1] * 4294967296;
}

export class ShimChannel implements Channel {
  readonly cpus: readonly number[];
  private readonly msgBuf = new Uint8Array(DRAIN_CAP * MSG.size);
  private readonly msg32 = new Uint32Array(this.msgBuf.buffer);
  private readonly msgI32 = new Int32Array(this.msgBuf.buffer);
  private readonly txnBuf = new Int32Array((TXN_CAP * TXN_REQ.size) / U32);
  private readonly msgPool: Message[] = [];
  private readonly region: Uint32Array;
  private readonly kstat: Uint32Array;

  constructor(private readonly handle: AgentHandle, cpus: readonly number[]) {
    this.cpus = cpus;
    const v = native.agentRegion(handle);
    this.region = new Uint32Array(v.region);
    this.kstat = new Uint32Array(v.kstat);
  }

  nowNs(): number {
    native.clockTick();
    return CLOCK[0];
  }

  /*
   * The message objects are this channel's and are rewritten by the next
   * drain: a fresh object per message was most of the agent's garbage under
   * load (young-generation pauses of 0.3-9 ms at 15k req/s).
   */
  drain(out: Message[]): void {
    const n = native.agentDrain(this.handle, this.msgBuf);
    const w = MSG.size / U32;
    const pool = this.msgPool;
    // Only when it changes: every store to an array's length is a V8 runtime call, and most iterations drain nothing.
    if (out.length !== n) out.length = n;
    for (let i = 0; i < n; i++) {
      const b = i * w;
      const head = this.msg32[b];
      if (i === pool.length) pool.push({ type: 0, src: 0, slot: 0, tid: 0, seq: 0, cpu: 0, arg: 0, tsNs: 0 });
      const m = pool[i];
      m.type = head & 0xffff;
      m.src = head >>> 16;
      m.slot = this.msg32[b + 1];
      m.tid = this.msg32[b + 2];
      m.seq = this.msg32[b + 3];
      m.cpu = this.msgI32[b + 4];
      m.arg = this.msg32[b + 5];
      m.tsNs = this.msg32[b + 6] + this.msg32[b + 7] * 4294967296;
      out[i] = m;
    }
  }

  commit(txns: Txn[]): void {
    for (let start = 0; start < txns.length; start += TXN_CAP) {
      const n = Math.min(TXN_CAP, txns.length - start);
      const w = TXN_REQ.size / U32;
      for (let i = 0; i < n; i++) {
        const t = txns[start + i];
        this.txnBuf[i * w] = t.task.slot;
        this.txnBuf[i * w + 1] = t.cpu;
        this.txnBuf[i * w + 2] = t.barrier | 0;
        this.txnBuf[i * w + 3] = 0;
        this.txnBuf[i * w + 4] = t.next ? TxnFlag.F_NEXT : 0;
      }
      native.agentCommit(this.handle, this.txnBuf, n);
      for (let i = 0; i < n; i++) txns[start + i].result = this.txnBuf[i * w + 3];
    }
  }

  requestPark(task: Task, kind: ParkKind): void {
    native.agentRequestPark(this.handle, task.slot, kind === 'preempt' ? PreemptKind.YIELD : PreemptKind.SILENT);
  }

  readHints(task: Task & TaskHints): void {
    const base = REGION.fields.tasks + task.slot * TASK.size;
    task.qos = this.region[(base + TASK.fields.qos) / U32];
    task.group = this.region[(base + TASK.fields.group) / U32];
    task.hintNs = u64(this.region, base + TASK.fields.hint);
    task.deadlineNs = u64(this.region, base + TASK.fields.deadline_ns);
    task.executor = this.region[(base + TASK.fields.user_data) / U32] - 1;
  }

  runtimeNs(task: Task): number {
    const base = task.slot * KSTAT.size;
    let rt = u64(this.kstat, base + KSTAT.fields.runtime_ns);
    if (this.kstat[(base + KSTAT.fields.flags) / U32] & KFlag.ONCPU) {
      const since = u64(this.kstat, base + KSTAT.fields.switch_ns);
      const now = this.nowNs();
      if (now > since) rt += now - since;
    }
    return rt;
  }

  switchInNs(task: Task): number {
    return u64(this.kstat, task.slot * KSTAT.size + KSTAT.fields.switch_ns);
  }

  /** The task handle of the slot's current registration (a service passes handles; the agent side knows slots). */
  handleOf(slot: number): number {
    return (this.region[(REGION.fields.tasks + slot * TASK.size + TASK.fields.reg_gen) / U32] << HANDLE_SLOT_BITS) | slot;
  }

  releaseTask(task: Task): void {
    native.agentReleaseSlot(this.handle, task.slot);
  }

  evict(task: Task): void {
    native.agentEvict(this.handle, task.slot);
  }

  heartbeat(): boolean {
    return native.agentHeartbeat(this.handle);
  }

  idle(): void {
    native.schedYield();
  }

  sleep(maxNs: number): number {
    return native.agentSleep(this.handle, maxNs);
  }

  nap(ns: number): number {
    return native.nap(ns);
  }

  /** Occupancy of an enclave cpu as the shim sees it (slot+1 of holder and latched successor). */
  cpuOccupancy(cpu: number): { cur: number; next: number } {
    const base = (REGION.fields.cpus + cpu * CPU.size) / U32;
    return { cur: this.region[base + CPU.fields.cur / U32], next: this.region[base + CPU.fields.next / U32] };
  }
}
