// phase-bad-inputs.ts: malformed ring messages, out-of-range cpus in transactions, client API misuse: each rejected and counted, nothing crashes.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MsgSrc, MsgType } from '../../agent/abi.ts';
import { RingInjector, type RawMsg } from './inject.ts';
import type { Misuse } from './misuse-thread.ts';
import { sleep, tally, waitFor, type Check, type PhaseResult, type SoakContext } from './phase.ts';

const POLICY = fileURLToPath(new URL('./bad-cpu-policy.ts', import.meta.url));
const BOOT = new URL('../../client/thread-boot.mjs', import.meta.url);

interface RingCase {
  what: string;
  /** The shim counter that must count it. */
  counter: 'badMsgs' | 'dupMsgs';
  make: () => RawMsg;
}

export interface RingResult {
  what: string;
  counter: string;
  injected: number;
  consumed: number;
  /** Did the service keep being answered right after this batch? */
  servedAfter: boolean;
}

export async function badInputsPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('bad');
  const t0 = Date.now();
  const agent = await ctx.agent(name, ['--policy', POLICY, '--policy-opt', 'every=50']);
  const svc = await ctx.service({ enclave: name, workers: 2, rate: Math.round(cfg.rate / 2) });
  await sleep(500);
  const inj = new RingInjector(name);
  const slot = svc.slots[0];
  const tid = inj.tidOf(slot);
  let freeSlot = 4095;
  while (freeSlot > 0 && (freeSlot === svc.slots[0] || freeSlot === svc.slots[1])) freeSlot--;
  const W = MsgType.TASK_WAKEUP;
  const C = MsgSrc.CLIENT;
  const cases: RingCase[] = [
    { what: 'type 99 (no such message type)', counter: 'badMsgs', make: () => ({ type: 99, src: C, slot, tid, seq: inj.barrierOf(slot) + 1 }) },
    { what: 'type 0 (NONE)', counter: 'badMsgs', make: () => ({ type: 0, src: C, slot, tid, seq: inj.barrierOf(slot) + 1 }) },
    { what: 'type 0xffff', counter: 'badMsgs', make: () => ({ type: 0xffff, src: C, slot, tid, seq: inj.barrierOf(slot) + 1 }) },
    { what: 'slot 99999 (past the status words)', counter: 'badMsgs', make: () => ({ type: W, src: C, slot: 99999, tid, seq: 1 }) },
    { what: 'slot 0xffffffff', counter: 'badMsgs', make: () => ({ type: W, src: C, slot: 0xffffffff, tid, seq: 1 }) },
    { what: `a free slot (${freeSlot})`, counter: 'badMsgs', make: () => ({ type: W, src: C, slot: freeSlot, tid: 0, seq: 1 }) },
    { what: 'a tid that does not own the slot', counter: 'badMsgs', make: () => ({ type: W, src: C, slot, tid: tid ^ 0x40000000, seq: inj.barrierOf(slot) + 1 }) },
    { what: 'source 9 (no such producer)', counter: 'badMsgs', make: () => ({ type: W, src: 9, slot, tid, seq: inj.barrierOf(slot) + 1 }) },
    { what: 'TASK_DEAD forged with a stale seqnum (replay)', counter: 'dupMsgs', make: () => ({ type: MsgType.TASK_DEAD, src: MsgSrc.KERNEL, slot, tid, seq: Math.max(1, inj.barrierOf(slot) - 100) }) },
  ];

  const ring: RingResult[] = [];
  for (const c of cases) {
    let consumed = 0;
    for (let k = 0; k < cfg.badRepeats; k++) {
      const pos = inj.post(c.make());
      if (await waitFor(() => inj.consumed(pos), 2000, 1)) consumed++;
    }
    const s0 = svc.last!.served;
    const servedAfter = await waitFor(() => svc.last!.served > s0 + 10, 3000);
    ring.push({ what: c.what, counter: c.counter, injected: cfg.badRepeats, consumed, servedAfter });
    ctx.log(`bad-inputs: ${c.what}: ${consumed}/${cfg.badRepeats} consumed, service ${servedAfter ? 'still served' : 'NOT served'}`);
  }

  // Client API misuse from a thread of this process, while the service's threads stay registered.
  const other = svc.slots[1];
  const misuse = await new Promise<{ results: Misuse[]; foreignUnregisterEndedOwn: boolean; staleUnregisterEndedCurrent: boolean; otherStillActive: boolean }>((resolve, reject) => {
    const w = new Worker(BOOT, { workerData: { entry: new URL('./misuse-thread.ts', import.meta.url).href, enclave: name, otherSlot: other, otherTid: inj.tidOf(other) } });
    w.on('message', (m) => m.kind === 'misuse' && resolve(m));
    w.on('error', reject);
  });
  for (const m of misuse.results) ctx.log(`bad-inputs: ${m.what}: ${m.outcome} (expected ${m.expected})`);
  await sleep(500);
  const f = await svc.stop();
  const exit = await agent.stop();
  const fin = agent.final();
  const pstats = lastPolicyStats(agent.lines);
  const load = tally(f);

  const injectedBad = ring.filter((r) => r.counter === 'badMsgs').reduce((a, r) => a + r.injected, 0);
  const injectedDup = ring.filter((r) => r.counter === 'dupMsgs').reduce((a, r) => a + r.injected, 0);
  const invalidCpu = (fin?.totals.txnResults.INVALID_CPU as number | undefined) ?? 0;
  const checks: Check[] = [
    ...ring.map((r) => ({ what: `ring: ${r.what}: consumed and the service still served`, ok: r.consumed === r.injected && r.servedAfter, detail: `${r.consumed}/${r.injected}` })),
    { what: 'ring: every malformed message counted in badMsgs', ok: (fin?.shim.badMsgs ?? 0) >= injectedBad, detail: `badMsgs ${fin?.shim.badMsgs} for ${injectedBad} injected` },
    { what: 'ring: every replayed message counted in dupMsgs', ok: (fin?.shim.dupMsgs ?? 0) >= injectedDup, detail: `dupMsgs ${fin?.shim.dupMsgs} for ${injectedDup} injected` },
    { what: 'txn: every out-of-range cpu answered INVALID_CPU', ok: pstats.badPlacementsTried > 0 && invalidCpu === pstats.badPlacementsTried && pstats.invalidCpuResults === invalidCpu, detail: `${pstats.badPlacementsTried} tried, ${invalidCpu} INVALID_CPU` },
    ...misuse.results.map((m) => ({
      what: `api: ${m.what} -> ${m.expected}`,
      ok: m.outcome === m.expected,
      detail: m.outcome,
    })),
    { what: "api: the other thread's registration was untouched", ok: misuse.otherStillActive },
    { what: "api: a refused foreign or stale handle left the caller's own registration alone", ok: !misuse.foreignUnregisterEndedOwn && !misuse.staleUnregisterEndedCurrent },
    { what: 'every request answered (lost = 0)', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'the agent never crashed (clean exit on SIGTERM)', ok: exit.code === 0 && fin !== undefined, detail: `exit ${exit.code}` },
  ];
  return {
    phase: 'bad-inputs',
    title: 'Bad inputs at every entry',
    seconds: (Date.now() - t0) / 1000,
    injected: `${injectedBad + injectedDup} forged ring messages (${cases.length} kinds), ${pstats.badPlacementsTried} placements on out-of-range cpus, ${misuse.results.length} API misuses`,
    load,
    facts: { ring, shim: fin?.shim, txnResults: fin?.totals.txnResults, policy: pstats, misuse: misuse.results },
    checks,
    findings: [],
  };
}

function lastPolicyStats(lines: string[]): { badPlacementsTried: number; invalidCpuResults: number; otherTxnFailures: number } {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].includes('"agent stats"')) continue;
    const s = JSON.parse(lines[i]).stats;
    return { badPlacementsTried: s.badPlacementsTried ?? 0, invalidCpuResults: s.invalidCpuResults ?? 0, otherTxnFailures: s.otherTxnFailures ?? 0 };
  }
  return { badPlacementsTried: 0, invalidCpuResults: 0, otherTxnFailures: 0 };
}
