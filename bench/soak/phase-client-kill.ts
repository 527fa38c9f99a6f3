// phase-client-kill.ts: SIGKILL a service process while its thread holds the enclave cpu; another service must go on being served.
import { countSlots, cpuHolder } from './region.ts';
import { tidMapEntries } from './resources.ts';
import { sleep, tally, waitFor, type Check, type PhaseResult, type SoakContext } from './phase.ts';

export async function clientKillPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('ckill');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  // A: long requests, so one of its threads holds the cpu much of the time. B: the service that must survive.
  const a = await ctx.service({ enclave: name, workers: 2, workMs: 3, rate: 150 });
  const b = await ctx.service({ enclave: name, rate: Math.round(cfg.rate / 2) });
  await sleep(cfg.faultLeadS * 1000);
  const before = countSlots(name);
  const held = await waitFor(() => cpuHolder(name, cfg.cpu).pid === a.pid, 5000, 0);
  const holder = cpuHolder(name, cfg.cpu);
  a.kill('SIGKILL');
  const inFlight = a.last ? a.last.sent - a.last.served : 0;
  await a.exited;
  const freed = await waitFor(() => (countSlots(name)?.byPid[a.pid] ?? 0) === 0, 3000);
  await sleep(200);
  const after = countSlots(name);
  const mapAfter = tidMapEntries(name);
  const cpuAfter = cpuHolder(name, cfg.cpu);
  const servedAtKill = b.last!.served;
  await sleep(cfg.faultLeadS * 1000);
  const servedAfterKill = b.last!.served - servedAtKill;
  const f = await b.stop();
  await agent.stop();
  const fin = agent.final();
  const load = tally(f);
  const checks: Check[] = [
    { what: "the killed process's thread held the cpu at the kill", ok: held, detail: `cpu ${cfg.cpu} held by slot ${holder.slot} of pid ${holder.pid}` },
    { what: 'the surviving service answered every request (lost = 0)', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'the surviving service kept being served after the kill', ok: servedAfterKill > 0, detail: `${servedAfterKill} answered in the ${cfg.faultLeadS} s after` },
    { what: "the killed process's slots were freed (TASK_DEAD from BPF)", ok: freed, detail: `${before?.byPid[a.pid] ?? 0} -> ${after?.byPid[a.pid] ?? 0}` },
    { what: 'slots and tid map hold only the survivor', ok: after?.inUse === cfg.workers && mapAfter === cfg.workers, detail: `slots ${after?.inUse}, tid map ${mapAfter}` },
    { what: 'the cpu is not left to a dead thread', ok: cpuAfter.pid !== a.pid, detail: `holder after: pid ${cpuAfter.pid || 'none'}` },
    { what: 'agent alive throughout and exited cleanly', ok: fin !== undefined, detail: `TASK_DEAD ${fin?.totals.msgs.TASK_DEAD}` },
  ];
  return {
    phase: 'client-kill',
    title: 'Client process SIGKILLed while holding a placement',
    seconds: (Date.now() - t0) / 1000,
    injected: `SIGKILL of a service process (2 registered threads) while its thread held cpu ${cfg.cpu}`,
    load,
    facts: { killedInFlight: inFlight, holder, survivorAnsweredAfterKill: servedAfterKill, slotsBefore: before?.inUse, slotsAfter: after?.inUse, tidMapAfter: mapAfter, taskDead: fin?.totals.msgs.TASK_DEAD },
    checks,
    findings: [],
  };
}
