// latch-next.test.ts: placeNext on a real enclave: the successor waits behind the holder, starts when the holder parks with no agent in between, and a dead successor unlatches; the preemption grace period lets checkpoint() answer without a signal.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { CPU, MsgSrc, MsgType, PreemptCause, REGION, RUN_STATE_MASK, RunState, TASK, TxnResult } from '../agent/abi.ts';
import { native } from '../agent/native.ts';
import { attach } from '../client/index.ts';
import { Task } from '../agent/task.ts';
import { HandEnclave } from './helpers/inproc.ts';
import { nextMessage, ROOT, sleep, waitFor } from './helpers/live.ts';
import { Ctl, ScriptedProcess } from './helpers/scripted-process.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './helpers/cpus.ts';

/** The enclave cpu these tests place on (helpers/cpus.ts). */
const E = ENCLAVE_CPU;

/** The run word's state (RunState) of a slot, read from the shared region. */
function runState(h: HandEnclave): (slot: number) => number {
  const w = new Uint32Array(native.clientRegion(native.clientAttach(h.name)).region);
  return (slot) => w[(REGION.fields.tasks + slot * TASK.size + TASK.fields.run) / 4] & RUN_STATE_MASK;
}

function occupancy(h: HandEnclave): (cpu: number) => { cur: number; next: number } {
  const w = new Uint32Array(native.clientRegion(native.clientAttach(h.name)).region);
  return (cpu) => {
    const base = (REGION.fields.cpus + cpu * CPU.size) / 4;
    return { cur: w[base + CPU.fields.cur / 4], next: w[base + CPU.fields.next / 4] };
  };
}

/*
 * A scripted worker that has registered (TASK_NEW seen) but is not placed yet.
 * It runs SCHED_FIFO: a holder that a CFS kernel thread preempts (kdamond
 * lands on cpu 0 here) has left its cpu as far as the shim is concerned, and
 * these tests are about what happens while it holds it. Each runs in a
 * process of its own: a thread queued behind a FIFO spinner can hold its
 * process's mmap_lock, and this process must stay free to stop the spinner.
 */
interface Newcomer {
  w: ScriptedProcess;
  slot: number;
  seq: number;
  /** Resolves with the thread's first clock reading once placed. */
  registered: Promise<number>;
  isRunning(): boolean;
  stopSpin(): void;
  /** Let a holdPark step go on to park. */
  mayPark(): void;
  /** End a kernel-wait step: the thread wakes in the kernel, unasked by the shim. */
  endKernelWait(): void;
}

async function newcomer(h: HandEnclave, priority = 1): Promise<Newcomer> {
  const w = new ScriptedProcess(h.name);
  let running = false;
  const registered = nextMessage<{ kind: string; startedNs: number }>(w, (m) => m.kind === 'registered').then((m) => {
    running = true;
    return m.startedNs;
  });
  const { tid } = await nextMessage<{ kind: string; tid: number }>(w, (m) => m.kind === 'registering');
  execFileSync('chrt', ['-f', '-p', String(priority), String(tid)]);
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  const n = { w, slot: born.slot, seq: born.seq, registered, isRunning: () => running, stopSpin: () => w.set(Ctl.STOP_SPIN), mayPark: () => w.set(Ctl.MAY_PARK), endKernelWait: () => w.set(Ctl.END_KERNEL_WAIT) };
  workers.push(n);
  return n;
}

/*
 * Make sure slot holds cpu 0 right now. A thread that blocks in the kernel
 * (V8's JIT and GC handshakes do, early in a thread's life) has left its cpu,
 * and once the drain has applied that, the cpu is free: place it again, as an
 * agent would after the wakeup.
 */
async function ensureHolds(h: HandEnclave, occ: (cpu: number) => { cur: number }, slot: number): Promise<void> {
  // A deadline, not a number of rounds: on a loaded machine a settle can take far longer than asked.
  const end = Date.now() + 10_000;
  while (occ(E).cur !== slot + 1 && Date.now() < end) {
    await h.settle(5);
    const last = h.last(slot);
    if (last && occ(E).cur === 0) h.commit([[slot, E, last.seq]]);
  }
  if (occ(E).cur !== slot + 1) throw new Error(`slot ${slot} could not be placed back on cpu ${E}`);
}

/* Keep draining until cond holds or timeoutMs passes (returns whether it held): waitFor for what only a drain applies. */
async function drainUntil(h: HandEnclave, cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await h.settle(5);
  return cond();
}

/* Commit with slot's latest seqnum, draining and trying again while a message the drain has not applied yet makes it stale. */
async function commitLatest(h: HandEnclave, slot: number, cpu: number, next = false): Promise<TxnResult> {
  for (let i = 0; ; i++) {
    const seq = h.last(slot)!.seq;
    const [r] = h.commit([[slot, cpu, seq, next]]);
    if (r !== TxnResult.TARGET_STALE || i === 50) return r;
    await h.settle(2);
  }
}

let workers: Newcomer[] = [];

/* Stop spinners, close the enclave (every thread detaches), wake parked ones, then end the threads. */
async function release(h: HandEnclave, ws: Newcomer[]): Promise<void> {
  const enc = attach(h.name);
  const handles = ws.map((w) => h.handle(w.slot)); // read while the region is still mapped
  for (const w of ws) {
    w.stopSpin();
    w.mayPark();
    w.endKernelWait();
  }
  h.close();
  for (const hd of handles) enc.wake(hd);
  await Promise.all(ws.map((w) => w.w.terminate()));
  workers = [];
}

t.test('a latched successor waits behind the holder and starts when the holder parks, without the agent', async (t) => {
  const h = new HandEnclave('latch');
  t.teardown(() => release(h, workers));
  const occ = occupancy(h);
  const a = await newcomer(h);
  t.same(h.commit([[a.slot, E, a.seq]]), [TxnResult.OK]);
  await a.registered;

  // A works (and would otherwise sit blocked in its event loop, which frees the cpu).
  const spinning = nextMessage(a.w, (m) => m.kind === 'spinning');
  const spun = nextMessage(a.w, (m) => m.kind === 'spun');
  a.w.postMessage({ op: 'spin', thenPark: true });
  await spinning;
  // B outranks A (SCHED_FIFO 2 over 1): its wake-up preempts A on their cpu at once, so A's
  // message would come after B's start if A woke B before posting (see the order check below).
  const b = await newcomer(h, 2);
  await ensureHolds(h, occ, a.slot);
  t.same(h.commit([[b.slot, E, b.seq, true]]), [TxnResult.OK], 'placeNext onto the busy cpu commits');
  t.same(occ(E), { cur: a.slot + 1, next: b.slot + 1 }, 'B is latched as the next task; A still holds the cpu');

  // From here on the test drains and commits nothing: the hand-off is A's own.
  await sleep(100);
  t.notOk(b.isRunning(), 'B does not run while A holds the cpu');
  a.stopSpin(); // A finishes its request and parks
  const s = (await spun) as { checkpointsHonoured: number };
  t.equal(s.checkpointsHonoured, 0, 'the holder saw no preemption request at its checkpoints');
  t.equal(h.enclave.counters()!.signals, 0, 'no preemption signal was sent');
  const bStarted = await b.registered;
  t.pass('B started when A parked, with no drain or commit in between');
  t.same(occ(E), { cur: b.slot + 1, next: 0 }, 'B holds the cpu and the successor slot is free');
  b.w.postMessage({ op: 'spin' }); // B holds the cpu for the rest of the test
  const blocked = await h.until((m) => m.type === MsgType.TASK_BLOCKED && m.slot === a.slot);
  t.equal(blocked.cpu, E, "A's TASK_BLOCKED says which cpu it left");
  // A woken successor preempts the leaver on their cpu: had A woken B first, the agent would
  // see A leave only once Linux ran A again (placement.c, syr_defer_wakes).
  t.ok(blocked.tsNs < bStarted, `A posted TASK_BLOCKED before B ran (post ${blocked.tsNs}, B's start ${bStarted})`);

  // A third task, in a process of its own, latched behind B and killed before it starts: the shim unlatches it.
  const addon = path.join(ROOT, 'build/Release/syrup_shim.node');
  const proc = spawn(process.execPath, ['-e', `const n = require(${JSON.stringify(addon)}); n.clientRegister(n.clientAttach(${JSON.stringify(h.name)}), 0, 0, 0); console.log('ran');`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let cRan = false;
  proc.stdout.on('data', () => (cRan = true));
  const cBorn = await h.until((m) => m.type === MsgType.TASK_NEW);
  const c = { slot: cBorn.slot, seq: cBorn.seq };
  await ensureHolds(h, occ, b.slot);
  t.same(h.commit([[c.slot, E, c.seq, true]]), [TxnResult.OK]);
  t.same(occ(E), { cur: b.slot + 1, next: c.slot + 1 });
  t.same(h.commit([[a.slot, E, h.last(a.slot)!.seq, true]]), [TxnResult.TARGET_NOT_RUNNABLE], 'a parked task cannot be latched');
  t.same(occ(E), { cur: b.slot + 1, next: c.slot + 1 }, 'and the failure left the latch alone');
  proc.kill('SIGKILL');
  await h.until((m) => m.type === MsgType.TASK_DEAD && m.slot === c.slot);
  t.same(occ(E).next, 0, "the dead successor's latch was dropped");
  t.notOk(cRan, 'it never ran');

  // One successor per cpu.
  const d = await newcomer(h);
  const e = await newcomer(h);
  await ensureHolds(h, occ, b.slot);
  t.same(h.commit([[d.slot, E, d.seq, true]]), [TxnResult.OK]);
  t.same(h.commit([[e.slot, E, e.seq, true]]), [TxnResult.CPU_BUSY], 'a second latch on the same cpu is CPU_BUSY');
  t.same(h.commit([[e.slot, E, e.seq]]), [TxnResult.CPU_BUSY], 'so is a preemption while a successor waits');
  await sleep(50); // past the 20 ms latch timeout of a preemption
  t.equal(h.enclave.counters()!.latchTimeouts, 0, 'a queued latch never times out into a forced hand-off');
});

t.test('a successor latched while it runs unplaced: parked, it waits for the hand-over; parking on its own, it drops the latch', async (t) => {
  const h = new HandEnclave('latchrun');
  t.teardown(() => release(h, workers));
  const occ = occupancy(h);
  const run = runState(h);
  const lastOf = (slot: number) => h.last(slot)!.type;
  // Runnable in the kernel: a wakeup, or a preemption if it got the cpu for a moment (the
  // holder can block in the kernel too, and RT throttling lets a CFS thread in).
  const runnable = (slot: number) => [MsgType.TASK_WAKEUP, MsgType.TASK_PREEMPT].includes(lastOf(slot));
  const a = await newcomer(h);
  const b = await newcomer(h);
  // B runs first, then waits in the kernel, which frees cpu 0 for A.
  t.same(h.commit([[b.slot, E, b.seq]]), [TxnResult.OK]);
  await b.registered;
  b.w.postMessage({ op: 'kernel-wait', thenSpin: true });
  // The first block may be its event loop's, before the wait: any of them frees cpu 0 for A.
  await h.until((m) => m.type === MsgType.TASK_BLOCKED && m.slot === b.slot);
  t.same(h.commit([[a.slot, E, a.seq]]), [TxnResult.OK]);
  await a.registered;
  const aSpinning = nextMessage(a.w, (m) => m.kind === 'spinning');
  const aSpun = nextMessage(a.w, (m) => m.kind === 'spun');
  a.w.postMessage({ op: 'spin' });
  // Only once A spins does B wake: runnable on cpu 0 without a placement, as after any
  // kernel block or preemption; A (SCHED_FIFO, spinning) keeps the cpu, so B waits in the
  // kernel's queue. (A timed sleep raced A's start: B could wake first and spin at A's
  // priority, and A never ran again.)
  await aSpinning;
  b.endKernelWait();
  await drainUntil(h, () => runnable(b.slot));
  await h.settle(20);
  t.ok(runnable(b.slot), `B's last word says it is runnable in the kernel (${MsgType[lastOf(b.slot)]})`);
  await ensureHolds(h, occ, a.slot);
  t.equal(run(b.slot), RunState.RUN, 'B is runnable and not parked');
  t.equal(await commitLatest(h, b.slot, E, true), TxnResult.OK, 'B is latched behind A');
  t.same(occ(E), { cur: a.slot + 1, next: b.slot + 1 });

  // What the agent loop does with a latched task that runs: park it, silently.
  h.enclave.channel.requestPark(new Task(b.slot, 0, 0), 'silent');
  // A goes idle in the kernel (its event loop); the test does not drain, so for the shim A
  // still holds cpu 0. Linux runs B, whose handler parks it without touching the latch.
  a.stopSpin();
  await aSpun;
  await waitFor(() => run(b.slot) !== RunState.RUN, 10_000);
  t.not(run(b.slot), RunState.RUN, 'B parked');
  t.same(occ(E), { cur: a.slot + 1, next: b.slot + 1 }, 'and still waits latched behind A');
  await h.settle(20); // applies A's kernel block: A leaves, and its hand-over starts B
  await waitFor(() => run(b.slot) === RunState.RUN, 10_000);
  t.equal(run(b.slot), RunState.RUN, 'the hand-over started B');
  t.equal(occ(E).next, 0, 'and the successor slot is free');

  // Now A runs unplaced (a message wakes its event loop) and is latched behind B; then,
  // while B sleeps in the kernel (undrained), A parks on its own before the hand-over.
  // Its spin flag is already set; holdPark keeps it from parking before the latch even if
  // B blocks in the kernel meanwhile (a Node thread can) and Linux runs A early.
  a.w.postMessage({ op: 'kernel-sleep', ms: 1, thenSpin: true, holdPark: true, thenPark: true });
  // Its event loop may have woken already (a timer, a V8 task) and queued behind B: the
  // wakeup then came before the post. Either way its last word says it is runnable.
  await drainUntil(h, () => runnable(a.slot));
  await ensureHolds(h, occ, b.slot);
  t.equal(run(a.slot), RunState.RUN, 'A is runnable and not parked');
  t.equal(await commitLatest(h, a.slot, E, true), TxnResult.OK, 'A is latched behind B');
  t.same(occ(E), { cur: b.slot + 1, next: a.slot + 1 });
  a.mayPark();
  b.stopSpin(); // B's step ends; it blocks in its event loop and Linux runs A, which parks
  await waitFor(() => run(a.slot) !== RunState.RUN && occ(E).next === 0, 10_000);
  t.not(run(a.slot), RunState.RUN, 'A parked on its own');
  t.same(occ(E), { cur: b.slot + 1, next: 0 }, 'and took itself off the latch as it left');
  await h.settle(30); // applies B's kernel block: B leaves, with nobody to hand over to
  t.same(occ(E), { cur: 0, next: 0 }, 'cpu 0 is idle');
  await sleep(20);
  t.not(run(a.slot), RunState.RUN, 'no stale hand-over started A');
  t.ok(h.log.some((m) => m.type === MsgType.TASK_BLOCKED && m.slot === a.slot && m.src === MsgSrc.CLIENT), "A's park was posted");
});

for (const graceUs of [0, 50_000]) {
  t.test(`preemption with a ${graceUs} us grace period`, async (t) => {
    const h = new HandEnclave('grace', [E], AGENT_CPU, { preemptGraceUs: graceUs });
    t.teardown(() => release(h, workers));
    const a = await newcomer(h);
    t.same(h.commit([[a.slot, E, a.seq]]), [TxnResult.OK]);
    await a.registered;
    const spinning = nextMessage(a.w, (m) => m.kind === 'spinning');
    const spun = nextMessage(a.w, (m) => m.kind === 'spun');
    a.w.postMessage({ op: 'spin' }); // until stopSpin(): B's start-up time varies a lot
    await spinning;
    const b = await newcomer(h, 2); // outranks A, so its wake-up preempts A at once
    await ensureHolds(h, occupancy(h), a.slot);
    t.same(h.commit([[b.slot, E, b.seq]]), [TxnResult.OK], 'B is placed over A: a preemption');
    const bStarted = await b.registered;
    // Its own TASK_PREEMPT (a kernel preemption of A, which this VM has plenty of, is not the answer).
    const left = await h.until((m) => m.type === MsgType.TASK_PREEMPT && m.slot === a.slot && m.src === MsgSrc.CLIENT);
    t.ok(left.tsNs < bStarted, `A posted TASK_PREEMPT before its successor ran (post ${left.tsNs}, B's start ${bStarted})`);
    // Keep draining past the grace period: that is where a held-back signal would fire.
    await h.settle(graceUs / 1000 + 50);
    const k = h.enclave.counters()!;
    if (graceUs === 0) {
      t.equal(k.signals, 1, 'without a grace period the signal goes with the flag');
    } else {
      t.equal(left.arg, PreemptCause.COOP, 'A left at a checkpoint()');
      t.equal(k.signals, 0, 'the held-back signal was never sent');
      t.equal(k.coopPreempts, 1, 'and the cooperative exit was counted');
    }
    // A is queued (parked, runnable): give it the cpu back so its spin can finish.
    h.commit([[b.slot, E, 0]]); // stale on purpose: B keeps running
    b.w.postMessage({ op: 'park' });
    const bb = await h.until((m) => m.type === MsgType.TASK_BLOCKED && m.slot === b.slot);
    t.ok(bb);
    const cur = h.last(a.slot)!;
    t.same(h.commit([[a.slot, E, cur.seq]]), [TxnResult.OK]);
    a.stopSpin();
    const r = (await spun) as { checkpointsHonoured: number };
    if (graceUs > 0) t.equal(r.checkpointsHonoured, 1, 'the worker saw its checkpoint() park once');
  });
}
