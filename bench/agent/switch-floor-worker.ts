// switch-floor-worker.ts: one of two threads pinned to the same cpu that pass the cpu back and forth by futex: the raw same-cpu context-switch floor.
import { workerData } from 'node:worker_threads';
import { native } from '../../agent/native.ts';

/*
 * ctl (Int32Array): [0] whose turn (0 or 1; -1 until the main thread starts
 * the game), [1] threads ready, [2] quit, [3] samples taken.
 * stamps (Float64Array): [0] the waker's stamp, [1 + i] sample i (ns).
 * The thread whose turn it is stamps, gives the turn to the other, wakes it
 * (FUTEX_WAKE) and waits (FUTEX_WAIT): on one cpu the other can run only once
 * this one sleeps, so a sample is wake + sleep + switch + return to user
 * code, the same steps as a preempted victim handing its cpu to a successor.
 */
const { ctl, stamps, cpu, me, samples } = workerData as { ctl: SharedArrayBuffer; stamps: SharedArrayBuffer; cpu: number; me: 0 | 1; samples: number };
const c = new Int32Array(ctl);
const s = new Float64Array(stamps);
const other = 1 - me;
native.pinThread(cpu);
Atomics.add(c, 1, 1);
for (;;) {
  let turn = Atomics.load(c, 0);
  while (turn !== me && Atomics.load(c, 2) === 0) {
    Atomics.wait(c, 0, turn);
    turn = Atomics.load(c, 0);
  }
  const now = native.nowNs();
  if (Atomics.load(c, 2) !== 0) break;
  const n = c[3];
  // The first turn comes from the main thread on another cpu: not a same-cpu switch.
  if (s[0] > 0) {
    s[1 + n] = now - s[0];
    c[3] = n + 1;
  }
  if (n + 1 >= samples) Atomics.store(c, 2, 1);
  s[0] = native.nowNs();
  Atomics.store(c, 0, other);
  Atomics.notify(c, 0);
}
