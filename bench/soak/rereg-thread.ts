// rereg-thread.ts: a thread that unregisters and at once registers again, then exits registered: the shape that loses its tid-map entry.
import { parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../client/index.ts';
import { native } from '../../agent/native.ts';

/* ctl words: [0] go (set by the orchestrator once it has stopped the agent), [1] phase reached by this thread */
const { enclave, ctl } = workerData as { enclave: string; ctl: SharedArrayBuffer };
const w = new Int32Array(ctl);
const enc = attach(enclave);
const first = enc.register();
parentPort!.postMessage({ kind: 'registered', slot: first.slot, tid: native.gettid() });
while (Atomics.load(w, 0) === 0) Atomics.wait(w, 0, 0, 5);
first.unregister();
Atomics.store(w, 1, 1); // the agent is stopped: its DEPARTED and the next TASK_NEW reach it in one drain
const second = enc.register();
parentPort!.postMessage({ kind: 'reregistered', slot: second.slot, tid: native.gettid() });
while (Atomics.load(w, 0) === 1) Atomics.wait(w, 0, 1, 5);
const end = performance.now() + 5;
while (performance.now() < end);
// Exit while registered and placed: the slot and the cpu come back only through BPF's TASK_DEAD.
parentPort!.postMessage({ kind: 'exiting', slot: second.slot });
