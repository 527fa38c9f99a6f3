// worker.ts: a soak service's request-serving thread: registers, serves its counter, and re-registers after its agent is replaced.
import { parentPort, workerData } from 'node:worker_threads';
import { HDR } from '../../agent/abi.ts';
import { native, type ClientHandle } from '../../agent/native.ts';
import { Enclave, type SyrupTask } from '../../client/index.ts';
import { T, W } from './layout.ts';
import { liveAgent } from './region.ts';

const { enclave: name, index: i, control, times, workMs } = workerData as {
  enclave: string;
  index: number;
  control: SharedArrayBuffer;
  times: SharedArrayBuffer;
  workMs: number;
};
const words = new Int32Array(control);
const tm = new Float64Array(times);

let enc: Enclave | undefined;
let task: SyrupTask | undefined;
let myAgent = 0;

const agentPidOf = (h: ClientHandle) => new Uint32Array(native.clientRegion(h).region)[HDR.fields.agent_pid / 4];

/**
 * Register with the enclave's current agent. False when there is none yet:
 * after a SIGKILL the dead agent's region stays behind until a new agent
 * replaces it, and attaching to it yields a client that detaches at once.
 */
function tryRegister(): boolean {
  let h: ClientHandle;
  try {
    h = native.clientAttach(name);
  } catch {
    return false;
  }
  const e = new Enclave(name, h);
  if (e.detached) return false;
  let t: SyrupTask;
  try {
    t = e.register();
  } catch (err) {
    if ((err as { code?: string }).code === 'NO_AGENT') return false;
    throw err;
  }
  if (e.detached) {
    t.unregister(); // raced with the watchdog of a stale region
    return false;
  }
  enc = e;
  task = t;
  myAgent = agentPidOf(h);
  // Handle before agent: a dispatcher that reads the new agent pid also reads the new handle.
  Atomics.store(words, W.handle(i), t.handle);
  Atomics.store(words, W.agent(i), myAgent);
  if (Atomics.add(words, W.regs(i), 1) > 0) tm[T.reregistered(i)] = native.nowNs();
  Atomics.store(words, W.detached(i), 0);
  return true;
}

const boot = native.nowNs() + 10e9;
while (!tryRegister()) {
  if (native.nowNs() > boot) throw new Error(`worker ${i}: no agent for enclave '${name}'`);
  Atomics.wait(words, W.stop, 0, 10);
}
parentPort!.postMessage({ kind: 'registered', index: i, slot: task!.slot, handle: task!.handle });

let x = 0;
for (;;) {
  const served = Atomics.load(words, W.served(i));
  if (served < Atomics.load(words, W.sent(i))) {
    const end = performance.now() + workMs;
    while (performance.now() < end) x = (x * 1103515245 + 12345) | 0;
    Atomics.store(words, W.served(i), served + 1);
    continue;
  }
  if (Atomics.load(words, W.stop) === 1) break;
  if (task && enc!.detached) {
    if (Atomics.load(words, W.detached(i)) === 0) {
      if (tm[T.detachSeen(i)] === 0) tm[T.detachSeen(i)] = native.nowNs();
      Atomics.store(words, W.detached(i), 1);
    }
    // Until a new agent exists, park() is the detached futex handshake; then move over to it.
    if (liveAgent(name, myAgent)) {
      task.unregister();
      task = undefined;
      continue;
    }
  }
  if (!task) {
    if (!tryRegister()) Atomics.wait(words, W.stop, 0, 10);
    continue;
  }
  task.park();
}
task?.unregister();
parentPort!.postMessage({ kind: 'done', index: i, x });
