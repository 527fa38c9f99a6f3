// worker.ts: a server worker thread: wait for a request in its slot, do the GET or RANGE against the store, report, park again.
import { workerData } from 'node:worker_threads';
import { nowUs } from './clock.ts';
import { LinuxParker, type WorkerParker } from './parker.ts';
import { SyrupParker } from './parker-syrup.ts';
import { currentTid } from './pin.ts';
import {
  C_BOOTED, C_DISP_SLEEP, C_DOORBELL, C_GO_REGISTER, C_READY, C_STOP, D_WANT_COMPLETION, KIND_RANGE,
  S_CHECKSUM, S_ENDED, S_FLAGS, S_KEY, S_STARTED, S_WORK, S_YIELDS, SLOT_STRIDE, ST_DONE, W_STATE, W_TID,
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

// Warm this isolate's JIT on both request kinds before any measured work.
let checksum = 0;
for (let i = 0; i < 200; i++) checksum ^= store.get(index * 1000 + i, calibration.getLookups);
checksum ^= store.scan(index * 4099, Math.min(calibration.rangeEntries, 50_000));

Atomics.store(words, index * WORD_STRIDE + W_TID, currentTid());
Atomics.add(ctl, C_BOOTED, 1);
// The server pins every thread between boot and registration; a syrup task
// registered before that would have its placement overwritten.
Atomics.wait(ctl, C_GO_REGISTER, 0);

const parker: WorkerParker =
  config.parker === 'syrup' ? await SyrupParker.create(config.enclave, words, index) : new LinuxParker(words, index);
Atomics.add(ctl, C_READY, 1);

/** A RANGE scans in checkpointUs chunks so a cooperative policy (Shinjuku) can take the cpu between them. */
function range(start: number, entries: number): number {
  let acc = 0;
  let yields = 0;
  let at = start;
  for (let left = entries; left > 0; ) {
    const n = left < chunkEntries ? left : chunkEntries;
    acc ^= store.scan(at, n);
    at += n;
    left -= n;
    if (left > 0 && parker.checkpoint()) yields++;
  }
  slots[base + S_YIELDS] = yields;
  return acc;
}

for (;;) {
  parker.park();
  if (Atomics.load(ctl, C_STOP) !== 0) break;
  const started = nowUs();
  slots[base + S_STARTED] = started;
  const work = slots[base + S_WORK];
  const key = slots[base + S_KEY];
  slots[base + S_YIELDS] = 0;
  if ((slots[base + S_FLAGS] & KIND_RANGE) !== 0) {
    checksum ^= range(key % store.size, Math.max(1, Math.round(work * entriesPerUs)));
  } else {
    checksum ^= store.get(key, Math.max(1, Math.round(work * lookupsPerUs)));
  }
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
