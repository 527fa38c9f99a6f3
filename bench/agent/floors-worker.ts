// floors-worker.ts: the thread side of the raw hand-off floors: woken by futex (Atomics.wait) or by a spin on shared memory.
import { workerData } from 'node:worker_threads';
import { native } from '../../agent/native.ts';

/*
 * ctl (Int32Array): [0] go word the waker flips 0 -> 1, [1] ready (worker waiting), [2] mode 1=futex 2=spin, [3] quit
 * stamps (Float64Array): [0] waker's timestamp, [1 + i] latency of sample i
 */
const { ctl, stamps, cpu } = workerData as { ctl: SharedArrayBuffer; stamps: SharedArrayBuffer; cpu: number };
const c = new Int32Array(ctl);
const s = new Float64Array(stamps);
native.pinThread(cpu);
let i = 0;
while (Atomics.load(c, 3) === 0) {
  Atomics.store(c, 1, 1);
  if (Atomics.load(c, 2) === 1) {
    Atomics.wait(c, 0, 0, 200);
  } else {
    while (Atomics.load(c, 0) === 0 && Atomics.load(c, 3) === 0);
  }
  if (Atomics.load(c, 0) === 1) {
    s[1 + i++] = native.nowNs() - s[0];
    Atomics.store(c, 0, 0);
  }
}
