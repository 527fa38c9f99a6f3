// preempt-worker.ts: the registered threads of bench:agent's preemption latency: a victim that spins (calling checkpoint() or never) and a successor that stamps as it starts and yields.
import { workerData } from 'node:worker_threads';
import { attach } from '../../client/index.ts';
import { native } from '../../agent/native.ts';
import { SUCCESSOR_QOS, VICTIM_QOS } from './preempt-probe.ts';

/*
 * ctl (Int32Array): [0] quit. stamp (Float64Array): [0] this thread's latest
 * stamp, read by the policy on the agent's thread.
 * role 'coop-victim': spins on the clock and calls checkpoint() every
 * checkpointNs; 'spin-victim': spins and never calls into the shim, so only
 * the signal can take its cpu; 'successor': stamps the moment its placement
 * returns, then yields the cpu straight back.
 */
type Role = 'coop-victim' | 'spin-victim' | 'successor';
const { enclave, role, ctl, stamp, checkpointNs } = workerData as { enclave: string; role: Role; ctl: SharedArrayBuffer; stamp: SharedArrayBuffer; checkpointNs: number };
const quit = new Int32Array(ctl);
const s = new Float64Array(stamp);
const enc = attach(enclave);
const task = enc.register({ qos: role === 'successor' ? SUCCESSOR_QOS : VICTIM_QOS });

if (role === 'successor') {
  for (;;) {
    s[0] = native.nowNs(); // first instruction after register() or yield() returned
    if (Atomics.load(quit, 0) !== 0) break;
    task.yield();
  }
} else if (role === 'coop-victim') {
  while (Atomics.load(quit, 0) === 0) {
    const until = native.nowNs() + checkpointNs;
    let now;
    do {
      now = native.nowNs();
      s[0] = now;
    } while (now < until);
    task.checkpoint();
  }
} else {
  while (Atomics.load(quit, 0) === 0) s[0] = native.nowNs();
}
task.unregister();
