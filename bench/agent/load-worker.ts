// load-worker.ts: a registered thread that loads the agent: yield in a loop (placements) or sleep in the kernel (kernel messages).
import { workerData } from 'node:worker_threads';
import { attach } from '../../client/index.ts';
import { native } from '../../agent/native.ts';

/* ctl (Int32Array): [0] quit; out (Float64Array): [0] samples, [1 + i] commit-to-running of sample i (ns) */
const { enclave, mode, ctl, out } = workerData as { enclave: string; mode: 'yield' | 'sleep'; ctl: SharedArrayBuffer; out: SharedArrayBuffer };
const quit = new Int32Array(ctl);
const o = new Float64Array(out);
const cap = o.length - 1;
const enc = attach(enclave);
const task = enc.register();
const nap = new Int32Array(new SharedArrayBuffer(4));
let n = 0;
while (Atomics.load(quit, 0) === 0) {
  if (mode === 'yield') {
    task.yield();
    // The agent stamped commit_ns when it committed this placement; we are running now.
    if (n < cap) o[1 + n] = native.nowNs() - enc.lastCommitNs(task.handle);
    n++;
  } else {
    Atomics.wait(nap, 0, 0, 0.2); // 200 us in the kernel: TASK_BLOCKED then TASK_WAKEUP from BPF
  }
}
o[0] = Math.min(n, cap);
task.unregister();
