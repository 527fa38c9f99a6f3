// policy-invariants.test.ts: every policy under random message scripts: no double placements, only runnable tasks placed, queues consistent, no idle cpu while work waits.
import t, { type Test } from 'tap';
import { MsgSrc, MsgType, PreemptCause, TxnResult } from '../agent/abi.ts';
import type { Policy } from '../agent/policy.ts';
import { createPolicy } from '../policies/registry.ts';
import { PolicyHarness } from './helpers/policy-harness.ts';

/** Deterministic PRNG (mulberry32), so a failure names a seed that replays it. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the fake kernel knows about each thread. 'leaving' = asked to leave its cpu, TASK_PREEMPT not yet posted. */
type KState = 'blocked' | 'runnable' | 'running' | 'leaving';

const CASES: [string, () => Policy, boolean][] = [
  // [label, policy, may withhold runnable work from idle cpus (rate limits)]
  ['fifo', () => createPolicy('fifo'), false],
  ['shinjuku', () => createPolicy('shinjuku', { sliceUs: 30, classes: 3 }), false],
  ['shinjuku-inf', () => createPolicy('shinjuku', { sliceUs: Infinity, classes: 1 }), false],
  ['sjf', () => createPolicy('sjf'), false],
  ['mfq', () => createPolicy('mfq', { thresholdsMs: [0.1, 0.3], starvationMs: 1 }), false],
  ['edf', () => createPolicy('edf'), false],
  ['fifo+rate', () => createPolicy('fifo', { groups: { 1: { ratePct: 30 }, 2: { ratePct: 70 } }, windowMs: 1 }), true],
  ['shinjuku+rate', () => createPolicy('shinjuku', { sliceUs: 30, groups: { 1: { ratePct: 30 } }, windowMs: 0.5 }), true],
  ['mfq+rate', () => createPolicy('mfq', { thresholdsMs: [0.1], groups: { 2: { ratePct: 40 } }, windowMs: 1 }), true],
  ['edf+rate', () => createPolicy('edf', { groups: { 1: { ratePct: 50 } }, windowMs: 2 }), true],
];

function run(t: Test, label: string, make: () => Policy, limited: boolean, seed: number): void {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(rand() * xs.length)] : undefined);
  const cpus = [0, 1, 2];
  const h = new PolicyHarness(make(), cpus);
  const k = new Map<number, KState>();
  let nextSlot = 1;
  /** Tasks whose TASK_BLOCKED is in flight (barrier bumped, message not posted yet). */
  const inflight = new Set<number>();
  const problems: string[] = [];
  const fail = (what: string) => problems.length < 5 && problems.push(`${label} seed ${seed}: ${what}`);
  const slots = (s: KState) => [...k].filter(([, v]) => v === s).map(([slot]) => slot);
  const hints = () => ({
    qos: Math.floor(rand() * 5),
    hintNs: rand() < 0.3 ? 0 : Math.floor(rand() * 200_000),
    deadlineNs: rand() < 0.3 ? 0 : h.fake.now + Math.floor((rand() - 0.2) * 500_000),
    group: Math.floor(rand() * 3),
  });

  const step = () => {
    const commits = h.fake.commits.length;
    const parks = h.fake.parks.length;
    h.step();
    for (const c of h.fake.commits.slice(commits)) {
      for (const tx of c.txns) {
        if (tx.result !== TxnResult.OK) {
          if (!inflight.has(tx.slot)) fail(`txn for ${tx.slot} failed ${TxnResult[tx.result]} with nothing in flight`);
          continue;
        }
        if (k.get(tx.slot) !== 'runnable') fail(`placed task ${tx.slot} that is ${k.get(tx.slot)}`);
        k.set(tx.slot, 'running');
      }
    }
    // A commit over a running task makes it leave (the runtime already shows the new holder).
    for (const [slot, s] of k) if (s === 'running' && ![...cpus].some((c) => h.on(c) === slot)) k.set(slot, 'leaving');
    for (const p of h.fake.parks.slice(parks)) {
      if (p.kind === 'preempt' && k.get(p.slot) === 'running') k.set(p.slot, 'leaving');
    }
    // The policy's queue is exactly the runnable tasks not on a cpu, plus
    // those whose TASK_BLOCKED it has not seen yet.
    const runnable = slots('runnable').length;
    const expected = runnable + inflight.size;
    if (h.policy.queueDepth() !== expected) fail(`queueDepth ${h.policy.queueDepth()} but ${expected} tasks wait`);
    // Work conservation, unless a stale commit just cost this round a cpu.
    const staleRound = h.fake.commits.slice(commits).some((c) => c.txns.some((tx) => tx.result !== TxnResult.OK));
    if (!limited && !staleRound && runnable > 0 && h.agent.idleCpus().length > 0) fail(`cpu idle while ${runnable} tasks wait`);
  };

  for (let round = 0; round < 300 && problems.length === 0; round++) {
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) {
      const r = rand();
      let s: number | undefined;
      if (inflight.size > 0 && rand() < 0.3) {
        // The in-flight TASK_BLOCKED arrives.
        s = [...inflight][0];
        inflight.delete(s);
        h.fake.post(MsgType.TASK_BLOCKED, s);
      } else if (r < 0.04 && (s = pick(slots('runnable').filter((x) => !inflight.has(x)))) !== undefined) {
        // A runnable thread the kernel was running unplaced blocks; sometimes the
        // message is still in flight when the agent commits (a stale commit).
        if (rand() < 0.5) h.block(s);
        else {
          h.fake.bumpBarrier(s);
          inflight.add(s);
        }
        k.set(s, 'blocked');
      } else if (r < 0.07 && (s = pick(slots('blocked').filter((x) => !inflight.has(x)))) !== undefined) {
        // A kernel wakeup (the thread slept in the kernel): it runs unplaced until placed or parked.
        h.fake.setHints(s, hints());
        h.fake.post(MsgType.TASK_WAKEUP, s, { src: MsgSrc.KERNEL });
        k.set(s, 'runnable');
      } else if (r < 0.12 && nextSlot <= 12) {
        const slot = nextSlot++;
        h.newTask(slot, hints());
        k.set(slot, 'runnable');
      } else if (r < 0.3 && (s = pick(slots('blocked').filter((x) => !inflight.has(x)))) !== undefined) {
        h.wake(s, hints());
        k.set(s, 'runnable');
      } else if (r < 0.45 && (s = pick(slots('running'))) !== undefined) {
        h.block(s);
        k.set(s, 'blocked');
      } else if (r < 0.52 && (s = pick(slots('running'))) !== undefined) {
        h.yield(s, hints());
        k.set(s, 'runnable');
      } else if (r < 0.58 && (s = pick(slots('running'))) !== undefined) {
        h.kernelPreempted(s);
        k.set(s, 'runnable');
      } else if (r < 0.8 && (s = pick(slots('leaving'))) !== undefined) {
        // Usually it parks and says so; sometimes it blocked before the signal landed.
        if (rand() < 0.8) {
          h.fake.post(MsgType.TASK_PREEMPT, s, { src: MsgSrc.CLIENT, arg: PreemptCause.AGENT });
          k.set(s, 'runnable');
        } else {
          h.block(s);
          k.set(s, 'blocked');
        }
      } else if (r < 0.84 && (s = pick([...slots('blocked'), ...slots('running'), ...slots('runnable')])) !== undefined) {
        if (inflight.delete(s)) h.fake.post(MsgType.TASK_BLOCKED, s);
        h.dead(s);
        k.delete(s);
      } else {
        h.advanceUs(Math.floor(rand() * 300));
      }
    }
    step();
  }
  t.same(problems, [], `${label} seed ${seed}`);
}

for (const [label, make, limited] of CASES) {
  t.test(label, async (t) => {
    for (let seed = 1; seed <= 25; seed++) run(t, label, make, limited, seed);
  });
}
