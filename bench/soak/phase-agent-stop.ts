// phase-agent-stop.ts: SIGSTOP the agent for 1 s under load: nothing detects a frozen agent; requests wait and then complete.
import { nowNs, sleep, tally, type Check, type PhaseResult, type SoakContext } from './phase.ts';

export async function agentStopPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('stop');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  const svc = await ctx.service({ enclave: name });
  await sleep(cfg.faultLeadS * 1000);
  const before = svc.maxLatencyUs(0);
  const stopNs = nowNs();
  agent.signal('SIGSTOP');
  await sleep(1000);
  agent.signal('SIGCONT');
  const contNs = nowNs();
  await sleep(cfg.faultLeadS * 1000);
  const aliveAfter = agent.alive;
  const f = await svc.stop();
  await agent.stop();
  const fin = agent.final();
  const load = tally(f);
  const maxMs = svc.maxLatencyUs(stopNs) / 1000;
  const checks: Check[] = [
    { what: 'every request answered (lost = 0)', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'no worker detached (a stall is not a death)', ok: f.workers.every((w) => w.regs === 1 && w.detachSeenNs === 0) },
    { what: 'the agent is alive and scheduling after SIGCONT', ok: aliveAfter && fin !== undefined },
    { what: 'no client message was dropped for a full ring', ok: (fin?.shim.clientDrops ?? 1) === 0, detail: `clientDrops ${fin?.shim.clientDrops}` },
  ];
  return {
    phase: 'agent-stop',
    title: 'Agent SIGSTOP for 1 s under load',
    seconds: (Date.now() - t0) / 1000,
    injected: `SIGSTOP of the agent, SIGCONT ${((contNs - stopNs) / 1e6).toFixed(0)} ms later`,
    load,
    facts: { maxLatencyDuringStallMs: Math.round(maxMs), maxLatencyBeforeMs: Math.round(before / 100) / 10, shim: fin?.shim },
    checks,
    findings: [],
  };
}
