// phase-policy-throws.ts: a policy that throws on every 1000th message, run with --policy-errors continue: what happens to the service.
import { fileURLToPath } from 'node:url';
import type { AgentProc } from './agent-proc.ts';
import type { ServiceFinal } from './protocol.ts';
import { nowNs, sleep, tally, type Check, type PhaseResult, type SoakContext } from './phase.ts';

const POLICY = fileURLToPath(new URL('./throw-every-policy.ts', import.meta.url));
/** A worker with requests outstanding and no progress for this long is stuck. */
const STUCK_MS = 300;
/** The first time, leave it stuck this long to show it does not come back by itself (its dispatcher keeps calling wake()). */
const PROVE_STUCK_MS = 2000;

interface Episode {
  atS: number;
  workers: number[];
  /** How long the workers had been stuck when the upgrade that freed them was ready, ms. */
  stuckMs: number;
  recovered: boolean;
}

export async function policyThrowsPhase(ctx: SoakContext, every = 1000): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('throw');
  const t0 = Date.now();
  const extra = ['--policy', POLICY, '--policy-opt', `every=${every}`, '--policy-errors', 'continue'];
  const agents: AgentProc[] = [await ctx.agent(name, extra)];
  const svc = await ctx.service({ enclave: name });
  const startNs = nowNs();
  const episodes: Episode[] = [];
  let selfRecovered = 0;

  const lastServed = new Array<number>(cfg.workers).fill(-1);
  const lastMove = new Array<number>(cfg.workers).fill(Date.now());
  const stuckNow = (): number[] => {
    const s = svc.last;
    if (!s) return [];
    const out: number[] = [];
    s.workers.forEach((w, i) => {
      if (w.served !== lastServed[i] || w.served >= w.sent) {
        lastServed[i] = w.served;
        lastMove[i] = Date.now();
      } else if (Date.now() - lastMove[i] > STUCK_MS) out.push(i);
    });
    return out;
  };

  /** Watch for stuck workers until done() and free them with a live upgrade (the only thing that re-queues them). */
  const watch = async (done: () => boolean) => {
    while (!done()) {
      await sleep(50);
      const stuck = stuckNow();
      if (stuck.length === 0) continue;
      const since = Math.min(...stuck.map((i) => lastMove[i]));
      if (episodes.length === 0) {
        await sleep(PROVE_STUCK_MS);
        const still = stuckNow();
        if (still.length === 0) {
          selfRecovered++;
          continue;
        }
      }
      ctx.log(`policy-throws: workers ${stuck.join(',')} stuck; live upgrade to re-queue them`);
      const next = await ctx.agent(name, [...extra, '--upgrade']);
      const old = agents.at(-1)!;
      await old.exited;
      agents.push(next);
      const ep: Episode = { atS: (Date.now() - t0) / 1000, workers: stuck, stuckMs: Date.now() - since, recovered: false };
      episodes.push(ep);
      const base = stuck.map((i) => svc.last!.workers[i].served);
      const until = Date.now() + 5000;
      while (Date.now() < until && !stuck.every((i, k) => svc.last!.workers[i].served > base[k] || svc.last!.workers[i].served >= svc.last!.workers[i].sent)) await sleep(20);
      ep.recovered = stuck.every((i, k) => svc.last!.workers[i].served > base[k] || svc.last!.workers[i].served >= svc.last!.workers[i].sent);
    }
  };

  let stopDone = false;
  const loadEnd = Date.now() + cfg.throwS * 1000;
  await watch(() => Date.now() > loadEnd);
  const finalP = svc.stop(20000).finally(() => (stopDone = true));
  await watch(() => stopDone);
  const f: ServiceFinal = await finalP;
  const last = agents.at(-1)!;
  await last.stop();
  const skipped: Record<string, number> = {};
  let thrown = 0;
  for (const a of agents) {
    for (const [k, v] of Object.entries(a.skippedCallbacks())) skipped[k] = (skipped[k] ?? 0) + v;
    thrown += Object.values(a.skippedCallbacks()).reduce((x, y) => x + y, 0);
  }
  const load = tally(f);
  const exits = await Promise.all(agents.map((a) => a.exited));
  const total = (key: string) => agents.reduce((x, a) => x + ((a.final()?.totals[key] as number | undefined) ?? 0), 0);
  const checks: Check[] = [
    { what: 'every request answered (lost = 0), with live upgrades freeing stuck workers', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'the policy threw and the agent kept going (--policy-errors continue)', ok: thrown > 0 && exits.every((e) => e.code === 0), detail: `${thrown} throws; agent exit codes ${exits.map((e) => e.code).join(',')}` },
    { what: 'every stuck episode was freed by a live upgrade', ok: episodes.every((e) => e.recovered), detail: `${episodes.length} episodes` },
    { what: 'no worker got stuck: a thrown-on message is delivered again, a task thrown on three times goes back to Linux', ok: episodes.length === 0, detail: `${total('redelivered')} redelivered, ${total('handedToLinux')} handed to Linux` },
  ];
  const findings: string[] = [];
  if (episodes.length > 0) {
    findings.push(
      `A skipped taskRunnable/taskPreempted leaves that worker parked for good while the agent lives: it stayed stuck ${PROVE_STUCK_MS} ms with its dispatcher calling wake() (a wake() of a task whose wakeup is already posted only sets PENDING; nothing reaches the agent again). The service cannot free it; a live upgrade (syrup-agent --upgrade) rediscovers every thread and re-queues it.`,
    );
  }
  return {
    phase: 'policy-throws',
    title: `Policy throws on every ${every}th message (--policy-errors continue)`,
    seconds: (Date.now() - t0) / 1000,
    injected: `${thrown} policy exceptions (${Object.entries(skipped).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    load,
    facts: {
      throws: thrown,
      skippedByCallback: skipped,
      stuckEpisodes: episodes.length,
      episodes,
      selfRecovered,
      liveUpgrades: agents.length - 1,
      redelivered: total('redelivered'),
      handedToLinux: total('handedToLinux'),
      longestStuckMs: Math.max(0, ...episodes.map((e) => e.stuckMs)),
      firstStuckAtS: episodes[0]?.atS,
      loadS: (nowNs() - startNs) / 1e9,
    },
    checks,
    findings,
  };
}
