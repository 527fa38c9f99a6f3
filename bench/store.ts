// store.ts: the in-memory key-value store the requests actually read: sorted keys plus fixed-size values, in shared memory.
/*
 * A GET is a binary search for a key followed by a checksum over its value;
 * a RANGE is a scan over consecutive entries reading every value. Both are
 * real memory work (the value area is ~8 MiB, past the L2), and their results
 * are returned so the JIT cannot drop them. The arrays live in
 * SharedArrayBuffers so every worker thread reads the same store without a
 * copy. Service times are produced by repeating these units, the repeat
 * counts coming from calibrate.ts.
 */
import { Rng } from './rng.ts';

export const VALUE_BYTES = 64;
const VALUE_WORDS = VALUE_BYTES / 4;

/** What travels to a worker thread to attach to the store. */
export interface SharedStore {
  keys: SharedArrayBuffer;
  values: SharedArrayBuffer;
}

export class KvStore {
  readonly size: number;
  private readonly keys: Uint32Array;
  private readonly values: Uint32Array;

  private constructor(shared: SharedStore) {
    this.keys = new Uint32Array(shared.keys);
    this.values = new Uint32Array(shared.values);
    this.size = this.keys.length;
  }

  /** Builds a store of `size` distinct random keys (sorted) with random values. */
  static build(size: number, seed: number): { store: KvStore; shared: SharedStore } {
    const rng = new Rng(seed);
    const keySet = new Set<number>();
    while (keySet.size < size) keySet.add(Math.floor(rng.next() * 0xffffffff));
    const sorted = Uint32Array.from(keySet).sort();
    const shared: SharedStore = {
      keys: new SharedArrayBuffer(size * 4),
      values: new SharedArrayBuffer(size * VALUE_BYTES),
    };
    new Uint32Array(shared.keys).set(sorted);
    const values = new Uint32Array(shared.values);
    for (let i = 0; i < values.length; i++) values[i] = Math.floor(rng.next() * 0xffffffff);
    return { store: new KvStore(shared), shared };
  }

  static attach(shared: SharedStore): KvStore {
    return new KvStore(shared);
  }

  /** Index of the first key >= key (binary search), or size when none. */
  lowerBound(key: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Checksum of one value (reads all of its bytes). */
  readValue(index: number): number {
    const v = this.values;
    const base = index * VALUE_WORDS;
    let acc = 0;
    for (let i = 0; i < VALUE_WORDS; i++) acc = (acc + v[base + i]) | 0;
    return acc;
  }

  /**
   * One GET's work: `lookups` point lookups of existing keys chosen from
   * `seedKey` (a multiplicative hash walks the key space), each reading its value.
   */
  get(seedKey: number, lookups: number): number {
    const n = this.size;
    let acc = 0;
    let h = seedKey >>> 0;
    for (let i = 0; i < lookups; i++) {
      h = (Math.imul(h, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
      const key = this.keys[h % n];
      const idx = this.lowerBound(key);
      acc = (acc ^ this.readValue(idx)) | 0;
    }
    return acc;
  }

  /** Part of a RANGE: reads `count` consecutive values starting at `start` (wrapping). */
  scan(start: number, count: number): number {
    const n = this.size;
    let acc = 0;
    let idx = start % n;
    for (let i = 0; i < count; i++) {
      acc = (acc + this.readValue(idx)) | 0;
      if (++idx === n) idx = 0;
    }
    return acc;
  }
}
