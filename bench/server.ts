// server.ts: the benchmark server process: builds the store, calibrates, starts the workers and the generator, then runs phases on command.
/*
 * Usage (by bench/server-process.ts): node --import tsx bench/server.ts '<ServerConfig JSON>'
 * stdin: one PhaseCommand / QuitCommand JSON per line; stdout: ServerEvent
 * JSON lines tagged "bench" (anything else on stdout, e.g. a library's log,
 * is ignored by the reader).
 *
 * Threads: main = the dispatcher (pinned to its cpu while it runs phases),
 * one generator worker_thread (pinned to its cpu), N server workers (pinned
 * to the worker cpus for the Linux baseline; placed by the agent for Syrup).
 * The generator and dispatcher are threads of one process, so the request
 * queue between them is a ringbuf.js RingBuffer on a SharedArrayBuffer.
 */
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { calibrate } from './calibrate.ts';
import { nowUs } from './clock.ts';
import { Dispatcher } from './dispatcher.ts';
import { LinuxWaker, type Waker } from './parker.ts';
import { allowedCpus, makeCurrentThreadRealtime, pinAllThreads, pinCurrentThread, pinTids, schedPolicy } from './pin.ts';
import {
  C_BOOTED, C_GO_REGISTER, C_READY, C_STOP, CTL_WORDS, GEN_STAT_WORDS, RECORD, RING_REQUESTS, SLOT_STRIDE, W_TID,
  WORD_STRIDE, type PhaseCommand, type QuitCommand, type ServerConfig, type ServerEvent, type SharedRegions,
} from './protocol.ts';
import { RingBuffer } from 'ringbuf.js';
import { KvStore } from './store.ts';

/** How long a phase may take to drain after its last arrival before the run is declared stuck. */
const DRAIN_LIMIT_US = 10e6;
/** Worker start-up (tsx in every thread, then registration) bound. */
const STARTUP_LIMIT_MS = 180_000;

/** The client's worker_threads entry: registers tsx in the thread (Node 20 workers do not inherit --import tsx), then imports workerData.entry. */
const BOOT_URL = new URL('../client/thread-boot.mjs', import.meta.url);

function emit(ev: ServerEvent): void {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

function fail(message: string): never {
  emit({ bench: 'error', message });
  process.exit(1);
}

function startThread(entry: string, init: unknown): Worker {
  const w = new Worker(BOOT_URL, { workerData: { entry: new URL(entry, import.meta.url).href, init } });
  w.on('error', (err) => fail(`${entry} thread failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  return w;
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > STARTUP_LIMIT_MS) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as ServerConfig;

  // Calibrate on a worker cpu, where the requests will run; or reuse the
  // run's calibration so every configuration does exactly the same work.
  // Under a Syrup agent the worker cpus are isolated: no thread of ours may
  // run there until the agent places it, so a first-run calibration happens
  // on a helper cpu (the harness reuses the Linux baseline's when it ran first).
  if (config.calibration === null && config.parker === 'syrup') {
    try {
      pinCurrentThread([config.workerCpus[0]]);
    } catch {
      pinCurrentThread(config.helperCpus);
    }
  } else if (config.calibration === null) {
    pinCurrentThread([config.workerCpus[0]]);
  }
  const { store, shared } = KvStore.build(config.storeKeys, config.seed);
  const calibration = config.calibration ?? calibrate(store, config.mix.getUs, config.mix.rangeUs);

  const regions: SharedRegions = {
    ctl: new SharedArrayBuffer(CTL_WORDS * 4),
    genStats: new SharedArrayBuffer(GEN_STAT_WORDS * 8),
    ring: RingBuffer.getStorageForCapacity(RING_REQUESTS * RECORD, Float64Array),
    slots: new SharedArrayBuffer(config.workers * SLOT_STRIDE * 8),
    words: new SharedArrayBuffer(config.workers * WORD_STRIDE * 4),
    store: shared,
  };
  const ctl = new Int32Array(regions.ctl);
  const words = new Int32Array(regions.words);

  // Boot the workers on all cpus (tsx start-up is the slow part). Then, before
  // anyone registers: every thread of the process (Node's GC and libuv
  // helpers included) off the worker cpus, and the workers onto them. A
  // helper thread on a worker cpu would preempt the worker the policy placed
  // there (the agent does the same for its own helpers); the Linux baseline
  // gets the identical placement.
  const workers: Worker[] = [];
  for (let i = 0; i < config.workers; i++) {
    workers.push(startThread('./worker.ts', { index: i, config, regions, calibration }));
  }
  await waitFor('workers to boot', () => Atomics.load(ctl, C_BOOTED) === config.workers);
  pinAllThreads(process.pid, config.helperCpus);
  // Syrup workers wait off the worker cpus until the agent places them (which
  // is all an isolated enclave allows); the placement sets their cpu.
  pinTids(Array.from({ length: config.workers }, (_, i) => Atomics.load(words, i * WORD_STRIDE + W_TID)), config.parker === 'syrup' ? config.helperCpus : config.workerCpus);
  pinCurrentThread([config.dispatcherCpu]);
  if (config.realtimeFrontEnd) makeCurrentThreadRealtime(config.frontEndPriority);
  Atomics.store(ctl, C_GO_REGISTER, 1);
  Atomics.notify(ctl, C_GO_REGISTER);
  await waitFor('workers to register', () => Atomics.load(ctl, C_READY) === config.workers);

  const generator = startThread('./generator.ts', { config, regions });
  const genReady = (await new Promise((resolve) => generator.once('message', resolve))) as { allowed: string; tid: number };

  // Syrup only: parker-syrup.ts loads the client and with it the native addon.
  const waker: Waker =
    config.parker === 'syrup' ? (await import('./parker-syrup.ts')).SyrupWaker.create(config.enclave, words) : new LinuxWaker(words);
  const dispatcher = new Dispatcher(regions, config.workers, waker, config.dispatcherSleeps);

  emit({
    bench: 'ready',
    calibration,
    workers: config.workers,
    storeKeys: store.size,
    tids: {
      dispatcher: process.pid,
      generator: genReady.tid,
      workers: Array.from({ length: config.workers }, (_, i) => Atomics.load(words, i * WORD_STRIDE + W_TID)),
    },
    pinned: {
      dispatcher: `cpus ${allowedCpus('self')}, ${schedPolicy()}`,
      generator: genReady.allowed,
      worker0: `cpus ${allowedCpus(Atomics.load(words, W_TID))}, ${schedPolicy(Atomics.load(words, W_TID))}`,
    },
  });

  let broken = false;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const cmd = JSON.parse(line) as PhaseCommand | QuitCommand;
    if (cmd.cmd === 'quit') break;
    if (broken) fail('server is stuck after a drain timeout; start a new one');
    const report = new Promise((resolve) => generator.once('message', resolve));
    generator.postMessage(cmd);
    const result = dispatcher.runPhase({
      phase: cmd.phase,
      rate: cmd.rate,
      durationS: cmd.durationS,
      deadlineUs: nowUs() + (cmd.warmupS + cmd.durationS) * 1e6 + DRAIN_LIMIT_US,
    });
    await report;
    emit({ bench: 'result', result });
    if (result.incomplete > 0) broken = true;
  }

  // Shutdown: flag, then wake every worker so it sees the flag and leaves.
  Atomics.store(ctl, C_STOP, 1);
  for (let i = 0; i < config.workers; i++) waker.wake(i, 0);
  await Promise.race([
    Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r)))),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  waker.close();
  await generator.terminate();
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.stack ?? err.message : String(err)));
