// churner.ts: a short-lived registered thread for the churn soak: register, run, yield, unregister, a few times; then exit.
import { parentPort, workerData } from 'node:worker_threads';
import { REGION, SlotState, TASK } from '../../agent/abi.ts';
import { native } from '../../agent/native.ts';
import { Enclave, type SyrupTask } from '../../client/index.ts';

const { enclave, cycles, spinMs, exitRegistered, reregister } = workerData as {
  enclave: string;
  cycles: number;
  spinMs: number;
  /** End the thread while still registered, so its slot is freed by TASK_DEAD from BPF, not by unregister(). */
  exitRegistered: boolean;
  /**
   * 'slotFreed': register again only once the agent has freed the previous
   * slot. 'immediately': right after unregister(), which trips the shim bug
   * described in docs/reliability.md (the agent's release of the old slot
   * deletes the thread's new tid-map entry).
   */
  reregister: 'slotFreed' | 'immediately';
};

const nap = new Int32Array(new SharedArrayBuffer(4));
const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

let regs = 0;
let failed = '';
let last: SyrupTask | undefined;
try {
  const h = native.clientAttach(enclave);
  const enc = new Enclave(enclave, h);
  const words = new Uint32Array(native.clientRegion(h).region);
  const stateOf = (slot: number) => Atomics.load(words, (REGION.fields.tasks + slot * TASK.size + TASK.fields.state) / 4);
  for (let c = 0; c < cycles; c++) {
    if (enc.detached) break;
    const t = enc.register();
    regs++;
    spin(spinMs);
    t.yield();
    spin(spinMs);
    if (c === cycles - 1 && exitRegistered) {
      last = t;
      break;
    }
    t.unregister();
    if (reregister === 'slotFreed') {
      const until = performance.now() + 1000;
      while (stateOf(t.slot) !== SlotState.FREE && performance.now() < until) Atomics.wait(nap, 0, 0, 1);
    }
  }
} catch (err) {
  failed = (err as { code?: string }).code ?? String(err);
}
parentPort!.postMessage({ kind: 'churned', regs, exitedRegistered: last !== undefined, failed });
// Returning from the module ends the thread; a registered one leaves through sched_process_exit.
