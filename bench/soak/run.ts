// run.ts: the soak's phases in order, each isolated (a phase that throws is recorded as failed and cleaned up; the rest still run).
import fs from 'node:fs';
import { native } from '../../agent/native.ts';
import { onlineCpus } from '../../agent/topology.ts';
import { agentKillPhase } from './phase-agent-kill.ts';
import { agentStopPhase } from './phase-agent-stop.ts';
import { badInputsPhase } from './phase-bad-inputs.ts';
import { churnPhase } from './phase-churn.ts';
import { clientKillPhase } from './phase-client-kill.ts';
import { policyThrowsPhase } from './phase-policy-throws.ts';
import { futureSeqProbe, handToLinuxProbe, reregisterProbe, unpublishedCellProbe } from './phase-probes.ts';
import { twoEnclavesPhase } from './phase-two-enclaves.ts';
import { SoakContext, type PhaseResult, type SoakConfig } from './phase.ts';

export const PHASES: Record<string, (ctx: SoakContext) => Promise<PhaseResult>> = {
  churn: churnPhase,
  'agent-kill': agentKillPhase,
  'agent-stop': agentStopPhase,
  'policy-throws': (ctx) => policyThrowsPhase(ctx, 1000),
  'client-kill': clientKillPhase,
  'two-enclaves': twoEnclavesPhase,
  'bad-inputs': badInputsPhase,
  'probe-rereg': reregisterProbe,
  'probe-future-seq': futureSeqProbe,
  'probe-unpublished-cell': unpublishedCellProbe,
  'probe-hand-to-linux': handToLinuxProbe,
};

export function soakConfig(o: { quick: boolean; minutes: number }): SoakConfig {
  return {
    quick: o.quick,
    churnS: o.quick ? 15 : Math.round(o.minutes * 60),
    rate: 1000,
    workers: 4,
    workMs: 0.2,
    churnThreads: o.quick ? 2 : 3,
    churnCycles: 10,
    faultLeadS: o.quick ? 1.5 : 3,
    throwS: o.quick ? 5 : 30,
    badRepeats: o.quick ? 5 : 20,
    cpu: 0,
    agentCpu: 1,
  };
}

/** Run one phase; a thrown error becomes a failed result so the report still covers everything else. */
export async function runPhase(id: string, cfg: SoakConfig, log: (s: string) => void): Promise<PhaseResult> {
  const ctx = new SoakContext(cfg, log);
  const t0 = Date.now();
  log(`== ${id}`);
  try {
    return await PHASES[id](ctx);
  } catch (err) {
    return {
      phase: id,
      title: id,
      seconds: (Date.now() - t0) / 1000,
      injected: '',
      facts: {},
      checks: [{ what: 'phase ran to completion', ok: false, detail: (err as Error).stack?.split('\n').slice(0, 3).join(' ') }],
      findings: [],
    };
  } finally {
    await ctx.cleanup();
  }
}

/** Keep this process's threads (and the services it forks, which inherit the mask) off the enclave cpu. */
export function keepOffCpu(cpu: number): void {
  const away = onlineCpus().filter((c) => c !== cpu);
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      native.setAffinity(Number(tid), away);
    } catch {
      // exited meanwhile
    }
  }
}
