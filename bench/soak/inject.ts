// inject.ts: write raw messages into an enclave's client ring, as a buggy or hostile client could, following the ring's MPSC protocol.
import { CRING, CRING_CELL, CRING_SLOTS, KSTAT, MSG, REGION, TASK } from '../../agent/abi.ts';
import { native } from '../../agent/native.ts';

export interface RawMsg {
  type: number;
  src: number;
  slot: number;
  tid: number;
  seq: number;
  cpu?: number;
  arg?: number;
}

/**
 * A view of an enclave's region and kstat mapping, through the client
 * library's own attach (the same shared mappings a service writes).
 */
export class RingInjector {
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly dv: DataView;
  private readonly ks: Uint32Array;
  private readonly tailIdx = (REGION.fields.cring + CRING.fields.tail) / 4;
  private readonly headIdx = (REGION.fields.cring + CRING.fields.head) / 4;

  constructor(name: string) {
    const v = native.clientRegion(native.clientAttach(name));
    this.u32 = new Uint32Array(v.region);
    this.u64 = new BigUint64Array(v.region);
    this.dv = new DataView(v.region);
    this.ks = new Uint32Array(v.kstat);
  }

  private cellOff(pos: number): number {
    return REGION.fields.cring + CRING.fields.cells + (pos % CRING_SLOTS) * CRING_CELL.size;
  }

  /**
   * Claim the next cell as syr_cring_post does: CAS the cell's {seq, owner}
   * word from (pos, 0) to (pos, owner), then move tail on. `owner` is the tid
   * the claim names (default: this thread); naming a thread that has exited
   * is how a producer killed mid-post looks to the agent. Returns the position.
   */
  claim(owner: number = native.gettid()): number {
    for (;;) {
      const pos = Atomics.load(this.u32, this.tailIdx);
      const wi = this.cellOff(pos) / 8;
      const w = Atomics.load(this.u64, wi);
      const dif = (Number(w & 0xffffffffn) - pos) | 0;
      if (dif === 0) {
        if (w >> 32n !== 0n) {
          Atomics.compareExchange(this.u32, this.tailIdx, pos, (pos + 1) >>> 0);
          continue;
        }
        const claimed = BigInt(pos) | (BigInt(owner >>> 0) << 32n);
        if (Atomics.compareExchange(this.u64, wi, w, claimed) === w) {
          Atomics.compareExchange(this.u32, this.tailIdx, pos, (pos + 1) >>> 0);
          return pos;
        }
      } else if (dif < 0) {
        throw new Error('client ring full');
      }
    }
  }

  /** Fill a claimed cell and publish it (cell.seq = pos + 1). */
  publish(pos: number, m: RawMsg): void {
    const c = this.cellOff(pos) + CRING_CELL.fields.msg;
    const f = MSG.fields;
    this.dv.setUint16(c + f.type, m.type, true);
    this.dv.setUint16(c + f.src, m.src, true);
    this.dv.setUint32(c + f.slot, m.slot >>> 0, true);
    this.dv.setUint32(c + f.tid, m.tid >>> 0, true);
    this.dv.setUint32(c + f.seq, m.seq >>> 0, true);
    this.dv.setInt32(c + f.cpu, m.cpu ?? -1, true);
    this.dv.setUint32(c + f.arg, m.arg ?? 0, true);
    this.dv.setBigUint64(c + f.ts_ns, BigInt(native.nowNs()), true);
    // seq = pos + 1 and owner = 0 in one store, as the C producer publishes.
    Atomics.store(this.u64, this.cellOff(pos) / 8, BigInt((pos + 1) >>> 0));
  }

  post(m: RawMsg): number {
    const pos = this.claim();
    this.publish(pos, m);
    return pos;
  }

  /** Has the agent consumed the cell at pos (head moved past it)? */
  consumed(pos: number): boolean {
    return ((Atomics.load(this.u32, this.headIdx) - pos) | 0) > 0;
  }

  tidOf(slot: number): number {
    return Atomics.load(this.u32, (REGION.fields.tasks + slot * TASK.size + TASK.fields.tid) / 4);
  }

  /** The task's barrier (seqnum of its latest message). */
  barrierOf(slot: number): number {
    return Atomics.load(this.ks, (slot * KSTAT.size + KSTAT.fields.barrier) / 4);
  }
}
