// misuse-thread.ts: a thread that calls the client API wrongly on purpose and reports what each call did (threw which code, or not).
import { parentPort, workerData } from 'node:worker_threads';
import { HANDLE_SLOT_BITS, REGION, SlotState, TASK } from '../../agent/abi.ts';
import { native } from '../../agent/native.ts';
import { attach, Enclave, SyrupTask } from '../../client/index.ts';

const { enclave, otherSlot, otherTid } = workerData as { enclave: string; otherSlot: number; otherTid: number };

export interface Misuse {
  what: string;
  /** The error code it was rejected with, or 'accepted' if the call returned. */
  outcome: string;
  expected: string;
}

const results: Misuse[] = [];
function attempt(what: string, expected: string, fn: () => unknown): void {
  let outcome = 'accepted';
  try {
    fn();
  } catch (err) {
    outcome = (err as { code?: string }).code ?? `threw: ${(err as Error).message}`;
  }
  results.push({ what, outcome, expected });
}

const h = native.clientAttach(enclave);
const enc = new Enclave(enclave, h);
const words = new Uint32Array(native.clientRegion(h).region);
const stateOf = (slot: number) => Atomics.load(words, (REGION.fields.tasks + slot * TASK.size + TASK.fields.state) / 4);
const nap = new Int32Array(new SharedArrayBuffer(4));
const waitFree = (slot: number) => {
  const until = performance.now() + 2000;
  while (stateOf(slot) !== SlotState.FREE && performance.now() < until) Atomics.wait(nap, 0, 0, 1);
};

attempt('attach with an empty name', 'BAD_ARGUMENT', () => attach(''));
attempt('attach with a path as the name', 'BAD_ENCLAVE_NAME', () => attach('../etc/passwd'));
attempt('unregister a thread that is not registered', 'NOT_REGISTERED', () => native.clientUnregister(h));
attempt('park a thread that is not registered', 'NOT_REGISTERED', () => native.clientPark(h));
attempt('yield a thread that is not registered', 'NOT_REGISTERED', () => native.clientYield(h));
attempt('register with qos -1', 'BAD_ARGUMENT', () => enc.register({ qos: -1 }));
const freeHandle = (1 << HANDLE_SLOT_BITS) | 4095;
attempt('wake a bare slot number (not a task handle)', 'BAD_ARGUMENT', () => enc.wake(otherSlot));
attempt('wake handle -1', 'BAD_ARGUMENT', () => enc.wake(-1));
attempt('wake a handle whose slot is free (4095)', 'NOT_REGISTERED', () => enc.wake(freeHandle));
attempt('set a negative hint', 'BAD_ARGUMENT', () => enc.setHint(freeHandle, -5));
// Another thread's task, rebuilt here: the library acts on the calling thread's own registration, and this thread has none.
const otherHandle = (Atomics.load(words, (REGION.fields.tasks + otherSlot * TASK.size + TASK.fields.reg_gen) / 4) << HANDLE_SLOT_BITS) | otherSlot;
const foreign = new SyrupTask(enc, h, otherHandle, otherTid);
attempt("unregister another thread's task (this thread unregistered)", 'NOT_REGISTERED', () => foreign.unregister());

const first = enc.register();
attempt('register the same thread twice', 'ALREADY_REGISTERED', () => enc.register());
attempt("unregister another thread's task (this thread registered)", 'NOT_OWNER', () => foreign.unregister());
const stillMine = stateOf(first.slot) === SlotState.ACTIVE;
if (stillMine) first.unregister();
waitFree(first.slot);
// A stale handle: unregister() of a registration that already ended, after the thread registered again.
const second = enc.register();
attempt('unregister through a stale task handle (previous registration)', 'NOT_OWNER', () => first.unregister());
attempt('wake through a stale task handle (its slot registered again)', 'STALE_HANDLE', () => enc.wake(first.handle));
attempt('set a hint through a stale task handle', 'STALE_HANDLE', () => enc.setHint(first.handle, 1000));
const secondActive = stateOf(second.slot) === SlotState.ACTIVE;
if (secondActive) second.unregister();
attempt('unregister twice', 'NOT_REGISTERED', () => second.unregister());

parentPort!.postMessage({
  kind: 'misuse',
  results,
  // What the "not mine" unregisters actually did to this thread's own registrations.
  foreignUnregisterEndedOwn: !stillMine,
  staleUnregisterEndedCurrent: !secondActive,
  otherStillActive: stateOf(otherSlot) === SlotState.ACTIVE,
});
