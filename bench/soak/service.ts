// service.ts: a soak service process: an open-loop dispatcher, registered request workers, optional thread churn; driven over IPC.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { HDR } from '../../agent/abi.ts';
import { native, type ClientHandle } from '../../agent/native.ts';
import { onlineCpus } from '../../agent/topology.ts';
import { Enclave, handleSlot } from '../../client/index.ts';
import { newHistogram, recordUs } from '../histogram.ts';
import { summarizeLatency } from './latency.ts';
import { CONTROL_BYTES, T, TIMES_BYTES, W } from './layout.ts';
import type { ChurnStats, FromService, ServiceConfig, ToService, WorkerStat } from './protocol.ts';
import { liveAgent } from './region.ts';

const cfg = JSON.parse(process.env.SOAK_SERVICE ?? '{}') as ServiceConfig;
const send = (m: FromService) => process.send!(m);
const BOOT = new URL('../../client/thread-boot.mjs', import.meta.url);

// The dispatcher and every unregistered thread stay off the enclave cpus, or they would compete with placed threads.
{
  const away = onlineCpus().filter((c) => !cfg.enclaveCpus.includes(c));
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      native.setAffinity(Number(tid), away);
    } catch {
      // a thread that exited meanwhile
    }
  }
}

const control = new SharedArrayBuffer(CONTROL_BYTES);
const times = new SharedArrayBuffer(TIMES_BYTES);
const words = new Int32Array(control);
const tm = new Float64Array(times);
const N = cfg.workers;

// ---- enclave handles, one per agent incarnation --------------------------------------------

const encs = new Map<number, Enclave>();
const agentPidOf = (h: ClientHandle) => new Uint32Array(native.clientRegion(h).region)[HDR.fields.agent_pid / 4];

/** A handle on the region of agent pid (the one a worker registered in). Attaches only once that agent is live. */
function encFor(pid: number): Enclave | undefined {
  const e = encs.get(pid);
  if (e) return e;
  if (liveAgent(cfg.enclave) !== pid) return undefined;
  try {
    const h = native.clientAttach(cfg.enclave);
    const p = agentPidOf(h);
    if (!encs.has(p)) encs.set(p, new Enclave(cfg.enclave, h));
  } catch {
    return undefined;
  }
  return encs.get(pid);
}

const wakeErrors: Record<string, number> = {};
function wakeWorker(w: number): void {
  // Agent before handle: the worker publishes its handle before agent (see layout.ts).
  const pid = Atomics.load(words, W.agent(w));
  if (pid === 0) return; // not registered yet: it reads its counter once it is
  const handle = Atomics.load(words, W.handle(w));
  const e = encFor(pid);
  if (!e) return;
  try {
    e.wake(handle);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'ERROR';
    wakeErrors[code] = (wakeErrors[code] ?? 0) + 1;
  }
}

// ---- workers ---------------------------------------------------------------------------

const workers: Worker[] = [];
const workerDone: Promise<void>[] = [];
const registered: Promise<number>[] = [];
for (let i = 0; i < N; i++) {
  Atomics.store(words, W.handle(i), -1);
  const w = new Worker(BOOT, {
    workerData: { entry: new URL('./worker.ts', import.meta.url).href, enclave: cfg.enclave, index: i, control, times, workMs: cfg.workMs },
  });
  w.on('error', (err) => send({ kind: 'error', message: `worker ${i}: ${err.message}` }));
  workers.push(w);
  registered.push(new Promise((resolve) => w.on('message', (m) => m.kind === 'registered' && resolve(m.slot))));
  workerDone.push(new Promise((resolve) => w.on('exit', () => resolve())));
}

// ---- churn -----------------------------------------------------------------------------

const churn: ChurnStats = { started: 0, exited: 0, registrations: 0, exitedRegistered: 0, active: 0, failures: {} };
let churnOn = false;
function topUpChurn(): void {
  const c = cfg.churn;
  if (!c || !churnOn) return;
  while (churn.active < c.threads) {
    const exitRegistered = churn.started % 2 === 1;
    churn.started++;
    churn.active++;
    const w = new Worker(BOOT, {
      workerData: { entry: new URL('./churner.ts', import.meta.url).href, enclave: cfg.enclave, cycles: c.cycles, spinMs: c.spinMs, exitRegistered, reregister: c.reregister },
    });
    w.on('message', (m) => {
      if (m.kind !== 'churned') return;
      churn.registrations += m.regs;
      if (m.exitedRegistered) churn.exitedRegistered++;
      if (m.failed) churn.failures[m.failed] = (churn.failures[m.failed] ?? 0) + 1;
    });
    w.on('error', (err) => (churn.failures[`crash: ${err.message}`] = (churn.failures[`crash: ${err.message}`] ?? 0) + 1));
    w.on('exit', () => {
      churn.active--;
      churn.exited++;
      topUpChurn();
    });
  }
}

// ---- dispatcher ------------------------------------------------------------------------

const hist = newHistogram(); // resizes itself: a multi-second stall is recorded, not clamped
/** Send times of worker w's requests not yet seen finished; queue[w][k] is request number qBase[w] + k. */
const queues: number[][] = Array.from({ length: N }, () => []);
const qBase = new Array<number>(N).fill(0);
const counted = new Array<number>(N).fill(0);
let windowMaxUs = 0;
let issued = 0;
let generating = false;
let t0 = 0;
let tEnd = 0;

/** Record the latency of every request whose completion is visible now (resolution: one dispatcher tick). */
function collect(now: number): void {
  for (let w = 0; w < N; w++) {
    const served = Atomics.load(words, W.served(w));
    const q = queues[w];
    while (counted[w] < served) {
      const us = (now - q[counted[w] - qBase[w]]) / 1e3;
      recordUs(hist, us);
      if (us > windowMaxUs) windowMaxUs = us;
      counted[w]++;
    }
    const k = counted[w] - qBase[w];
    if (k > 4096) {
      q.splice(0, k);
      qBase[w] += k;
    }
  }
}

function stat(w: number): WorkerStat {
  const handle = Atomics.load(words, W.handle(w));
  return {
    sent: Atomics.load(words, W.sent(w)),
    served: Atomics.load(words, W.served(w)),
    regs: Atomics.load(words, W.regs(w)),
    detached: Atomics.load(words, W.detached(w)) === 1,
    slot: handle < 0 ? -1 : handleSlot(handle),
    agent: Atomics.load(words, W.agent(w)),
  };
}
const totals = () => {
  let sent = 0;
  let served = 0;
  for (let w = 0; w < N; w++) {
    sent += Atomics.load(words, W.sent(w));
    served += Atomics.load(words, W.served(w));
  }
  return { sent, served };
};

let lastNudge = 0;
let lastStats = 0;
function tick(): void {
  const now = native.nowNs();
  if (generating) {
    const due = Math.floor(((now - t0) * cfg.rate) / 1e9);
    while (issued < due) {
      const w = issued++ % N;
      Atomics.add(words, W.sent(w), 1);
      queues[w].push(now);
      wakeWorker(w);
    }
  }
  collect(now);
  // Detached workers sleep in the futex handshake; a wake now and then lets them look for a new agent.
  if (now - lastNudge > 50e6) {
    lastNudge = now;
    for (let w = 0; w < N; w++) if (Atomics.load(words, W.detached(w)) === 1) wakeWorker(w);
  }
  if (now - lastStats > 100e6) {
    lastStats = now;
    send({ kind: 'stats', nowNs: now, ...totals(), workers: Array.from({ length: N }, (_, w) => stat(w)), windowMaxUs, churn: { ...churn } });
    windowMaxUs = 0;
  }
}

async function stop(drainMs: number): Promise<void> {
  generating = false;
  churnOn = false;
  tEnd = native.nowNs();
  const deadline = Date.now() + drainMs;
  while (Date.now() < deadline) {
    const { sent, served } = totals();
    if (served >= sent) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const { sent, served } = totals();
  Atomics.store(words, W.stop, 1);
  const exited = new Array<boolean>(N).fill(false);
  workerDone.forEach((p, w) => p.then(() => (exited[w] = true)));
  const quit = Date.now() + 3000;
  while (exited.some((e) => !e) && Date.now() < quit) {
    for (let w = 0; w < N; w++) if (!exited[w]) wakeWorker(w);
    await new Promise((r) => setTimeout(r, 10));
  }
  collect(native.nowNs());
  clearInterval(timer);
  const stuckWorkers = exited.flatMap((e, w) => (e ? [] : [w]));
  process.send!({
    kind: 'final',
    sent,
    served,
    unanswered: sent - served,
    loadS: (tEnd - t0) / 1e9,
    latency: summarizeLatency(hist),
    workers: Array.from({ length: N }, (_, w) => ({ ...stat(w), detachSeenNs: tm[T.detachSeen(w)], reregisteredNs: tm[T.reregistered(w)] })),
    churn: { ...churn },
    wakeErrors,
    stuckWorkers,
  } satisfies FromService, () => leave(stuckWorkers.length > 0));
}

/** Exit once the final tally is out. Node's exit joins worker threads, and a stuck one is blocked in native code for good. */
function leave(stuck: boolean): void {
  if (stuck) process.kill(process.pid, 'SIGKILL'); // BPF reports the threads' TASK_DEAD
  else process.exit(0);
}

process.on('message', (m: ToService) => {
  if (m.cmd === 'churn') {
    churnOn = m.on;
    topUpChurn();
  } else if (m.cmd === 'stop') {
    void stop(m.drainMs);
  }
});

const timer = setInterval(tick, 1);
const slots = await Promise.race([
  Promise.all(registered),
  new Promise<never>((_, rej) => setTimeout(() => rej(new Error('workers did not register within 30 s')), 30000)),
]).catch((err: Error) => {
  send({ kind: 'error', message: err.message });
  process.exit(1);
});
// The load starts only once every worker is registered (before that, requests would be served under Linux).
encFor(Atomics.load(words, W.agent(0)));
t0 = native.nowNs();
generating = true;
send({ kind: 'ready', pid: process.pid, slots: slots as number[] });
