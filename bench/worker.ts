// worker.ts: a server worker thread: wait for a request in its slot, do the GET or RANGE against the store, report, park again.
import { workerData } from 'node:worker_threads';
import { nowUs } from './clock.ts';
import { LinuxParker, type WorkerParker } from './parker.ts';
import { currentTid } from './pin.ts';
import {
  C_BOOTED, C_DISP_SLEEP, C_DOORBELL, C_GO_REGISTER, C_READY, C_STOP, D_WANT_COMPLETION, KIND_RANGE,
  S_CHECKSUM, S_ENDED, S_FLAGS, S_KEY, S_PLACED, S_STARTED, S_WORK, S_YIELDS, SLOT_STRIDE, ST_DONE, W_STATE, W_TID,
  WORD_STRIDE, type WorkerInit,
} from './protocol.ts';
import { KvStore } from './store.ts';

const init = (workerData as { init: WorkerInit }).init;
const { index, config, regions, calibration } = init;
const ctl = new Int32Array(regions.ctl);
const words = new Int32Array(regions.words);
const slots = new Float64Array(regions.slots);
const store = KvStore.attach(regions.store);
const base = index * SLOT_STRIDE;
const stateAt = index * WORD_STRIDE + W_STATE;

const lookupsPerUs = calibration.getLookups / config.mix.getUs;
const entriesPerUs = calibration.rangeEntries / config.mix.rangeUs;
const chunkEntries = Math.max(1, Math.round(config.checkpointUs * entriesPerUs));

Atomics.store(words, index * WORD_STRIDE + W_TID, currentTid());
Atomics.add(ctl, C_BOOTED, 1);
// The server pins every thread between boot and registration; a syrup task
// registered before that would have its placement overwritten.
Atomics.wait(ctl, C_GO_REGISTER, 0);

// Loaded only in Syrup mode: the client loads the native addon, which the
// Linux baseline must not need.
const parker: WorkerParker =
  config.parker === 'syrup'
    ? (await import('./parker-syrup.ts')).SyrupParker.create(config.enclave, words, index)
    : new LinuxParker(words, index);

let checksum = 0;
let yields = 0;

/** A RANGE scans in checkpointUs chunks so a cooperative policy (Shinjuku) can take the cpu between them. */
function range(start: number, entries: number): number {
  let acc = 0;
  let at = start;
  for (let left = entries; left > 0; ) {
    const n = left < chunkEntries ? left : chunkEntries;
    acc ^= store.scan(at, n);
    at += n;
    left -= n;
    if (left > 0 && parker.checkpoint()) yields++;
  }
  return acc;
}

/** One request's work: `work` microseconds of calibrated GET lookups or RANGE scanning. */
function serve(isRange: boolean, key: number, work: number): number {
  if (isRange) return range(key % store.size, Math.max(1, Math.round(work * entriesPerUs)));
  return store.get(key, Math.max(1, Math.round(work * lookupsPerUs)));
}

// Warm this isolate's JIT on the exact request path (serve, range with its
// checkpoints, the store) before reporting ready. Each worker only sees
// 1/N of the requests, so without this its functions would still be
// reaching V8's optimization thresholds, and compiling, minutes into the run.
for (let i = 0; i < 3000; i++) checksum ^= serve(false, index * 7919 + i, 2);
for (let i = 0; i < 300; i++) checksum ^= serve(true, index * 104729 + i * 977, config.checkpointUs * 3);
for (let i = 0; i < 3000; i++) nowUs();
yields = 0;
Atomics.add(ctl, C_READY, 1);

for (;;) {
  parker.park();
  if (Atomics.load(ctl, C_STOP) !== 0) break;
  slots[base + S_STARTED] = nowUs();
  slots[base + S_PLACED] = parker.placedAtUs();
  yields = 0;
  checksum ^= serve((slots[base + S_FLAGS] & KIND_RANGE) !== 0, slots[base + S_KEY], slots[base + S_WORK]);
  slots[base + S_YIELDS] = yields;
  slots[base + S_CHECKSUM] = checksum;
  slots[base + S_ENDED] = nowUs();
  Atomics.store(words, stateAt, ST_DONE);
  // Ring the dispatcher only when it sleeps waiting for a free worker.
  if (Atomics.load(ctl, C_DISP_SLEEP) === D_WANT_COMPLETION) {
    Atomics.store(ctl, C_DOORBELL, 1);
    Atomics.notify(ctl, C_DOORBELL);
  }
}
parker.close();
