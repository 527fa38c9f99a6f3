// run.ts: `npm run bench:agent`: agent micro-benchmarks (delivery, decisions/s, commit-to-running, preemption latency) beside the raw floors, in one run.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { MsgSrc, MsgType, PreemptCause, TxnResult } from '../../agent/abi.ts';
import { Agent } from '../../agent/agent.ts';
import { AgentEnclave } from '../../agent/enclave.ts';
import { FakeChannel } from '../../agent/fake-channel.ts';
import type { Message } from '../../agent/message.ts';
import { native } from '../../agent/native.ts';
import { resolveAgentOptions } from '../../agent/options.ts';
import type { Task } from '../../agent/task.ts';
import type { Txn } from '../../agent/txn.ts';
import { onlineCpus } from '../../agent/topology.ts';
import { FifoPolicy } from '../../policies/fifo.ts';
import { replaceSection } from '../doc-section.ts';
import { nsHistogram, recordNs, summarizeNs, type NsSummary } from './ns-histogram.ts';
import { PreemptProbePolicy } from './preempt-probe.ts';
import { summarizePreemptions, type PreemptSummary } from './preempt-samples.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BOOT = new URL('../../client/thread-boot.mjs', import.meta.url);
const quick = process.argv.includes('--quick');
const SECONDS = quick ? 1 : 3;
const FLOOR_SAMPLES = quick ? 2000 : 20000;

const cpus = onlineCpus();
const agentCpu = cpus[cpus.length - 1];
const workCpu = cpus[0];

function worker(file: string, data: Record<string, unknown>): Worker {
  return new Worker(BOOT, { workerData: { entry: new URL(file, import.meta.url).href, ...data } });
}

const spinUntil = (cond: () => boolean) => {
  while (!cond());
};

/** Raw floors: wake a thread parked in a futex, and hand off to a thread spinning on shared memory. */
async function floors(mode: 1 | 2): Promise<NsSummary> {
  const ctl = new SharedArrayBuffer(16);
  const stamps = new SharedArrayBuffer(8 * (FLOOR_SAMPLES + 1));
  const c = new Int32Array(ctl);
  const s = new Float64Array(stamps);
  c[2] = mode;
  const w = worker('./floors-worker.ts', { ctl, stamps, cpu: workCpu });
  await new Promise((r) => w.once('online', r));
  for (let i = 0; i < FLOOR_SAMPLES; i++) {
    spinUntil(() => Atomics.load(c, 1) === 1);
    Atomics.store(c, 1, 0);
    // Let a futex waiter actually fall asleep (it set ready just before Atomics.wait).
    const settle = native.nowNs() + (mode === 1 ? 100_000 : 5_000);
    spinUntil(() => native.nowNs() > settle);
    s[0] = native.nowNs();
    Atomics.store(c, 0, 1);
    if (mode === 1) Atomics.notify(c, 0);
    spinUntil(() => Atomics.load(c, 0) === 0);
  }
  Atomics.store(c, 3, 1);
  Atomics.notify(c, 0);
  await new Promise((r) => w.once('exit', r));
  const h = nsHistogram();
  for (let i = 0; i < FLOOR_SAMPLES; i++) recordNs(h, s[1 + i]);
  return summarizeNs(h);
}

/** Raw same-cpu switch: two threads pinned to the work cpu pass it back and forth by futex (switch-floor-worker.ts). */
async function switchFloor(): Promise<NsSummary> {
  const ctl = new SharedArrayBuffer(16);
  const stamps = new SharedArrayBuffer(8 * (FLOOR_SAMPLES + 2));
  const c = new Int32Array(ctl);
  c[0] = -1;
  const ws = ([0, 1] as const).map((me) => worker('./switch-floor-worker.ts', { ctl, stamps, cpu: workCpu, me, samples: FLOOR_SAMPLES }));
  const exits = ws.map((w) => new Promise((r) => w.once('exit', r)));
  // Start only once both are pinned and waiting, so no sample includes a thread's boot.
  while (Atomics.load(c, 1) < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  Atomics.store(c, 0, 0);
  Atomics.notify(c, 0);
  await Promise.all(exits);
  const s = new Float64Array(stamps);
  const h = nsHistogram();
  // Skip the first samples (caches and the threads' first switches).
  for (let i = Math.min(100, c[3]); i < c[3]; i++) recordNs(h, s[1 + i]);
  return summarizeNs(h);
}

/** FIFO that also measures, for every message, BPF/client timestamp -> policy callback. */
class ProbeFifo extends FifoPolicy {
  override readonly name = 'probe-fifo';
  readonly delivery = { [MsgSrc.KERNEL]: nsHistogram(), [MsgSrc.CLIENT]: nsHistogram() } as Record<number, ReturnType<typeof nsHistogram>>;
  private note(m: Message): void {
    const h = this.delivery[m.src];
    if (h) recordNs(h, native.nowNs() - m.tsNs);
  }
  override taskNew(t: Task, m: Message) { this.note(m); super.taskNew(t, m); }
  override taskRunnable(t: Task, m: Message) { this.note(m); super.taskRunnable(t, m); }
  override taskBlocked(t: Task, m: Message) { this.note(m); super.taskBlocked(t, m); }
  override taskPreempted(t: Task, m: Message) { this.note(m); super.taskPreempted(t, m); }
  override taskYield(t: Task, m: Message) { this.note(m); super.taskYield(t, m); }
}

interface LiveResult {
  placementsPerSec: number;
  commitToRunning: NsSummary;
  deliveryKernel: NsSummary;
  deliveryClient: NsSummary;
  loopsPerSec: number;
  shim: unknown;
}

/** The real path: an agent on its own cpu, registered threads on the enclave cpu. */
async function live(mode: 'yield' | 'sleep', threads: number): Promise<LiveResult> {
  const o = resolveAgentOptions({ cpus: [workCpu], agentCpu, name: `bench-agent-${process.pid}-${mode}`, statsIntervalMs: 0 });
  const enclave = AgentEnclave.open(o);
  const policy = new ProbeFifo();
  const agent = new Agent(enclave.channel, policy, { name: o.name, statsIntervalMs: 0, yieldEveryMs: 2 });
  const ctl = new SharedArrayBuffer(4);
  const outs = Array.from({ length: threads }, () => new SharedArrayBuffer(8 * 200_001));
  const ws = outs.map((out) => worker('./load-worker.ts', { enclave: o.name, mode, ctl, out }));
  const running = agent.run();
  // Warm up until every thread registered, then measure a clean window.
  while (agent.tasks.size < threads) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  const txns0 = agent.stats.txns;
  const it0 = agent.stats.iterations;
  for (const h of Object.values(policy.delivery)) h.reset();
  const t0 = native.nowNs();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const dt = (native.nowNs() - t0) / 1e9;
  const placements = agent.stats.txns - txns0;
  const loops = agent.stats.iterations - it0;
  Atomics.store(new Int32Array(ctl), 0, 1);
  await Promise.all(ws.map((w) => new Promise((r) => w.once('exit', r))));
  agent.stop();
  await running;
  const shim = enclave.counters();
  enclave.close();
  const c2r = nsHistogram();
  for (const out of outs) {
    const f = new Float64Array(out);
    // Skip each thread's first samples (registration and warm-up).
    for (let i = Math.min(100, f[0]); i < f[0]; i++) recordNs(c2r, f[1 + i]);
  }
  return {
    placementsPerSec: Math.round(placements / dt),
    commitToRunning: summarizeNs(c2r),
    deliveryKernel: summarizeNs(policy.delivery[MsgSrc.KERNEL]),
    deliveryClient: summarizeNs(policy.delivery[MsgSrc.CLIENT]),
    loopsPerSec: Math.round(loops / dt),
    shim,
  };
}

/** Cooperative preemption: the victim calls checkpoint() this often; the signal waits this long behind the flag. */
const CHECKPOINT_NS = 2_000;
const COOP_GRACE_US = 100;
/** Preemptions discarded at the start of each path (registration, first placements, JIT warm-up). */
const PREEMPT_WARMUP = 50;

interface PreemptResult extends PreemptSummary {
  path: 'cooperative' | 'signal';
  graceUs: number;
  checkpointNs: number | null;
  requests: number;
  failures: number;
  kernelPreempts: number;
  shim: unknown;
}

/**
 * Preemption latency through the real agent: a victim and a successor
 * registered on the work cpu, the probe policy preempting the victim with
 * the successor every ~200-300 us. 'cooperative': the victim calls
 * checkpoint() every CHECKPOINT_NS and the signal waits COOP_GRACE_US, so
 * the flag answers; 'signal': the victim never calls into the shim and the
 * grace is 0, so the signal is sent at commit and its handler parks it.
 */
async function preemption(p: 'cooperative' | 'signal'): Promise<PreemptResult> {
  const graceUs = p === 'cooperative' ? COOP_GRACE_US : 0;
  const o = resolveAgentOptions({ cpus: [workCpu], agentCpu, name: `bench-agent-${process.pid}-preempt-${p}`, statsIntervalMs: 0, preemptGraceUs: graceUs });
  const enclave = AgentEnclave.open(o);
  const ctl = new SharedArrayBuffer(4);
  const victimStamp = new SharedArrayBuffer(8);
  const successorStamp = new SharedArrayBuffer(8);
  const policy = new PreemptProbePolicy(workCpu, new Float64Array(victimStamp), new Float64Array(successorStamp));
  const agent = new Agent(enclave.channel, policy, { name: o.name, statsIntervalMs: 0, yieldEveryMs: 2 });
  const ws = [
    worker('./preempt-worker.ts', { enclave: o.name, role: p === 'cooperative' ? 'coop-victim' : 'spin-victim', ctl, stamp: victimStamp, checkpointNs: CHECKPOINT_NS }),
    worker('./preempt-worker.ts', { enclave: o.name, role: 'successor', ctl, stamp: successorStamp }),
  ];
  const exits = ws.map((w) => new Promise((r) => w.once('exit', r)));
  const running = agent.run();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 10_000;
  while (policy.samples.length < PREEMPT_WARMUP && Date.now() < deadline) await sleep(10);
  const first = policy.samples.length;
  const counters0 = enclave.counters();
  if (first >= PREEMPT_WARMUP) await sleep(SECONDS * 1000);
  const requests = policy.samples.length - first;
  const counters1 = enclave.counters();
  policy.quitting = true;
  Atomics.store(new Int32Array(ctl), 0, 1);
  // A thread that never gets placed again would hang the bench: closing the enclave detaches it.
  const stuck = await Promise.race([Promise.all(exits).then(() => false), sleep(5000).then(() => true)]);
  agent.stop();
  await running;
  enclave.close();
  if (stuck) await Promise.all(exits);
  if (first < PREEMPT_WARMUP) throw new Error(`preemption (${p}): only ${first} preemptions in 10 s; the probe policy is not cycling`);
  // The last request may still be in flight when the window closes; the summary drops it as incomplete.
  const samples = policy.samples.slice(first, first + requests);
  const delta = (k: 'signals' | 'coopPreempts') => (counters1 && counters0 ? counters1[k] - counters0[k] : 0);
  return {
    path: p,
    graceUs,
    checkpointNs: p === 'cooperative' ? CHECKPOINT_NS : null,
    requests,
    failures: policy.failures,
    kernelPreempts: policy.kernelPreempts,
    ...summarizePreemptions(samples, p === 'cooperative' ? PreemptCause.COOP : PreemptCause.AGENT),
    shim: { signals: delta('signals'), coopPreempts: delta('coopPreempts') },
  };
}

/** A fake kernel that accepts every transaction and keeps no record (FakeChannel records all, for tests). */
class SinkChannel extends FakeChannel {
  override commit(txns: Txn[]): void {
    for (const t of txns) t.result = TxnResult.OK;
  }
}

/** Policy-loop capacity alone: a scripted message stream through the same Agent and FIFO, no kernel. */
function loopCapacity(): { decisionsPerSec: number; messagesPerSec: number } {
  const ch = new SinkChannel([0, 1, 2, 3, 4, 5, 6, 7]);
  const agent = new Agent(ch, new FifoPolicy(), { name: 'fake', statsIntervalMs: 0, yieldEveryMs: 2 });
  const TASKS = 64;
  for (let s = 0; s < TASKS; s++) ch.post(MsgType.TASK_NEW, s);
  agent.step();
  const end = performance.now() + SECONDS * 1000;
  let msgs = 0;
  const start = performance.now();
  const txns0 = agent.stats.txns;
  while (performance.now() < end) {
    // Every cpu's task yields; FIFO places the next 8 in one group commit.
    for (const cpu of ch.cpus) {
      const t = agent.taskOn(cpu);
      if (t) ch.post(MsgType.TASK_YIELD, t.slot);
    }
    msgs += ch.cpus.length;
    agent.step();
  }
  const dt = (performance.now() - start) / 1000;
  return { decisionsPerSec: Math.round((agent.stats.txns - txns0) / dt), messagesPerSec: Math.round(msgs / dt) };
}

const pathLabel = (r: PreemptResult) =>
  r.path === 'cooperative' ? `cooperative (checkpoint() every ${(r.checkpointNs ?? 0) / 1000} us, grace ${r.graceUs} us)` : `signal (pure spin, grace ${r.graceUs} us)`;
const dropDetail = (r: PreemptResult) => {
  const parts = Object.entries(r.dropped).map(([why, n]) => `${n} ${why}`);
  return parts.length ? `: ${parts.join(', ')}` : '';
};
const dropCount = (r: PreemptResult) => Object.values(r.dropped).reduce((a, b) => a + (b ?? 0), 0);
const shimLine = (r: PreemptResult) => {
  const s = r.shim as { signals: number; coopPreempts: number };
  return `${s.signals} signals, ${s.coopPreempts} answered at a checkpoint`;
};

function printPreemption(r: PreemptResult): void {
  const drops = dropDetail(r).slice(2) || 'none';
  console.log(`  preemption, ${pathLabel(r)}: ${r.count} samples (${r.otherPath} other path; dropped: ${drops}; ${r.failures} failed placements; ${r.kernelPreempts} kernel preemptions of the victim; ${shimLine(r)})`);
  console.log(`    (victim's code stops: ${r.victimStops.count} of them; in the other ${r.victimNotInLoop} its loop had not run since before the request)`);
  const line = (what: string, s: NsSummary) => console.log(`    ${what.padEnd(46)} p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}`);
  line('request -> commit returned', r.commit);
  line("request -> victim's code stops (last stamp)", r.victimStops);
  line('request -> victim off cpu (successor switched in)', r.victimOff);
  line('request -> successor running (first stamp)', r.successorRunning);
  line("request -> victim's TASK_PREEMPT posted", r.preemptMsg);
}

const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(0)} us` : ns >= 1000 ? `${(ns / 1000).toFixed(1)} us` : `${ns} ns`);

async function main() {
  native.pinThread(agentCpu);
  console.log(`agent micro-benchmarks: agent/waker on cpu ${agentCpu}, threads on cpu ${workCpu}, ${SECONDS}s windows${quick ? ' (quick)' : ''}`);
  const futex = await floors(1);
  console.log(`  floor futex wake -> running     p50 ${fmt(futex.p50)}  p99 ${fmt(futex.p99)}`);
  const spin = await floors(2);
  console.log(`  floor spin hand-off             p50 ${fmt(spin.p50)}  p99 ${fmt(spin.p99)}`);
  const sw = await switchFloor();
  console.log(`  floor same-cpu futex switch     p50 ${fmt(sw.p50)}  p99 ${fmt(sw.p99)}  (A wakes B on A's cpu, then waits: A's wake -> B running; Atomics.notify/wait)`);
  const preempt = { cooperative: await preemption('cooperative'), signal: await preemption('signal') };
  for (const r of Object.values(preempt)) printPreemption(r);
  const y = await live('yield', 4);
  console.log(`  yield loop (4 threads, 1 cpu): ${y.placementsPerSec} placements/s; commit->running p50 ${fmt(y.commitToRunning.p50)} p99 ${fmt(y.commitToRunning.p99)}`);
  console.log(`  client message delivery         p50 ${fmt(y.deliveryClient.p50)}  p99 ${fmt(y.deliveryClient.p99)}`);
  const k = await live('sleep', 2);
  console.log(`  kernel (BPF) message delivery   p50 ${fmt(k.deliveryKernel.p50)}  p99 ${fmt(k.deliveryKernel.p99)}  (${k.deliveryKernel.count} msgs)`);
  const cap = loopCapacity();
  console.log(`  policy loop alone (FIFO, fake channel): ${cap.decisionsPerSec} decisions/s, ${cap.messagesPerSec} messages/s`);
  console.log(`  idle agent loop: ${k.loopsPerSec} iterations/s`);

  const results = { date: new Date().toISOString(), cpus: cpus.length, agentCpu, workCpu, seconds: SECONDS, floors: { futex, spin, sameCpuSwitch: sw }, preemption: preempt, yieldLoop: y, kernelEvents: k, loopCapacity: cap };
  const dir = path.join(root, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `agent-${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`results: ${path.relative(root, file)}`);
  if (quick) return;
  const row = (what: string, s: NsSummary, peer: string) => `| ${what} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${peer} |`;
  replaceSection(
    path.join(root, 'docs/benchmarks.md'),
    '<!-- agent-bench:begin -->',
    '<!-- agent-bench:end -->',
    [
      '## Agent micro-benchmarks (thread scheduling core)',
      '',
      `Measured ${results.date.slice(0, 10)} on this machine (${cpus.length} cpus): agent on cpu ${agentCpu}, registered threads on cpu ${workCpu}, one run of \`npm run bench:agent\`.`,
      '',
      '| what | p50 | p99 | floor / peer in the same run |',
      '|---|---|---|---|',
      row('floor: futex wake of a parked thread -> running', futex, 'raw Linux'),
      row('floor: spin hand-off through shared memory', spin, 'raw shared memory'),
      row('message delivery, BPF timestamp -> policy callback (kernel events)', k.deliveryKernel, 'ghOSt: 265 ns to a global agent'),
      row('message delivery, client post -> policy callback', y.deliveryClient, ''),
      row('commit -> thread running (yield loop, 4 threads on 1 cpu)', y.commitToRunning, `futex floor p50 ${fmt(futex.p50)}`),
      row('floor: same-cpu futex switch (A wakes B, then waits) -> B running', sw, 'Linux, through Atomics.notify/wait'),
      ...Object.values(preempt).flatMap((r) => [
        row(`preemption, ${pathLabel(r)}: request -> victim off cpu`, r.victimOff, `same-cpu switch floor p50 ${fmt(sw.p50)}`),
        row(`preemption, ${pathLabel(r)}: request -> successor running`, r.successorRunning, `same-cpu switch floor p50 ${fmt(sw.p50)}`),
      ]),
      '',
      `- Placements with 4 threads yielding on 1 enclave cpu: **${y.placementsPerSec.toLocaleString('en')}/s** (each one is a real thread switch on cpu ${workCpu}).`,
      `- Policy loop alone (same Agent + FIFO, scripted messages, 8 cpus, no kernel): **${cap.decisionsPerSec.toLocaleString('en')} decisions/s** (ghOSt: over 2 million scheduled threads/s from one agent).`,
      `- Idle agent loop: ${k.loopsPerSec.toLocaleString('en')} iterations/s (drain both rings + heartbeat).`,
      '- Preemption: the probe policy (bench/agent/preempt-probe.ts) places a victim on the work cpu and, after 200-300 us, places a successor over it with `place()`, as Shinjuku preempts. *Request* is that `place()` call; the commit that sets the flag (and, with no grace, sends the signal) follows in the same agent iteration. *Victim off cpu* is the kernel switching the successor in on that cpu (BPF sched_switch timestamp); *successor running* is the successor\'s first stamp from its own code after its placement returns.',
      '- The same-cpu switch floor goes through `Atomics.notify`/`Atomics.wait`, which V8 builds from a mutex and a condition variable over the futex, so it is not a bare futex switch (the shim\'s hand-over calls the futex directly); it is the nearest floor JavaScript can measure.',
      ...Object.values(preempt).map(
        (r) =>
          `- ${pathLabel(r)}: ${r.count.toLocaleString('en')} preemptions (${r.otherPath} answered by the other path, ${dropCount(r)} dropped${dropDetail(r)}); request -> commit returned p50 ${fmt(r.commit.p50)}, -> victim's code stops (last stamp of its loop) p50 ${fmt(r.victimStops.p50)} (p99 ${fmt(r.victimStops.p99)}), -> its TASK_PREEMPT posted p50 ${fmt(r.preemptMsg.p50)}; shim: ${shimLine(r)}.`,
      ),
      '',
      'Reproduce: `npm run bench:agent` (writes bench/results/agent-*.json and this section).',
    ].join('\n'),
  );
  console.log('docs/benchmarks.md: agent section updated');
}

await main();
process.exit(0);
